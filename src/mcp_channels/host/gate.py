"""Whether a connected server may deliver channel events: Claude Code's gate, step for step.

The flags, the entry syntax, the order of the checks and every reason string follow
``reference/host-protocol.md`` §3, so a person debugging a channel with the host sees the same
verdict, in the same words, as they would in Claude Code.

Not modelled: step 4 ("channels feature is not currently available"), which depends on Claude
Code's remote feature flags, and the claude.ai Team/Enterprise rule of step 5, which depends on
the signed-in account. Both are outside what a local host can know.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import PluginInfo

#: Plugins Claude Code accepts on ``--channels`` when no org list replaces this one.
DEFAULT_ALLOWLIST: frozenset[tuple[str, str]] = frozenset(
    ("claude-plugins-official", name) for name in ("telegram", "discord", "imessage", "fakechat")
)
THIRD_PARTY_PROVIDER_VARS = ("CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "CLAUDE_CODE_USE_FOUNDRY")

ENTRY_SYNTAX_HELP = (
    "  plugin:<name>@<marketplace>  \u2014 plugin-provided channel (allowlist enforced)\n"
    "  server:<name>                \u2014 manually configured MCP server"
)


class EntrySyntaxError(ValueError):
    """Untagged ``--channels`` entries; Claude Code prints the message and exits with status 1."""

    def __init__(self, bad: Sequence[str]) -> None:
        super().__init__(f"--channels entries must be tagged: {', '.join(bad)}\n{ENTRY_SYNTAX_HELP}")
        self.bad = list(bad)


@dataclass(frozen=True)
class ChannelEntry:
    """One word of ``--channels`` or ``--dangerously-load-development-channels``."""

    kind: str  # "plugin" or "server"
    name: str
    marketplace: str | None
    development: bool

    def __str__(self) -> str:
        return f"plugin:{self.name}@{self.marketplace}" if self.kind == "plugin" else f"server:{self.name}"


def parse_entries(words: Sequence[str], *, development: bool) -> list[ChannelEntry]:
    """Parse flag words; raise :class:`EntrySyntaxError` listing every untagged one."""
    entries: list[ChannelEntry] = []
    bad: list[str] = []
    for word in words:
        if word.startswith("plugin:"):
            name, at, marketplace = word[len("plugin:") :].partition("@")
            if at and name and marketplace:
                entries.append(ChannelEntry("plugin", name, marketplace, development))
                continue
        elif word.startswith("server:") and len(word) > len("server:"):
            entries.append(ChannelEntry("server", word[len("server:") :], None, development))
            continue
        bad.append(word)
    if bad:
        raise EntrySyntaxError(bad)
    return entries


@dataclass(frozen=True)
class ManagedSettings:
    """The org policy keys Claude Code reads from managed settings."""

    present: bool = False
    channels_enabled: bool = False
    allowed_plugins: frozenset[tuple[str, str]] | None = None

    @classmethod
    def load(cls, path: Path | None) -> ManagedSettings:
        if path is None:
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{path}: managed settings must be a JSON object")
        allowed = data.get("allowedChannelPlugins")
        return cls(
            present=True, channels_enabled=data.get("channelsEnabled") is True, allowed_plugins=_allowlist(allowed)
        )


def _allowlist(raw: Any) -> frozenset[tuple[str, str]] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise ValueError("allowedChannelPlugins must be a list")
    pairs = set()
    for item in raw:
        if isinstance(item, dict) and isinstance(item.get("marketplace"), str) and isinstance(item.get("plugin"), str):
            pairs.add((item["marketplace"], item["plugin"]))
        elif isinstance(item, str) and "@" in item:
            plugin, _, marketplace = item.partition("@")
            pairs.add((marketplace, plugin))
        else:
            raise ValueError(f"allowedChannelPlugins: cannot read entry {item!r}")
    return frozenset(pairs)


def js_truthy(value: Any) -> bool:
    """Truthiness as Claude Code (JavaScript) sees it: ``{}`` and ``[]`` are true."""
    return value is not None and value is not False and value != 0 and value != ""


@dataclass(frozen=True)
class Decision:
    registered: bool
    reason: str
    entry: ChannelEntry | None = None


def _find_entry(server: str, plugin: PluginInfo | None, entries: Sequence[ChannelEntry]) -> ChannelEntry | None:
    for entry in entries:  # --channels entries come first, so a name in both flags is not a dev entry
        if plugin is not None and entry.kind == "plugin" and entry.name == plugin.name:
            return entry
        if plugin is None and entry.kind == "server" and entry.name == server:
            return entry
    return None


def decide(
    server: str,
    *,
    capabilities: Mapping[str, Any],
    modern_era: bool,
    plugin: PluginInfo | None,
    entries: Sequence[ChannelEntry],
    settings: ManagedSettings,
    environ: Mapping[str, str] | None = None,
) -> Decision:
    """Run the gate for one connected server; the first failing step gives the reason."""
    env = os.environ if environ is None else environ
    experimental = capabilities.get("experimental")
    if not (isinstance(experimental, dict) and js_truthy(experimental.get("claude/channel"))):
        return Decision(False, "server did not declare claude/channel capability")
    if modern_era:
        return Decision(False, "connection negotiated a modern protocol revision with no unsolicited notification path")
    if any(env.get(var, "").lower() in ("1", "true") for var in THIRD_PARTY_PROVIDER_VARS):
        return Decision(False, "channels are not available on third-party providers")
    if settings.present and not settings.channels_enabled:
        return Decision(False, "channels not enabled by org policy (set channelsEnabled: true in managed settings)")
    entry = _find_entry(server, plugin, entries)
    if entry is None:
        return Decision(False, f"server {server} not in --channels list for this session")
    if entry.kind == "plugin" and plugin is not None and entry.marketplace != plugin.marketplace:
        return Decision(
            False,
            f"you asked for plugin:{entry.name}@{entry.marketplace} but the installed plugin is {plugin.name}@{plugin.marketplace}",
            entry,
        )
    if entry.development:
        return Decision(True, f"registered from development entry {entry}", entry)
    if entry.kind == "server":
        return Decision(
            False,
            f"server {server} is not on the approved channels allowlist (use --dangerously-load-development-channels for local dev)",
            entry,
        )
    pair = (entry.marketplace or "", entry.name)
    label = f"{entry.name}@{entry.marketplace}"
    if settings.allowed_plugins is not None:
        if pair not in settings.allowed_plugins:
            return Decision(
                False,
                f"plugin {label} is not on your org's approved channels list (set allowedChannelPlugins in managed settings)",
                entry,
            )
    elif pair not in DEFAULT_ALLOWLIST:
        return Decision(
            False,
            f"plugin {label} is not on the approved channels allowlist (use --dangerously-load-development-channels for local dev)",
            entry,
        )
    return Decision(True, f"registered from {entry}", entry)

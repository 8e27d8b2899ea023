"""Whether Claude Code enables a server as a channel in a session: its gate, as a pure decision.

Claude Code spawns every configured MCP server in every session, but installs a channel handler
only for a server that passes each step of a gate; the notifications of any other server are
dropped without a word. The host emulator runs this gate on the servers it connects
(``host/gate.py``), and a channel server runs it on the command line of the Claude Code process
that spawned it (``delivery.py``). Both import it from here, so they can never disagree.

Not to be confused with the inbound gate of ``access.py``, which decides which *senders* a
running channel lets in. Nothing here inspects processes; the only I/O is reading a managed
settings file or a marketplace manifest when asked to.

The steps, in Claude Code's order (the first failing one decides, with the reason strings it
prints in its debug log): 1. the ``claude/channel`` capability and 2. the protocol era, which
only a connected host can see (``host/gate.py``); 3. a third-party model provider; 4. Claude
Code's remote feature switch (not modelled: no local process can see it); 5. org policy
(``channelsEnabled`` in managed settings; the claude.ai Team/Enterprise account rule is not
modelled either); 6. the session's flags name the server; 7. a plugin entry names the marketplace
the plugin was installed from; 8. the allowlist (development entries bypass it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import EntrySyntaxError

if TYPE_CHECKING:
    import argparse

CHANNELS_FLAG = "--channels"
DEVELOPMENT_FLAG = "--dangerously-load-development-channels"

#: The marketplace of Claude Code's own plugins.
OFFICIAL_MARKETPLACE = "claude-plugins-official"
#: Plugins Claude Code accepts on ``--channels`` when no org list replaces this one.
DEFAULT_ALLOWLIST: frozenset[tuple[str, str]] = frozenset(
    (OFFICIAL_MARKETPLACE, name) for name in ("telegram", "discord", "imessage", "fakechat")
)
THIRD_PARTY_PROVIDER_VARS = ("CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "CLAUDE_CODE_USE_FOUNDRY")

ENTRY_SYNTAX_HELP = (
    "  plugin:<name>@<marketplace>  \u2014 plugin-provided channel (allowlist enforced)\n"
    "  server:<name>                \u2014 manually configured MCP server"
)


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
        raise EntrySyntaxError(bad, ENTRY_SYNTAX_HELP)
    return entries


def build_entries(channels: Sequence[str], development: Sequence[str]) -> list[ChannelEntry]:
    """Entries from both flags, ``--channels`` first (it wins when a server is in both)."""
    return parse_entries(channels, development=False) + parse_entries(development, development=True)


@dataclass(frozen=True)
class SessionFlags:
    """What a Claude Code command line says about channels."""

    entries: list[ChannelEntry]
    #: ``-p``/``--print``: the development flag is ignored there.
    print_mode: bool = False
    #: ``--input-format stream-json``: an Agent SDK host, which can enable channels with a
    #: control request that no command line shows.
    sdk_input: bool = False


def read_claude_flags(args: Sequence[str]) -> SessionFlags:
    """The channel flags of a Claude Code command line (the words after the program), read as
    Claude Code's option parser (commander) reads them.

    A flag takes the next word whatever it looks like, then every following word up to the next
    one that starts with ``-``; ``--channels=x`` takes ``x`` alone; a repeated flag adds to the
    first; ``--`` ends the options. Raises :class:`EntrySyntaxError` for entries Claude Code
    refuses (it exits with status 1 on them, so a running session never has any).
    """
    words: dict[str, list[str]] = {CHANNELS_FLAG: [], DEVELOPMENT_FLAG: []}
    collecting: list[str] | None = None
    print_mode = sdk_input = False
    position = 0
    while position < len(args):
        word = args[position]
        position += 1
        if word == "--":
            break
        if collecting is not None and not (len(word) > 1 and word.startswith("-")):
            collecting.append(word)
            continue
        collecting = None
        flag, equals, value = word.partition("=") if word.startswith("--") else (word, "", "")
        if flag in words:
            if equals:
                words[flag].append(value)
            elif position < len(args):
                words[flag].append(args[position])
                position += 1
                collecting = words[flag]
        elif word in ("-p", "--print"):
            print_mode = True
        elif flag == "--input-format":
            if not equals and position < len(args):
                value = args[position]
                position += 1
            sdk_input = sdk_input or value == "stream-json"
    entries = build_entries(words[CHANNELS_FLAG], words[DEVELOPMENT_FLAG])
    if print_mode:
        entries = [entry for entry in entries if not entry.development]
    return SessionFlags(entries, print_mode, sdk_input)


def add_flag_arguments(parser: argparse.ArgumentParser) -> None:
    """The host emulator's channel flags; a server reads the host's command line with the same
    parser, so the two read it alike."""
    parser.add_argument(
        CHANNELS_FLAG, dest="channels", nargs="+", default=[], metavar="ENTRY",
        help="plugin:<name>@<marketplace> or server:<name>",
    )  # fmt: skip
    parser.add_argument(
        DEVELOPMENT_FLAG, dest="dev_channels", nargs="+", default=[], metavar="ENTRY",
        help="entries that bypass the allowlist (not the org policy)",
    )  # fmt: skip
    parser.add_argument(
        "--managed-settings",
        type=Path,
        default=None,
        help="managed settings JSON (channelsEnabled, allowedChannelPlugins)",
    )


@dataclass(frozen=True)
class ManagedSettings:
    """The org policy keys Claude Code reads from managed settings."""

    present: bool = False
    channels_enabled: bool = False
    allowed_plugins: frozenset[tuple[str, str]] | None = None

    @classmethod
    def load(cls, path: Path | None) -> ManagedSettings:
        """The settings in ``path`` (``None``: none); OSError or ValueError when unreadable."""
        if path is None:
            return cls()
        data = read_json_file(path)
        if not isinstance(data, dict):
            raise ValueError(f"{path}: managed settings must be a JSON object")
        allowed = data.get("allowedChannelPlugins")
        return cls(
            present=True, channels_enabled=data.get("channelsEnabled") is True, allowed_plugins=_allowlist(allowed)
        )


def read_json_file(path: Path) -> Any:
    """The JSON document in ``path``; OSError when it cannot be read, ValueError when it is not JSON,
    including JSON nested deeper than the parser goes (which raises RecursionError, not ValueError)."""
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("not readable: JSON nested deeper than the parser goes") from None


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


def marketplace_of_folder(root: Path) -> str:
    """The marketplace a plugin folder belongs to: the name in the nearest
    ``.claude-plugin/marketplace.json`` at or above it, else ``local``.

    This is how the host emulator names the marketplace of a ``--plugin-dir``; a server under the
    host derives it the same way. ValueError when a manifest on the way cannot be read.
    """
    for parent in [root, *root.parents]:
        manifest = parent / ".claude-plugin" / "marketplace.json"
        if manifest.is_file():
            try:
                data = read_json_file(manifest)
            except (OSError, ValueError) as exc:
                raise ValueError(f"{manifest}: {exc}") from None
            if isinstance(data, dict) and isinstance(data.get("name"), str):
                return str(data["name"])
    return "local"


@dataclass(frozen=True)
class ServerIdentity:
    """Who a server is to the gate.

    ``name`` is the MCP server name Claude Code gives it: the config key of a manual entry
    (``webhook``), ``plugin:<plugin>:<key>`` for a plugin's server. ``plugin`` and
    ``marketplace`` say which installed plugin it comes from; the gate needs both for a plugin
    server (``marketplace`` is ``None`` only while a caller has not found it yet).
    """

    name: str
    plugin: str | None = None
    marketplace: str | None = None

    @classmethod
    def of_plugin(cls, plugin: str, marketplace: str | None, key: str) -> ServerIdentity:
        return cls(f"plugin:{plugin}:{key}", plugin, marketplace)


@dataclass(frozen=True)
class Decision:
    registered: bool
    reason: str
    entry: ChannelEntry | None = None


def third_party_provider(environ: Mapping[str, str]) -> str | None:
    """The variable that puts Claude Code on Bedrock, Vertex or Foundry, if one does."""
    return next((var for var in THIRD_PARTY_PROVIDER_VARS if environ.get(var, "").lower() in ("1", "true")), None)


def _find_entry(server: ServerIdentity, entries: Sequence[ChannelEntry]) -> ChannelEntry | None:
    for entry in entries:  # --channels entries come first, so a name in both flags is not a dev entry
        if server.plugin is not None and entry.kind == "plugin" and entry.name == server.plugin:
            return entry
        if server.plugin is None and entry.kind == "server" and entry.name == server.name:
            return entry
    return None


def decide_enablement(
    server: ServerIdentity,
    entries: Sequence[ChannelEntry],
    settings: ManagedSettings,
    environ: Mapping[str, str] | None = None,
) -> Decision:
    """Steps 3 to 8 of the gate for a server that declares the channel capability and speaks the
    2025-11-25 era; the first failing step gives Claude Code's reason."""
    env = os.environ if environ is None else environ
    if third_party_provider(env):
        return Decision(False, "channels are not available on third-party providers")
    if settings.present and not settings.channels_enabled:
        return Decision(False, "channels not enabled by org policy (set channelsEnabled: true in managed settings)")
    entry = _find_entry(server, entries)
    if entry is None:
        return Decision(False, f"server {server.name} not in --channels list for this session")
    if entry.kind == "plugin" and entry.marketplace != server.marketplace:
        return Decision(
            False,
            f"you asked for plugin:{entry.name}@{entry.marketplace} but the installed plugin is {server.plugin}@{server.marketplace}",
            entry,
        )
    if entry.development:
        return Decision(True, f"registered from development entry {entry}", entry)
    if entry.kind == "server":
        return Decision(
            False,
            f"server {server.name} is not on the approved channels allowlist (use --dangerously-load-development-channels for local dev)",
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


__all__ = [
    "CHANNELS_FLAG",
    "DEFAULT_ALLOWLIST",
    "DEVELOPMENT_FLAG",
    "ENTRY_SYNTAX_HELP",
    "OFFICIAL_MARKETPLACE",
    "THIRD_PARTY_PROVIDER_VARS",
    "ChannelEntry",
    "Decision",
    "ManagedSettings",
    "ServerIdentity",
    "SessionFlags",
    "add_flag_arguments",
    "build_entries",
    "decide_enablement",
    "marketplace_of_folder",
    "parse_entries",
    "read_claude_flags",
    "read_json_file",
    "third_party_provider",
]

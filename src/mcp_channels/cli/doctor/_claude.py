"""``doctor``'s checks of the Claude Code side: its version, account, org policy and the official plugins,
and what makes it ignore a running channel without a word (``docs/claude-code-host.md`` §3)."""

from __future__ import annotations

import re
import subprocess
from typing import Final

from ...channels import ChannelFacts
from ...diagnostics import FAIL, OK, WARN, Check, Setup
from ...enablement import OFFICIAL_MARKETPLACE, ManagedSettings, read_json_file, third_party_provider
from ._machine import version_tuple

#: Our marketplace's name in ``.claude-plugin/marketplace.json`` (``plugin:<channel>@mcp-channels``).
MARKETPLACE: Final = "mcp-channels"
CHANNELS_SINCE: Final = (2, 1, 80)
RELAY_SINCE: Final = (2, 1, 81)


def check_claude(setup: Setup, facts: ChannelFacts | None) -> Check:
    """Claude Code's version: channels since 2.1.80, the permission relay since 2.1.81."""
    claude = setup.which("claude")
    needs = "channels need Claude Code 2.1.80 or newer, permission relay 2.1.81"
    if claude is None:
        return Check(
            "claude",
            WARN,
            f"claude is not on PATH, so its version is unknown ({needs})",
            "install Claude Code, or put it on PATH",
        )
    try:
        result = subprocess.run(
            [claude, "--version"], env=dict(setup.env), capture_output=True, text=True, timeout=30, check=False
        )
        output = result.stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        output = str(exc)
    match = re.search(r"\d+\.\d+\.\d+", output)
    if match is None:
        return Check("claude", WARN, f"`{claude} --version` said {output.strip()[:80]!r} ({needs})", "claude update")
    version = version_tuple(match.group(0))
    if version < CHANNELS_SINCE:
        return Check("claude", FAIL, f"Claude Code {match.group(0)} has no channels ({needs})", "claude update")
    if version < RELAY_SINCE and facts is not None and facts.relays_permissions:
        return Check(
            "claude",
            WARN,
            f"Claude Code {match.group(0)} has channels but no permission relay (2.1.81)",
            "claude update",
        )
    return Check("claude", OK, f"Claude Code {match.group(0)} ({claude})")


def check_account(setup: Setup) -> Check:
    variable = third_party_provider(setup.env)
    if variable is not None:
        return Check(
            "account",
            FAIL,
            f"{variable} is set: channels are not available on third-party providers",
            f"unset {variable} and sign in to Claude Code with a claude.ai account (/login)",
        )
    if setup.env.get("ANTHROPIC_API_KEY"):
        return Check(
            "account",
            WARN,
            "ANTHROPIC_API_KEY is set: channels need Claude Code signed in with a claude.ai account, not an API key",
            "unset ANTHROPIC_API_KEY where you start claude, and /login with your claude.ai account",
        )
    return Check(
        "account", OK, "no API key or third-party provider in the environment (channels need a claude.ai login)"
    )


def check_org_policy(setup: Setup, channel: str | None) -> tuple[Check, bool]:
    """The managed-settings verdict, and whether ``--channels`` (not only the dev flag) loads our plugin."""

    path = setup.managed_settings
    if not path.exists():
        return Check("org", OK, f"no managed settings ({path}): no org policy blocks channels"), False
    try:
        settings = ManagedSettings.load(path)
    except (OSError, ValueError) as exc:
        return Check("org", WARN, f"cannot read managed settings {path}: {exc}", "ask your administrator"), False
    if not settings.channels_enabled:
        return (
            Check(
                "org",
                FAIL,
                f"channels not enabled by org policy (set channelsEnabled: true in managed settings, {path})",
                "ask your Claude Code administrator to set channelsEnabled: true",
            ),
            False,
        )
    if settings.allowed_plugins is None or channel is None:
        return Check("org", OK, f"managed settings enable channels ({path})"), False
    if (MARKETPLACE, channel) in settings.allowed_plugins:
        return Check("org", OK, f"your org's approved channels include {channel}@{MARKETPLACE}"), True
    return (
        Check(
            "org",
            WARN,
            f"{channel}@{MARKETPLACE} is not on your org's approved channels (allowedChannelPlugins): "
            "only --dangerously-load-development-channels loads it",
            f'ask your administrator to add {{"marketplace": "{MARKETPLACE}", "plugin": "{channel}"}} to allowedChannelPlugins',
        ),
        False,
    )


def check_official_plugin(setup: Setup, facts: ChannelFacts) -> Check | None:
    """The official plugin of the same name, enabled beside ours, runs a second server."""
    if not facts.official_plugin:
        return None
    channel = facts.name
    settings = setup.claude_dir / "settings.json"
    official = f"{channel}@{OFFICIAL_MARKETPLACE}"
    try:
        document = read_json_file(settings)
    except FileNotFoundError:
        document = {}
    except (OSError, ValueError) as exc:
        return Check(
            "official",
            WARN,
            f"cannot read {settings}: {exc}; cannot tell whether the official {channel} plugin is enabled",
            f"check that {settings} is a JSON object Claude Code can read",
        )
    enabled = document.get("enabledPlugins") or {} if isinstance(document, dict) else {}
    if isinstance(enabled, dict) and enabled.get(official):
        return Check(
            "official",
            WARN,
            f"the official {channel} plugin is enabled too ({settings}): two {channel} servers would run",
            f"/plugin disable {official}",
        )
    return Check("official", OK, f"the official {channel} plugin is not enabled")


def launch_commands(channel: str, allowlisted: bool) -> list[str]:
    """The command line that loads the plugin, then the one for a server in your own ``.mcp.json``."""
    flag = "--channels" if allowlisted else "--dangerously-load-development-channels"
    return [
        f"claude {flag} plugin:{channel}@{MARKETPLACE}",
        f"claude --dangerously-load-development-channels server:{channel}",
    ]


def ignored_when(channel: str | None) -> list[str]:
    """What makes Claude Code ignore a running channel without a word (docs/claude-code-host.md §3)."""
    name = channel or "<channel>"
    return [
        "the session was started without it: an installed plugin runs its server, but Claude Code registers "
        "it only when it is named in --channels or --dangerously-load-development-channels",
        f"plugin entries must name the marketplace the plugin came from (plugin:{name}@{MARKETPLACE}); plugins "
        "from this marketplace are not on Claude Code's default allowlist, so plain --channels refuses them "
        "unless your org's allowedChannelPlugins lists them",
        f"server:{name} entries (your own .mcp.json) work only under --dangerously-load-development-channels",
        "claude -p (non-interactive) ignores the development flag",
        "Claude Code must be signed in with a claude.ai account: API keys and third-party providers "
        "(Bedrock, Vertex, Foundry) have no channels",
        "managed settings: channelsEnabled must be true (claude.ai Team and Enterprise accounts are blocked "
        "until an admin sets it); allowedChannelPlugins replaces the default allowlist",
        "Claude Code older than 2.1.80 has no channels; the permission relay needs 2.1.81",
    ]


__all__ = [
    "MARKETPLACE",
    "check_account",
    "check_claude",
    "check_official_plugin",
    "check_org_policy",
    "ignored_when",
    "launch_commands",
]

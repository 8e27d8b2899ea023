"""``mcp-channels doctor [channel]``: why a channel does not work, one line per check, each with its fix.

A channel that does not work mostly fails without a word: Claude Code ignores a server the
session was not started with, another session polls the bot, a port is taken, ``chat.db`` cannot
be read. ``doctor`` looks at each from the outside, without starting the channel and without
changing anything (not even the ``chmod`` the channel does on ``.env``), and prints one line per
check: ``ok``; ``warn`` (it works, but is risky or surprising); ``FAIL`` (the channel cannot
work until this is fixed). Then the exact ``claude`` command line to start the channel with, and
the reasons Claude Code may still ignore it, which no local check can see.

Exit status: 0 nothing blocks the channel, 1 something does, 2 usage.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from . import __version__
from ._cli_access import PROFILES, ChannelProfile
from ._listeners import port_holder, port_is_free, process_command
from .access import ACCESS_FILE, MAX_FILE_BYTES, read_access_file
from .cli import CHANNELS
from .delivery import default_managed_settings
from .state import ENV_FILE, mask_secret, parse_env, state_dir

#: Our marketplace's name in ``.claude-plugin/marketplace.json`` (``plugin:<channel>@mcp-channels``).
MARKETPLACE: Final = "mcp-channels"
OFFICIAL_MARKETPLACE: Final = "claude-plugins-official"
OFFICIAL_PLUGINS: Final = ("telegram", "discord", "imessage", "fakechat")
CHANNELS_SINCE: Final = (2, 1, 80)
RELAY_SINCE: Final = (2, 1, 81)
RELAY_CHANNELS: Final = ("telegram", "discord", "imessage", "fakechat")
#: Channel -> (distribution, oldest version the channel works with).
PLATFORM_LIBRARIES: Final = {"telegram": ("python-telegram-bot", (22,)), "discord": ("discord.py", (2, 4))}
#: Channel -> (variable, default port on 127.0.0.1).
PORTS: Final = {"fakechat": ("FAKECHAT_PORT", 8787), "webhook": ("WEBHOOK_PORT", 8788)}
TITLES: Final = {"telegram": "Telegram", "discord": "Discord", "imessage": "iMessage"}
THIRD_PARTY_PROVIDERS: Final = ("CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "CLAUDE_CODE_USE_FOUNDRY")
_FIND_PACKAGE: Final = 'import importlib.util, sys; sys.exit(importlib.util.find_spec("mcp_channels") is None)'

OK: Final = "ok"
WARN: Final = "warn"
FAIL: Final = "fail"


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    check: str
    status: str  # ok | warn | fail
    message: str
    fix: str | None = None


@dataclass(frozen=True)
class Setup:
    """What the checks read: the environment and where Claude Code's files are."""

    env: Mapping[str, str]
    managed_settings: Path
    proc: Path = Path("/proc")

    @property
    def home(self) -> Path:
        return Path(self.env.get("HOME") or Path.home())

    @property
    def claude_dir(self) -> Path:
        base = self.env.get("CLAUDE_CONFIG_DIR")
        return Path(base).expanduser() if base else self.home / ".claude"

    def which(self, program: str) -> str | None:
        return shutil.which(program, path=self.env.get("PATH", os.defpath))


# --------------------------------------------------------------------------- this machine


def check_python() -> Check:
    return Check("python", OK, f"Python {platform.python_version()} ({sys.executable}), mcp-channels {__version__}")


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def check_library(channel: str) -> Check:
    dist, oldest = PLATFORM_LIBRARIES[channel]
    fix = f"pip install 'mcp-channels[{channel}]'  (uv tool: uv tool install --force 'mcp-channels[{channel}]')"
    try:
        version = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return Check("library", FAIL, f"{dist} is not installed in this Python ({sys.executable})", fix)
    if _version_tuple(version) < oldest:
        wanted = ".".join(map(str, oldest))
        return Check("library", FAIL, f"{dist} {version} is too old (the channel needs {wanted} or newer)", fix)
    return Check("library", OK, f"{dist} {version}")


def check_launcher(setup: Setup, channel: str) -> Check:
    """What the plugin's ``scripts/serve.sh`` would run, in the same order it tries."""
    extra = f"[{channel}]" if channel in PLATFORM_LIBRARIES else ""
    pinned = setup.env.get("MCP_CHANNELS_PYTHON")
    if pinned:
        if shutil.which(pinned, path=setup.env.get("PATH", os.defpath)) is None:
            return Check(
                "launcher",
                FAIL,
                f"MCP_CHANNELS_PYTHON={pinned} is not an executable: the plugin cannot start the server",
                f"point it at a Python with mcp-channels installed (this one: {sys.executable}), or unset it",
            )
        return Check("launcher", OK, f"the plugin runs {pinned} -m mcp_channels serve {channel} (MCP_CHANNELS_PYTHON)")
    command = setup.which("mcp-channels")
    if command:
        return Check("launcher", OK, f"the plugin runs {command} serve {channel}")
    python3 = setup.which("python3")
    if python3 and _imports_package(python3, setup.env):
        return Check("launcher", OK, f"the plugin runs {python3} -m mcp_channels serve {channel}")
    if setup.which("uvx"):
        return Check(
            "launcher",
            OK,
            f"the plugin runs uvx --from 'mcp-channels{extra}=={__version__}' (downloaded on the first start, "
            "then from uv's cache)",
        )
    return Check(
        "launcher",
        FAIL,
        "the plugin cannot start the server: no mcp-channels on PATH, python3 cannot import it, no uvx",
        f"uv tool install 'mcp-channels{extra}'  (or pipx install 'mcp-channels{extra}'; or set "
        f"MCP_CHANNELS_PYTHON={sys.executable})",
    )


def _imports_package(python: str, env: Mapping[str, str]) -> bool:
    try:
        result = subprocess.run(
            [python, "-c", _FIND_PACKAGE], env=dict(env), capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


# --------------------------------------------------------------------------- the channel's state


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def check_state_dir(setup: Setup, channel: str) -> list[Check]:
    directory = state_dir(channel, setup.env)
    if not directory.exists():
        return [Check("state", OK, f"{directory} does not exist yet (the channel creates it, 0700)")]
    if not directory.is_dir():
        return [
            Check("state", FAIL, f"{directory} is not a directory", f"move it away: mv {directory} {directory}.bak")
        ]
    if not os.access(directory, os.R_OK | os.W_OK | os.X_OK):
        return [
            Check(
                "state",
                FAIL,
                f"{directory} cannot be read and written by you (mode {_mode(directory):04o})",
                f"chown -R $(id -u) {directory} && chmod 700 {directory}",
            )
        ]
    checks = [_permissions("state", directory, 0o700, "other users can list your tokens and allowlists")]
    for name, what in ((ENV_FILE, "your token"), (ACCESS_FILE, "who may reach Claude")):
        path = directory / name
        if path.is_file():
            if not os.access(path, os.R_OK):
                checks.append(Check(name, FAIL, f"{path} is not readable by you", f"chown $(id -u) {path}"))
            else:
                checks.append(_permissions(name, path, 0o600, f"other users can read {what}"))
    return checks


def _permissions(check: str, path: Path, wanted: int, risk: str) -> Check:
    mode = _mode(path)
    if mode & 0o077:
        return Check(check, WARN, f"{path} is {mode:04o}: {risk}", f"chmod {wanted:o} {path}")
    return Check(check, OK, f"{path} ({mode:04o})")


def _env_file(directory: Path) -> dict[str, str]:
    """``.env`` read as the channel reads it, without the channel's ``chmod``: doctor changes nothing."""
    try:
        return parse_env((directory / ENV_FILE).read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return {}


def token(setup: Setup, profile: ChannelProfile) -> tuple[str | None, str]:
    """The channel's token as it would see it, and where it comes from (the environment wins)."""
    assert profile.token_key is not None
    value = setup.env.get(profile.token_key)
    if value:
        return value, "the environment"
    directory = state_dir(profile.name, setup.env)
    return _env_file(directory).get(profile.token_key) or None, str(directory / ENV_FILE)


def check_token(setup: Setup, profile: ChannelProfile) -> Check:
    key = profile.token_key
    assert key is not None
    value, source = token(setup, profile)
    configure = f"mcp-channels configure {profile.name}"
    if value is None:
        if profile.name == "webhook":
            return Check(
                "secret",
                WARN,
                "no WEBHOOK_SECRET: any program on this machine can post events into your session",
                f"{configure} <secret>  (and give the sender the same secret)",
            )
        return Check(
            "token",
            FAIL,
            f"{key} is not set (neither in the environment nor in {source})",
            f"{configure} <token>  ({profile.token_hint})",
        )
    masked = mask_secret(value, profile.mask_keep)
    name = "secret" if profile.name == "webhook" else "token"
    if profile.token_format and not re.fullmatch(profile.token_format, value):
        return Check(
            name,
            FAIL,
            f"{key} from {source} ({masked}) does not look like a {TITLES[profile.name]} token",
            f"{configure} <token>  ({profile.token_hint})",
        )
    return Check(name, OK, f"{key} {masked} from {source}")


def check_access(setup: Setup, profile: ChannelProfile) -> list[Check]:
    name = profile.name
    command = f"mcp-channels access {name}"
    path = state_dir(name, setup.env) / ACCESS_FILE
    read = read_access_file(path, default_dm_policy=profile.default_dm_policy)
    checks: list[Check] = []
    if read.unusable is not None:
        return [
            Check(
                "access",
                FAIL,
                f"{path} cannot be used ({read.unusable}): the channel drops every message until it is fixed",
                f"replace it with a regular file of at most {MAX_FILE_BYTES // 1024} KiB, or remove it to start over",
            )
        ]
    access = read.access
    if read.corrupt is not None:
        checks.append(
            Check(
                "access",
                WARN,
                f"{path} cannot be used ({read.corrupt}): the channel moves it aside and starts over with "
                f"dmPolicy {profile.default_dm_policy}",
                f"fix or delete it; `{command}` then shows what the channel uses",
            )
        )
    if read.problems:
        closed = f"; closed: {', '.join(access.broken_groups)}" if access.broken_groups else ""
        checks.append(
            Check(
                "access",
                WARN,
                f"{path}: {len(read.problems)} problem(s), each closes what it governs{closed}; "
                f"first: {read.problems[0]}",
                f"edit the file (`{command}` prints every problem); changes made with `{command}` keep "
                "what does not parse as it is",
            )
        )
    checks.append(_policy(setup, profile, len(access.allow_from), len(access.groups), access.dm_policy))
    return checks


def _policy(setup: Setup, profile: ChannelProfile, allowed: int, groups: int, policy: str) -> Check:
    name = profile.name
    command = f"mcp-channels access {name}"
    static = setup.env.get(f"{name.upper()}_ACCESS_MODE") == "static"
    who = f"{allowed} sender(s) and {groups} group(s) allowed"
    if static:
        who += "; static mode: read once at start, pairing acts as allowlist"
    if policy == "disabled":
        return Check(
            "policy", WARN, f"dmPolicy is disabled: every message is dropped ({who})", f"{command} policy allowlist"
        )
    if policy == "pairing":
        if name == "imessage":
            return Check(
                "policy",
                WARN,
                f"dmPolicy is pairing: anyone who texts this Mac gets a pairing code ({who})",
                f"{command} allow <handle>, then {command} policy allowlist",
            )
        if allowed == 0:
            return Check(
                "policy",
                WARN,
                f"dmPolicy is pairing and nobody is allowed yet ({who}): anyone who finds the bot can ask for a code",
                f"DM the bot, `{command} pair <code>`, then lock down: {command} policy allowlist",
            )
        return Check(
            "policy",
            WARN,
            f"dmPolicy is still pairing ({who}): anyone who finds the bot can ask for a code",
            f"{command} policy allowlist  (pairing is only for learning ids)",
        )
    if allowed == 0 and groups == 0 and name != "imessage":
        return Check(
            "policy",
            WARN,
            "dmPolicy is allowlist and nobody is allowed: every message is dropped",
            f"{command} allow <id>",
        )
    if name == "imessage":
        who = f"your self-chat, {who}"
    return Check("policy", OK, f"dmPolicy is allowlist: {who}")


def check_port(setup: Setup, channel: str) -> Check:
    variable, default = PORTS[channel]
    raw = setup.env.get(variable)
    port = default
    if raw:
        if not re.fullmatch(r"\d+", raw.strip()) or not 1 <= int(raw) <= 65535:
            return Check(
                "port",
                FAIL,
                f"{variable}={raw!r} is not a port number",
                f"set {variable} to a free port, like {default}",
            )
        port = int(raw)
    where = f"port {port} on 127.0.0.1"
    elsewhere = f"or give the channel another port: {variable}=<free port>"
    try:
        if port_is_free(port):
            return Check("port", OK, f"{where} is free")
    except OSError as exc:
        return Check("port", FAIL, f"{where} cannot be bound: {exc.strerror or exc}", elsewhere)
    holder = port_holder(port, setup.proc)
    if holder is None:
        return Check(
            "port",
            FAIL,
            f"{where} is in use (this system does not show by which process)",
            f"`lsof -nP -iTCP:{port} -sTCP:LISTEN` shows it; stop it, {elsewhere}",
        )
    if holder.pid is None:
        return Check(
            "port",
            FAIL,
            f"{where} is in use by a process of user {holder.uid} that you cannot inspect",
            f"`sudo lsof -nP -iTCP:{port} -sTCP:LISTEN` shows it; stop it, {elsewhere}",
        )
    who = f"pid {holder.pid} ({holder.command or 'command unknown'})"
    if _is_our_server(holder.command, channel):
        return Check(
            "port",
            WARN,
            f"{where} is held by {who}: the {channel} channel is already running, probably for another "
            "session; a second one cannot start beside it",
            f"close that session, {elsewhere}",
        )
    return Check("port", FAIL, f"{where} is held by {who}", f"stop it (kill {holder.pid}), {elsewhere}")


def _is_our_server(command: str | None, channel: str) -> bool:
    words = (command or "").split()
    ours = any(word.endswith(("mcp_channels", "mcp-channels")) for word in words)
    return ours and "serve" in words and channel in words


def check_poller(setup: Setup) -> list[Check]:
    """Telegram: which live session receives this bot's messages, and whether the official server competes."""
    profile = PROFILES["telegram"]
    value, _source = token(setup, profile)
    if value is None:
        return []  # the token check already says what to do
    checks: list[Check] = []
    directory = state_dir("telegram", setup.env)
    with contextlib.suppress(ImportError):  # the library check already says what to do
        from .channels.telegram import poller_lock_status

        pid = poller_lock_status(directory, value)
        if pid is None:
            checks.append(Check("poller", OK, "no session is receiving this bot's messages right now"))
        else:
            checks.append(
                Check(
                    "poller",
                    OK,
                    f"pid {pid} ({process_command(pid, setup.proc) or 'command unknown'}) receives this bot's "
                    "messages; another session only sends until it exits",
                )
            )
    official = _official_poller(directory, setup.proc)
    if official is not None:
        checks.append(
            Check(
                "poller",
                FAIL,
                f"the official telegram plugin's server ({official}) polls this bot too: the two take each "
                "other's messages (409 Conflict)",
                f"quit that session and run /plugin disable telegram@{OFFICIAL_MARKETPLACE}",
            )
        )
    return checks


def _official_poller(directory: Path, proc: Path) -> str | None:
    """``pid N (command)`` of a live official server named by its ``bot.pid``, if any."""
    try:
        pid = int((directory / "bot.pid").read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    command = process_command(pid, proc) or ""
    if "server.ts" not in command and "bun" not in command:
        return None  # a recycled pid, not the official server
    return f"pid {pid}: {command}"


def check_chat_db(setup: Setup) -> list[Check]:
    raw = setup.env.get("IMESSAGE_DB_PATH")
    path = Path(raw).expanduser() if raw else setup.home / "Library" / "Messages" / "chat.db"
    if not raw and sys.platform != "darwin":
        return [
            Check(
                "chat.db",
                FAIL,
                f"iMessage needs macOS: there is no Messages database on {platform.system()}",
                "run Claude Code on your Mac (IMESSAGE_DB_PATH points the channel at a copy, for tests)",
            )
        ]
    from .channels.imessage._chatdb import ChatDb, ChatDbError

    try:
        ChatDb(path).close()
    except ChatDbError as exc:
        reason = str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else str(exc)
        if raw and not path.exists():
            fix = "IMESSAGE_DB_PATH names no file: fix it, or unset it to use ~/Library/Messages/chat.db"
        else:
            fix = (
                f"give the app that runs Claude Code (your terminal; or {sys.executable}) Full Disk Access: "
                "System Settings → Privacy & Security → Full Disk Access, then restart it"
            )
        return [Check("chat.db", FAIL, f"cannot read {path}: {reason}", fix)]
    checks = [Check("chat.db", OK, f"{path} is readable")]
    if setup.which("osascript") is None:
        checks.append(
            Check(
                "osascript",
                WARN,
                "osascript is not on PATH: replies cannot be sent",
                "run on macOS, where /usr/bin/osascript sends through Messages",
            )
        )
    return checks


# --------------------------------------------------------------------------- the Claude Code side


def check_claude(setup: Setup, channel: str | None) -> Check:
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
    version = _version_tuple(match.group(0))
    if version < CHANNELS_SINCE:
        return Check("claude", FAIL, f"Claude Code {match.group(0)} has no channels ({needs})", "claude update")
    if version < RELAY_SINCE and channel in RELAY_CHANNELS:
        return Check(
            "claude",
            WARN,
            f"Claude Code {match.group(0)} has channels but no permission relay (2.1.81)",
            "claude update",
        )
    return Check("claude", OK, f"Claude Code {match.group(0)} ({claude})")


def check_account(setup: Setup) -> Check:
    for variable in THIRD_PARTY_PROVIDERS:
        if setup.env.get(variable, "").lower() in ("1", "true"):
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
    from .enablement import ManagedSettings

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


def check_official_plugin(setup: Setup, channel: str) -> Check | None:
    """The official plugin of the same name, enabled beside ours, runs a second server."""
    if channel not in OFFICIAL_PLUGINS:
        return None
    settings = setup.claude_dir / "settings.json"
    try:
        enabled = json.loads(settings.read_text(encoding="utf-8")).get("enabledPlugins") or {}
    except (OSError, ValueError, AttributeError):
        enabled = {}
    official = f"{channel}@{OFFICIAL_MARKETPLACE}"
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
    """What makes Claude Code ignore a running channel without a word (docs/host-protocol.md §3)."""
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


# --------------------------------------------------------------------------- running it


@dataclass
class Report:
    channel: str | None
    checks: list[Check]
    commands: list[str]
    ignored: list[str]

    @property
    def blocked(self) -> bool:
        return any(check.status == FAIL for check in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "ok": not self.blocked,
            "checks": [asdict(check) for check in self.checks],
            "commands": self.commands,
            "ignoredWhen": self.ignored,
        }


def diagnose(setup: Setup, channel: str | None) -> Report:
    checks = [check_python()]
    if channel is not None:
        checks.extend(_channel_checks(setup, channel))
    org, allowlisted = check_org_policy(setup, channel)
    checks.extend([check_claude(setup, channel), check_account(setup), org])
    if channel is not None:
        official = check_official_plugin(setup, channel)
        if official is not None:
            checks.append(official)
    from ._cli_doctor_sessions import check_sessions

    checks.extend(check_sessions(setup, channel))
    commands = launch_commands(channel, allowlisted) if channel else []
    return Report(channel, checks, commands, ignored_when(channel))


def _channel_checks(setup: Setup, channel: str) -> list[Check]:
    checks: list[Check] = []
    if channel in PLATFORM_LIBRARIES:
        checks.append(check_library(channel))
    checks.append(check_launcher(setup, channel))
    checks.extend(check_state_dir(setup, channel))
    profile = PROFILES.get(channel)
    if profile is not None and profile.token_key is not None:
        checks.append(check_token(setup, profile))
    if profile is not None and profile.chunk_cap is not None:
        checks.extend(check_access(setup, profile))
    if channel in PORTS:
        checks.append(check_port(setup, channel))
    if channel == "telegram":
        checks.extend(check_poller(setup))
    if channel == "imessage":
        checks.extend(check_chat_db(setup))
    return checks


_MARKS: Final = {OK: "ok  ", WARN: "warn", FAIL: "FAIL"}


def render(report: Report, setup: Setup) -> str:
    title = f"mcp-channels doctor: {report.channel}" if report.channel else "mcp-channels doctor"
    lines = [title]
    width = max(len(check.check) for check in report.checks)
    for check in report.checks:
        fix = f" — fix: {check.fix}" if check.fix else ""
        lines.append(f"  {_MARKS[check.status]}  {check.check.ljust(width)}  {check.message}{fix}")
    if report.commands:
        lines.append("start Claude Code with the plugin:")
        lines.append(f"  {report.commands[0]}")
        lines.append(f"or, with your own .mcp.json entry named {report.channel}:")
        lines.append(f"  {report.commands[1]}")
    else:
        set_up = [name for name in CHANNELS if state_dir(name, setup.env).is_dir()]
        lines.append(
            "check a channel: mcp-channels doctor <channel>  ("
            + (f"set up here: {', '.join(set_up)}" if set_up else f"one of {', '.join(CHANNELS)}")
            + ")"
        )
    lines.append("Claude Code ignores a channel without a word when:")
    lines.extend(f"  - {reason}" for reason in report.ignored)
    failures = sum(check.status == FAIL for check in report.checks)
    warnings = sum(check.status == WARN for check in report.checks)
    subject = f"the {report.channel} channel" if report.channel else "channels"
    if failures:
        lines.append(f"{failures} problem(s) block {subject} (FAIL above); {warnings} warning(s).")
    else:
        lines.append(f"nothing blocks {subject}; {warnings} warning(s).")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-channels doctor",
        description="Check why a channel does not reach Claude Code; one line per check, with its fix.",
        epilog="Exit status: 0 nothing blocks the channel, 1 something does, 2 usage.",
    )
    parser.add_argument("channel", nargs="?", choices=tuple(CHANNELS))
    parser.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    parser.add_argument(
        "--managed-settings",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"Claude Code's managed settings (default: {default_managed_settings()})",
    )
    return parser


def doctor_command(argv: Sequence[str]) -> int:
    """``mcp-channels doctor [channel] [--json] [--managed-settings FILE]``."""
    try:
        args = _parser().parse_args(list(argv))
    except SystemExit as exc:  # argparse has printed the usage
        return 0 if exc.code == 0 else 2
    setup = Setup(os.environ, args.managed_settings or default_managed_settings())
    report = diagnose(setup, args.channel)
    if args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        print(render(report, setup))
    return 1 if report.blocked else 0

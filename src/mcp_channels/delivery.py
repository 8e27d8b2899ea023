"""Whether this session delivers: the Claude Code process that spawned a server, and its gate.

Claude Code runs every configured MCP server in every session, also in one started without a
channel flag, and drops every notification of a server its gate skips, with no signal on the
wire. What a server can see is its ancestors: the nearest one that is Claude Code (the native
``claude`` binary, or Node.js running its ``cli.js``) or the project's host emulator
(``mcp-channels host``), with its command line. Between the two there may be the plugin launcher
(``sh .../scripts/serve.sh``), ``uv``/``uvx`` or a Python interpreter; any other program there
is another MCP client (an inspector, an IDE) and the answer is *unknown*, as it is when no such
ancestor exists. The command line then goes through the same gate the host emulator runs
(``enablement.py``).

Settings, all in the server's environment:

``MCP_CHANNELS_DELIVERY``
    ``auto`` (default) decides as above; ``deliver`` and ``tools-only`` force the answer. Agent
    SDK hosts enable channels with a control request that no command line shows: they set
    ``deliver``.
``MCP_CHANNELS_SERVER_NAME``
    the MCP server name of a manual entry when it is not the channel's name (``serve --name``
    sets it); inside a plugin, the key of the plugin's server.
``MCP_CHANNELS_PLUGIN``
    set by a plugin's launcher: ``<plugin>`` or ``<plugin>@<marketplace>``. Without the
    marketplace it is read from ``CLAUDE_PLUGIN_DATA``, which Claude Code sets for a plugin's
    servers to ``.../plugins/data/<plugin>-<marketplace>`` (characters other than letters,
    digits, ``-`` and ``_`` become ``-``); under the host emulator, from the nearest
    ``marketplace.json`` above ``CLAUDE_PLUGIN_ROOT``, as the host names it.

``psutil`` is imported only when the process tree is read, so importing this module is cheap.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Final, Literal, NoReturn

from .enablement import (
    THIRD_PARTY_PROVIDER_VARS,
    ManagedSettings,
    ServerIdentity,
    add_flag_arguments,
    build_entries,
    decide_enablement,
    marketplace_of_folder,
    read_claude_flags,
)
from .errors import EntrySyntaxError

if TYPE_CHECKING:
    import argparse

    import psutil

DELIVERY_VAR: Final = "MCP_CHANNELS_DELIVERY"
SERVER_NAME_VAR: Final = "MCP_CHANNELS_SERVER_NAME"
PLUGIN_VAR: Final = "MCP_CHANNELS_PLUGIN"
#: Every variable of a server's environment that the answer depends on: what another process
#: needs, besides the server's pid, to decide for it (the hub does, for its sessions' shims).
DECIDING_VARS: Final = (
    DELIVERY_VAR,
    SERVER_NAME_VAR,
    PLUGIN_VAR,
    "CLAUDE_PLUGIN_DATA",
    "CLAUDE_PLUGIN_ROOT",
    *THIRD_PARTY_PROVIDER_VARS,
)

DELIVERING: Final = "delivering"
NOT_DELIVERING: Final = "not delivering"
UNKNOWN: Final = "unknown"
DeliveryState = Literal["delivering", "not delivering", "unknown"]

#: How many ancestors are looked at before giving up.
MAX_ANCESTORS: Final = 16

#: Programs that may sit between Claude Code and a server: shells (the plugin launcher), uv, Python.
_PASS_THROUGH: Final = re.compile(
    r"(?:sh|bash|dash|zsh|ksh|mksh|fish|cmd|powershell|pwsh|uv|uvx|py|pythonw?(?:\d+(?:\.\d+)*)?)(?:\.exe)?",
    re.IGNORECASE,
)
_CLAUDE_SCRIPTS: Final = ("@anthropic-ai/claude-code/cli.js", "@anthropic-ai/claude-code/cli.mjs")
_UNSAFE_IN_DATA_DIR: Final = re.compile(r"[^A-Za-z0-9_-]")

CLAUDE_CODE: Final = "Claude Code"
HOST_EMULATOR: Final = "mcp-channels host"


@dataclass(frozen=True)
class Delivery:
    """Whether the session that runs a server registers it as a channel.

    ``state`` is ``delivering``, ``not delivering`` (the session drops the server's events:
    Claude Code's gate skips it) or ``unknown`` (no Claude Code or host emulator among the
    parents, or they cannot be read; treat it as the servers always did: as delivering).
    ``reason`` is one line for a log, in the gate's words where the gate decided.
    ``host_pid`` and ``host_argv`` are the session's process and full command line, when found.
    """

    state: DeliveryState
    reason: str
    host_pid: int | None = None
    host_argv: tuple[str, ...] | None = None

    @property
    def delivers(self) -> bool:
        """False only when the session is known to drop the events; unknown counts as delivering."""
        return self.state != NOT_DELIVERING


@dataclass(frozen=True)
class Session:
    """The nearest ancestor that runs channels: Claude Code or the host emulator."""

    kind: str  # CLAUDE_CODE or HOST_EMULATOR
    pid: int
    argv: tuple[str, ...]
    arguments: tuple[str, ...]  # the words after the program (and, for the host, after "host")
    cwd: str | None = None


def identify_server(channel: str, name: str | None = None, environ: Mapping[str, str] | None = None) -> ServerIdentity:
    """Who this server is to Claude Code's gate, from ``name`` (``serve --name``) and the
    environment; the marketplace of a plugin is ``None`` when the environment does not say."""
    env = os.environ if environ is None else environ
    key = name or env.get(SERVER_NAME_VAR) or channel
    plugin, _, marketplace = (env.get(PLUGIN_VAR) or "").strip().partition("@")
    if not plugin:
        return ServerIdentity(key)
    return ServerIdentity.of_plugin(plugin, marketplace or _marketplace_from_data_dir(plugin, env), key)


def _marketplace_from_data_dir(plugin: str, env: Mapping[str, str]) -> str | None:
    data = env.get("CLAUDE_PLUGIN_DATA")
    if not data:
        return None
    folder = PurePath(data).name
    prefix = _UNSAFE_IN_DATA_DIR.sub("-", plugin) + "-"
    return folder[len(prefix) :] if folder.startswith(prefix) and len(folder) > len(prefix) else None


def name_hint(identity: ServerIdentity, delivery: Delivery, environ: Mapping[str, str] | None = None) -> str:
    """What a server skipped by a session that names other manual entries (``server:...``) should
    add to its log line when it never said its own name: it may be one of them under another key.

    Empty in every other case: a plugin knows its name, and a session without such entries
    names no server this one could be.
    """
    env = os.environ if environ is None else environ
    if delivery.state != NOT_DELIVERING or identity.plugin is not None or env.get(SERVER_NAME_VAR):
        return ""
    if not any(word.startswith("server:") for word in delivery.host_argv or ()):
        return ""
    return (
        f"this server takes itself to be {identity.name!r} in the MCP config: if its key there differs, "
        f"give it with serve --name <key> or {SERVER_NAME_VAR}=<key>"
    )


def default_managed_settings() -> Path:
    """Where Claude Code reads managed settings on this system."""
    if sys.platform == "darwin":
        return Path("/Library/Application Support/ClaudeCode/managed-settings.json")
    if sys.platform == "win32":
        return Path("C:/Program Files/ClaudeCode/managed-settings.json")
    return Path("/etc/claude-code/managed-settings.json")


def detect_delivery(
    identity: ServerIdentity,
    environ: Mapping[str, str] | None = None,
    *,
    pid: int | None = None,
    managed_settings: Path | None = None,
) -> Delivery:
    """Whether the session that spawned process ``pid`` (default: this one) delivers the events
    of the server ``identity``.

    Promises: it never raises (an unreadable process tree, settings file or command line gives
    ``unknown`` with the reason); it does not block beyond reading a few ``/proc`` entries and
    at most two small files, and costs a few milliseconds once ``psutil`` is imported (about
    10 ms on first use), so a runner can call it at start-up; ``MCP_CHANNELS_DELIVERY`` is obeyed
    before anything is read. ``environ`` is the server's environment (default: this process's),
    ``managed_settings`` the file Claude Code's org policy is read from (default: the system's).
    """
    env = os.environ if environ is None else environ
    try:
        forced = _forced(env)
        if forced is not None:
            return forced
        found = find_session(os.getpid() if pid is None else pid)
        if isinstance(found, str):
            return Delivery(UNKNOWN, found)
        return _decide(identity, found, env, managed_settings)
    except Exception as exc:  # the promise: a runner asks at start-up and must never crash on it
        return Delivery(UNKNOWN, f"cannot tell whether this session delivers: {type(exc).__name__}: {exc}")


def _forced(env: Mapping[str, str]) -> Delivery | None:
    raw = env.get(DELIVERY_VAR, "")
    value = raw.strip().lower()
    if value in ("", "auto"):
        return None
    if value == "deliver":
        return Delivery(DELIVERING, f"{DELIVERY_VAR}=deliver")
    if value == "tools-only":
        return Delivery(NOT_DELIVERING, f"{DELIVERY_VAR}=tools-only")
    return Delivery(UNKNOWN, f"{DELIVERY_VAR}={raw!r} is not one of deliver, tools-only, auto: ignored")


def find_session(pid: int) -> Session | str:
    """The nearest ancestor of ``pid`` that is Claude Code or the host emulator, or why there is
    none. psutil errors propagate."""
    import psutil

    process = psutil.Process(pid).parent()
    for _ in range(MAX_ANCESTORS):
        if process is None:
            return "no Claude Code session or mcp-channels host among this process's parents"
        words = tuple(process.cmdline())
        claude = claude_arguments(words)
        if claude is not None:
            if _title_replaced_arguments(process, words):
                return (
                    f"Claude Code (pid {process.pid}) runs under Node.js, whose process title replaced its "
                    f"arguments: its flags cannot be read (set {DELIVERY_VAR})"
                )
            return Session(CLAUDE_CODE, process.pid, words, tuple(claude))
        host = host_arguments(words)
        if host is not None:
            return Session(HOST_EMULATOR, process.pid, words, tuple(host), _cwd(process))
        if not words or not _PASS_THROUGH.fullmatch(_basename(words[0])):
            shown = " ".join(words)[:120] or process.name()
            return f"started by pid {process.pid} ({shown}), not by Claude Code or mcp-channels host"
        process = process.parent()
    return f"no Claude Code session or mcp-channels host within {MAX_ANCESTORS} parents"


def _title_replaced_arguments(process: psutil.Process, words: Sequence[str]) -> bool:
    """Node.js setting ``process.title`` writes the title over its command line: what remains is
    ``claude`` and empty words, and the executable is still ``node``."""
    import psutil

    if "" in words[1:]:
        return True
    try:
        program = _basename(process.exe()).lower()
    except psutil.Error:
        return False
    return _is_claude_program(words[0]) and program.startswith(("node", "bun"))


def _cwd(process: psutil.Process) -> str | None:
    import psutil

    try:
        return process.cwd()
    except psutil.Error:
        return None


def _basename(word: str) -> str:
    return re.split(r"[\\/]", word)[-1]


def _is_claude_program(word: str) -> bool:
    return _basename(word).lower() in ("claude", "claude.exe") or word.replace("\\", "/").endswith(_CLAUDE_SCRIPTS)


def claude_arguments(words: Sequence[str]) -> list[str] | None:
    """The arguments of a Claude Code command line, or ``None`` when ``words`` is not one:
    ``claude ...`` (the native binary, whatever its path), or an interpreter running Claude
    Code's script (``node .../@anthropic-ai/claude-code/cli.js ...``, ``node .../bin/claude``)."""
    if not words:
        return None
    if _is_claude_program(words[0]):
        return list(words[1:])
    for index, word in enumerate(words[1:], start=1):
        if not word.startswith("-"):  # the interpreter's own options come before its script
            return list(words[index + 1 :]) if _is_claude_program(word) else None
    return None


def command_arguments(words: Sequence[str]) -> list[str] | None:
    """The words after the program of an ``mcp-channels`` command line (run as the console script
    or as ``python -m mcp_channels``), or ``None`` when ``words`` is not one."""
    for index, word in enumerate(words[:4]):
        is_module = word == "mcp_channels" and index > 0 and words[index - 1] == "-m"
        if is_module or _basename(word).lower() in ("mcp-channels", "mcp-channels.exe"):
            return list(words[index + 1 :])
    return None


def host_arguments(words: Sequence[str]) -> list[str] | None:
    """The arguments after ``host`` of an ``mcp-channels host`` command line, or ``None``."""
    rest = command_arguments(words)
    return rest[1:] if rest is not None and rest[:1] == ["host"] else None


def _decide(
    identity: ServerIdentity, session: Session, env: Mapping[str, str], managed_settings: Path | None
) -> Delivery:
    where = f"{session.kind} (pid {session.pid})"

    def result(state: DeliveryState, reason: str) -> Delivery:
        return Delivery(state, reason, session.pid, session.argv)

    try:
        if session.kind == HOST_EMULATOR:
            options = _host_flags(session.arguments)
            entries = build_entries(options.channels, options.dev_channels)
            settings_path = options.managed_settings
            if settings_path is not None and session.cwd is not None:
                settings_path = Path(session.cwd) / settings_path
            sdk_input = False
        else:
            flags = read_claude_flags(session.arguments)
            entries, sdk_input = flags.entries, flags.sdk_input
            settings_path = managed_settings or default_managed_settings()
            if not settings_path.exists():
                settings_path = None
    except EntrySyntaxError as exc:
        return result(UNKNOWN, f"{where} has channel entries it refuses: {str(exc).splitlines()[0]}")
    except ValueError as exc:
        return result(UNKNOWN, f"cannot read the command line of {where}: {exc}")
    try:
        settings = ManagedSettings.load(settings_path)
    except (OSError, ValueError) as exc:
        return result(UNKNOWN, f"cannot read managed settings {settings_path}: {exc}")
    if identity.plugin is not None and identity.marketplace is None:
        if session.kind == HOST_EMULATOR and env.get("CLAUDE_PLUGIN_ROOT"):
            try:
                marketplace = marketplace_of_folder(Path(env["CLAUDE_PLUGIN_ROOT"]).resolve())
            except ValueError as exc:
                return result(UNKNOWN, f"cannot tell plugin {identity.plugin}'s marketplace: {exc}")
            identity = ServerIdentity(identity.name, identity.plugin, marketplace)
        elif any(entry.kind == "plugin" and entry.name == identity.plugin for entry in entries):
            return result(
                UNKNOWN,
                f"cannot tell which marketplace plugin {identity.plugin} was installed from "
                f"(no CLAUDE_PLUGIN_DATA): set {PLUGIN_VAR}={identity.plugin}@<marketplace>",
            )
    decision = decide_enablement(identity, entries, settings, env)
    if decision.registered:
        return result(DELIVERING, f"{where}: {decision.reason}")
    if sdk_input:
        return result(
            UNKNOWN,
            f"{where}: {decision.reason}; but it takes stream-json input (an Agent SDK host), which can enable "
            f"channels without flags: set {DELIVERY_VAR}",
        )
    return result(NOT_DELIVERING, f"{where}: {decision.reason}")


def _host_flags(arguments: Sequence[str]) -> argparse.Namespace:
    """The host emulator's channel flags, read by its own argument definitions; errors raise
    ValueError instead of printing usage and exiting."""
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            raise ValueError(message)

    parser = Parser(add_help=False, exit_on_error=False)
    add_flag_arguments(parser)
    options, _others = parser.parse_known_args(list(arguments))
    return options


__all__ = [
    "CLAUDE_CODE",
    "DELIVERING",
    "DELIVERY_VAR",
    "HOST_EMULATOR",
    "MAX_ANCESTORS",
    "NOT_DELIVERING",
    "PLUGIN_VAR",
    "SERVER_NAME_VAR",
    "UNKNOWN",
    "Delivery",
    "DeliveryState",
    "Session",
    "claude_arguments",
    "command_arguments",
    "default_managed_settings",
    "detect_delivery",
    "find_session",
    "host_arguments",
    "identify_server",
    "name_hint",
]

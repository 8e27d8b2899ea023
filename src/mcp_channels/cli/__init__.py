"""The ``mcp-channels`` command line: one module per command group, imported when it runs.

``serve webhook`` must start in tens of milliseconds and must not pay for Discord, Telegram, the
host or argparse, so this dispatcher imports nothing but the module of the command it runs
(:mod:`.serve` is as light). Every command may raise a :class:`~mcp_channels.errors.UserError`:
it is caught here, once, and its message printed without a traceback (exit status 2 for a
:class:`~mcp_channels.errors.UsageError`, 1 otherwise).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from ..channels import NAMES

#: Command -> (module under ``mcp_channels.cli``, function taking the remaining arguments).
COMMANDS = {
    "serve": ("serve", "serve_command"),
    "host": ("host", "host_command"),
    "demo": ("host", "demo_command"),
    "access": ("access", "access_command"),
    "configure": ("access", "configure_command"),
    "doctor": ("doctor", "doctor_command"),
    "webhook": ("webhook", "webhook_command"),
    "hub": ("hub", "hub_command"),
}

USAGE = """usage: mcp-channels <command> [options]

commands:
  serve <channel>   run a channel server on stdio (what Claude Code launches): {channels}
  host              play Claude Code's side: spawn servers from .mcp.json, show events, relay permissions
  demo              try it now: the host with a local channel, no account or token needed
  access <channel>  who may reach Claude through {chats}: pair, allow, policy, groups
  configure <channel> [<token>...|clear]   save or clear a channel's tokens; alone: setup status and next step
  doctor [<channel>]  why a channel does not reach Claude Code: one line per check, with the fix
  hub <command>     the hub shared by every session: run, start, stop, status, route, install
  webhook try <file> [--header 'Name: value' ...] [--path /p]   the event a POST of <file> would become

'mcp-channels <command> --help' tells more."""


def _usage() -> str:
    from ..channels import all_facts

    chats = [facts.name for facts in all_facts() if facts.access is not None]
    return USAGE.format(channels=", ".join(NAMES), chats=", ".join(chats))


def _prefix(command: str, rest: Sequence[str]) -> str:
    """How an error of ``command`` starts: the channel's log prefix for ``serve``, else the command line."""
    if command == "serve":
        return f"{rest[0]} channel" if rest else "serve"
    words = [command, *rest[:1]] if command == "webhook" else [command]
    return f"mcp-channels {' '.join(words)}"


def main(argv: Sequence[str] | None = None) -> NoReturn:
    from ..errors import UsageError, UserError

    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        sys.exit(0 if args else 2)
    command, rest = args[0], args[1:]
    if command in ("--version", "version"):
        from .. import __version__

        print(f"mcp-channels {__version__}")
        sys.exit(0)
    if command not in COMMANDS:
        print(f"mcp-channels: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        sys.exit(2)
    module, function = COMMANDS[command]
    run: Callable[[Sequence[str]], int] = getattr(importlib.import_module(f"{__name__}.{module}"), function)
    try:
        status = run(rest)
    except UserError as exc:  # the message says what to fix: no traceback
        print(f"{_prefix(command, rest)}: {exc}", file=sys.stderr)
        status = 2 if isinstance(exc, UsageError) else 1
    sys.exit(status)


__all__ = ["COMMANDS", "USAGE", "main"]

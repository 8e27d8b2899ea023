"""The ``mcp-channels`` command line.

Sub-commands import what they need when they run: ``serve webhook`` must start in tens of
milliseconds and must not pay for Discord, Telegram or the host.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

#: Channel name -> module with a ``build()`` returning its ChannelServer.
CHANNELS = {
    "fakechat": "mcp_channels.channels.fakechat",
    "webhook": "mcp_channels.channels.webhook",
    "telegram": "mcp_channels.channels.telegram",
    "discord": "mcp_channels.channels.discord",
    "imessage": "mcp_channels.channels.imessage",
}

USAGE = """usage: mcp-channels <command> [options]

commands:
  serve <channel>   run a channel server on stdio (what Claude Code launches): {channels}
  host              play Claude Code's side: spawn servers from .mcp.json, show events, relay permissions
  demo              try it now: the host with a local channel, no account or token needed
  access <channel>  who may reach Claude through telegram, discord, imessage: pair, allow, policy, groups
  configure <channel> [<token>|clear]   save or clear a channel's token; alone: setup status and next step
  doctor [<channel>]  why a channel does not reach Claude Code: one line per check, with the fix
  webhook try <file> [--header 'Name: value' ...] [--path /p]   the event a POST of <file> would become

'mcp-channels <command> --help' tells more."""


def _serve(argv: Sequence[str]) -> int:
    if len(argv) != 1 or argv[0] not in CHANNELS:
        print(f"usage: mcp-channels serve <channel>   (one of: {', '.join(CHANNELS)})", file=sys.stderr)
        return 2
    import importlib

    from .server import FatalError, claim_stdout

    claim_stdout()  # before the channel's platform library is imported: stdout is the protocol's
    module = importlib.import_module(CHANNELS[argv[0]])
    try:
        channel = module.build()
    except FatalError as exc:  # a setting the user must fix: the message says which
        print(f"{argv[0]} channel: {exc}", file=sys.stderr)
        return 1
    channel.run()
    return 0  # run() exits the process


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "serve":  # the hot path: no argparse, nothing else imported
        sys.exit(_serve(args[1:]))
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE.format(channels=", ".join(CHANNELS)))
        sys.exit(0 if args else 2)
    command, rest = args[0], args[1:]
    if command == "host":
        from ._cli_host import host_command

        sys.exit(host_command(rest))
    if command == "demo":
        from ._cli_host import demo_command

        sys.exit(demo_command(rest))
    if command in ("access", "configure"):
        from ._cli_access import access_command, configure_command

        sys.exit((access_command if command == "access" else configure_command)(rest))
    if command == "doctor":
        from ._cli_doctor import doctor_command

        sys.exit(doctor_command(rest))
    if command == "webhook":
        from ._cli_webhook import webhook_command

        sys.exit(webhook_command(rest))
    if command in ("--version", "version"):
        from . import __version__

        print(f"mcp-channels {__version__}")
        sys.exit(0)
    print(f"mcp-channels: unknown command {command!r}\n\n{USAGE.format(channels=', '.join(CHANNELS))}", file=sys.stderr)
    sys.exit(2)

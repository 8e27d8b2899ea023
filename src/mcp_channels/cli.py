"""The ``mcp-channels`` command line.

Sub-commands import what they need when they run: ``serve webhook`` must start in tens of
milliseconds and must not pay for Discord, Telegram or the host.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

#: Channel name -> module with a ``build()`` returning its Channel.
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


SERVE_USAGE = "usage: mcp-channels serve <channel> [--name <mcp-server-name>]   (channel: one of: {channels})"


def serve_arguments(argv: Sequence[str]) -> tuple[str, str | None]:
    """The channel and the ``--name`` of a ``serve`` command line; ValueError when it is not one.

    ``--name`` is the MCP server name the entry has in Claude Code's config, when it is not the
    channel's own (``"alerts": {"command": "mcp-channels", "args": ["serve", "webhook", "--name",
    "alerts"]}``): the server needs it to find itself in the session's ``--channels`` list.
    """
    words = list(argv)
    if not words or words[0] not in CHANNELS:
        raise ValueError("no channel named")
    channel, rest = words[0], words[1:]
    if not rest:
        return channel, None
    if len(rest) == 1 and rest[0].startswith("--name="):
        name = rest[0][len("--name=") :]
    elif len(rest) == 2 and rest[0] == "--name":
        name = rest[1]
    else:
        raise ValueError(f"unexpected arguments: {' '.join(rest)}")
    if not name or name.startswith("-"):
        raise ValueError("--name needs the MCP server name")
    return channel, name


def _serve(argv: Sequence[str]) -> int:
    try:
        channel_name, server_name = serve_arguments(argv)
    except ValueError:
        print(SERVE_USAGE.format(channels=", ".join(CHANNELS)), file=sys.stderr)
        return 2
    import importlib

    from .errors import ConfigurationError
    from .runners.stdio import StdioRunner, claim_stdout

    if server_name is not None:
        import os

        from .delivery import SERVER_NAME_VAR

        os.environ[SERVER_NAME_VAR] = server_name  # read where the server decides whether it delivers
    claim_stdout()  # before the channel's platform library is imported: stdout is the protocol's
    module = importlib.import_module(CHANNELS[channel_name])
    try:
        runner = StdioRunner(module.build())
    except ConfigurationError as exc:  # a setting the user must fix: the message says which
        print(f"{channel_name} channel: {exc}", file=sys.stderr)
        return 1
    runner.run()
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

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
  hub <command>     the hub shared by every session: run, start, stop, status, route, install
  webhook try <file> [--header 'Name: value' ...] [--path /p]   the event a POST of <file> would become

'mcp-channels <command> --help' tells more."""


SERVE_USAGE = (
    "usage: mcp-channels serve <channel> [--name <mcp-server-name>] [--hub auto|off|required]"
    " [--session-name <name>]   (channel: one of: {channels})"
)
#: ``--hub`` when the command line does not say: ``auto``, ``off`` or ``required``.
HUB_VAR = "MCP_CHANNELS_HUB"
HUB_MODES = ("auto", "off", "required")


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


def hub_options(argv: Sequence[str], environ: dict[str, str] | None = None) -> tuple[list[str], str, str | None]:
    """``serve``'s hub options taken out of ``argv``: the rest, the hub mode, the session name.

    ``--hub`` defaults to ``MCP_CHANNELS_HUB``, else ``auto``; ValueError for a mode that is
    none of ``auto``, ``off``, ``required``.
    """
    import os

    env = os.environ if environ is None else environ
    rest: list[str] = []
    mode, session_name = env.get(HUB_VAR, "").strip().lower() or "auto", None
    words = iter(argv)
    for word in words:
        option, equals, value = word.partition("=")
        if option not in ("--hub", "--session-name"):
            rest.append(word)
            continue
        if not equals:
            value = next(words, "")
        if not value or value.startswith("-"):
            raise ValueError(f"{option} needs a value")
        if option == "--hub":
            mode = value.lower()
        else:
            session_name = value
    if mode not in HUB_MODES:
        raise ValueError(f"--hub takes one of {', '.join(HUB_MODES)}, not {mode!r}")
    return rest, mode, session_name


def _serve(argv: Sequence[str]) -> int:
    try:
        rest, hub_mode, session_name = hub_options(argv)
        channel_name, server_name = serve_arguments(rest)
    except ValueError as exc:
        print(f"{exc}\n" if "--hub" in str(exc) else "", end="", file=sys.stderr)
        print(SERVE_USAGE.format(channels=", ".join(CHANNELS)), file=sys.stderr)
        return 2
    import importlib

    from .server import FatalError, claim_stdout

    if server_name is not None:
        import os

        from .delivery import SERVER_NAME_VAR

        os.environ[SERVER_NAME_VAR] = server_name  # read where the server decides whether it delivers
    claim_stdout()  # before the channel's platform library is imported: stdout is the protocol's
    try:
        if hub_mode == "off":
            channel = importlib.import_module(CHANNELS[channel_name]).build()
        else:
            from .hub._shim import build_shim

            channel = build_shim(
                channel_name, server_name, session_name, "required" if hub_mode == "required" else "auto"
            )
    except FatalError as exc:  # a setting the user must fix: the message says which
        print(f"{channel_name} channel: {exc}", file=sys.stderr)
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
    if command == "hub":
        from ._cli_hub import hub_command

        sys.exit(hub_command(rest))
    if command == "webhook":
        from ._cli_webhook import webhook_command

        sys.exit(webhook_command(rest))
    if command in ("--version", "version"):
        from . import __version__

        print(f"mcp-channels {__version__}")
        sys.exit(0)
    print(f"mcp-channels: unknown command {command!r}\n\n{USAGE.format(channels=', '.join(CHANNELS))}", file=sys.stderr)
    sys.exit(2)

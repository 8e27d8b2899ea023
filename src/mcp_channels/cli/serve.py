"""``mcp-channels serve <channel> [--name <server>] [--hub auto|off|required]``: what Claude Code launches.

The hot path: nothing is imported before stdout is claimed for the protocol. With ``--hub off``
the channel runs here, on the stdio runner, as it always did. Otherwise (``auto``, the default)
this process is the session's shim to the hub (:mod:`mcp_channels.hub._shim`), which runs the
channel once for every session; ``MCP_CHANNELS_HUB`` sets the default.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from ..channels import NAMES

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
    if not words or words[0] not in NAMES:
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


def hub_options(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> tuple[list[str], str, str | None]:
    """``serve``'s hub options taken out of ``argv``: the rest, the hub mode, the session name.

    ``--hub`` defaults to ``MCP_CHANNELS_HUB``, else ``auto``; ValueError for a mode that is
    none of ``auto``, ``off``, ``required``, or an option without its value.
    """
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


def serve_command(argv: Sequence[str]) -> int:
    """Serve the channel until stdin closes; a setting the user must fix is a ConfigurationError."""
    try:
        rest, hub_mode, session_name = hub_options(argv)
        channel_name, server_name = serve_arguments(rest)
    except ValueError as exc:
        if "--hub" in str(exc) or "--session-name" in str(exc):
            print(exc, file=sys.stderr)
        print(SERVE_USAGE.format(channels=", ".join(NAMES)), file=sys.stderr)
        return 2
    from ..runners.stdio import StdioRunner, claim_stdout

    if server_name is not None:
        from ..delivery import SERVER_NAME_VAR

        os.environ[SERVER_NAME_VAR] = server_name  # read where the server decides whether it delivers
    claim_stdout()  # before the channel's platform library is imported: stdout is the protocol's
    if hub_mode == "off":
        from ..channels import build

        StdioRunner(build(channel_name)).run()
    from ..hub._shim import build_shim

    StdioRunner(
        build_shim(channel_name, server_name, session_name, "required" if hub_mode == "required" else "auto")
    ).run()


__all__ = ["HUB_MODES", "HUB_VAR", "SERVE_USAGE", "hub_options", "serve_arguments", "serve_command"]

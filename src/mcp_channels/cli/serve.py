"""``mcp-channels serve <channel> [--name <server>]``: a channel on stdio, as Claude Code launches it.

The hot path: nothing is imported before stdout is claimed for the protocol, and then only the
channel asked for (through the registry) and the stdio runner.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from ..channels import NAMES

SERVE_USAGE = "usage: mcp-channels serve <channel> [--name <mcp-server-name>]   (channel: one of: {channels})"


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


def serve_command(argv: Sequence[str]) -> int:
    """Serve the channel until stdin closes; a setting the user must fix is a ConfigurationError."""
    try:
        channel_name, server_name = serve_arguments(argv)
    except ValueError:
        print(SERVE_USAGE.format(channels=", ".join(NAMES)), file=sys.stderr)
        return 2
    from ..channels import build
    from ..runners.stdio import StdioRunner, claim_stdout

    if server_name is not None:
        from ..delivery import SERVER_NAME_VAR

        os.environ[SERVER_NAME_VAR] = server_name  # read where the server decides whether it delivers
    claim_stdout()  # before the channel's platform library is imported: stdout is the protocol's
    StdioRunner(build(channel_name)).run()


__all__ = ["SERVE_USAGE", "serve_arguments", "serve_command"]

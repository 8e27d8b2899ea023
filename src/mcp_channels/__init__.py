"""mcp-channels: Claude Code channels in Python.

Channel servers that push events from the outside world into a running Claude Code session, an SDK
to write your own in a few lines, and a host that plays Claude Code's side for trying and testing
them. The public API is what this module exports; everything in ``_``-prefixed modules is private.

    from mcp_channels import ChannelServer

    channel = ChannelServer("alerts", instructions="Alerts arrive as <channel source=\\"alerts\\">.")

    @channel.task
    async def watch() -> None:
        await channel.push("disk almost full", host="db1")

    channel.run()
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import ConfigurationError, EventQueueFull, EventTooLarge, HostDisconnected, ToolError
from .server import ChannelServer, PermissionRequest, QueueLimits, Tool, ToolResult

__all__ = [
    "ChannelServer",
    "ConfigurationError",
    "EventQueueFull",
    "EventTooLarge",
    "HostDisconnected",
    "PermissionRequest",
    "QueueLimits",
    "Tool",
    "ToolError",
    "ToolResult",
    "__version__",
]

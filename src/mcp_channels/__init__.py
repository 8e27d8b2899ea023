"""mcp-channels: Claude Code channels in Python.

Channel servers that push events from the outside world into a running Claude Code session, an SDK
to write your own in a few lines, and a host that plays Claude Code's side for trying and testing
them. The public API is what this module exports (and :mod:`mcp_channels.runners` for hosting a
channel yourself); everything in ``_``-prefixed modules is private.

    from mcp_channels import Channel

    channel = Channel("alerts", instructions="Alerts arrive as <channel source=\\"alerts\\">.")

    @channel.task
    async def watch() -> None:
        await channel.push("disk almost full", host="db1")

    channel.run()
"""

from __future__ import annotations

__version__ = "0.1.0"

from .channel import Channel, PermissionRequest, Task, Tool, ToolResult
from .errors import ChannelsError, ConfigurationError, EventQueueFull, EventTooLarge, HostDisconnected, ToolError
from .sink import ChannelEvent, DeliveryStatus, EventSink

__all__ = [
    "Channel",
    "ChannelEvent",
    "ChannelsError",
    "ConfigurationError",
    "DeliveryStatus",
    "EventQueueFull",
    "EventSink",
    "EventTooLarge",
    "HostDisconnected",
    "PermissionRequest",
    "Task",
    "Tool",
    "ToolError",
    "ToolResult",
    "__version__",
]

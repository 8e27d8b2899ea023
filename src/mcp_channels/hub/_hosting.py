"""How the hub plugs into a channel: the one module that knows what a channel object offers.

A channel pushes events and permission verdicts; a runner decides where they go, runs the
channel's tasks, calls its tools and hands it permission requests. Everything in the hub that
touches a channel object goes through these functions, so the hub runner and the ``serve`` shim
follow the channel API in one place.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from ..protocol import METHOD_TOOLS_CALL
from ..server import ChannelServer, Tool
from ._declarations import Declaration

#: Channel name -> module with a ``build(environ)`` returning its channel.
CHANNEL_MODULES = {
    "fakechat": "mcp_channels.channels.fakechat",
    "webhook": "mcp_channels.channels.webhook",
    "telegram": "mcp_channels.channels.telegram",
    "discord": "mcp_channels.channels.discord",
    "imessage": "mcp_channels.channels.imessage",
}
#: Channels whose people are listed in an ``access.json`` (who may type ``/switch``).
ACCESS_CHANNELS = frozenset({"telegram", "discord", "imessage"})

AdapterTask = Callable[[], Awaitable[None]]


class EventTarget(Protocol):
    """Where a hosted channel's events and verdicts go instead of stdout."""

    def enqueue(self, content: str, **meta: Any) -> Any: ...

    async def push(self, content: str, **meta: Any) -> None: ...

    def send_permission_verdict(self, request_id: str, allow: bool) -> None: ...


def build(name: str, environ: Mapping[str, str] | None = None) -> ChannelServer:
    """Channel ``name`` configured from ``environ``; raises what its ``build`` raises for bad settings."""
    channel: ChannelServer = importlib.import_module(CHANNEL_MODULES[name]).build(environ)
    return channel


def host(channel: ChannelServer, target: EventTarget) -> None:
    """Send the channel's events and verdicts to ``target`` (the channel never learns it is hosted)."""
    channel.enqueue = target.enqueue  # type: ignore[method-assign]
    channel.push = target.push  # type: ignore[method-assign]
    channel.send_permission_verdict = target.send_permission_verdict  # type: ignore[method-assign]


def tasks(channel: ChannelServer) -> list[AdapterTask]:
    return list(channel._tasks)


def tools(channel: ChannelServer) -> list[Tool]:
    return list(channel._tools.values())


def declaration(channel: ChannelServer) -> Declaration:
    """What the channel declares to Claude Code: instructions, tools, whether it relays permissions."""
    described = tuple(tool.to_json() for tool in tools(channel))
    return Declaration(channel.name, channel.version, channel.instructions, described, channel.relays_permissions)


def has_tool_argument(channel: ChannelServer, tool: str, argument: str) -> bool | None:
    """Whether ``tool`` takes ``argument``; ``None`` when the channel has no such tool."""
    for declared in tools(channel):
        if declared.name == tool:
            return argument in declared.input_schema.get("properties", {})
    return None


async def call_tool(channel: ChannelServer, name: str, arguments: Any) -> dict[str, Any]:
    """A ``tools/call`` result from the channel: its schema check, its errors as error results."""
    result: dict[str, Any] = await channel._on_request(METHOD_TOOLS_CALL, {"name": name, "arguments": arguments})
    return result


def relay_permission(channel: ChannelServer, params: Mapping[str, Any]) -> None:
    """Hand a permission request to the channel's handler (a malformed one is logged and dropped)."""
    channel._take_permission_request(dict(params))


__all__ = [
    "ACCESS_CHANNELS",
    "CHANNEL_MODULES",
    "EventTarget",
    "build",
    "call_tool",
    "declaration",
    "has_tool_argument",
    "host",
    "relay_permission",
    "tasks",
    "tools",
]

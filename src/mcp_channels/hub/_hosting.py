"""How the hub plugs into a channel: the one module that knows what a channel object offers.

A :class:`~mcp_channels.channel.Channel` pushes events and permission verdicts into the sink it
is handed; a runner decides where they go, runs the channel's tasks, calls its tools and hands
it permission requests. Everything in the hub that touches a channel goes through these
functions and the channels' registry, so the hub runner and the ``serve`` shim follow the
channel API in one place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from ..channel import Channel, PermissionRequest, Place
from ..channels import NAMES, facts
from ..channels import build as build_channel
from ..sink import EventSink
from ._declarations import Declaration


def known(name: str) -> bool:
    return name in NAMES


def build(name: str, environ: Mapping[str, str] | None = None) -> Channel:
    """Channel ``name`` configured from ``environ``; raises what its ``build`` raises for bad settings."""
    return build_channel(name, environ)


def host(channel: Channel, sink: EventSink) -> None:
    """Send the channel's events and verdicts to ``sink`` (the channel never learns it is in the hub)."""
    channel.attach(sink)


def release(channel: Channel, sink: EventSink) -> None:
    channel.detach(sink)


def declaration(channel: Channel) -> Declaration:
    """What the channel declares to Claude Code: instructions, tools, whether it relays permissions."""
    described = tuple(tool.to_json() for tool in channel.tools)
    return Declaration(channel.name, channel.version, channel.instructions, described, channel.relays_permissions)


def has_tool(channel: Channel, tool: str) -> bool:
    return any(declared.name == tool for declared in channel.tools)


async def call_tool(channel: Channel, name: str, arguments: Any) -> dict[str, Any]:
    """A ``tools/call`` result from the channel: its schema check, its errors as error results."""
    return await channel.call_tool(name, arguments)


async def relay_permission(channel: Channel, params: Mapping[str, Any], places: Sequence[Place]) -> bool:
    """Hand a permission request to the channel's handler, to be shown in ``places`` too; ``False``
    when it is malformed."""
    request = PermissionRequest.from_params(dict(params))
    if request is None:
        return False
    await channel.relay_permission(dataclasses.replace(request, places=tuple(places)))
    return True


def has_people(name: str) -> bool:
    """Whether the channel lists its people in an ``access.json`` (who may type ``/switch``)."""
    return facts(name).access is not None


__all__ = [
    "build",
    "call_tool",
    "declaration",
    "has_people",
    "has_tool",
    "host",
    "known",
    "relay_permission",
    "release",
]

"""The contract between a channel and the runner hosting it: events go in, delivery state comes out.

A :class:`~mcp_channels.channel.Channel` never knows how its events reach Claude Code. A runner
(stdio standalone, the hub's attachment, the in-memory runner of the tests) hands it an
:class:`EventSink`, and the channel calls only the four methods below. Where the channel's
responsibility stops and the sink's begins:

* the channel validates an event and encodes it once (:class:`ChannelEvent`): content a string,
  meta Claude Code keeps, the line under Claude Code's 16 MiB limit. A sink receives only events
  that passed;
* the sink owns delivery: when an event counts as delivered (for stdio, once its line is in the
  pipe), the futures that say so, holding events until the host can take them (readiness), and
  the bound on what waits (:class:`~mcp_channels.errors.EventQueueFull` when full,
  :class:`~mcp_channels.errors.HostDisconnected` once the host is gone, nothing queued either way);
* the sink carries permission verdicts back to the host;
* the sink reports its state (:class:`DeliveryStatus`) for a channel that shows it (the webhook's
  ``/healthz``); a channel reads transport state through this and nothing else, including
  whether its session delivers its events at all (a tool that needs the inbound side, such as
  fakechat's, says so when it does not).

Starting, stopping and the channel's tasks are the runner's business, not the sink's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ChannelEvent:
    """One event for Claude, validated and encoded by the channel that pushed it.

    ``line`` is the whole ``notifications/claude/channel`` message as Claude Code reads it,
    newline included: encoded once, its length is what queue bounds count.
    """

    content: str
    meta: Mapping[str, str]
    line: bytes


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    """A sink's delivery state at one moment."""

    #: Whether the host has had time to install its channel handler; events wait until then.
    ready: bool
    #: Events waiting for the host to become ready.
    held: int
    #: Events, and their bytes, accepted and not yet delivered (held ones included).
    queued_events: int
    queued_bytes: int
    #: The bounds of what may wait (see ``QueueLimits``).
    max_events: int
    max_bytes: int
    #: Events delivered since the sink started.
    delivered: int
    #: ``False`` once the host has gone away: nothing can be delivered any more.
    host_connected: bool
    #: Whether "delivered" means committed to a durable store (the hub) rather than written to
    #: Claude Code: a channel that acknowledges its platform once an event is delivered (the
    #: webhook's 202) then acknowledges it only after the commit, and so promises it is kept.
    durable: bool = False
    #: ``False`` when the session drops this channel's events (Claude Code started without a
    #: channel flag naming it): the runner hosts the tools alone, holds none of the platform's
    #: inbound side, and refuses events.
    session_delivers: bool = True
    #: Why the session is taken to deliver or not, one line (empty when the runner did not ask).
    session_reason: str = ""


class EventSink(Protocol):
    """Where a channel's events and permission verdicts go; implemented by every runner."""

    def enqueue(self, event: ChannelEvent) -> asyncio.Future[None]:
        """Accept the event now and return at once; the future completes once it is delivered.

        Raises :class:`~mcp_channels.errors.EventQueueFull` at the bound and
        :class:`~mcp_channels.errors.HostDisconnected` once the host is gone; nothing is queued then.
        """

    async def push(self, event: ChannelEvent) -> None:
        """Deliver the event, waiting first for room in arrival order; returns once it is delivered.

        Raises :class:`~mcp_channels.errors.HostDisconnected` once the host is gone.
        """

    def send_permission_verdict(self, request_id: str, allow: bool) -> None:
        """Tell the host the user's answer to a permission request."""

    def status(self) -> DeliveryStatus:
        """The delivery state now."""


__all__ = ["ChannelEvent", "DeliveryStatus", "EventSink"]

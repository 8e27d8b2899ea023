"""The bounded outgoing queue every runner's sink is built on: readiness hold, bounds, delivery futures.

Events wait here until the host is ready, then go out in order through the runner's ``write``
function, which calls back once each one is delivered (or failed). What waits, held or written and
not yet delivered, is bounded in number and bytes (:class:`QueueLimits`): past the bound
``enqueue`` raises :class:`~mcp_channels.errors.EventQueueFull` and ``push`` waits for room in
arrival order; once the host is gone both raise :class:`~mcp_channels.errors.HostDisconnected`,
and so they do from the start in a session that drops the channel's events (:meth:`OutgoingQueue.tools_only`).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from ..errors import ConfigurationError, EventQueueFull, HostDisconnected
from ..sink import ChannelEvent, DeliveryStatus

#: Default bounds of the outgoing queue (events not yet delivered). Far above a burst a host that
#: reads keeps up with; a host that stops reading costs at most ~64 MiB.
DEFAULT_QUEUE_EVENTS: Final = 10_000
DEFAULT_QUEUE_BYTES: Final = 64 * 1024 * 1024

#: Called once per written event: ``None`` once it is delivered, or the error that stopped it.
Delivered = Callable[[BaseException | None], None]
#: Hands an event to the transport; calls the :data:`Delivered` callback when done.
Write = Callable[[ChannelEvent, Delivered], None]


@dataclass(frozen=True)
class QueueLimits:
    """Bounds of the events waiting to be delivered to the host, held or buffered."""

    events: int = DEFAULT_QUEUE_EVENTS
    bytes: int = DEFAULT_QUEUE_BYTES

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> QueueLimits:
        """``MCP_CHANNELS_QUEUE_EVENTS`` and ``MCP_CHANNELS_QUEUE_BYTES``, or the defaults."""
        env = os.environ if environ is None else environ
        return cls(
            _positive_setting(env, "MCP_CHANNELS_QUEUE_EVENTS", DEFAULT_QUEUE_EVENTS),
            _positive_setting(env, "MCP_CHANNELS_QUEUE_BYTES", DEFAULT_QUEUE_BYTES),
        )


def _positive_setting(environ: Mapping[str, str], key: str, default: int) -> int:
    raw = environ.get(key, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigurationError(f"{key}={raw!r} is not a positive whole number")
    return int(raw)


class OutgoingQueue:
    """Events on their way to the host, in order, within :class:`QueueLimits`.

    ``write`` carries an event to the host; ``connected`` says whether the host is still there;
    ``transport`` names the way to the host in error messages ("stdout"). Events are held until
    :meth:`become_ready`; :meth:`host_gone` fails what is held and whoever waits for room.
    """

    def __init__(self, limits: QueueLimits, write: Write, connected: Callable[[], bool], transport: str) -> None:
        self.limits = limits
        self._write = write
        self._connected = connected
        self._transport = transport
        self._held: collections.deque[tuple[ChannelEvent, asyncio.Future[None]]] = collections.deque()
        self._room_waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._queued_events = 0  # held, or handed to the transport and not yet delivered
        self._queued_bytes = 0
        self.ready = False
        self.delivered = 0
        self._session_delivers = True
        self._session_reason = ""

    @property
    def held(self) -> int:
        """Events waiting for the host to become ready."""
        return len(self._held)

    def status(self) -> DeliveryStatus:
        return DeliveryStatus(
            ready=self.ready,
            held=len(self._held),
            queued_events=self._queued_events,
            queued_bytes=self._queued_bytes,
            max_events=self.limits.events,
            max_bytes=self.limits.bytes,
            delivered=self.delivered,
            host_connected=self._connected(),
            session_delivers=self._session_delivers,
            session_reason=self._session_reason,
        )

    def session_decided(self, delivers: bool, reason: str) -> None:
        """Record whether the session delivers; one that does not refuses every event from now on.

        Nothing could reach the model there (the session drops events), so an event is refused
        rather than reported delivered; one already held fails the same way.
        """
        self._session_delivers = delivers
        self._session_reason = reason
        if not delivers:
            self.drop_held(self._gone())

    # ------------------------------------------------------------------ taking events

    def enqueue(self, event: ChannelEvent) -> asyncio.Future[None]:
        """Queue the event, or raise when there is no room or no host (see the module)."""
        self._check_room()
        return self._queue(event)

    async def push(self, event: ChannelEvent) -> None:
        """Queue the event once there is room, then wait until it is delivered."""
        await self._wait_for_room()
        done = self._queue(event)
        self._wake_room_waiter()  # room may remain for the next waiter
        await done

    def _queue(self, event: ChannelEvent) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued_events += 1
        self._queued_bytes += len(event.line)
        if self.ready and not self._held:
            self._send(event, done)
        else:
            self._held.append((event, done))
        return done

    def _send(self, event: ChannelEvent, done: asyncio.Future[None]) -> None:
        self._write(event, functools.partial(self._sent, len(event.line), done))

    def _sent(self, size: int, done: asyncio.Future[None], error: BaseException | None) -> None:
        self._queued_events -= 1
        self._queued_bytes -= size
        if error is None:
            self.delivered += 1
            if not done.done():
                done.set_result(None)
        else:
            fail(done, HostDisconnected(f"{self._transport} closed before the event was written: {error}"))
        self._wake_room_waiter()

    # ------------------------------------------------------------------ the bound

    def _is_full(self) -> bool:
        return self._queued_events >= self.limits.events or self._queued_bytes >= self.limits.bytes

    def _check_room(self) -> None:
        if not self._connected() or not self._session_delivers:
            raise self._gone()
        if self._is_full():
            raise EventQueueFull(
                f"{self._queued_events} events ({self._queued_bytes} bytes) are waiting for the host "
                f"to read them (bounds: {self.limits.events} events, {self.limits.bytes} bytes)"
            )

    async def _wait_for_room(self) -> None:
        """Return when the queue has room and no earlier push is still waiting for it."""
        woken = False  # once woken, a push keeps its place at the head of the line
        while self._room_waiters or self._is_full():
            if not self._connected() or not self._session_delivers:
                break
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            if woken:
                self._room_waiters.appendleft(waiter)
            else:
                self._room_waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter in self._room_waiters:
                    self._room_waiters.remove(waiter)
                else:
                    self._wake_room_waiter()  # woken but leaving: the room goes to the next one
                raise
            if not self._is_full():
                break
            woken = True
        if not self._connected() or not self._session_delivers:
            raise self._gone()

    def _gone(self) -> HostDisconnected:
        if not self._session_delivers:
            return HostDisconnected(f"this session does not deliver the channel's events ({self._session_reason})")
        return HostDisconnected(f"{self._transport} is closed: the host has gone away")

    def _wake_room_waiter(self) -> None:
        if self._room_waiters and not self._is_full():
            waiter = self._room_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    # ------------------------------------------------------------------ the host's side

    def become_ready(self) -> None:
        """The host can take events: send the held ones, in order, and later ones at once."""
        self.ready = True
        while self._held:
            self._send(*self._held.popleft())

    def host_gone(self, error: BaseException) -> None:
        """The host went away: fail what is held and whoever waits for room."""
        gone = HostDisconnected(f"{self._transport} is closed: {error}")
        self.drop_held(gone)
        while self._room_waiters:
            fail(self._room_waiters.popleft(), gone)

    def drop_held(self, error: BaseException) -> int:
        """Fail every held event with ``error``; how many there were."""
        count = len(self._held)
        while self._held:
            event, done = self._held.popleft()
            self._queued_events -= 1
            self._queued_bytes -= len(event.line)
            fail(done, error)
        return count


def fail(done: asyncio.Future[None], error: BaseException) -> None:
    """Fail a delivery future that its task may have dropped (the webhook does).

    Marked as retrieved, so a dropped one does not log "exception was never retrieved"; a task
    awaiting it still gets the exception.
    """
    if not done.done():
        done.set_exception(error)
        done.exception()

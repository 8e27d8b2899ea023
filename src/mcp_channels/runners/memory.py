"""The in-memory runner: a channel hosted inside the calling process, for fast tests of its logic.

Where the stdio runner speaks JSON-RPC to Claude Code, :class:`MemoryRunner` keeps what the
channel sends (``events``, ``verdicts``) in lists and lets the test play Claude Code's side:
call tools, raise permission requests, decide when the host becomes ready or goes away. The
channel runs exactly as under stdio: the same validation, the same bounded queue, the same tasks.
What it does not test is the wire; keep a real-process test for that.

    async with MemoryRunner(channel) as runner:
        await runner.call_tool("reply", chat_id="1", text="hi")
        event = await runner.next_event()
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any, Self

from ..channel import Channel, PermissionRequest, Task
from ..sink import ChannelEvent, DeliveryStatus
from ._queue import Delivered, OutgoingQueue, QueueLimits
from ._tasks import start_tasks

DEFAULT_TIMEOUT = 10.0
#: What ``channel.delivery.session_reason`` says under ``MemoryRunner(channel, inbound=False)``.
TOOLS_ONLY_REASON = "the in-memory runner plays a session that does not deliver (inbound=False)"


class MemoryRunner:
    """Hosts a channel in this process; it is the channel's :class:`~mcp_channels.sink.EventSink`.

    ``ready=False`` holds events until :meth:`become_ready`, as a host that has not installed its
    channel handler. ``inbound=False`` plays a session that does not deliver the channel's events,
    as the stdio runner hosts it in one: only the tasks that support the tools start, events are
    refused, and the channel's :attr:`~mcp_channels.channel.Channel.delivery` says so. A task that raises stops nothing here: the
    runner keeps the exception and raises it when the ``async with`` block ends.
    """

    def __init__(
        self, channel: Channel, *, ready: bool = True, inbound: bool = True, limits: QueueLimits | None = None
    ) -> None:
        self.channel = channel
        self.events: list[ChannelEvent] = []
        self.verdicts: list[tuple[str, bool]] = []
        self._inbound = inbound
        self._connected = True
        self._queue = OutgoingQueue(
            limits or QueueLimits(), self._write, lambda: self._connected, transport="the in-memory host"
        )
        if not inbound:
            self._queue.session_decided(False, TOOLS_ONLY_REASON)
        self._start_ready = ready
        self._tasks: list[asyncio.Task[None]] = []
        self._crash: BaseException | None = None
        self._arrival = asyncio.Event()
        self._taken = 0

    # ------------------------------------------------------------------ the sink

    def enqueue(self, event: ChannelEvent) -> asyncio.Future[None]:
        return self._queue.enqueue(event)

    async def push(self, event: ChannelEvent) -> None:
        await self._queue.push(event)

    def send_permission_verdict(self, request_id: str, allow: bool) -> None:
        self.verdicts.append((request_id, allow))

    def status(self) -> DeliveryStatus:
        return self._queue.status()

    def _write(self, event: ChannelEvent, delivered: Delivered) -> None:
        self.events.append(event)
        self._arrival.set()
        delivered(None)

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        self.channel.attach(self)
        if self._start_ready:
            self._queue.become_ready()
        self._tasks = start_tasks(self.channel, self._task_crashed, inbound=self._inbound)
        await asyncio.sleep(0)  # each task runs up to its first wait
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.channel.detach(self)
        if self._crash is not None and error is None:
            raise self._crash

    def _task_crashed(self, task: Task, error: BaseException) -> None:
        self._crash = error

    @property
    def started_tasks(self) -> list[str]:
        """The names of the tasks this runner started."""
        return [task.get_name() for task in self._tasks]

    # ------------------------------------------------------------------ playing the host

    def become_ready(self) -> None:
        """The host has installed its channel handler: held events are delivered, in order."""
        self._queue.become_ready()

    def disconnect(self) -> None:
        """The host went away: held events fail, and later ones raise ``HostDisconnected``."""
        self._connected = False
        self._queue.host_gone(ConnectionResetError("the host disconnected"))

    async def call_tool(self, name: str, **arguments: Any) -> dict[str, Any]:
        """Call a tool as Claude Code would; the ``tools/call`` result."""
        return await self.channel.call_tool(name, arguments)

    async def tool_text(self, name: str, **arguments: Any) -> str:
        """Call a tool and return its text; ``AssertionError`` when the result is an error."""
        result = await self.call_tool(name, **arguments)
        text = "\n".join(part.get("text", "") for part in result["content"])
        assert not result.get("isError"), f"{name} failed: {text}"
        return text

    async def request_permission(
        self, request_id: str, tool_name: str, description: str = "", input_preview: str = ""
    ) -> None:
        """Raise a permission request and wait until the channel's handler has dealt with it."""
        await self.channel.relay_permission(PermissionRequest(request_id, tool_name, description, input_preview))

    async def next_event(self, timeout: float = DEFAULT_TIMEOUT) -> ChannelEvent:
        """The next event not yet taken by this method, waiting for it to be delivered."""

        async def arrived() -> ChannelEvent:
            while len(self.events) <= self._taken:
                self._arrival.clear()
                await self._arrival.wait()
            self._taken += 1
            return self.events[self._taken - 1]

        return await asyncio.wait_for(arrived(), timeout)


__all__ = [
    "DEFAULT_TIMEOUT",
    "TOOLS_ONLY_REASON",
    "MemoryRunner",
]

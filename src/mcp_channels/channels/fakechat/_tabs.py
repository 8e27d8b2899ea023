"""One websocket client of the page: what it is sent, in order, within a byte budget.

Frames are written by one task per client, so a slow client never holds up the others; what the
socket has not taken yet waits in a queue bounded in bytes (``FAKECHAT_TAB_BUFFER``). The history
is not queued at all: a :class:`~._conversation.Replay` makes its next piece only when the socket
has taken the last. A client that falls further behind than the budget is closed with 1013 (try
again later, rather than 1008: it broke no rule, it was only slow), after a short grace its
connection is cut whether or not it took the close frame, and everything queued for it is let go
at once. The page reconnects by itself on any close and says hello again, which reloads the
history, so a tab that was merely busy catches up by itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, Final

from aiohttp import WSCloseCode, WSMsgType, web

from ._conversation import Replay, encode

#: How long a client that fell behind has to take the close frame before its connection is cut.
CLOSE_GRACE: Final = 5.0


class Tab:
    """One open websocket (our page or any other client)."""

    def __init__(
        self, ws: web.WebSocketResponse, transport: asyncio.Transport | None, budget: int, log: logging.Logger
    ) -> None:
        self.ws = ws
        self._transport = transport
        self._budget = budget
        self._log = log
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._history: Replay | None = None
        self._wake = asyncio.Event()
        self._behind = False
        self._closed = False
        self._writer = asyncio.get_running_loop().create_task(self._write())

    @property
    def dropped(self) -> bool:
        """Whether this client fell behind and is being closed."""
        return self._behind

    def send(self, frame: bytes) -> None:
        """Queue a frame; one that would pass the budget closes the client instead.

        A frame is always taken when nothing waits, so an entry larger than the budget still
        reaches a client that keeps up.
        """
        if self._behind:
            return
        if self._queue and self._queued + len(frame) > self._budget:
            self._fall_behind()
            return
        self._queue.append(frame)
        self._queued += len(frame)
        self._wake.set()

    def replay(self, history: Replay) -> None:
        if self._behind:
            return
        self._queue.clear()
        self._queued = 0
        self._history = history
        self._wake.set()

    def error(self, message: str, **fields: Any) -> None:
        self.send(encode({"type": "error", "message": message, **fields}))

    def _next_frame(self) -> bytes | None:
        if self._history is not None:
            frame = self._history.next_frame()
            if frame is not None:
                return frame
            self._history = None
        if self._queue:
            frame = self._queue.popleft()
            self._queued -= len(frame)
            return frame
        return None

    async def _write(self) -> None:
        """Write frames in order; once behind, finish the frame in flight and send the close."""
        try:
            while not self._behind:
                frame = self._next_frame()
                if frame is None:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                await self.ws.send_frame(frame, WSMsgType.TEXT)
            await self.ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too far behind")
            self._closed = True
        except Exception as exc:  # the client went away; its handler cleans up
            self._log.debug("stopped writing to a chat tab: %r", exc)

    def _fall_behind(self) -> None:
        """Let go of what waits and close the client (the writer does, once its frame is out)."""
        self._log.warning(
            "a chat tab fell more than %d bytes behind (FAKECHAT_TAB_BUFFER); closing it with 1013, "
            "it reconnects and reloads the history",
            self._budget,
        )
        self._behind = True
        self._queue.clear()
        self._queued = 0
        self._history = None
        self._wake.set()
        asyncio.get_running_loop().call_later(CLOSE_GRACE, self._cut_off)

    def _cut_off(self) -> None:
        """End of the grace: a plain close keeps what is buffered for the client until it reads
        it, which a client that does not read never does, so the connection is cut in any case."""
        if not self._closed:
            self._log.warning("cut off a chat tab that did not take its close frame within %g s", CLOSE_GRACE)
        if self._transport is not None:
            self._transport.abort()

    def stop(self) -> None:
        """The client is gone: stop writing (a client that fell behind is still cut off in time)."""
        self._writer.cancel()

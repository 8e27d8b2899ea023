"""Newline-delimited JSON-RPC 2.0, for both ends of a stdio connection.

One :class:`Peer` per connection does framing (one compact JSON object per line, a 16 MiB cap),
request/response correlation, notifications, the standard error codes, ``ping``, cancellation in
both directions and request timeouts. It is transport-neutral: bytes come in through
:meth:`Peer.feed` and :meth:`Peer.feed_eof`, and go out through one :class:`LineSink`, so a server
(stdin/stdout) and the host (a child's pipes) share it and there is exactly one writer per stream.

The project speaks MCP through this module rather than the ``mcp`` SDK: the SDK costs several
times the start-up and CPU per event, and its era negotiation makes Claude Code unable to connect
(see ``docs/sdk-notes.md``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol

from .errors import ConnectionClosed, JsonRpcError
from .protocol import MAX_LINE_BYTES, METHOD_CANCELLED, METHOD_PING

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603

RequestId = str | int
RequestHandler = Callable[[str, Any], Awaitable[Any]]
NotificationHandler = Callable[[str, Any], None]


class LineSink(Protocol):
    """Where encoded lines go: a pipe transport or anything with the same two methods."""

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...


#: Built once: ``json.dumps`` with any non-default option constructs a new encoder per call.
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def encode_message(message: dict[str, Any]) -> bytes:
    """One compact JSON line. Lone surrogates (from platform text cut in UTF-16) fall back to
    ``\\u`` escapes instead of failing the whole message."""
    text = _ENCODER.encode(message)
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        return json.dumps(message, separators=(",", ":")).encode("ascii") + b"\n"


class Peer:
    """One end of a JSON-RPC connection.

    ``on_request(method, params)`` answers requests (raise :class:`JsonRpcError` to answer with an
    error); each runs in its own task so a slow tool call never blocks the stream, and a
    ``notifications/cancelled`` naming it cancels that task. ``on_notification(method, params)`` is
    called in arrival order, synchronously, so ordering such as ``initialized`` before a tool call
    is preserved. ``ping`` is always answered here.
    """

    def __init__(
        self,
        sink: LineSink,
        *,
        on_request: RequestHandler | None = None,
        on_notification: NotificationHandler | None = None,
        logger: logging.Logger | None = None,
        max_line: int = MAX_LINE_BYTES,
        close_on_oversize: bool = False,
    ) -> None:
        self._sink = sink
        self._on_request = on_request
        self._on_notification = on_notification
        self._log = logger or logging.getLogger("mcp_channels.jsonrpc")
        self._max_line = max_line
        self._close_on_oversize = close_on_oversize
        self._buffer = bytearray()
        self._discarding = False  # inside an over-long line, skipping to its end
        self._ids = itertools.count(1)
        self._waiting: dict[RequestId, asyncio.Future[Any]] = {}
        self._serving: dict[RequestId, asyncio.Task[None]] = {}
        self.closed = asyncio.Event()
        self.close_reason: str | None = None

    # ------------------------------------------------------------------ input

    def feed(self, data: bytes) -> None:
        """Take bytes from the transport; complete lines are dispatched at once."""
        if self.closed.is_set():
            return
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            if self._discarding:
                self._discarding = False
            elif self._buffer:
                self._buffer += data[start:end]
                line = bytes(self._buffer)
                self._buffer.clear()
                self._take_line(line)
            else:
                self._take_line(data[start:end])
            start = end + 1
        if start < len(data) and not self._discarding:
            self._buffer += data[start:]
            if len(self._buffer) > self._max_line:
                self._buffer.clear()
                self._discarding = True
                self._oversize()

    def feed_eof(self, reason: str = "end of stream") -> None:
        """The other end closed its output: fail waiting requests, stop in-flight handlers."""
        if self.closed.is_set():
            return
        self.close_reason = reason
        self.closed.set()
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(ConnectionClosed(reason))
        self._waiting.clear()

    def _oversize(self) -> None:
        self._log.error("dropped an incoming line over %d bytes", self._max_line)
        if self._close_on_oversize:
            self.feed_eof(f"line over {self._max_line} bytes")
        else:
            self._send_error(None, JsonRpcError(PARSE_ERROR, f"line exceeds {self._max_line} bytes"))

    def _take_line(self, line: bytes) -> None:
        if len(line) > self._max_line:
            self._oversize()
            return
        if not line.strip():
            return
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
            self._log.warning("unparseable line from peer (%d bytes)", len(line))
            self._send_error(None, JsonRpcError(PARSE_ERROR, "Parse error"))
            return
        try:
            self.dispatch(message)
        except Exception:  # one bad message must not take the rest of the stream with it
            self._log.exception("could not handle a message from the peer")

    def dispatch(self, message: Any) -> None:
        """Route one decoded message: a response, a request or a notification."""
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            self._send_error(_id_of(message), JsonRpcError(INVALID_REQUEST, "Invalid Request"))
            return
        method = message.get("method")
        if method is None:
            self._take_response(message)
        elif not isinstance(method, str):
            self._send_error(_id_of(message), JsonRpcError(INVALID_REQUEST, "method must be a string"))
        elif "id" in message:
            self._take_request(message["id"], method, message.get("params"))
        else:
            self._take_notification(method, message.get("params"))

    def _take_response(self, message: dict[str, Any]) -> None:
        response_id = message.get("id")
        future = self._waiting.pop(response_id, None) if isinstance(response_id, (str, int)) else None
        if future is None:
            self._log.debug("response to unknown id %r", message.get("id"))
            return
        if future.done():
            return
        error = message.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            if not isinstance(code, int) or isinstance(code, bool):
                code = INTERNAL_ERROR  # a malformed error is still an error
            future.set_exception(JsonRpcError(code, str(error.get("message", "")), error.get("data")))
        else:
            future.set_result(message.get("result"))

    def _take_request(self, request_id: Any, method: str, params: Any) -> None:
        if not isinstance(request_id, (str, int)) or isinstance(request_id, bool):
            self._send_error(None, JsonRpcError(INVALID_REQUEST, "id must be a string or a number"))
            return
        if method == METHOD_PING:
            self._send({"jsonrpc": "2.0", "id": request_id, "result": {}})
            return
        if self._on_request is None:
            self._send_error(request_id, JsonRpcError(METHOD_NOT_FOUND, f"Method not found: {method}"))
            return
        task = asyncio.get_running_loop().create_task(self._serve(request_id, method, params))
        self._serving[request_id] = task

    async def _serve(self, request_id: RequestId, method: str, params: Any) -> None:
        assert self._on_request is not None
        try:
            result = await self._on_request(method, params)
        except asyncio.CancelledError:
            # Cancelled by the peer (no answer is due) or by our own shutdown.
            return
        except JsonRpcError as exc:
            self._send_error(request_id, exc)
        except Exception as exc:
            self._log.exception("handler for %s failed", method)
            self._send_error(request_id, JsonRpcError(INTERNAL_ERROR, f"Internal error: {exc}"))
        else:
            self._send({"jsonrpc": "2.0", "id": request_id, "result": result})
        finally:
            self._serving.pop(request_id, None)

    def _take_notification(self, method: str, params: Any) -> None:
        if method == METHOD_CANCELLED:
            request_id = params.get("requestId") if isinstance(params, dict) else None
            task = self._serving.pop(request_id, None) if isinstance(request_id, (str, int)) else None
            if task is not None:
                task.cancel()
            return
        if self._on_notification is not None:
            try:
                self._on_notification(method, params)
            except Exception:
                self._log.exception("notification handler for %s failed", method)

    # ------------------------------------------------------------------ output

    def _send(self, message: dict[str, Any]) -> None:
        self._sink.write(encode_message(message))

    def _send_error(self, request_id: RequestId | None, error: JsonRpcError) -> None:
        self._send({"jsonrpc": "2.0", "id": request_id, "error": error.to_json()})

    def notify(self, method: str, params: Any = None) -> None:
        """Send a notification now (buffered by the transport; see :meth:`drain`)."""
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self._sink.write(encode_message(message))

    async def drain(self) -> None:
        """Wait until the transport has room again (flow control for bursts)."""
        await self._sink.drain()

    async def request(
        self, method: str, params: Any = None, *, timeout: float | None = 30.0, request_id: RequestId | None = None
    ) -> Any:
        """Send a request and wait for its answer; on timeout the peer is told to cancel it."""
        if self.closed.is_set():
            raise ConnectionClosed(self.close_reason or "closed")
        if request_id is None:
            request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self._sink.write(encode_message(message))
        try:
            async with asyncio.timeout(timeout):
                return await future
        except (TimeoutError, asyncio.CancelledError):
            self._waiting.pop(request_id, None)
            if not self.closed.is_set():
                reason = "timed out" if timeout is not None else "cancelled"
                self.notify(METHOD_CANCELLED, {"requestId": request_id, "reason": reason})
            raise

    def cancel_serving(self) -> None:
        """Stop every request handler still running (used at shutdown)."""
        for task in list(self._serving.values()):
            task.cancel()


def _id_of(message: Any) -> RequestId | None:
    if isinstance(message, dict):
        request_id = message.get("id")
        if isinstance(request_id, (str, int)) and not isinstance(request_id, bool):
            return request_id
    return None


__all__ = [
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "LineSink",
    "NotificationHandler",
    "Peer",
    "RequestHandler",
    "RequestId",
    "encode_message",
]

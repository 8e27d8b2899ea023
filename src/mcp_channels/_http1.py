"""A small HTTP/1.1 server for receiving webhooks, on asyncio and ``httptools`` (llhttp).

Why not aiohttp here: a webhook receiver is on the event path, and aiohttp's request machinery
costs several times the CPU per request (and 150 ms of imports at start) that the Bun reference
spends. llhttp (Node's own parser) does the parsing; this module adds only what a receiver
needs: size limits enforced before a body is read, keep-alive, pipelining, idle timeouts, and one
synchronous handler per request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus

import httptools

MAX_HEADER_BYTES = 64 * 1024
#: Pending connections the kernel queues: a CI fan-out of hundreds of hooks at once must not see
#: refused or retried connections (asyncio's default is 100).
LISTEN_BACKLOG = 1024
IDLE_TIMEOUT = 75.0
#: After refusing a request, unread input is drained (not stored) this long so the client gets
#: the answer instead of a connection reset.
LINGER_TIMEOUT = 2.0

log = logging.getLogger("mcp_channels.http")


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    peer: str


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    _wire: dict[tuple[bool, bool], bytes] = field(default_factory=dict, init=False, repr=False, compare=False)

    def encoded(self, keep_alive: bool, head: bool = False) -> bytes:
        """The response on the wire; memoized, so a constant response is encoded once."""
        wire = self._wire.get((keep_alive, head))
        if wire is None:
            wire = self._wire[keep_alive, head] = _encode(self, keep_alive, head)
        return wire

    @classmethod
    def text(cls, status: int, message: str, **headers: str) -> Response:
        return cls(status, (message + "\n").encode(), headers=headers)


Handler = Callable[[Request], Response]
#: Called when the headers are in: return a response to refuse the request before its body.
Precheck = Callable[[str, str, dict[str, str], int | None], Response | None]


def _encode(response: Response, keep_alive: bool, head: bool = False) -> bytes:
    reason = HTTPStatus(response.status).phrase if response.status in HTTPStatus._value2member_map_ else ""
    lines = [
        f"HTTP/1.1 {response.status} {reason}",
        f"Content-Type: {response.content_type}",
        f"Content-Length: {len(response.body)}",
    ]
    lines.extend(f"{k}: {v}" for k, v in response.headers.items())
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head else response.body)


class _Connection(asyncio.Protocol):
    def __init__(self, handler: Handler, precheck: Precheck, max_body: int, idle_timeout: float) -> None:
        self._handler = handler
        self._precheck = precheck
        self._max_body = max_body
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._peer = "?"
        self._reset()
        self._idle: asyncio.TimerHandle | None = None
        self._idle_timeout = idle_timeout
        self._idle_deadline = 0.0
        self._lingering = False

    def _reset(self) -> None:
        self._url = b""
        self._headers: dict[str, str] = {}
        self._header_bytes = 0
        self._body: list[bytes] = []
        self._body_len = 0
        self._refused = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self._peer = peer[0] if isinstance(peer, tuple) else "?"
        self._arm_idle()

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return
        # Only the deadline moves per request (cheap); the timer re-arms itself if it fires early.
        # Cancelling and creating a timer per request was the largest CPU cost per event.
        self._idle_deadline = asyncio.get_running_loop().time() + self._idle_timeout
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._finish(Response.text(400, "upgrades are not supported"), keep_alive=False)
        except httptools.HttpParserError as exc:
            if not self._refused:
                self._finish(Response.text(400, f"malformed request: {exc}"), keep_alive=False)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self._transport = None

    def _arm_idle(self, timeout: float | None = None) -> None:
        if self._idle is not None:
            self._idle.cancel()
        loop = asyncio.get_running_loop()
        self._idle_deadline = loop.time() + (self._idle_timeout if timeout is None else timeout)
        self._idle = loop.call_at(self._idle_deadline, self._expire)

    def _expire(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() < self._idle_deadline:
            self._idle = loop.call_at(self._idle_deadline, self._expire)
        elif self._transport is not None:
            self._transport.close()

    # httptools callbacks

    def on_message_begin(self) -> None:
        self._reset()

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._count_header_bytes(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_header_bytes(len(name) + len(value))
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self._headers[key] = f"{self._headers[key]}, {text}" if key in self._headers else text

    def _count_header_bytes(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > MAX_HEADER_BYTES and not self._refused:
            self._refuse(Response.text(431, "request headers too large"))

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        length_header = self._headers.get("content-length")
        declared = int(length_header) if length_header and length_header.isdigit() else None
        path, _ = self._split_url()
        early = self._precheck(self._method(), path, self._headers, declared)
        if early is not None:
            self._refuse(early)
        elif declared is not None and declared > self._max_body:
            self._refuse(Response.text(413, f"body too large: {declared} bytes, limit {self._max_body}"))

    def on_body(self, body: bytes) -> None:
        if self._refused:
            return
        self._body_len += len(body)
        if self._body_len > self._max_body:
            self._refuse(Response.text(413, f"body too large: over {self._max_body} bytes"))
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        path, query = self._split_url()
        request = Request(self._method(), path, query, self._headers, b"".join(self._body), self._peer)
        try:
            response = self._handler(request)
        except Exception:
            log.exception("webhook handler failed")
            response = Response.text(500, "internal error")
        self._finish(response, keep_alive=self._parser.should_keep_alive(), head=request.method == "HEAD")

    # helpers

    def _method(self) -> str:
        return self._parser.get_method().decode("latin-1")

    def _split_url(self) -> tuple[str, str]:
        try:
            parsed = httptools.parse_url(self._url)
        except httptools.HttpParserInvalidURLError:
            return self._url.decode("latin-1"), ""
        path = (parsed.path or b"/").decode("latin-1")
        return path, (parsed.query or b"").decode("latin-1")

    def _refuse(self, response: Response) -> None:
        """Answer now and close: the rest of the request is never read."""
        self._refused = True
        self._finish(response, keep_alive=False)

    def _finish(self, response: Response, keep_alive: bool, head: bool = False) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.write(response.encoded(keep_alive, head))
        if keep_alive:
            return
        if transport.can_write_eof():
            transport.write_eof()
            self._lingering = True
            self._arm_idle(LINGER_TIMEOUT)
        else:
            transport.close()


async def serve(
    host: str,
    port: int,
    handler: Handler,
    *,
    precheck: Precheck | None = None,
    max_body: int,
    idle_timeout: float = IDLE_TIMEOUT,
) -> asyncio.Server:
    """Start listening; the returned server is closed by the caller."""
    loop = asyncio.get_running_loop()
    check: Precheck = precheck or (lambda method, path, headers, length: None)
    return await loop.create_server(
        lambda: _Connection(handler, check, max_body, idle_timeout),
        host,
        port,
        reuse_address=True,
        backlog=LISTEN_BACKLOG,
    )

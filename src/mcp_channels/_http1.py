"""A small HTTP/1.1 server for receiving webhooks, on asyncio and ``httptools`` (llhttp).

Why not aiohttp here: a webhook receiver is on the event path, and aiohttp's request machinery
costs several times the CPU per request (and 150 ms of imports at start) that the Bun reference
spends. llhttp (Node's own parser) does the parsing; this module adds only what a receiver
needs: size limits enforced before a body is read, keep-alive, pipelining, ``Expect:
100-continue``, and one handler per request, which answers at once or, when it must first store
what it received, later (in request order).

It also bounds what clients can hold, because anything on the machine (or, through a tunnel, on
the internet) can connect:

* a request's headers must be complete within ``read_timeout`` of its first byte (of the
  connection's opening, for the first request), and a body may not stall longer than that;
  a kept-alive connection may sit idle between requests for ``idle_timeout``;
* at most ``max_connections`` are open; a new connection beyond that closes the one that has gone
  the longest without finishing a request, so a thousand slow clients cannot lock out a normal
  sender, and descriptors never run out because of clients;
* the bodies being received at once, across connections, may not exceed ``max_body_total``
  bytes (503 past it);
* accepting runs in this module rather than in asyncio's server, whose accept loop, when the
  process is out of descriptors, logs a traceback per failed ``accept`` and multiplies its
  retries (hundreds of thousands of records in seconds). Here a failure lowers the cap to what
  fitted and closes the stalest connections down to it, so the next sender is accepted at once;
  a failure is logged once per interval, and the others counted in one line at its end.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import logging
import resource
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Final

import httptools

from ._ratelimit import ThrottledLog

MAX_HEADER_BYTES: Final = 64 * 1024
#: Header fields per request (GitHub sends about 15; Node allows 2,000). Each costs a callback,
#: and 64 KiB of empty repeated fields would be 30,000 of them.
MAX_HEADER_FIELDS: Final = 1000
#: Pending connections the kernel queues: a CI fan-out of hundreds of hooks at once must not see
#: refused or retried connections.
LISTEN_BACKLOG: Final = 1024
#: Connections taken from the kernel per wake-up of the listening socket.
ACCEPT_BATCH: Final = 16
#: How long accepting stops after the system refused a descriptor.
ACCEPT_PAUSE: Final = 0.1
#: Descriptors kept for everything but client connections: stdio and the event loop (about 12),
#: the channel's own files, and a batch of accepts in progress beside the connections they
#: evicted, which close on the next turn of the loop.
RESERVED_DESCRIPTORS: Final = 32 + 2 * ACCEPT_BATCH
#: After refusing a request, unread input is drained (not stored) this long so the client gets
#: the answer instead of a connection reset.
LINGER_TIMEOUT: Final = 2.0
CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
#: Answers a connection may owe (each awaiting a later answer) before it is read no further.
MAX_WAITING_ANSWERS: Final = 16

log = logging.getLogger("mcp_channels.http")


@dataclass(frozen=True)
class Limits:
    """What one client, and all clients together, may hold of the server."""

    max_body: int
    #: Bytes of request bodies being received at once, across all connections.
    max_body_total: int = 64 * 1024 * 1024
    max_connections: int = 1024
    #: Headers complete within this many seconds of a request's start; a body never silent longer.
    read_timeout: float = 10.0
    #: Silence allowed between requests on a kept-alive connection.
    idle_timeout: float = 75.0


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


#: A handler answers at once (a :class:`Response`) or later (an awaitable of one): a receiver that
#: must not say "accepted" before the event is stored answers when it is. Answers go out in the
#: order the requests came, and a connection reads nothing more while one is awaited.
Handler = Callable[[Request], "Response | Awaitable[Response]"]
#: Called when the headers are in: return a response to refuse the request before its body.
Precheck = Callable[[str, str, dict[str, str], int | None], Response | None]

#: Answers of the server itself (not of the handler), built once.
EVICTED: Final = Response.text(503, "server busy: too many connections", **{"Retry-After": "1"})
BODIES_FULL: Final = Response.text(503, "server busy: too many request bodies at once", **{"Retry-After": "1"})
HEADERS_TIMED_OUT: Final = Response.text(408, "request headers not complete in time")
BODY_STALLED: Final = Response.text(408, "request body stalled")


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


# A connection is always in one of these phases; the deadline rule depends on it.
_IDLE = 0  # between requests on a kept-alive connection: idle_timeout of silence
_HEADERS = 1  # receiving a request's headers: complete them by a fixed deadline
_BODY = 2  # receiving a body: no silence longer than read_timeout
_CLOSING = 3  # answered and closing: nothing more is read or written


class _Connection(asyncio.Protocol):
    """One client connection.

    Deadlines cost no timer operation per request: one timer per connection is never set more
    than ``min(read_timeout, idle_timeout)`` ahead, and when it fires it compares the time with
    ``_deadline``, which the request's phases only move. A deadline set sooner than the timer
    (idle, then a request begins) is still met: it is at least that far ahead, and the timer
    re-arms itself at it. (Cancelling and creating a timer per request was once the largest CPU
    cost per event.)
    """

    def __init__(self, server: HttpServer) -> None:
        self._server = server
        self._limits = server.limits
        self._loop = asyncio.get_running_loop()
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._peer = "?"
        self._reset()
        self._phase = _HEADERS
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0
        self._now = 0.0  # when the data being parsed arrived
        self._tick = min(self._limits.read_timeout, self._limits.idle_timeout)
        self._reserved = 0  # bytes of the shared body budget this connection holds
        #: Answers not sent yet, in request order, when a handler answers later (see Handler).
        self._answers: collections.deque[tuple[Response | Awaitable[Response], bool, bool]] = collections.deque()

    def _reset(self) -> None:
        self._url = b""
        self._path = self._query = ""
        self._headers: dict[str, str] = {}
        self._repeated: dict[str, list[str]] | None = None
        self._header_fields = 0
        self._header_bytes = 0
        self._body: list[bytes] = []
        self._received = 0

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        if self._phase == _CLOSING:  # evicted while its transport was being made
            transport.close()
            return
        peer = transport.get_extra_info("peername")
        self._peer = peer[0] if isinstance(peer, tuple) else "?"
        self._arm(self._limits.read_timeout)

    def data_received(self, data: bytes) -> None:
        if self._phase == _CLOSING:
            return
        self._now = self._loop.time()
        if self._phase == _BODY:
            self._deadline = self._now + self._limits.read_timeout
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._finish(Response.text(400, "upgrades are not supported"), keep_alive=False)
        except httptools.HttpParserError as exc:
            self._finish(Response.text(400, f"malformed request: {exc}"), keep_alive=False)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._release_body()
        self._phase = _CLOSING
        self._transport = None
        self._server.forget(self)

    # deadlines

    def _arm(self, timeout: float) -> None:
        """Set the deadline ``timeout`` from now, re-creating the timer only if it would be late."""
        now = self._loop.time()
        self._deadline = now + timeout
        if self._timer is None or self._timer.when() > self._deadline:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._loop.call_at(min(self._deadline, now + self._tick), self._expire)

    def _expire(self) -> None:
        now = self._loop.time()
        if now < self._deadline:
            self._timer = self._loop.call_at(min(self._deadline, now + self._tick), self._expire)
            return
        self._timer = None
        if self._phase == _HEADERS and self._header_bytes:
            self._finish(HEADERS_TIMED_OUT, keep_alive=False)
        elif self._phase == _BODY:
            self._finish(BODY_STALLED, keep_alive=False)
        elif self._transport is not None:
            self._transport.close()

    def evict(self) -> None:
        """Make room for a new connection: answer 503 if a request is under way, and close now.

        No linger: the point is to free the descriptor at once.
        """
        if self._phase in (_HEADERS, _BODY) and self._header_bytes:
            self._write(EVICTED.encoded(keep_alive=False))
        self._phase = _CLOSING
        if self._transport is not None:
            self._transport.close()

    # httptools callbacks

    def on_message_begin(self) -> None:
        self._reset()
        if self._phase == _IDLE:
            self._phase = _HEADERS
            self._deadline = self._now + self._limits.read_timeout

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._header_bytes += len(url) + 1  # never 0 once a request has begun, even for an empty URL
        if self._header_bytes > MAX_HEADER_BYTES:
            self._finish(Response.text(431, "request headers too large"), keep_alive=False)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value)
        self._header_fields += 1
        if self._header_bytes > MAX_HEADER_BYTES or self._header_fields > MAX_HEADER_FIELDS:
            fields = f"over {MAX_HEADER_BYTES} bytes or {MAX_HEADER_FIELDS} fields"
            self._finish(Response.text(431, f"request headers too large: {fields}"), keep_alive=False)
            return
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        if key not in self._headers:
            self._headers[key] = text
        else:  # repeated: joined once at the end, not by growing a string per repeat
            if self._repeated is None:
                self._repeated = {}
            self._repeated.setdefault(key, [self._headers[key]]).append(text)

    def on_headers_complete(self) -> None:
        if self._phase == _CLOSING:
            return
        headers = self._headers
        if self._repeated:
            for key, values in self._repeated.items():
                headers[key] = ", ".join(values)
        self._phase = _BODY
        self._deadline = self._now + self._limits.read_timeout
        self._path, self._query = self._split_url()
        length_header = headers.get("content-length")
        declared = int(length_header) if length_header and length_header.isdigit() else None
        expect = headers.get("expect")
        early = self._precheck(declared) if expect is None else self._expectation(expect, declared)
        if early is not None:
            self._finish(early, keep_alive=False)
        elif expect is not None and self._parser.get_http_version() == "1.1":
            self._write(CONTINUE)

    def _expectation(self, expect: str, declared: int | None) -> Response | None:
        """The precheck of a request with ``Expect``: only ``100-continue`` is known."""
        if expect.strip().lower() != "100-continue":
            return Response.text(417, f"unsupported expectation: {expect[:100]}")
        return self._precheck(declared)

    def _precheck(self, declared: int | None) -> Response | None:
        early = self._server.precheck(self._method(), self._path, self._headers, declared)
        if early is not None:
            return early
        limit = self._limits.max_body
        if declared is not None and declared > limit:
            return Response.text(413, f"body too large: {declared} bytes, limit {limit}")
        if declared and not self._server.reserve_body(declared):
            return BODIES_FULL
        self._reserved = declared or 0  # a declared body is reserved whole, before it is read
        return None

    def on_body(self, body: bytes) -> None:
        if self._phase == _CLOSING:
            return
        self._body.append(body)
        self._received += len(body)
        if self._received > self._reserved:  # chunked: reserved as it comes
            if self._received > self._limits.max_body:
                self._finish(Response.text(413, f"body too large: over {self._limits.max_body} bytes"), False)
            elif not self._server.reserve_body(self._received - self._reserved):
                self._finish(BODIES_FULL, keep_alive=False)
            else:
                self._reserved = self._received

    def on_message_complete(self) -> None:
        if self._phase == _CLOSING:
            return
        request = Request(self._method(), self._path, self._query, self._headers, b"".join(self._body), self._peer)
        self._release_body()
        try:
            response = self._server.handler(request)
        except Exception:
            log.exception("webhook handler failed")
            response = Response.text(500, "internal error")
        keep_alive = self._parser.should_keep_alive()
        if self._answers or not isinstance(response, Response):
            self._defer(response, keep_alive, request.method == "HEAD")
        else:
            self._finish(response, keep_alive=keep_alive, head=request.method == "HEAD")
        if keep_alive and self._phase != _CLOSING:
            self._phase = _IDLE
            self._header_bytes = 0
            self._deadline = self._now + self._limits.idle_timeout
            self._server.touch(self)

    # answers given later

    def _defer(self, response: Response | Awaitable[Response], keep_alive: bool, head: bool) -> None:
        """Queue an answer behind those not sent yet; a client that pipelines more than
        :data:`MAX_WAITING_ANSWERS` requests is not read until their answers are out."""
        self._answers.append((response, keep_alive, head))
        if len(self._answers) == 1:
            self._loop.create_task(self._send_answers())
        elif len(self._answers) == MAX_WAITING_ANSWERS and self._transport is not None:
            self._transport.pause_reading()

    async def _send_answers(self) -> None:
        while self._answers:
            answer, keep_alive, head = self._answers[0]
            if not isinstance(answer, Response):
                try:
                    answer = await answer
                except Exception:
                    log.exception("webhook handler failed")
                    answer = Response.text(500, "internal error")
            self._answers.popleft()
            self._finish(answer, keep_alive=keep_alive, head=head)
            transport = self._transport
            if len(self._answers) == MAX_WAITING_ANSWERS - 1 and transport is not None and not transport.is_closing():
                transport.resume_reading()

    # helpers

    def _release_body(self) -> None:
        if self._reserved:
            self._server.release_body(self._reserved)
            self._reserved = 0
        self._body = []

    def _method(self) -> str:
        return self._parser.get_method().decode("latin-1")

    def _split_url(self) -> tuple[str, str]:
        try:
            parsed = httptools.parse_url(self._url)
        except httptools.HttpParserInvalidURLError:
            return self._url.decode("latin-1"), ""
        path = (parsed.path or b"/").decode("latin-1")
        return path, (parsed.query or b"").decode("latin-1")

    def _write(self, data: bytes) -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def _finish(self, response: Response, keep_alive: bool, head: bool = False) -> None:
        """Send the answer; unless kept alive, stop reading and close after a short linger."""
        if self._phase == _CLOSING:
            return  # already answered: a later pipelined request in the same read gets nothing
        self._write(response.encoded(keep_alive, head))
        if keep_alive:
            return
        self._phase = _CLOSING
        self._release_body()
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if transport.can_write_eof():
            transport.write_eof()
            self._arm(LINGER_TIMEOUT)
        else:
            transport.close()


class HttpServer:
    """The listening socket, its connections and the limits they share.

    Accepting is done here, not by ``loop.create_server``: see the module docstring.
    """

    def __init__(self, sock: socket.socket, handler: Handler, precheck: Precheck | None, limits: Limits) -> None:
        self.handler = handler
        self.precheck: Precheck = precheck or (lambda method, path, headers, length: None)
        self.limits = limits
        self.max_connections = descriptor_budget(limits.max_connections)
        self.body_bytes = 0
        self.evicted = 0
        self._sock = sock
        self._loop = asyncio.get_running_loop()
        # Every open connection, the one longest without finishing a request (or since it was
        # accepted) first.
        self._connections: collections.OrderedDict[_Connection, None] = collections.OrderedDict()
        self._paused: asyncio.TimerHandle | None = None
        self._attaching: set[asyncio.Task[None]] = set()
        self._closed = self._loop.create_future()
        self._accept_failed = ThrottledLog(log, "failed accepts", level=logging.ERROR, burst=1)
        self._loop.add_reader(sock.fileno(), self._accept_ready)

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    @property
    def connections(self) -> int:
        return len(self._connections)

    async def serve_forever(self) -> None:
        await asyncio.shield(self._closed)

    def close(self) -> None:
        """Stop listening and close every connection."""
        if self._closed.done():
            return
        if self._paused is not None:
            self._paused.cancel()
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        for connection in list(self._connections):
            connection.evict()
        self._connections.clear()
        self._closed.set_result(None)

    # accepting

    def _accept_ready(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                self._out_of_descriptors(exc)
                return
            self._admit(conn)

    def _admit(self, conn: socket.socket) -> None:
        while len(self._connections) >= self.max_connections:
            self._evict_stalest()
        connection = _Connection(self)
        self._connections[connection] = None
        task = self._loop.create_task(self._attach(connection, conn))
        self._attaching.add(task)
        task.add_done_callback(self._attaching.discard)

    async def _attach(self, connection: _Connection, conn: socket.socket) -> None:
        try:
            await self._loop.connect_accepted_socket(lambda: connection, conn)
        except OSError:
            conn.close()
            self.forget(connection)

    def _evict_stalest(self) -> None:
        stalest, _ = self._connections.popitem(last=False)
        stalest.evict()
        self.evicted += 1

    def _out_of_descriptors(self, exc: OSError) -> None:
        """The system refused a descriptor: lower the cap below what it allowed, and say so (throttled).

        Something else holds descriptors the budget did not count (the channel's own files,
        another process for ``ENFILE``). Capping at what fitted, less a batch, and closing the
        stalest connections down to it makes the next accepts succeed, so new senders are served
        again at once. With no connection of ours to close, accepting pauses briefly instead.
        """
        open_connections = len(self._connections)
        if exc.errno in (errno.EMFILE, errno.ENFILE) and open_connections:
            self.max_connections = max(1, min(self.max_connections, open_connections - ACCEPT_BATCH))
            while len(self._connections) > self.max_connections:
                self._evict_stalest()
            self._accept_failed(
                "cannot accept a connection: %s with %d open; at most %d from now on",
                exc.strerror or exc,
                open_connections,
                self.max_connections,
            )
            return
        self._accept_failed("cannot accept a connection: %s; pausing %g s", exc.strerror or exc, ACCEPT_PAUSE)
        self._loop.remove_reader(self._sock.fileno())
        self._paused = self._loop.call_later(ACCEPT_PAUSE, self._resume_accepting)

    def _resume_accepting(self) -> None:
        self._paused = None
        if not self._closed.done():
            self._loop.add_reader(self._sock.fileno(), self._accept_ready)

    # shared state, kept by the connections

    def touch(self, connection: _Connection) -> None:
        """A request was answered: this connection is now the most recently active."""
        self._connections.move_to_end(connection)

    def forget(self, connection: _Connection) -> None:
        self._connections.pop(connection, None)

    def reserve_body(self, size: int) -> bool:
        if self.body_bytes + size > self.limits.max_body_total:
            return False
        self.body_bytes += size
        return True

    def release_body(self, size: int) -> None:
        self.body_bytes -= size


def descriptor_budget(wanted: int) -> int:
    """How many client connections the descriptor limit allows, raising the soft limit if needed.

    Many systems start processes with a soft limit of 1024 (macOS: 256) and a far higher hard
    limit; raising the soft one is what servers do. If the hard limit is too low as well, the cap
    shrinks to fit, so accepting never fails for want of a descriptor because of clients.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + RESERVED_DESCRIPTORS
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - RESERVED_DESCRIPTORS))


async def serve(
    host: str, port: int, handler: Handler, *, limits: Limits, precheck: Precheck | None = None
) -> HttpServer:
    """Start listening on ``host:port``; the returned server is closed by the caller."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=LISTEN_BACKLOG)
    sock.setblocking(False)
    return HttpServer(sock, handler, precheck, limits)

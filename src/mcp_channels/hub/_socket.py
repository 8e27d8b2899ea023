"""The hub's socket: JSON-RPC links for sessions and the command line, HTTP for probes, one listener.

On Linux and macOS the hub listens on a Unix-domain socket (0600, in a 0700 directory; on Linux
a connecting process of another user is also refused by its credentials). On Windows, or with
``MCP_CHANNELS_HUB_TRANSPORT=tcp``, it listens on a loopback port chosen by the system, written
to ``endpoint.json``, and every client must present the random token of ``hub.token`` (0600):
any local user can reach a loopback port.

A connection whose first bytes are ``GET `` or ``HEAD `` is one HTTP/1.1 request (``/healthz``,
``/metrics``), answered and closed; anything else is a JSON-RPC :class:`Link`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
import struct
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .._pipes import PipeSink
from ..errors import HubUnreachable
from ..jsonrpc import NotificationHandler, Peer, RequestHandler
from ..state import atomic_write
from ._paths import HubPaths

#: An HTTP request's head may not be longer than this (a probe sends a few hundred bytes).
MAX_HTTP_HEAD: Final = 8 * 1024
#: What an HTTP request starts with; a JSON-RPC link starts with ``{``.
_HTTP_METHODS: Final = (b"GET ", b"HEAD ")
#: How long a client waits for the socket to accept.
CONNECT_TIMEOUT: Final = 2.0

log = logging.getLogger("mcp_channels.hub")


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: Mapping[str, str]


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"

    def encoded(self, head: bool) -> bytes:
        reason = {200: "OK", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed", 503: "Unavailable"}
        lines = [
            f"HTTP/1.1 {self.status} {reason.get(self.status, '')}",
            f"Content-Type: {self.content_type}",
            f"Content-Length: {len(self.body)}",
            "Connection: close",
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + (b"" if head else self.body)


HttpHandler = Callable[[HttpRequest], Awaitable[HttpResponse]]


class Link:
    """One JSON-RPC connection through the hub's socket, seen from either end."""

    def __init__(
        self,
        *,
        on_request: RequestHandler | None = None,
        on_notification: NotificationHandler | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.sink = PipeSink()
        self.peer = Peer(self.sink, on_request=on_request, on_notification=on_notification, logger=logger or log)
        self.peer_uid: int | None = None

    @property
    def closed(self) -> asyncio.Event:
        return self.peer.closed

    def close(self) -> None:
        transport = self.sink.transport
        if transport is not None and not transport.is_closing():
            transport.close()

    def attach(self, transport: asyncio.WriteTransport) -> None:
        self.sink.transport = transport


class _LinkProtocol(asyncio.Protocol):
    """Feeds a :class:`Link`'s peer; the client side of a connection."""

    def __init__(self, link: Link) -> None:
        self.link = link

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        self.link.attach(transport)

    def data_received(self, data: bytes) -> None:
        self.link.peer.feed(data)

    def eof_received(self) -> bool:
        self.link.peer.feed_eof("the hub closed the connection")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.link.sink.lost()
        self.link.peer.feed_eof("the connection to the hub was lost")

    def pause_writing(self) -> None:
        self.link.sink.pause_writing()

    def resume_writing(self) -> None:
        self.link.sink.resume_writing()


class _ServerProtocol(asyncio.Protocol):
    """The hub's side of one accepted connection: HTTP or a JSON-RPC link, told by the first bytes."""

    def __init__(self, make_link: Callable[[], Link] | None, http: HttpHandler) -> None:
        self._make_link = make_link
        self._http = http
        self._transport: asyncio.Transport | None = None
        self._head = bytearray()
        self._link: Link | None = None
        self._answering = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        uid = _peer_uid(transport)
        if uid is not None and hasattr(os, "getuid") and uid != os.getuid():
            log.warning("refused a connection from user id %d: the hub serves its own user only", uid)
            transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._link is not None:
            self._link.peer.feed(data)
            return
        if self._answering:
            return
        self._head += data
        if self._head.startswith(_HTTP_METHODS):
            self._take_http()
            return
        if any(method.startswith(self._head) for method in _HTTP_METHODS):
            return  # not enough bytes to tell yet
        assert self._transport is not None
        if self._make_link is None:  # the metrics port speaks HTTP only
            self._answer(HttpResponse(400, b"this port serves GET /healthz and /metrics only\n"), head=False)
            return
        link = self._make_link()
        link.attach(self._transport)
        self._link = link
        first, self._head = bytes(self._head), bytearray()
        link.peer.feed(first)

    def _take_http(self) -> None:
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            if len(self._head) > MAX_HTTP_HEAD:
                self._answer(HttpResponse(431, b"request head too large\n"), head=False)
            return
        request = _parse_http(bytes(self._head[:end]))
        self._answering = True
        if request is None:
            self._answer(HttpResponse(400, b"bad request\n"), head=False)
            return
        asyncio.get_running_loop().create_task(self._serve_http(request))

    async def _serve_http(self, request: HttpRequest) -> None:
        try:
            response = await self._http(request)
        except Exception:
            log.exception("HTTP %s %s failed", request.method, request.path)
            response = HttpResponse(500, b"internal error\n")
        self._answer(response, head=request.method == "HEAD")

    def _answer(self, response: HttpResponse, *, head: bool) -> None:
        self._answering = True
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(response.encoded(head))
            transport.close()

    def eof_received(self) -> bool:
        if self._link is not None:
            self._link.peer.feed_eof("the client closed the connection")
        return self._answering  # an HTTP client may half-close while its answer is being made

    def connection_lost(self, exc: Exception | None) -> None:
        if self._link is not None:
            self._link.sink.lost()
            self._link.peer.feed_eof("the connection was lost")

    def pause_writing(self) -> None:
        if self._link is not None:
            self._link.sink.pause_writing()

    def resume_writing(self) -> None:
        if self._link is not None:
            self._link.sink.resume_writing()


def _parse_http(head: bytes) -> HttpRequest | None:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            return None
        headers[name.strip().lower()] = value.strip()
    return HttpRequest(parts[0], parts[1].split("?", 1)[0], headers)


def _peer_uid(transport: asyncio.BaseTransport) -> int | None:
    """The connecting user's id, where the system says it (Linux, Unix sockets)."""
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family != getattr(socket, "AF_UNIX", None) or not hasattr(socket, "SO_PEERCRED"):
        return None
    with contextlib.suppress(OSError):
        _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
        return int(uid)
    return None


class Listener:
    """The hub's listening socket; :meth:`close` removes what it created."""

    def __init__(self, paths: HubPaths, server: asyncio.Server, token: str | None) -> None:
        self.paths = paths
        self.server = server
        self.token = token

    @property
    def address(self) -> str:
        if self.paths.transport == "unix":
            return str(self.paths.socket)
        port = self.server.sockets[0].getsockname()[1]
        return f"127.0.0.1:{port}"

    def close(self) -> None:
        self.server.close()
        if self.paths.transport == "unix":
            with contextlib.suppress(FileNotFoundError):
                self.paths.socket.unlink()
        else:
            for path in (self.paths.endpoint, self.paths.token):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


async def listen(paths: HubPaths, make_link: Callable[[], Link], http: HttpHandler) -> Listener:
    """Listen for the hub. The caller holds the hub lock, so a socket file left by a killed hub is
    removed; in TCP mode a new token is made for this run."""
    loop = asyncio.get_running_loop()

    def factory() -> _ServerProtocol:
        return _ServerProtocol(make_link, http)

    if paths.transport == "unix":
        path = paths.socket
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        old_umask = os.umask(0o177)  # the socket is born 0600, not chmod-ed after a window
        try:
            server = await loop.create_unix_server(factory, path=str(path), backlog=128)
        finally:
            os.umask(old_umask)
        return Listener(paths, server, None)
    token = secrets.token_hex(32)
    atomic_write(paths.token, token + "\n", mode=0o600)
    server = await loop.create_server(factory, "127.0.0.1", 0, backlog=128)
    port = server.sockets[0].getsockname()[1]
    atomic_write(paths.endpoint, json.dumps({"transport": "tcp", "host": "127.0.0.1", "port": port}) + "\n")
    return Listener(paths, server, token)


async def listen_http(port: int, http: HttpHandler) -> asyncio.Server:
    """The optional loopback port for a Prometheus scraper: ``/healthz`` and ``/metrics``, no JSON-RPC."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: _ServerProtocol(None, http), "127.0.0.1", port)


def read_token(paths: HubPaths) -> str | None:
    """The TCP token a client presents (``None`` in Unix mode or when there is none)."""
    if paths.transport != "tcp":
        return None
    try:
        return paths.token.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


async def connect(
    paths: HubPaths,
    *,
    on_request: RequestHandler | None = None,
    on_notification: NotificationHandler | None = None,
    logger: logging.Logger | None = None,
    timeout: float = CONNECT_TIMEOUT,
) -> Link:
    """A :class:`Link` to the running hub; :class:`HubUnreachable` when none answers."""
    loop = asyncio.get_running_loop()
    link = Link(on_request=on_request, on_notification=on_notification, logger=logger)
    try:
        async with asyncio.timeout(timeout):
            if paths.transport == "unix":
                await loop.create_unix_connection(lambda: _LinkProtocol(link), path=str(paths.socket))
            else:
                host, port = _tcp_endpoint(paths)
                await loop.create_connection(lambda: _LinkProtocol(link), host, port)
    except (OSError, TimeoutError, ValueError) as exc:
        raise HubUnreachable(f"no hub answers at {_where(paths)}: {exc}") from None
    return link


def _tcp_endpoint(paths: HubPaths) -> tuple[str, int]:
    data: Any = json.loads(paths.endpoint.read_text(encoding="utf-8"))
    port = data.get("port") if isinstance(data, dict) else None
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"{paths.endpoint} names no port")
    return "127.0.0.1", port


def _where(paths: HubPaths) -> str:
    return str(paths.socket) if paths.transport == "unix" else f"the port in {paths.endpoint}"


async def http_get(paths: HubPaths, path: str, *, token: str | None = None, timeout: float = 5.0) -> tuple[int, bytes]:
    """``GET path`` on the hub's socket (what a probe or ``hub status --http`` does): status and body."""
    try:
        async with asyncio.timeout(timeout):
            if paths.transport == "unix":
                reader, writer = await asyncio.open_unix_connection(str(paths.socket))
            else:
                reader, writer = await asyncio.open_connection(*_tcp_endpoint(paths))
            auth = f"Authorization: Bearer {token}\r\n" if token else ""
            writer.write(f"GET {path} HTTP/1.1\r\nHost: hub\r\n{auth}Connection: close\r\n\r\n".encode())
            data = await reader.read()
            writer.close()
    except (OSError, TimeoutError, ValueError) as exc:
        raise HubUnreachable(f"no hub answers at {_where(paths)}: {exc}") from None
    head, _, body = data.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split(b" ")
    return int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else 0, body


__all__ = [
    "HttpHandler",
    "HttpRequest",
    "HttpResponse",
    "HubUnreachable",
    "Link",
    "Listener",
    "connect",
    "http_get",
    "listen",
    "listen_http",
    "read_token",
]

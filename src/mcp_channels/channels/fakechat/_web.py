"""The page's transport: HTTP and a websocket on 127.0.0.1, on aiohttp.

Routes: ``/`` and its two assets, ``/ws`` (the conversation), ``POST /upload`` (a message with a
file, multipart ``id``, ``text``, ``file``; 204) and ``GET /files/<name>`` (files sent by ``reply``).

Websocket frames, JSON text. Page to server: ``{"id", "text"}`` (a message, as with the official
server), ``{"type": "hello"}`` (send the history, then everything: see ``_conversation.py``) and
``{"type": "permission", "request_id", "behavior": "allow" | "deny"}``. Server to page:
``{"type": "hello", "session", "limits", "more", "history"}`` and, while ``more`` is true,
``{"type": "history", "more", "history"}`` (the history in pieces), entries (``"type": "msg"``
or ``"permission"``, whole, upserted by ``id``) and ``{"type": "error", "message", "id"?}``.

What the official server lacked, and why: every request must name this server in ``Host`` (a
web page on a rebound DNS name reaches 127.0.0.1 but says its own name), and a request that
carries an ``Origin`` must come from this page (browsers always send it with websockets and
POSTs, so another site cannot drive the chat or answer a permission prompt); both are refused
with 403. A websocket frame over ``FAKECHAT_MAX_MESSAGE`` closes the socket with 1009 and an
upload over ``FAKECHAT_MAX_UPLOAD`` gets 413, with nothing delivered or kept.

Bounded so that no client can make the server hold much: a client's backlog (``_tabs.py``), the
history (``_conversation.py``), the websocket clients open at once (``FAKECHAT_MAX_TABS``, then
503), the uploads being received at once (:data:`UPLOADS_AT_ONCE`, then 503) and the bytes
uploads keep in ``inbox/`` (``FAKECHAT_INBOX_QUOTA``, then 507; see ``_uploads.py``).

Imported lazily (aiohttp takes ~150 ms to import), after the server has answered ``initialize``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Final

from aiohttp import BodyPartReader, WSCloseCode, WSMsgType, hdrs, web

from ...errors import ConfigurationError
from ._chat import Fakechat, Refused
from ._files import content_type, served_file
from ._settings import HOST
from ._tabs import Tab
from ._uploads import Inbox, InboxFull, IncomingFile, TooLarge

#: Room for the multipart envelope around an upload's file and text.
FORM_SLACK: Final = 64 * 1024
#: An upload form has an id, a text and a file; a few more parts are tolerated and ignored.
MAX_FORM_PARTS: Final = 8
#: Uploads received at once: each holds read buffers and up to a message's text in memory.
UPLOADS_AT_ONCE: Final = 8
ASSETS: Final = {
    "/": ("page.html", "text/html; charset=utf-8"),
    "/page.css": ("page.css", "text/css; charset=utf-8"),
    "/page.js": ("page.js", "text/javascript; charset=utf-8"),
}
PAGE_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
#: Files are Claude's output, maybe from an untrusted source: never rendered as a page of this origin.
FILE_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class PageServer:
    """The aiohttp application around a :class:`Fakechat`."""

    def __init__(self, chat: Fakechat) -> None:
        self.chat = chat
        self.settings = chat.settings
        self.log = chat.channel.log
        names = (f"127.0.0.1:{self.settings.port}", f"localhost:{self.settings.port}", f"[::1]:{self.settings.port}")
        self.hosts = frozenset(names)
        self.origins = frozenset(f"http://{name}" for name in names)
        self.tabs: set[Tab] = set()
        self.inbox = Inbox(self.settings.inbox, self.settings.inbox_quota)
        self._uploading = 0
        package = resources.files(__package__)
        self.assets = {path: (package.joinpath(name).read_bytes(), kind) for path, (name, kind) in ASSETS.items()}

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=self.settings.max_message)
        for path in self.assets:
            app.router.add_get(path, self._asset)
        app.router.add_get("/ws", self._websocket)
        app.router.add_post("/upload", self._upload)
        app.router.add_get("/files/{name}", self._file)
        return app

    def _refuse(self, request: web.Request, status: int, reason: str) -> web.Response:
        self.log.warning("refused %s %s: %d %s", request.method, request.path[:200], status, reason)
        return web.Response(status=status, text=reason + "\n")

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        host = (request.headers.get(hdrs.HOST) or "").lower()
        if host not in self.hosts:
            return self._refuse(
                request, 403, f"forbidden: Host {host[:100]!r} is not this server ({self.settings.url})"
            )
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is not None and origin.lower() not in self.origins:
            return self._refuse(request, 403, f"forbidden: cross-origin request from {origin[:100]!r}")
        return await handler(request)

    async def _asset(self, request: web.Request) -> web.Response:
        body, kind = self.assets[request.path]
        return web.Response(body=body, headers={**PAGE_HEADERS, hdrs.CONTENT_TYPE: kind})

    async def _file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        try:
            path = served_file(self.settings.outbox, name)
        except ValueError:
            return self._refuse(request, 400, "bad file name")
        if path is None:
            return web.Response(status=404, text="404\n")
        headers = {
            **FILE_HEADERS,
            hdrs.CONTENT_TYPE: content_type(name),
            hdrs.CONTENT_DISPOSITION: f'attachment; filename="{name}"',
        }
        return web.FileResponse(path, headers=headers)

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if len(self.tabs) >= self.settings.max_tabs:
            return self._refuse(
                request, 503, f"too many chat tabs open ({self.settings.max_tabs}, FAKECHAT_MAX_TABS); close one"
            )
        ws = web.WebSocketResponse(max_msg_size=self.settings.max_message, heartbeat=30, compress=False, timeout=1.0)
        await ws.prepare(request)
        tab = Tab(ws, request.transport, self.settings.tab_buffer, self.log)
        self.tabs.add(tab)
        self.chat.conversation.listen(tab)
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._frame(tab, message.data)
                elif message.type == WSMsgType.BINARY:
                    tab.error("send JSON text frames")
                elif message.type == WSMsgType.ERROR:
                    self._socket_failed(message.data)
                    break
        finally:
            self.chat.conversation.leave(tab)
            self.tabs.discard(tab)
            tab.stop()
        return ws

    def _socket_failed(self, error: object) -> None:
        if getattr(error, "code", None) == WSCloseCode.MESSAGE_TOO_BIG:
            self.log.warning(
                "refused a websocket frame over %d bytes (FAKECHAT_MAX_MESSAGE); closed with 1009",
                self.settings.max_message,
            )
        else:
            self.log.warning("websocket closed on an error: %s", error)

    def _frame(self, tab: Tab, data: str) -> None:
        try:
            frame = json.loads(data)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
            tab.error("not JSON")
            return
        if not isinstance(frame, dict):
            tab.error("a frame must be a JSON object")
            return
        kind = frame.get("type", "msg")
        try:
            if kind == "msg":
                self.chat.receive(frame.get("id"), frame.get("text", ""))
            elif kind == "hello":
                limits = {"max_message": self.settings.max_message, "max_upload": self.settings.max_upload}
                self.chat.conversation.view(tab, limits=limits)
            elif kind == "permission":
                self.chat.answer_button(frame.get("request_id"), frame.get("behavior"))
            else:
                raise Refused(f"unknown frame type {str(kind)[:40]!r}")
        except Refused as exc:
            self.log.warning("refused a frame from the page: %s", exc)
            tab.error(str(exc), id=frame.get("id") if isinstance(frame.get("id"), str) else None)

    async def _upload(self, request: web.Request) -> web.Response:
        if request.content_type != "multipart/form-data":
            return self._refuse(request, 400, "expected multipart/form-data")
        too_large = f"upload too large (max {self.settings.max_upload} bytes)"
        if request.content_length is not None and request.content_length > self._form_budget:
            return self._refuse(request, 413, too_large)
        if self._uploading >= UPLOADS_AT_ONCE:
            busy = self._refuse(request, 503, f"{UPLOADS_AT_ONCE} uploads are being received already; try again")
            busy.headers[hdrs.RETRY_AFTER] = "1"
            return busy
        try:
            room = self.inbox.room()
        except OSError as exc:
            return self._cannot_save(request, exc)
        envelope = self.settings.max_message + FORM_SLACK
        if room == 0 or (request.content_length is not None and request.content_length > room + envelope):
            return self._refuse(request, 507, str(self.inbox.full()))
        self._uploading += 1
        try:
            return await self._receive_upload(request, too_large)
        finally:
            self._uploading -= 1

    async def _receive_upload(self, request: web.Request, too_large: str) -> web.Response:
        try:
            fields, incoming = await self._read_form(request)
        except TooLarge:
            return self._refuse(request, 413, too_large)
        except InboxFull as exc:
            return self._refuse(request, 507, str(exc))
        except (ValueError, UnicodeDecodeError) as exc:
            return self._refuse(request, 400, f"malformed upload: {exc}")
        except OSError as exc:
            return self._cannot_save(request, exc)
        if "id" not in fields:
            self._discard(incoming)
            return self._refuse(request, 400, "missing id")
        try:
            self.chat.receive(fields["id"], fields.get("text", ""), incoming)
        except Refused as exc:
            return self._refuse(request, 400, str(exc))
        except OSError as exc:
            self._discard(incoming)
            return self._cannot_save(request, exc)
        return web.Response(status=204)

    @property
    def _form_budget(self) -> int:
        """Bytes an upload form may carry in all: the file, the text, and the envelope."""
        return self.settings.max_upload + self.settings.max_message + FORM_SLACK

    async def _read_form(self, request: web.Request) -> tuple[dict[str, str], IncomingFile | None]:
        """The ``id`` and ``text`` fields and the file (``None`` if absent or empty) of an upload.

        Sizes are enforced while reading (a chunked body has no length to check first), and a
        partly received file is discarded whatever goes wrong.
        """
        fields: dict[str, str] = {}
        incoming: IncomingFile | None = None
        remaining = self._form_budget
        try:
            reader = await request.multipart()
            for _ in range(MAX_FORM_PARTS + 1):
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, BodyPartReader):
                    raise ValueError("nested multipart")
                if part.name == "file" and part.filename is not None:
                    if incoming is not None:
                        raise ValueError("one file per message")
                    incoming = self.inbox.receive(part.filename, self.settings.max_upload)
                    while chunk := await part.read_chunk():
                        incoming.write(chunk)
                    remaining -= incoming.size
                else:
                    value = await _read_field(part, min(self.settings.max_message, remaining))
                    remaining -= len(value)
                    if part.name in ("id", "text"):
                        fields[part.name] = value.decode("utf-8")
            else:
                raise ValueError(f"more than {MAX_FORM_PARTS} parts")
        except BaseException:
            self._discard(incoming)
            raise
        if incoming is not None and incoming.size == 0:
            incoming.discard()
            incoming = None
        return fields, incoming

    def _cannot_save(self, request: web.Request, error: OSError) -> web.Response:
        self.log.error("could not save an upload in %s: %s", self.settings.inbox, error)
        return self._refuse(request, 500, f"could not save the upload: {error.strerror or error}")

    @staticmethod
    def _discard(incoming: IncomingFile | None) -> None:
        if incoming is not None:
            incoming.discard()

    async def close_tabs(self) -> None:
        """Tell every tab the server is going away (1001), so pages start reconnecting at once."""
        closing = [
            tab.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")
            for tab in list(self.tabs)
            if not tab.dropped
        ]
        if closing:
            await asyncio.wait([asyncio.ensure_future(c) for c in closing], timeout=0.5)


async def _read_field(part: BodyPartReader, limit: int) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk():
        data += chunk
        if len(data) > limit:
            raise TooLarge(f"form field {part.name!r} is larger than {limit} bytes")
    return bytes(data)


async def serve(chat: Fakechat) -> None:
    """Serve the page until cancelled; a port in use is a :class:`ConfigurationError`."""
    settings = chat.settings
    pages = PageServer(chat)
    runner = web.AppRunner(pages.application(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, HOST, settings.port, shutdown_timeout=0.5)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigurationError(
            f"cannot listen on {HOST}:{settings.port}: {exc.strerror} (another fakechat running? set FAKECHAT_PORT)"
        ) from None
    chat.channel.log.info("chat page at %s", settings.url)
    try:
        await asyncio.Event().wait()
    finally:
        with contextlib.suppress(Exception):
            await pages.close_tabs()
        await runner.cleanup()

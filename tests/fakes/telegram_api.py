"""A local Telegram Bot API server for tests, faithful to the documented protocol.

python-telegram-bot is pointed at it (``TELEGRAM_API_BASE``) and cannot tell the difference for
the methods a channel uses: ``https://core.telegram.org/bots/api`` request forms (query string,
urlencoded, JSON and multipart bodies), ``{"ok": true, "result": ...}`` answers and error answers
with ``error_code``, ``description`` and ``parameters.retry_after``; long-poll ``getUpdates`` with
offsets that confirm updates server-side, ``409 Conflict`` for the older of two concurrent polls,
webhooks (``setWebhook`` ends a running poll with ``409``, ``getUpdates`` is refused with another
``409`` while one is set, ``deleteWebhook``, ``getWebhookInfo``), file downloads under
``/file/bot<token>/``. Updates are never POSTed to a webhook: they stay pending, as when its URL
does not answer. A test drives the "users" through a small API
(:meth:`FakeTelegram.send_text`, :meth:`FakeTelegram.press`, ...), inspects what the bot did
(:attr:`FakeTelegram.sent`, :attr:`FakeTelegram.calls`) and injects faults
(:meth:`FakeTelegram.fault`): a dropped connection, a 502, flood control.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from . import serve_on_loopback
from .telegram_markdownv2 import MarkdownV2Error, parse_markdown_v2

#: Telegram's fixed reaction set (https://core.telegram.org/bots/api#reactiontypeemoji).
_REACTION_LIST = (
    "👍 👎 ❤ 🔥 🥰 👏 😁 🤔 🤯 😱 🤬 😢 🎉 🤩 🤮 💩 🙏 👌 🕊 🤡 🥱 🥴 😍 🐳 ❤️‍🔥 🌚 🌭 💯 🤣 ⚡ 🍌 🏆 💔 🤨 😐 🍓 🍾 "
    "💋 🖕 😈 😴 😭 🤓 👻 👨‍💻 👀 🎃 🙈 😇 😨 🤝 ✍ 🤗 🫡 🎅 🎄 ☃ 💅 🤪 🗿 🆒 💘 🙉 🦄 😘 💊 🙊 😎 👾 🤷‍♂️ 🤷 🤷‍♀️ 😡"
)
REACTIONS = frozenset(_REACTION_LIST.split(" "))
MAX_TEXT = 4096
MAX_CAPTION = 1024
BOT_DOWNLOAD_LIMIT = 20 * 1024 * 1024
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"RIFF")
#: Parameters that arrive JSON-serialized in urlencoded and multipart bodies.
JSON_FIELDS = {"reply_parameters", "reply_markup", "reaction", "commands", "scope", "allowed_updates", "entities"}
CONFLICT_TERMINATED = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
CONFLICT_SET_WEBHOOK = "Conflict: terminated by setWebhook request"
WEBHOOK_PORTS = (80, 88, 443, 8443)


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


@dataclass
class Fault:
    """What the next matching call gets instead of an answer."""

    kind: str  # "disconnect" | "bad_gateway" | "flood" | "error" | "garbage" | "delay" (then answered normally)
    times: int = 1
    retry_after: int = 1
    code: int = 400
    description: str = ""
    seconds: float = 0.0


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str | None

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
        }
        if self.file_path is not None:
            info["file_path"] = self.file_path
        return info


@dataclass
class Poll:
    """One getUpdates call as the server saw it."""

    offset: int | None
    timeout: float
    agent: str
    started: float = field(default_factory=time.monotonic)
    status: int | None = None
    returned: list[int] = field(default_factory=list)
    ended_by: str = CONFLICT_TERMINATED  # the 409's description when something ends it early


@dataclass
class Described:
    """A successful answer that also carries a ``description`` (``setWebhook``, ``deleteWebhook``)."""

    result: Any
    description: str


class FakeTelegram:
    """The Bot API for one bot, on 127.0.0.1."""

    def __init__(
        self,
        token: str = "123456789:AAHfakeTokenForTestsOnly_abcdefghijk",
        *,
        bot_id: int = 7000000001,
        username: str = "claude_test_bot",
        enforce_download_limit: bool = True,
    ) -> None:
        self.token = token
        self.bot = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Claude Test",
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.enforce_download_limit = enforce_download_limit
        self.report_file_sizes = True
        self.users: dict[int, dict[str, Any]] = {}
        self.chats: dict[int, dict[str, Any]] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.files: dict[str, StoredFile] = {}
        self.updates: list[dict[str, Any]] = []
        self.confirmed = 0  # every update_id below this was confirmed by an offset
        self.webhook_url = ""
        self.webhook_secret = ""
        self.sent: list[dict[str, Any]] = []  # messages the bot sent (Message objects plus "method")
        self.edits: list[dict[str, Any]] = []
        self.reactions: list[dict[str, Any]] = []
        self.actions: list[dict[str, Any]] = []
        self.callback_answers: list[dict[str, Any]] = []
        self.commands: list[dict[str, Any]] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.polls: list[Poll] = []
        self.faults: dict[str, list[Fault]] = {}
        self._update_ids = itertools.count(100_001)
        self.last_update_id = 0  # the id of the latest update created
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._file_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._open_callbacks: set[str] = set()
        self._current_poll: tuple[Poll, asyncio.Event] | None = None
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    @property
    def base(self) -> str:
        """What ``TELEGRAM_API_BASE`` should be set to."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeTelegram:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner, self.port = await serve_on_loopback(app, access_log=None, shutdown_timeout=0.1)
        return self

    async def stop(self) -> None:
        self._end_poll(CONFLICT_TERMINATED)
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ test API: people and chats

    def user(self, user_id: int, username: str | None = None, first_name: str = "Test") -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username is not None:
            user["username"] = username
        self.users[user_id] = user
        self.chats.setdefault(
            user_id,
            {
                "id": user_id,
                "type": "private",
                "first_name": first_name,
                **({"username": username} if username else {}),
            },
        )
        return user

    def group(self, chat_id: int, title: str = "Test group", kind: str = "supergroup") -> dict[str, Any]:
        chat = {"id": chat_id, "type": kind, "title": title}
        self.chats[chat_id] = chat
        return chat

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update as given (plus its ``update_id``), well-formed or not."""
        update = {"update_id": next(self._update_ids), **update}
        self.last_update_id = update["update_id"]
        self.updates.append(update)
        self._notify()
        return update

    def message(self, sender: dict[str, Any], chat: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """A user sends a message with arbitrary Message fields (text, photo, caption, entities, ...)."""
        chat = chat or self.chats[sender["id"]]
        message = {
            "message_id": self._next_message_id(chat["id"]),
            "from": sender,
            "chat": chat,
            "date": int(time.time()),
            **fields,
        }
        self.messages[(chat["id"], message["message_id"])] = message
        self.push_update({"message": message})
        return message

    def send_text(
        self, sender: dict[str, Any], text: str, chat: dict[str, Any] | None = None, **fields: Any
    ) -> dict[str, Any]:
        return self.message(sender, chat, text=text, **fields)

    def reply_to(self, message_id: int, chat_id: int) -> dict[str, Any]:
        """The ``reply_to_message`` field for a reply to an earlier message."""
        return dict(self.messages[(chat_id, message_id)])

    def press(self, sender: dict[str, Any], message: dict[str, Any], data: str) -> str:
        """A user presses an inline button under ``message``; returns the callback query id."""
        query_id = f"cbq{next(self._callback_ids)}"
        self._open_callbacks.add(query_id)
        current = self.messages.get((message["chat"]["id"], message["message_id"]), message)
        self.push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": sender,
                    "message": current,
                    "chat_instance": str(message["chat"]["id"]),
                    "data": data,
                }
            }
        )
        return query_id

    def add_file(self, data: bytes, file_path: str | None = "documents/file_1.pdf") -> StoredFile:
        """A file on Telegram's servers; ``file_path=None`` plays a file that expired."""
        number = next(self._file_ids)
        stored = StoredFile(f"BQACAgIAAxkBAAI{number:06d}", f"AgAD{number:04d}", data, file_path)
        self.files[stored.file_id] = stored
        return stored

    def fault(
        self,
        method: str,
        kind: str,
        *,
        times: int = 1,
        retry_after: int = 1,
        code: int = 400,
        description: str = "",
        seconds: float = 0.0,
    ) -> None:
        """The next ``times`` calls of ``method`` (``download`` for file downloads) fail this way.

        ``delay`` does not fail: it answers ``seconds`` late.
        """
        self.faults.setdefault(method.lower(), []).append(Fault(kind, times, retry_after, code, description, seconds))

    # ------------------------------------------------------------------ test API: waiting

    def _notify(self) -> None:
        async def wake() -> None:
            async with self._changed:
                self._changed.notify_all()

        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().create_task(wake())

    async def wait_until(self, predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
        async with asyncio.timeout(timeout), self._changed:
            while not (result := predicate()):
                await self._changed.wait()
            return result

    async def wait_sent(
        self, predicate: Callable[[dict[str, Any]], bool] = lambda m: True, *, start: int = 0, timeout: float = 15.0
    ) -> dict[str, Any]:
        """The first message the bot sent (from index ``start``) that matches."""
        return await self.wait_until(lambda: next((m for m in self.sent[start:] if predicate(m)), None), timeout)  # type: ignore[no-any-return]

    async def wait_call(
        self,
        method: str,
        predicate: Callable[[dict[str, Any]], bool] = lambda p: True,
        *,
        start: int = 0,
        timeout: float = 15.0,
    ) -> dict[str, Any]:
        """The parameters of the first matching call of ``method`` (from index ``start`` of :attr:`calls`)."""
        return await self.wait_until(  # type: ignore[no-any-return]
            lambda: next((p for m, p in self.calls[start:] if m == method.lower() and predicate(p)), None), timeout
        )

    async def wait_confirmed(self, update_id: int, timeout: float = 15.0) -> None:
        """Until an offset has confirmed ``update_id``."""
        await self.wait_until(lambda: self.confirmed > update_id, timeout)

    def sent_to(self, chat_id: int) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["chat"]["id"] == chat_id]

    # ------------------------------------------------------------------ HTTP

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        content_type = request.content_type
        if content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        elif content_type == "application/x-www-form-urlencoded":
            params.update(await request.post())
        elif content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if part.name is None:
                    continue
                if part.filename is not None:  # type: ignore[union-attr]
                    params[part.name] = {"filename": part.filename, "data": await part.read()}  # type: ignore[union-attr]
                else:
                    params[part.name] = await part.text()  # type: ignore[union-attr]
        for key in JSON_FIELDS & params.keys():
            if isinstance(params[key], str):
                try:
                    params[key] = json.loads(params[key])
                except ValueError:
                    raise bad_request(f"can't parse {key} JSON object") from None
        return params

    async def _api(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"].lower()
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        try:
            params = await self._params(request)
            self.calls.append((method, params))
            self._notify()
            fault = self._take_fault(method)
            if fault is not None and fault.kind == "delay":
                await asyncio.sleep(fault.seconds)
            elif fault is not None:
                return await self._fail(request, fault)
            if method == "getupdates":
                result = await self._m_getupdates(params, request.headers.get("User-Agent", ""))
            else:
                result = handler(params)
        except ApiError as exc:
            return web.json_response(exc.body(), status=exc.code)
        self._notify()
        if isinstance(result, Described):
            return web.json_response({"ok": True, "result": result.result, "description": result.description})
        return web.json_response({"ok": True, "result": result})

    def _take_fault(self, method: str) -> Fault | None:
        queue = self.faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.pop(0)
        return fault

    async def _fail(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        if fault.kind == "disconnect":
            assert request.transport is not None
            request.transport.abort()
            return web.Response()  # never written: the connection is gone
        if fault.kind == "bad_gateway":
            return web.Response(status=502, text="<html><body>502 Bad Gateway</body></html>", content_type="text/html")
        if fault.kind == "garbage":  # a broken proxy or server: "ok", but not what the method returns
            return web.json_response({"ok": True, "result": {"unexpected": "shape"}})
        if fault.kind == "flood":
            error = ApiError(429, f"Too Many Requests: retry after {fault.retry_after}", fault.retry_after)
        else:
            error = ApiError(fault.code, fault.description)
        return web.json_response(error.body(), status=error.code)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        path = request.match_info["path"]
        self.calls.append(("download", {"path": path}))
        fault = self._take_fault("download")
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
        elif fault is not None:
            return await self._fail(request, fault)
        for stored in self.files.values():
            if stored.file_path == path:
                return web.Response(body=stored.data, content_type="application/octet-stream")
        return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)

    # ------------------------------------------------------------------ helpers for methods

    def _chat(self, params: dict[str, Any]) -> dict[str, Any]:
        raw = params.get("chat_id")
        if raw in (None, ""):
            raise bad_request("chat_id is empty")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None
        chat = self.chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def _message_id(self, params: dict[str, Any], key: str = "message_id") -> int:
        try:
            return int(params[key])
        except (KeyError, TypeError, ValueError):
            raise bad_request(
                f"{key} is empty" if key not in params else "message identifier is not specified"
            ) from None

    def _formatted(self, params: dict[str, Any], key: str, limit: int) -> tuple[str, list[dict[str, Any]]]:
        text = str(params.get(key, ""))
        entities: list[dict[str, Any]] = []
        mode = str(params.get("parse_mode", ""))
        if mode == "MarkdownV2":
            try:
                text, entities = parse_markdown_v2(text)
            except MarkdownV2Error as exc:
                raise bad_request(f"can't parse entities: {exc}") from None
        elif mode:
            raise bad_request(f"unsupported parse_mode {mode!r} in this fake")
        if len(text.encode("utf-16-le")) // 2 > limit:
            raise bad_request("message is too long" if key == "text" else "message caption is too long")
        return text, entities

    def _new_bot_message(
        self, method: str, chat: dict[str, Any], params: dict[str, Any], **fields: Any
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat["id"]),
            "from": self.bot,
            "chat": chat,
            "date": int(time.time()),
            **fields,
        }
        reply = params.get("reply_parameters")
        if reply is not None:
            target = self.messages.get((chat["id"], int(reply["message_id"])))
            if target is None:
                if not reply.get("allow_sending_without_reply"):
                    raise bad_request("message to be replied not found")
            else:
                message["reply_to_message"] = target
        markup = params.get("reply_markup")
        if markup:
            message["reply_markup"] = markup
        self.messages[(chat["id"], message["message_id"])] = message
        self.sent.append({**message, "method": method})
        return message

    def _upload(self, params: dict[str, Any], key: str) -> tuple[bytes, str]:
        value = params.get(key)
        if isinstance(value, dict):
            return value["data"], value["filename"]
        if isinstance(value, str) and value in self.files:
            return self.files[value].data, "file"
        raise bad_request(f"there is no {key} in the request")

    # ------------------------------------------------------------------ methods

    def _m_getme(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.bot

    def _end_poll(self, description: str) -> None:
        """End the running long poll (if any) with ``409 description``."""
        if self._current_poll is not None:
            poll, terminated = self._current_poll
            poll.ended_by = description
            terminated.set()
            self._notify()

    def _drop_pending(self, params: dict[str, Any]) -> None:
        if str(params.get("drop_pending_updates", "")).lower() == "true":
            self.updates.clear()

    def _m_setwebhook(self, params: dict[str, Any]) -> Described:
        url = str(params.get("url") or "")
        if not url:
            return self._m_deletewebhook(params)
        secret = str(params.get("secret_token") or "")
        if url == self.webhook_url and secret == self.webhook_secret:
            self._drop_pending(params)
            return Described(True, "Webhook is already set")
        parsed = urlsplit(url)
        if parsed.scheme != "https" or not parsed.hostname:
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if (parsed.port or 443) not in WEBHOOK_PORTS:
            raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        if not re.fullmatch(r"[A-Za-z0-9_-]{0,256}", secret):
            raise bad_request("bad webhook: secret token contains unallowed characters")
        self._end_poll(CONFLICT_SET_WEBHOOK)
        self._drop_pending(params)
        self.webhook_url, self.webhook_secret = url, secret
        return Described(True, "Webhook was set")

    def _m_deletewebhook(self, params: dict[str, Any]) -> Described:
        had_webhook = bool(self.webhook_url)
        self.webhook_url = self.webhook_secret = ""
        self._drop_pending(params)
        return Described(True, "Webhook was deleted" if had_webhook else "Webhook is already deleted")

    def _m_getwebhookinfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.webhook_url, "has_custom_certificate": False, "pending_update_count": len(self.updates)}

    def _m_setmycommands(self, params: dict[str, Any]) -> bool:
        self.commands.append({"commands": params.get("commands"), "scope": params.get("scope")})
        return True

    async def _m_getupdates(self, params: dict[str, Any], agent: str = "") -> list[dict[str, Any]]:
        offset = int(params["offset"]) if params.get("offset") not in (None, "") else None
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        allowed = params.get("allowed_updates") or None
        poll = Poll(offset, timeout, agent)
        self.polls.append(poll)
        if self.webhook_url:
            poll.status = 409
            raise ApiError(409, CONFLICT_WEBHOOK)
        self._end_poll(CONFLICT_TERMINATED)  # the older request loses, as on the real server
        terminated = asyncio.Event()
        self._current_poll = (poll, terminated)
        if offset is not None and offset > self.confirmed:
            self.confirmed = offset
            self.updates = [u for u in self.updates if u["update_id"] >= offset]

        def ready() -> list[dict[str, Any]]:
            found = [u for u in self.updates if offset is None or u["update_id"] >= offset]
            if allowed is not None:
                found = [u for u in found if any(kind in u for kind in allowed)]
            return found[:limit]

        deadline = time.monotonic() + timeout
        try:
            async with self._changed:
                while not (found := ready()) and not terminated.is_set():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(remaining):
                            await self._changed.wait()
        finally:
            if self._current_poll is not None and self._current_poll[0] is poll:
                self._current_poll = None
        if terminated.is_set():
            poll.status = 409
            raise ApiError(409, poll.ended_by)
        poll.status = 200
        poll.returned = [u["update_id"] for u in found]
        return found

    def _m_sendmessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        text, entities = self._formatted(params, "text", MAX_TEXT)
        if not text.strip():
            raise bad_request("message text is empty")
        fields: dict[str, Any] = {"text": text}
        if entities:
            fields["entities"] = entities
        return self._new_bot_message("sendMessage", chat, params, **fields)

    def _media_message(self, method: str, key: str, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        data, filename = self._upload(params, key)
        fields: dict[str, Any] = {}
        if params.get("caption"):
            fields["caption"], _ = self._formatted(params, "caption", MAX_CAPTION)
        stored = self.add_file(data, f"{key}s/{filename}")
        if key == "photo":
            if not data.startswith(IMAGE_MAGIC):
                raise bad_request("IMAGE_PROCESS_FAILED")
            if len(data) > 10 * 1024 * 1024:
                raise bad_request("PHOTO_SAVE_FILE_INVALID")
            fields["photo"] = [{**stored.info(), "width": 1, "height": 1}]
        else:
            fields["document"] = {**stored.info(), "file_name": filename}
        message = self._new_bot_message(method, chat, params, **fields)
        message["upload"] = {"filename": filename, "data": data}
        self.sent[-1]["upload"] = message["upload"]
        return {k: v for k, v in message.items() if k != "upload"}

    def _m_sendphoto(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._media_message("sendPhoto", "photo", params)

    def _m_senddocument(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._media_message("sendDocument", "document", params)

    def _m_editmessagetext(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        message_id = self._message_id(params)
        message = self.messages.get((chat["id"], message_id))
        if message is None:
            raise bad_request("message to edit not found")
        if message["from"]["id"] != self.bot["id"]:
            raise bad_request("message can't be edited")
        text, entities = self._formatted(params, "text", MAX_TEXT)
        markup = params.get("reply_markup")
        if (
            text == message.get("text")
            and entities == message.get("entities", [])
            and markup == message.get("reply_markup")
        ):
            raise bad_request(
                "message is not modified: specified new message content and reply markup are exactly the same "
                "as a current content and reply markup of the message"
            )
        message = {**message, "text": text, "edit_date": int(time.time())}
        message.pop("entities", None)
        message.pop("reply_markup", None)
        if entities:
            message["entities"] = entities
        if markup:
            message["reply_markup"] = markup
        self.messages[(chat["id"], message_id)] = message
        self.edits.append(message)
        return message

    def _m_setmessagereaction(self, params: dict[str, Any]) -> bool:
        chat = self._chat(params)
        message_id = self._message_id(params)
        if (chat["id"], message_id) not in self.messages:
            raise bad_request("message to react not found")
        reaction = params.get("reaction") or []
        for item in reaction:
            if item.get("type") != "emoji" or item.get("emoji") not in REACTIONS:
                raise bad_request("REACTION_INVALID")
        self.reactions.append({"chat_id": chat["id"], "message_id": message_id, "reaction": reaction})
        return True

    def _m_sendchataction(self, params: dict[str, Any]) -> bool:
        chat = self._chat(params)
        action = params.get("action")
        if action not in ("typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
                          "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note"):  # fmt: skip
            raise bad_request("wrong parameter action in request")
        self.actions.append({"chat_id": chat["id"], "action": action, "at": time.monotonic()})
        return True

    def _m_answercallbackquery(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._open_callbacks:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        self._open_callbacks.discard(query_id)
        self.callback_answers.append({"callback_query_id": query_id, "text": params.get("text")})
        return True

    def _m_getfile(self, params: dict[str, Any]) -> dict[str, Any]:
        stored = self.files.get(str(params.get("file_id", "")))
        if stored is None:
            raise bad_request("invalid file_id")
        if self.enforce_download_limit and len(stored.data) > BOT_DOWNLOAD_LIMIT:
            raise bad_request("file is too big")
        info = stored.info()
        if not self.report_file_sizes:
            info.pop("file_size")
        return info

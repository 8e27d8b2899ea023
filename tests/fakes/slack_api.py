"""A local Slack for tests: the Web API over HTTP and Socket Mode, with Slack's real shapes and errors.

slack_sdk is pointed at it (``SLACK_API_BASE``) and cannot tell the difference for what the channel
uses (https://docs.slack.dev/reference):

* the Web API under ``/api/<method>``: the token as ``Authorization: Bearer`` (or a ``token``
  parameter), parameters from the query string, a form body or a JSON body; answers
  ``{"ok": true, ...}`` or ``{"ok": false, "error": "<code>"}`` with Slack's codes
  (``invalid_auth``, ``not_authed``, ``token_revoked``, ``not_allowed_token_type``,
  ``channel_not_found``, ``not_in_channel``, ``message_not_found``, ``cant_update_message``,
  ``already_reacted``, ``no_reaction``, ``invalid_name``, ``msg_too_long``, ``no_text``,
  ``file_not_found``, ``user_not_found``, ``missing_scope`` with ``needed``), and a rate limit as
  HTTP 429 with ``Retry-After`` and ``ratelimited``;
* Socket Mode: ``apps.connections.open`` (app-level token only) answers a one-use websocket URL on
  this server; the socket sends ``hello`` (with ``num_connections``), ``events_api`` envelopes
  (``event_callback`` payloads, ``retry_attempt``/``retry_reason``) and ``interactive`` envelopes
  (``block_actions``), expects ``{"envelope_id"}`` acknowledgements, sends an unacknowledged event
  again (a new envelope, the same ``event_id``) after :attr:`FakeSlack.redeliver_after` seconds, up
  to three times, as Slack does, gives each envelope to one open connection chosen at random, and
  sends ``disconnect`` messages (``refresh_requested``, ``warning``, ``link_disabled``);
* files: ``files.getUploadURLExternal`` → a raw upload to the returned URL →
  ``files.completeUploadExternal``; ``files.info``; downloads from ``url_private_download``, which
  need the bot token (without it, a redirect to a sign-in page; without ``files:read``, the page).

The app is subscribed to ``message.im``, ``message.channels``, ``message.groups`` and
``app_mention``, so it also receives its own messages and edits, as a real app does. A test plays
the people through :meth:`FakeSlack.post` and :meth:`FakeSlack.click`, inspects what the app did
(:attr:`FakeSlack.calls`, :meth:`FakeSlack.app_messages`) and injects faults
(:meth:`FakeSlack.rate_limit`, :meth:`FakeSlack.fail`, :meth:`FakeSlack.revoke`,
:meth:`FakeSlack.disconnect`, :meth:`FakeSlack.drop_connections`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import random
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from . import serve_on_loopback

MAX_TEXT = 40_000
TEAM_ID = "T0FAKETEAM"
APP_ID = "A0FAKEAPP"
#: Every scope the channel's manifest asks for (an assistant app also has ``assistant:write``).
SCOPES = frozenset(
    [
        "chat:write",
        "reactions:write",
        "files:read",
        "files:write",
        "im:history",
        "im:read",
        "channels:history",
        "groups:history",
        "app_mentions:read",
        "users:read",
    ]
)
#: Scope each method needs (as Slack checks them for a bot token).
NEEDS = {
    "chat.postMessage": "chat:write", "chat.update": "chat:write", "chat.postEphemeral": "chat:write",
    "reactions.add": "reactions:write", "reactions.remove": "reactions:write", "users.info": "users:read",
    "conversations.info": "im:read", "files.info": "files:read", "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write", "assistant.threads.setStatus": "assistant:write",
}  # fmt: skip
#: Emoji names the fake knows (a small part of Slack's set, plus the workspace's custom ``partyparrot``).
EMOJI = frozenset(
    [
        "+1",
        "-1",
        "thumbsup",
        "thumbsdown",
        "heart",
        "fire",
        "eyes",
        "tada",
        "pray",
        "ok_hand",
        "white_check_mark",
        "x",
        "heavy_check_mark",
        "grin",
        "joy",
        "smile",
        "thinking_face",
        "rocket",
        "star",
        "sparkles",
        "wave",
        "clap",
        "raised_hands",
        "100",
        "trophy",
        "bug",
        "memo",
        "warning",
        "partyparrot",
    ]
)
BOT_TOKEN = "xoxb-1111111111111-2222222222222-FakeBotTokenForTestsOnly"
APP_TOKEN = "xapp-1-A0FAKEAPP-3333333333333-0123456789abcdef0123456789abcdef"


class SlackError(Exception):
    """An error answer in Slack's shape: HTTP 200 with ``ok: false``, unless ``status`` says otherwise."""

    def __init__(self, code: str, *, status: int = 200, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.headers = headers or {}
        self.extra = extra

    def response(self) -> web.Response:
        body = {"ok": False, "error": self.code, **self.extra}
        return web.json_response(body, status=self.status, headers=self.headers)


@dataclass
class Fault:
    """What ``times`` calls of a method get instead of an answer, after ``after`` calls went through."""

    error: SlackError
    times: int
    after: int = 0


@dataclass
class Call:
    """One Web API call the app made."""

    method: str
    params: dict[str, Any]
    token: str | None
    at: float = field(default_factory=time.monotonic)


@dataclass
class Envelope:
    """One Socket Mode envelope as sent, and whether (and on which connection) it was acknowledged."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    retry_attempt: int = 0
    connection: int | None = None
    acked_on: int | None = None

    def wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "envelope_id": self.envelope_id,
            "payload": self.payload,
            "type": self.type,
            "accepts_response_payload": False,
        }
        if self.type == "events_api":
            body["retry_attempt"] = self.retry_attempt
            body["retry_reason"] = "http_timeout" if self.retry_attempt else ""
        return body


class Connection:
    """One open Socket Mode websocket; everything sent to it goes out in order from one writer task."""

    def __init__(self, number: int, ws: web.WebSocketResponse) -> None:
        self.number = number
        self.ws = ws
        self.outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.writer = asyncio.ensure_future(self._write())

    def send(self, message: dict[str, Any]) -> None:
        self.outbox.put_nowait(message)

    def close_soon(self) -> None:
        self.outbox.put_nowait(None)

    async def _write(self) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            while (message := await self.outbox.get()) is not None:
                await self.ws.send_str(json.dumps(message))
            await self.ws.close(code=1000, message=b"bye")


class FakeSlack:
    """One Slack workspace with one app installed, on 127.0.0.1."""

    def __init__(self, *, redeliver_after: float = 3.0, seed: int = 0) -> None:
        self.bot_token = BOT_TOKEN
        self.app_token = APP_TOKEN
        self.redeliver_after = redeliver_after
        self.bot = self._user_payload("U0FAKEBOT", "claude", is_bot=True)
        self.bot_id = "B0FAKEBOT"
        self.users: dict[str, dict[str, Any]] = {self.bot["id"]: self.bot}
        self.conversations: dict[str, dict[str, Any]] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.file_data: dict[str, bytes] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        self.scopes = set(SCOPES)
        self.revoked: set[str] = set()
        self.calls: list[Call] = []
        self.reactions: list[dict[str, Any]] = []  # every reactions.add / reactions.remove that succeeded
        self.ephemerals: list[dict[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []
        self.downloads: list[dict[str, Any]] = []  # every file download request: path, auth header, status
        self.download_delay = 0.0  # seconds a download waits before it is served (a slow file host)
        self.envelopes: dict[str, Envelope] = {}
        self.connections: dict[int, Connection] = {}
        self.connection_log: list[tuple[str, int]] = []  # ("open" | "close", connection number)
        self.faults: dict[str, list[Fault]] = {}
        self._pending: list[Envelope] = []
        self._tickets: set[str] = set()
        self._numbers = itertools.count(1)
        self._ids = itertools.count(1)
        self._last_ts = 0.0
        self._random = random.Random(seed)
        self._timers: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """What ``SLACK_API_BASE`` should be set to."""
        return f"{self.root}/api/"

    async def start(self) -> FakeSlack:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/v1/{upload_id}", self._upload)
        app.router.add_get("/files-pri/{path:.+}", self._download)
        app.router.add_get("/link/", self._link)
        self._runner, self.port = await serve_on_loopback(app, access_log=None, shutdown_timeout=0.1)
        return self

    async def stop(self) -> None:
        for task in self._timers:
            task.cancel()
        for connection in list(self.connections.values()):
            connection.close_soon()
            connection.writer.cancel()
            with contextlib.suppress(Exception):
                await connection.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ test API: people and places

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}0{next(self._ids):08d}"

    def _ts(self) -> str:
        self._last_ts = max(time.time(), self._last_ts + 0.000001)
        return f"{self._last_ts:.6f}"

    @staticmethod
    def _user_payload(
        user_id: str, name: str, *, is_bot: bool = False, display_name: str | None = None
    ) -> dict[str, Any]:
        return {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name,
            "deleted": False,
            "real_name": name.title(),
            "tz": "Europe/Paris",
            "profile": {
                "real_name": name.title(),
                "display_name": name if display_name is None else display_name,
                "real_name_normalized": name.title(),
                "display_name_normalized": name if display_name is None else display_name,
                "team": TEAM_ID,
            },
            "is_admin": False,
            "is_bot": is_bot,
            "updated": 1_700_000_000,
        }

    def user(self, name: str, *, display_name: str | None = None, user_id: str | None = None) -> dict[str, Any]:
        user = self._user_payload(user_id or self._next_id("U"), name, display_name=display_name)
        self.users[user["id"]] = user
        return user

    def dm(self, user: dict[str, Any]) -> dict[str, Any]:
        """The DM conversation between ``user`` and the app (made on first use)."""
        for conversation in self.conversations.values():
            if conversation.get("is_im") and conversation["user"] == user["id"]:
                return conversation
        conversation = {"id": self._next_id("D"), "created": int(time.time()), "is_im": True, "user": user["id"]}
        conversation["members"] = {user["id"], self.bot["id"]}
        self.conversations[conversation["id"]] = conversation
        self.history[conversation["id"]] = []
        return conversation

    def channel(
        self, name: str, *, private: bool = False, members: Iterable[dict[str, Any]] = (), app: bool = True
    ) -> dict[str, Any]:
        """A channel (``app``: the app is a member, so it gets its messages)."""
        ids = {m["id"] for m in members} | ({self.bot["id"]} if app else set())
        conversation = {
            "id": self._next_id("C"),
            "name": name,
            "is_channel": True,
            "is_private": private,
            "is_im": False,
            "created": int(time.time()),
            "members": ids,
        }
        self.conversations[conversation["id"]] = conversation
        self.history[conversation["id"]] = []
        return conversation

    def add_file(self, owner: dict[str, Any], name: str, data: bytes, mimetype: str) -> dict[str, Any]:
        """A file ``owner`` uploaded, not shared anywhere yet (:meth:`post` shares it)."""
        file_id = self._next_id("F")
        filetype = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
        info = {
            "id": file_id,
            "created": int(time.time()),
            "timestamp": int(time.time()),
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": filetype,
            "pretty_type": filetype.upper(),
            "user": owner["id"],
            "user_team": TEAM_ID,
            "editable": False,
            "size": len(data),
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": False,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"{self.root}/files-pri/{TEAM_ID}-{file_id}/{name}",
            "url_private_download": f"{self.root}/files-pri/{TEAM_ID}-{file_id}/download/{name}",
            "permalink": f"https://fake.slack.com/files/{owner['id']}/{file_id}/{name}",
            "channels": [],
            "groups": [],
            "ims": [],
            "comments_count": 0,
            "shares": {},
        }
        self.files[file_id] = info
        self.file_data[file_id] = data
        return info

    def _share(self, info: dict[str, Any], conversation: dict[str, Any], ts: str) -> None:
        kind = "ims" if conversation.get("is_im") else "groups" if conversation.get("is_private") else "channels"
        if conversation["id"] not in info[kind]:
            info[kind].append(conversation["id"])
        where = "private" if kind != "channels" else "public"
        info["shares"].setdefault(where, {}).setdefault(conversation["id"], []).append({"ts": ts})

    # ------------------------------------------------------------------ test API: what people do

    def post(
        self,
        user: dict[str, Any],
        conversation: dict[str, Any],
        text: str,
        *,
        thread_ts: str | None = None,
        files: Iterable[dict[str, Any]] = (),
        **extra: Any,
    ) -> dict[str, Any]:
        """``user`` writes ``text`` (Slack markup, escaped as a client escapes it) in ``conversation``."""
        ts = self._ts()
        message: dict[str, Any] = {
            "type": "message",
            "user": user["id"],
            "text": text,
            "ts": ts,
            "team": TEAM_ID,
            "client_msg_id": secrets.token_hex(8),
            "blocks": [
                {
                    "type": "rich_text",
                    "block_id": secrets.token_hex(3),
                    "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
                }
            ],
        }
        shared = list(files)
        if shared:
            message["subtype"] = "file_share"
            message["upload"] = False
            message["files"] = [copy.deepcopy(f) for f in shared]
            for info in shared:
                self._share(self.files[info["id"]], conversation, ts)
        message.update(extra)
        self._store(conversation, message, thread_ts)
        return message

    def edit(self, message: dict[str, Any], conversation: dict[str, Any], text: str) -> None:
        """The author edits ``message``: the app gets ``message_changed``, as Slack sends it."""
        previous = copy.deepcopy(message)
        message["text"] = text
        message["edited"] = {"user": message["user"], "ts": self._ts()}
        event = {
            "type": "message",
            "subtype": "message_changed",
            "hidden": True,
            "message": copy.deepcopy(message),
            "previous_message": previous,
            "channel": conversation["id"],
            "ts": self._ts(),
            "event_ts": self._ts(),
            "channel_type": self._channel_type(conversation),
        }
        self._emit(event)

    def _store(self, conversation: dict[str, Any], message: dict[str, Any], thread_ts: str | None) -> None:
        if thread_ts is not None:
            parent = self.find(conversation["id"], thread_ts)
            message["thread_ts"] = thread_ts
            message["parent_user_id"] = parent["user"]
            parent["thread_ts"] = thread_ts
            parent["reply_count"] = parent.get("reply_count", 0) + 1
            parent.setdefault("reply_users", [])
            parent["latest_reply"] = message["ts"]
        self.history[conversation["id"]].append(message)
        event = {
            **copy.deepcopy(message),
            "channel": conversation["id"],
            "event_ts": message["ts"],
            "channel_type": self._channel_type(conversation),
        }
        event.pop("reply_count", None)
        self._emit(event)
        mention = f"<@{self.bot['id']}>"
        if (
            not conversation.get("is_im")
            and mention in message.get("text", "")
            and message.get("user") != self.bot["id"]
        ):
            app_mention = {k: v for k, v in event.items() if k not in ("channel_type", "subtype", "upload")}
            app_mention["type"] = "app_mention"
            self._emit(app_mention)

    @staticmethod
    def _channel_type(conversation: dict[str, Any]) -> str:
        return "im" if conversation.get("is_im") else "group" if conversation.get("is_private") else "channel"

    def find(self, channel_id: str, ts: str) -> dict[str, Any]:
        for message in self.history.get(channel_id, []):
            if message["ts"] == ts:
                return message
        raise KeyError(f"no message {ts} in {channel_id}")

    def click(
        self, user: dict[str, Any], conversation: dict[str, Any], message: dict[str, Any], action_id: str
    ) -> None:
        """``user`` presses the button ``action_id`` on ``message`` (any action id, to forge one)."""
        element: dict[str, Any] = {
            "type": "button",
            "action_id": action_id,
            "block_id": "forged",
            "text": {"type": "plain_text", "text": "?", "emoji": True},
            "value": action_id,
        }
        for block in message.get("blocks", []):
            for candidate in block.get("elements", []) if block.get("type") == "actions" else []:
                if candidate.get("action_id") == action_id:
                    element = {**candidate, "block_id": block.get("block_id", "")}
        payload = {
            "type": "block_actions",
            "user": {"id": user["id"], "username": user["name"], "name": user["name"], "team_id": TEAM_ID},
            "api_app_id": APP_ID,
            "token": "fake-verification-token",
            "container": {
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": conversation["id"],
                "is_ephemeral": False,
            },
            "trigger_id": f"{next(self._ids)}.{secrets.token_hex(6)}",
            "team": {"id": TEAM_ID, "domain": "fake"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": conversation["id"], "name": "directmessage" if conversation.get("is_im") else "channel"},
            "message": copy.deepcopy(message),
            "state": {"values": {}},
            "response_url": f"{self.root}/actions/{TEAM_ID}/{secrets.token_hex(8)}",
            "actions": [{**element, "action_ts": self._ts()}],
        }
        self._send_envelope(Envelope(secrets.token_hex(16), "interactive", payload))

    # ------------------------------------------------------------------ test API: faults

    def rate_limit(self, method: str, *, retry_after: int, times: int = 1) -> None:
        error = SlackError("ratelimited", status=429, headers={"Retry-After": str(retry_after)})
        self.faults.setdefault(method, []).append(Fault(error, times))

    def fail(self, method: str, code: str, *, times: int = 1, after: int = 0, **extra: Any) -> None:
        self.faults.setdefault(method, []).append(Fault(SlackError(code, **extra), times, after))

    def revoke(self, token: str) -> None:
        self.revoked.add(token)

    def disconnect(self, reason: str = "refresh_requested", *, grace: float = 0.5) -> None:
        """Send ``disconnect`` on every open connection, and close each ``grace`` seconds later if still open."""
        for connection in list(self.connections.values()):
            connection.send({"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake-1"}})
            self._later(grace, connection.close_soon)

    def drop_connections(self) -> None:
        """Close every open connection without warning (a network blip, a Slack restart)."""
        for connection in list(self.connections.values()):
            connection.close_soon()

    # ------------------------------------------------------------------ test API: looking

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def app_messages(self, conversation: dict[str, Any] | str) -> list[dict[str, Any]]:
        channel_id = conversation if isinstance(conversation, str) else conversation["id"]
        return [m for m in self.history.get(channel_id, []) if m.get("bot_id") == self.bot_id]

    async def wait_until(self, predicate: Callable[[], Any], *, timeout: float = 15.0) -> Any:
        async with asyncio.timeout(timeout), self._changed:
            while not (result := predicate()):
                await self._changed.wait()
            return result

    async def wait_app_message(
        self,
        conversation: dict[str, Any],
        predicate: Callable[[dict[str, Any]], bool] = lambda m: True,
        *,
        start: int = 0,
    ) -> dict[str, Any]:
        """The first message the app posted in ``conversation`` (from index ``start`` of its messages) that fits."""
        return await self.wait_until(
            lambda: next((m for m in self.app_messages(conversation)[start:] if predicate(m)), None)
        )

    def _later(self, delay: float, action: Callable[[], None]) -> None:
        async def run() -> None:
            await asyncio.sleep(delay)
            action()

        task = asyncio.ensure_future(run())
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    def _changed_now(self) -> None:
        async def notify() -> None:
            async with self._changed:
                self._changed.notify_all()

        task = asyncio.ensure_future(notify())
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    # ------------------------------------------------------------------ Socket Mode

    def _emit(self, event: dict[str, Any]) -> None:
        payload = {
            "token": "fake-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{next(self._ids):010d}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": TEAM_ID,
                    "user_id": self.bot["id"],
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{secrets.token_hex(12)}",
        }
        self._send_envelope(Envelope(secrets.token_hex(16), "events_api", payload))

    def _send_envelope(self, envelope: Envelope) -> None:
        self.envelopes[envelope.envelope_id] = envelope
        if not self.connections:
            self._pending.append(envelope)
            return
        connection = self._random.choice(sorted(self.connections.values(), key=lambda c: c.number))
        envelope.connection = connection.number
        connection.send(envelope.wire())
        if envelope.type == "events_api":
            self._later(self.redeliver_after, lambda: self._redeliver(envelope))
        self._changed_now()

    def _redeliver(self, envelope: Envelope) -> None:
        """Slack's retry of an event nobody acknowledged: a new envelope, the same payload."""
        if envelope.retry_attempt >= 3 or self.acknowledged(str(envelope.payload.get("event_id"))):
            return
        retry = Envelope(secrets.token_hex(16), envelope.type, envelope.payload, envelope.retry_attempt + 1)
        self._send_envelope(retry)

    def acknowledged(self, event_id: str) -> bool:
        """Whether some envelope carrying ``event_id`` was acknowledged."""
        return any(e.acked_on is not None and e.payload.get("event_id") == event_id for e in self.envelopes.values())

    def deliveries(self, event_id: str) -> list[Envelope]:
        return [e for e in self.envelopes.values() if e.payload.get("event_id") == event_id and e.connection]

    async def _link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            raise web.HTTPUnauthorized(text="invalid ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        connection = Connection(next(self._numbers), ws)
        self.connections[connection.number] = connection
        self.connection_log.append(("open", connection.number))
        connection.send(
            {
                "type": "hello",
                "num_connections": len(self.connections),
                "debug_info": {"host": "applink-fake-1", "build_number": 1, "approximate_connection_time": 18060},
                "connection_info": {"app_id": APP_ID},
            }
        )
        pending, self._pending = self._pending, []
        for envelope in pending:
            self._send_envelope(envelope)
        self._changed_now()
        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                with contextlib.suppress(ValueError):
                    data = json.loads(frame.data)
                    envelope = self.envelopes.get(data.get("envelope_id", "")) if isinstance(data, dict) else None
                    if envelope is not None and envelope.acked_on is None:
                        envelope.acked_on = connection.number
                        self._changed_now()
        finally:
            self.connections.pop(connection.number, None)
            connection.close_soon()
            self.connection_log.append(("close", connection.number))
            self._changed_now()
        return ws

    # ------------------------------------------------------------------ the Web API

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                params.update(body if isinstance(body, dict) else {})
            else:
                params.update(parse_qsl((await request.read()).decode(), keep_blank_values=True))
        for key in ("blocks", "files", "attachments"):
            if isinstance(params.get(key), str):
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(params[key])
        header = request.headers.get("Authorization", "")
        token = header[len("Bearer ") :] if header.startswith("Bearer ") else params.pop("token", None)
        self.calls.append(Call(method, params, token))
        self._changed_now()
        try:
            self._authorize(method, token)
            faults = self.faults.get(method)
            if faults and faults[0].after > 0:
                faults[0].after -= 1
            elif faults:
                fault = faults[0]
                fault.times -= 1
                if fault.times <= 0:
                    faults.pop(0)
                raise fault.error
            handler = getattr(self, "_" + method.replace(".", "_"), None)
            if handler is None:
                raise SlackError("unknown_method")
            result = handler(params)
        except SlackError as error:
            return error.response()
        return web.json_response({"ok": True, **result})

    def _authorize(self, method: str, token: str | None) -> None:
        if not token:
            raise SlackError("not_authed")
        if token in self.revoked:
            raise SlackError("token_revoked")
        if token not in (self.bot_token, self.app_token):
            raise SlackError("invalid_auth")
        if (method == "apps.connections.open") != (token == self.app_token):
            raise SlackError("not_allowed_token_type")
        needed = NEEDS.get(method)
        if needed is not None and needed not in self.scopes:
            raise SlackError("missing_scope", needed=needed, provided=",".join(sorted(self.scopes)))

    def _conversation(self, channel_id: Any, *, member: bool = True) -> dict[str, Any]:
        conversation = self.conversations.get(str(channel_id))
        if conversation is None:
            raise SlackError("channel_not_found")
        if member and self.bot["id"] not in conversation["members"]:
            raise SlackError("not_in_channel")
        return conversation

    def _target(self, channel: Any) -> dict[str, Any]:
        """A conversation to post to; a member id means their DM with the app."""
        if str(channel) in self.users and str(channel) != self.bot["id"]:
            return self.dm(self.users[str(channel)])
        return self._conversation(channel)

    def _message(self, channel_id: str, ts: Any) -> dict[str, Any]:
        try:
            return self.find(channel_id, str(ts))
        except KeyError:
            raise SlackError("message_not_found") from None

    def _app_message(self, text: str, blocks: Any) -> dict[str, Any]:
        message: dict[str, Any] = {
            "user": self.bot["id"],
            "type": "message",
            "ts": self._ts(),
            "bot_id": self.bot_id,
            "app_id": APP_ID,
            "text": text,
            "team": TEAM_ID,
            "bot_profile": {
                "id": self.bot_id,
                "app_id": APP_ID,
                "name": "claude",
                "deleted": False,
                "team_id": TEAM_ID,
            },
        }
        if blocks:
            message["blocks"] = blocks
        return message

    @staticmethod
    def _text(params: dict[str, Any], *, blocks_allowed: bool = True) -> str:
        text = str(params.get("text") or "")
        if not text.strip() and not (blocks_allowed and params.get("blocks")):
            raise SlackError("no_text")
        if len(text) > MAX_TEXT:
            raise SlackError("msg_too_long")
        return text

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://fake.slack.com/",
            "team": "Fake Workspace",
            "user": self.bot["name"],
            "team_id": TEAM_ID,
            "user_id": self.bot["id"],
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        ticket = secrets.token_hex(16)
        self._tickets.add(ticket)
        return {"url": f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={APP_ID}"}

    def _chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        conversation = self._target(params.get("channel"))
        text = self._text(params)
        message = self._app_message(text, params.get("blocks"))
        thread_ts = params.get("thread_ts") or None
        if thread_ts is not None:
            self._message(conversation["id"], thread_ts)  # Slack answers an unknown thread with an error too
        self._store(conversation, message, thread_ts)
        return {"channel": conversation["id"], "ts": message["ts"], "message": copy.deepcopy(message)}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        conversation = self._conversation(params.get("channel"))
        message = self._message(conversation["id"], params.get("ts"))
        if message.get("bot_id") != self.bot_id:
            raise SlackError("cant_update_message")
        message["text"] = self._text(params)
        if "blocks" in params:
            message["blocks"] = params["blocks"] or []
        message["edited"] = {"user": self.bot["id"], "ts": self._ts()}
        self._changed_now()
        return {
            "channel": conversation["id"],
            "ts": message["ts"],
            "text": message["text"],
            "message": copy.deepcopy(message),
        }

    def _chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        conversation = self._conversation(params.get("channel"))
        if params.get("user") not in conversation["members"]:
            raise SlackError("user_not_in_channel")
        self.ephemerals.append({"channel": conversation["id"], "user": params["user"], "text": self._text(params)})
        return {"message_ts": self._ts()}

    def _reaction(self, params: dict[str, Any]) -> tuple[dict[str, Any], str, dict[str, Any]]:
        conversation = self._conversation(params.get("channel"))
        message = self._message(conversation["id"], params.get("timestamp"))
        name = str(params.get("name") or "")
        if name not in EMOJI:
            raise SlackError("invalid_name")
        return conversation, name, message

    def _reactions_add(self, params: dict[str, Any]) -> dict[str, Any]:
        conversation, name, message = self._reaction(params)
        reactions = message.setdefault("reactions", [])
        entry = next((r for r in reactions if r["name"] == name), None)
        if entry is not None and self.bot["id"] in entry["users"]:
            raise SlackError("already_reacted")
        if entry is None:
            entry = {"name": name, "users": [], "count": 0}
            reactions.append(entry)
        entry["users"].append(self.bot["id"])
        entry["count"] += 1
        self.reactions.append({"action": "add", "channel": conversation["id"], "ts": message["ts"], "name": name})
        return {}

    def _reactions_remove(self, params: dict[str, Any]) -> dict[str, Any]:
        conversation, name, message = self._reaction(params)
        entry = next((r for r in message.get("reactions", []) if r["name"] == name), None)
        if entry is None or self.bot["id"] not in entry["users"]:
            raise SlackError("no_reaction")
        entry["users"].remove(self.bot["id"])
        entry["count"] -= 1
        if not entry["count"]:
            message["reactions"].remove(entry)
        self.reactions.append({"action": "remove", "channel": conversation["id"], "ts": message["ts"], "name": name})
        return {}

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(params.get("user")))
        if user is None:
            raise SlackError("user_not_found")
        return {"user": copy.deepcopy(user)}

    def _conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        conversation = self._conversation(params.get("channel"), member=False)
        return {"channel": {k: v for k, v in conversation.items() if k != "members"}}

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        conversation = self._conversation(params.get("channel"))
        limit = int(params.get("limit") or 100)
        top = [m for m in self.history[conversation["id"]] if m.get("thread_ts") in (None, m["ts"])]
        newest_first = list(reversed(top))
        return {
            "messages": copy.deepcopy(newest_first[:limit]),
            "has_more": len(newest_first) > limit,
            "pin_count": 0,
            "response_metadata": {"next_cursor": ""},
        }

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        conversation = self._conversation(params.get("channel"))
        parent = self._message(conversation["id"], params.get("ts"))
        thread = [parent] + [
            m for m in self.history[conversation["id"]] if m.get("thread_ts") == parent["ts"] and m is not parent
        ]
        limit = int(params.get("limit") or 1000)
        return {"messages": copy.deepcopy(thread[:limit]), "has_more": len(thread) > limit}

    def _files_info(self, params: dict[str, Any]) -> dict[str, Any]:
        info = self.files.get(str(params.get("file")))
        if info is None:
            raise SlackError("file_not_found")
        return {"file": copy.deepcopy(info), "comments": [], "response_metadata": {"next_cursor": ""}}

    def _files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        filename, length = params.get("filename"), params.get("length")
        if not filename or not str(length or "").isdigit():
            raise SlackError("invalid_arguments")
        upload_id = secrets.token_hex(8)
        file_id = self._next_id("F")
        self.uploads[upload_id] = {
            "file_id": file_id,
            "filename": str(filename),
            "length": int(str(length)),
            "data": None,
        }
        return {"upload_url": f"{self.root}/upload/v1/{upload_id}", "file_id": file_id}

    async def _upload(self, request: web.Request) -> web.Response:
        upload = self.uploads.get(request.match_info["upload_id"])
        if upload is None:
            return web.Response(status=404, text="not found")
        data = await request.read()
        if len(data) != upload["length"]:
            return web.Response(status=400, text=f"expected {upload['length']} bytes, got {len(data)}")
        upload["data"] = data
        return web.Response(text=f"OK - {len(data)}")

    def _files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        wanted = params.get("files")
        if not isinstance(wanted, list) or not wanted:
            raise SlackError("invalid_arguments")
        by_file = {u["file_id"]: u for u in self.uploads.values()}
        shared = []
        for item in wanted:
            upload = by_file.get(item.get("id"))
            if upload is None or upload["data"] is None:
                raise SlackError("file_not_found")
            info = self.add_file(self.bot, upload["filename"], upload["data"], "application/octet-stream")
            del self.files[info["id"]], self.file_data[info["id"]]
            info["id"] = upload["file_id"]
            info["title"] = item.get("title") or upload["filename"]
            self.files[info["id"]] = info
            self.file_data[info["id"]] = upload["data"]
            shared.append(info)
        channel = params.get("channel_id")
        if channel:
            conversation = self._conversation(channel)
            message = self._app_message(str(params.get("initial_comment") or ""), None)
            message.update({"subtype": "file_share", "upload": True, "files": copy.deepcopy(shared)})
            for info in shared:
                self._share(info, conversation, message["ts"])
            self._store(conversation, message, params.get("thread_ts") or None)
        return {"files": [{"id": info["id"], "title": info["title"]} for info in shared]}

    def _assistant_threads_setStatus(self, params: dict[str, Any]) -> dict[str, Any]:
        self._conversation(params.get("channel_id"))
        self.statuses.append({k: params.get(k) for k in ("channel_id", "thread_ts", "status")})
        return {}

    async def _download(self, request: web.Request) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        token = header[len("Bearer ") :] if header.startswith("Bearer ") else None
        path = request.match_info["path"]
        record = {"path": path, "token": token, "status": 200}
        self.downloads.append(record)
        self._changed_now()
        if token != self.bot_token or token in self.revoked:
            record["status"] = 302
            raise web.HTTPFound(f"{self.root}/?redir=%2Ffiles-pri%2F{path}")
        if "files:read" not in self.scopes:
            return web.Response(text="<html><body>Sign in to Fake Workspace</body></html>", content_type="text/html")
        await asyncio.sleep(self.download_delay)
        file_id = path.split("/", 1)[0].removeprefix(f"{TEAM_ID}-")
        data = self.file_data.get(file_id)
        if data is None:
            record["status"] = 404
            raise web.HTTPNotFound()
        info = self.files[file_id]
        return web.Response(body=data, content_type=info["mimetype"])

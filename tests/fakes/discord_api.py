"""A local Discord for tests: the REST API (v10) and the gateway, faithful to the documented protocol.

discord.py is pointed at it (``DISCORD_API_BASE``; the gateway URL comes from ``GET /gateway/bot``)
and cannot tell the difference for what a channel uses (https://discord.com/developers/docs):

* REST under ``/api/v10``: ``Authorization: Bot <token>`` on every call (401 otherwise), JSON and
  ``multipart/form-data`` bodies (``payload_json`` + ``files[n]``), error bodies
  ``{"code", "message"}`` with Discord's codes (10003 Unknown Channel, 10008 Unknown Message,
  50005 another user's message, 50006 empty message, 50035 invalid form body, 40005 too large),
  ``X-RateLimit-*`` headers and 429 answers with ``retry_after`` (and ``Via``, which discord.py
  checks to tell a rate limit from a Cloudflare ban);
* the gateway websocket: HELLO, HEARTBEAT/ACK, IDENTIFY → READY + GUILD_CREATE, DISPATCH with
  sequence numbers, RESUME → replay of every missed event + RESUMED, INVALID_SESSION, RECONNECT,
  close codes 4004 (bad token) and 4014 (disallowed intents), ``zlib-stream`` transport
  compression (one deflate stream per connection, each message ending in a ``Z_SYNC_FLUSH``);
* attachment downloads from a CDN stand-in (``/attachments/...``), as the real CDN serves them.

A test plays the users through :meth:`FakeDiscord.post` and :meth:`FakeDiscord.click`, inspects
what the bot did (:attr:`FakeDiscord.calls`, :meth:`FakeDiscord.bot_messages`) and injects faults
(:meth:`FakeDiscord.rate_limit`, :meth:`FakeDiscord.drop_connections`, :meth:`FakeDiscord.reconnect`,
:meth:`FakeDiscord.invalidate_session`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import secrets
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from aiohttp import WSMsgType, web

from . import serve_on_loopback

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000
MAX_CONTENT = 2000
MAX_FILES = 10
MAX_UPLOAD = 25 * 1024 * 1024
HEARTBEAT_INTERVAL_MS = 41_250

# Gateway opcodes (https://discord.com/developers/docs/topics/opcodes-and-status-codes#gateway).
DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE_UPDATE, VOICE_STATE_UPDATE = 0, 1, 2, 3, 4
RESUME, RECONNECT, REQUEST_GUILD_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 6, 7, 8, 9, 10, 11

# Intents (https://discord.com/developers/docs/topics/gateway#gateway-intents).
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15

# Channel types.
GUILD_TEXT, DM, PUBLIC_THREAD = 0, 1, 11


def json_response(payload: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON with Discord's exact ``Content-Type`` (discord.py parses only ``application/json``, no charset)."""
    body = json.dumps(payload).encode()
    return web.Response(body=body, status=status, headers=headers, content_type="application/json")


class ApiError(Exception):
    """An error answer in Discord's shape."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def response(self) -> web.Response:
        return json_response({"code": self.code, "message": self.message}, status=self.status)


def unknown_channel() -> ApiError:
    return ApiError(404, 10003, "Unknown Channel")


def unknown_message() -> ApiError:
    return ApiError(404, 10008, "Unknown Message")


def invalid_form(message: str) -> ApiError:
    return ApiError(400, 50035, f"Invalid Form Body: {message}")


@dataclass
class ApiCall:
    """One REST request the bot made (path without ``/api/v10``)."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[tuple[str, bytes]]
    status: int = 0
    at: float = field(default_factory=time.monotonic)


@dataclass
class RateLimit:
    """Answer the next ``times`` matching requests with 429."""

    method: str
    path: re.Pattern[str]
    retry_after: float
    times: int
    is_global: bool


@dataclass
class Fault:
    """Let ``after`` matching requests through, then fail the next ``times`` with ``error``."""

    method: str
    path: re.Pattern[str]
    error: ApiError
    times: int
    after: int


@dataclass
class Session:
    """A gateway session: its sequence, every event sent in it (for RESUME) and its live connection."""

    session_id: str
    token: str
    intents: int
    seq: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    connection: Connection | None = None


class Connection:
    """One gateway websocket: payloads go out in order through one writer, compressed if asked."""

    def __init__(self, ws: web.WebSocketResponse, compress: str | None) -> None:
        self.ws = ws
        self.deflate = zlib.compressobj() if compress == "zlib-stream" else None
        self.session: Session | None = None
        self.outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.writer = asyncio.get_running_loop().create_task(self._write())

    def send(self, payload: dict[str, Any]) -> None:
        self.outbox.put_nowait(payload)

    async def _write(self) -> None:
        while (payload := await self.outbox.get()) is not None:
            data = json.dumps(payload, separators=(",", ":")).encode()
            with contextlib.suppress(ConnectionError, RuntimeError):
                if self.deflate is not None:
                    await self.ws.send_bytes(self.deflate.compress(data) + self.deflate.flush(zlib.Z_SYNC_FLUSH))
                else:
                    await self.ws.send_str(data.decode())

    async def close(self, code: int, reason: str = "") -> None:
        """Send what is queued, then close with ``code``."""
        self.outbox.put_nowait(None)
        with contextlib.suppress(Exception):
            await self.writer
        await self.ws.close(code=code, message=reason.encode())

    async def abort(self) -> None:
        """Drop the connection at once: what is queued is lost, as on a network failure."""
        self.writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.writer
        await self.ws.close(code=4000, message=b"connection lost")


class FakeDiscord:
    """Discord's REST API and gateway on 127.0.0.1, with a test API to play users and inject faults."""

    def __init__(self, token: str = "MTIz.fake-bot.token", *, bot_name: str = "claude-bot") -> None:
        self.token = token
        self.port = 0
        self._ids = itertools.count()
        self._last_id = 0
        self.app_id = self.snowflake()
        self.bot = self._user_payload(self.app_id, bot_name, bot=True)
        self.users: dict[str, dict[str, Any]] = {self.bot["id"]: self.bot}
        self.guilds: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.files: dict[str, tuple[bytes, str]] = {}
        self.calls: list[ApiCall] = []
        self.interaction_responses: dict[str, list[dict[str, Any]]] = {}
        self.gateway_log: list[tuple[str, Any]] = []
        self.sessions: dict[str, Session] = {}
        self.connections: list[Connection] = []
        self.rate_limits: list[RateLimit] = []
        self.faults: list[Fault] = []
        #: Intents this bot has not been granted (IDENTIFY with one of them is closed with 4014).
        self.disallowed_intents = 0
        #: Close every IDENTIFY with this code and reason (e.g. 4011 "Sharding required").
        self.refuse_identify: tuple[int, str] | None = None
        self._interactions: dict[str, dict[str, Any]] = {}
        self._changed = asyncio.Condition()
        self._notifications: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeDiscord:
        app = web.Application(client_max_size=MAX_FILES * MAX_UPLOAD + 1024 * 1024)
        app.router.add_route("*", API_PREFIX + "/{path:.*}", self._rest)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{channel}/{attachment}/{name}", self._cdn)
        self._runner, self.port = await serve_on_loopback(app)
        return self

    async def close(self) -> None:
        for connection in list(self.connections):
            with contextlib.suppress(Exception):
                await connection.abort()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        """What ``DISCORD_API_BASE`` should be (discord.py appends ``/v10``)."""
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # ------------------------------------------------------------------ the world

    def snowflake(self) -> str:
        """A new id, increasing, whose timestamp part is now (discord.py derives ``created_at`` from it)."""
        candidate = ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (next(self._ids) & 0xFFF)
        self._last_id = max(candidate, self._last_id + 1)
        return str(self._last_id)

    @staticmethod
    def snowflake_time(snowflake: str) -> str:
        """The creation time an id encodes, as JavaScript's ``toISOString()`` writes it."""
        ms = (int(snowflake) >> 22) + DISCORD_EPOCH_MS
        return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"

    @staticmethod
    def _user_payload(user_id: str, name: str, *, bot: bool = False) -> dict[str, Any]:
        user: dict[str, Any] = {
            "id": user_id,
            "username": name,
            "global_name": None if bot else name.title(),
            "discriminator": "0",
            "avatar": None,
            "public_flags": 0,
        }
        if bot:
            user["bot"] = True
        return user

    def add_user(self, name: str, *, bot: bool = False) -> dict[str, Any]:
        user = self._user_payload(self.snowflake(), name, bot=bot)
        self.users[user["id"]] = user
        return user

    def add_guild(self, name: str = "test server") -> dict[str, Any]:
        guild_id = self.snowflake()
        everyone = {
            "id": guild_id,
            "name": "@everyone",
            "permissions": "1071698660929",
            "position": 0,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }
        guild = {
            "id": guild_id,
            "name": name,
            "icon": None,
            "owner_id": self.bot["id"],
            "roles": [everyone],
            "emojis": [],
            "stickers": [],
            "features": [],
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "system_channel_flags": 0,
            "member_count": 1,
            "large": False,
            "unavailable": False,
            "joined_at": self._timestamp(),
            "members": [],
            "channels": [],
            "threads": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }
        self.guilds[guild_id] = guild
        self.add_member(guild, self.bot)
        self._dispatch_live("GUILD_CREATE", guild)
        return guild

    def add_member(self, guild: dict[str, Any], user: dict[str, Any], roles: Iterable[str] = ()) -> dict[str, Any]:
        member = {
            "user": user,
            "roles": list(roles),
            "joined_at": self._timestamp(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
            "avatar": None,
            "pending": False,
        }
        guild["members"] = [m for m in guild["members"] if m["user"]["id"] != user["id"]] + [member]
        guild["member_count"] = len(guild["members"])
        return member

    def add_role(self, guild: dict[str, Any], name: str, members: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
        role = {
            "id": self.snowflake(),
            "name": name,
            "permissions": "0",
            "position": len(guild["roles"]),
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": True,
            "flags": 0,
        }
        guild["roles"].append(role)
        for user in members:
            member = self._member(guild, user)
            roles = member["roles"] if member else []
            self.add_member(guild, user, [*roles, role["id"]])
        return role

    def add_text_channel(self, guild: dict[str, Any], name: str) -> dict[str, Any]:
        channel = {
            "id": self.snowflake(),
            "type": GUILD_TEXT,
            "guild_id": guild["id"],
            "name": name,
            "position": len(guild["channels"]),
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        guild["channels"].append(channel)
        self.channels[channel["id"]] = channel
        self.messages[channel["id"]] = []
        self._dispatch_live("CHANNEL_CREATE", channel)
        return channel

    def add_thread(self, parent: dict[str, Any], name: str, *, announce: bool = True) -> dict[str, Any]:
        """A public thread under ``parent``; ``announce=False`` keeps it out of the bot's cache
        (not in GUILD_CREATE, no THREAD_CREATE), as for a thread the bot has not seen yet."""
        guild = self.guilds[parent["guild_id"]]
        thread = {
            "id": self.snowflake(),
            "type": PUBLIC_THREAD,
            "guild_id": guild["id"],
            "parent_id": parent["id"],
            "owner_id": self.bot["id"],
            "name": name,
            "last_message_id": None,
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
            "flags": 0,
            "total_message_sent": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": self._timestamp(),
                "locked": False,
            },
        }
        self.channels[thread["id"]] = thread
        self.messages[thread["id"]] = []
        if announce:
            guild["threads"].append(thread)
            self._dispatch_live("THREAD_CREATE", {**thread, "newly_created": True})
        return thread

    def dm_channel(self, user: dict[str, Any]) -> dict[str, Any]:
        """The DM channel between ``user`` and the bot (created on first use, as Discord does)."""
        for channel in self.channels.values():
            if channel["type"] == DM and channel["recipients"][0]["id"] == user["id"]:
                return channel
        channel = {"id": self.snowflake(), "type": DM, "last_message_id": None, "recipients": [user], "flags": 0}
        self.channels[channel["id"]] = channel
        self.messages[channel["id"]] = []
        return channel

    def attachment(self, channel: dict[str, Any], name: str, data: bytes, content_type: str | None) -> dict[str, Any]:
        """An uploaded file, served by the CDN stand-in; pass it to :meth:`post`."""
        attachment_id = self.snowflake()
        self.files[attachment_id] = (data, content_type or "application/octet-stream")
        url = f"http://127.0.0.1:{self.port}/attachments/{channel['id']}/{attachment_id}/{name}"
        payload: dict[str, Any] = {
            "id": attachment_id,
            "filename": name,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "flags": 0,
        }
        if content_type is not None:
            payload["content_type"] = content_type
        return payload

    def post(
        self,
        channel: dict[str, Any],
        author: dict[str, Any],
        content: str = "",
        *,
        mentions: Iterable[dict[str, Any]] = (),
        mention_roles: Iterable[dict[str, Any]] = (),
        mention_everyone: bool = False,
        reply_to: dict[str, Any] | None = None,
        ping: bool = True,
        resolved: bool = True,
        attachments: Iterable[dict[str, Any]] = (),
    ) -> dict[str, Any]:
        """A user sends a message: stored, and dispatched as MESSAGE_CREATE to every session.

        A reply pings the replied-to author unless ``ping=False`` (the client's "@ on" toggle);
        ``resolved=False`` leaves out ``referenced_message``, as Discord does when it cannot
        include it, so the bot has to fetch it.
        """
        mentioned = list(mentions)
        if reply_to is not None and ping and reply_to["author"]["id"] not in {u["id"] for u in mentioned}:
            mentioned.append(reply_to["author"])
        message = self._message(channel, author, content, attachments=list(attachments), reply_to=reply_to)
        if not resolved:
            message.pop("referenced_message", None)
        guild = self.guilds.get(channel.get("guild_id", ""))
        message["mentions"] = [self._with_member(guild, u) for u in mentioned]
        message["mention_roles"] = [r["id"] for r in mention_roles]
        message["mention_everyone"] = mention_everyone
        self._store(message)
        return message

    def click(self, message: dict[str, Any], user: dict[str, Any], custom_id: str) -> dict[str, Any]:
        """A user presses a button on ``message``: INTERACTION_CREATE (type 3, component type 2)."""
        channel = self.channels[message["channel_id"]]
        interaction: dict[str, Any] = {
            "id": self.snowflake(),
            "application_id": self.app_id,
            "type": 3,
            "data": {"custom_id": custom_id, "component_type": 2},
            "channel_id": channel["id"],
            "channel": {k: v for k, v in channel.items() if k != "recipients"},
            "token": "interaction-" + secrets.token_hex(16),
            "version": 1,
            "message": message,
            "app_permissions": "1071698660929",
            "locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": channel.get("guild_id", self.bot["id"])},
            "context": 1 if channel["type"] == DM else 0,
            "attachment_size_limit": MAX_UPLOAD,
        }
        guild = self.guilds.get(channel.get("guild_id", ""))
        if guild is not None:
            interaction["guild_id"] = guild["id"]
            interaction["member"] = {**self._with_member(guild, user)["member"], "user": user, "permissions": "0"}
        else:
            interaction["user"] = user
        self._interactions[interaction["id"]] = interaction
        self.dispatch("INTERACTION_CREATE", interaction)
        return interaction

    def _message(
        self,
        channel: dict[str, Any],
        author: dict[str, Any],
        content: str,
        *,
        attachments: list[dict[str, Any]],
        reply_to: dict[str, Any] | None,
        components: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "id": self.snowflake(),
            "channel_id": channel["id"],
            "author": author,
            "content": content,
            "timestamp": self._timestamp(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": attachments,
            "embeds": [],
            "pinned": False,
            "type": 19 if reply_to is not None else 0,
            "flags": 0,
            "components": components or [],
        }
        guild = self.guilds.get(channel.get("guild_id", ""))
        if guild is not None:
            message["guild_id"] = guild["id"]
            member = self._member(guild, author)
            if member is not None:
                message["member"] = {k: v for k, v in member.items() if k != "user"}
        if reply_to is not None:
            message["message_reference"] = {"type": 0, "message_id": reply_to["id"], "channel_id": channel["id"]}
            if guild is not None:
                message["message_reference"]["guild_id"] = guild["id"]
            message["referenced_message"] = reply_to
        return message

    def _store(self, message: dict[str, Any]) -> None:
        self.messages[message["channel_id"]].append(message)
        self.channels[message["channel_id"]]["last_message_id"] = message["id"]
        self.dispatch("MESSAGE_CREATE", message)

    def _member(self, guild: dict[str, Any], user: dict[str, Any]) -> dict[str, Any] | None:
        return next((m for m in guild["members"] if m["user"]["id"] == user["id"]), None)

    def _with_member(self, guild: dict[str, Any] | None, user: dict[str, Any]) -> dict[str, Any]:
        member = self._member(guild, user) if guild is not None else None
        if member is None:
            return user
        return {**user, "member": {k: v for k, v in member.items() if k != "user"}}

    def find_message(self, message_id: str) -> dict[str, Any]:
        for messages in self.messages.values():
            for message in messages:
                if message["id"] == message_id:
                    return message
        raise KeyError(message_id)

    @staticmethod
    def _timestamp() -> str:
        return datetime.now(UTC).isoformat(timespec="microseconds")

    # ------------------------------------------------------------------ inspecting

    def bot_messages(self, channel: dict[str, Any] | str) -> list[dict[str, Any]]:
        channel_id = channel if isinstance(channel, str) else channel["id"]
        return [m for m in self.messages.get(channel_id, []) if m["author"]["id"] == self.bot["id"]]

    def calls_to(self, method: str, pattern: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method and re.fullmatch(pattern, c.path)]

    async def wait_until(self, predicate: Callable[[], Any], *, timeout: float = 15.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked whenever the fake's state changes)."""
        async with asyncio.timeout(timeout), self._changed:
            while not (result := predicate()):
                await self._changed.wait()
            return result

    async def wait_bot_message(
        self, channel: dict[str, Any], predicate: Callable[[dict[str, Any]], bool] = lambda m: True, *, after: int = 0
    ) -> dict[str, Any]:
        """The first message the bot sent in ``channel`` (from index ``after``) matching ``predicate``."""
        return await self.wait_until(
            lambda: next((m for m in self.bot_messages(channel)[after:] if predicate(m)), None)
        )

    async def wait_call(self, method: str, pattern: str, *, count: int = 1) -> ApiCall:
        calls = await self.wait_until(
            lambda: len(self.calls_to(method, pattern)) >= count and self.calls_to(method, pattern)
        )
        return calls[count - 1]  # type: ignore[no-any-return]

    async def wait_gateway(self, kind: str, *, count: int = 1) -> list[Any]:
        """Wait until the gateway has seen ``count`` events of ``kind`` (``identify``, ``resume``, ...)."""
        return await self.wait_until(  # type: ignore[no-any-return]
            lambda: (found := [d for k, d in self.gateway_log if k == kind]) and len(found) >= count and found
        )

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _changed_soon(self) -> None:
        task = asyncio.get_running_loop().create_task(self._notify())
        self._notifications.add(task)
        task.add_done_callback(self._notifications.discard)

    # ------------------------------------------------------------------ faults

    def rate_limit(
        self, method: str, path: str, retry_after: float, *, times: int = 1, is_global: bool = False
    ) -> None:
        """Answer the next ``times`` requests matching ``method`` and the path regex with 429."""
        self.rate_limits.append(RateLimit(method, re.compile(path), retry_after, times, is_global))

    def fail(
        self, method: str, path: str, status: int, code: int, message: str, *, times: int = 1, after: int = 0
    ) -> None:
        """Answer requests matching ``method`` and the path regex with a Discord error, after ``after`` successes."""
        self.faults.append(Fault(method, re.compile(path), ApiError(status, code, message), times, after))

    async def drop_connections(self) -> None:
        """Every gateway connection dies at once (sessions stay resumable, events keep queueing)."""
        for connection in list(self.connections):
            if connection.session is not None:
                connection.session.connection = None
            await connection.abort()

    def reconnect(self) -> None:
        """Ask every client to reconnect (opcode 7), as Discord does before moving a session."""
        for connection in list(self.connections):
            connection.send({"op": RECONNECT, "d": None})

    def invalidate_session(self, *, resumable: bool) -> None:
        """Opcode 9; a non-resumable invalidation forgets the session, so only IDENTIFY works."""
        for connection in list(self.connections):
            session = connection.session
            if session is not None and not resumable:
                self.sessions.pop(session.session_id, None)
                connection.session = None
            connection.send({"op": INVALID_SESSION, "d": resumable})

    # ------------------------------------------------------------------ gateway

    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """An event for every session; a session without a live connection keeps it for RESUME."""
        for session in self.sessions.values():
            if event in ("MESSAGE_CREATE",) and not self._receives(session, data):
                continue
            self._send_event(session, event, data)
        self._changed_soon()

    def _dispatch_live(self, event: str, data: dict[str, Any]) -> None:
        if self.sessions:
            self.dispatch(event, data)

    @staticmethod
    def _receives(session: Session, message: dict[str, Any]) -> bool:
        needed = INTENT_GUILD_MESSAGES if "guild_id" in message else INTENT_DIRECT_MESSAGES
        return bool(session.intents & needed)

    def _send_event(self, session: Session, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        if event == "MESSAGE_CREATE" and not session.intents & INTENT_MESSAGE_CONTENT:
            data = {**data, "content": "", "attachments": [], "embeds": []}
        payload = {"op": DISPATCH, "t": event, "s": session.seq, "d": data}
        session.events.append(payload)
        if session.connection is not None:
            session.connection.send(payload)

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=4096 * 4)
        await ws.prepare(request)
        self.gateway_log.append(("connect", dict(request.query)))
        connection = Connection(ws, request.query.get("compress"))
        self.connections.append(connection)
        connection.send({"op": HELLO, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}})
        try:
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    await connection.close(4002, "Decode error")
                    break
                try:
                    payload = json.loads(frame.data)
                except ValueError:
                    await connection.close(4002, "Decode error")
                    break
                if not await self._gateway_op(connection, payload):
                    break
        finally:
            self.connections.remove(connection)
            if connection.session is not None and connection.session.connection is connection:
                connection.session.connection = None
            connection.outbox.put_nowait(None)
            self.gateway_log.append(("disconnect", ws.close_code))
            self._changed_soon()
        return ws

    async def _gateway_op(self, connection: Connection, payload: dict[str, Any]) -> bool:
        """Handle one client payload; ``False`` once the connection is closed."""
        op, data = payload.get("op"), payload.get("d")
        if op == HEARTBEAT:
            self.gateway_log.append(("heartbeat", data))
            connection.send({"op": HEARTBEAT_ACK})
            return True
        if op == IDENTIFY:
            return await self._identify(connection, data)
        if op == RESUME:
            return await self._resume(connection, data)
        if op in (PRESENCE_UPDATE, VOICE_STATE_UPDATE, REQUEST_GUILD_MEMBERS):
            return True
        await connection.close(4001, "Unknown opcode")
        return False

    async def _identify(self, connection: Connection, data: dict[str, Any]) -> bool:
        if connection.session is not None:
            await connection.close(4005, "Already authenticated")
            return False
        if data.get("token") != self.token:
            self.gateway_log.append(("identify_refused", data.get("intents")))
            await connection.close(4004, "Authentication failed")
            return False
        if self.refuse_identify is not None:
            await connection.close(*self.refuse_identify)
            return False
        intents = int(data.get("intents", 0))
        if intents & self.disallowed_intents:
            await connection.close(4014, "Disallowed intent(s)")
            return False
        session = Session(session_id=secrets.token_hex(16), token=data["token"], intents=intents)
        self.sessions[session.session_id] = session
        session.connection = connection
        connection.session = session
        self.gateway_log.append(("identify", data))
        ready = {
            "v": 10,
            "user": {**self.bot, "verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": g, "unavailable": True} for g in self.guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": self.app_id, "flags": 0},
            "private_channels": [],
            "relationships": [],
        }
        self._send_event(session, "READY", ready)
        if intents & INTENT_GUILDS:
            for guild in self.guilds.values():
                self._send_event(session, "GUILD_CREATE", guild)
        self._changed_soon()
        return True

    async def _resume(self, connection: Connection, data: dict[str, Any]) -> bool:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or data.get("token") != session.token:
            self.gateway_log.append(("resume_refused", data))
            connection.send({"op": INVALID_SESSION, "d": False})
            return True
        if session.connection is not None and session.connection is not connection:
            old = session.connection
            session.connection = None
            await old.abort()
        session.connection = connection
        connection.session = session
        seq = int(data.get("seq") or 0)
        missed = [event for event in session.events if event["s"] > seq]
        self.gateway_log.append(("resume", {"seq": seq, "replayed": [e["t"] for e in missed]}))
        for event in missed:
            connection.send(event)
        self._send_event(session, "RESUMED", {})
        self._changed_soon()
        return True

    # ------------------------------------------------------------------ CDN

    async def _cdn(self, request: web.Request) -> web.Response:
        stored = self.files.get(request.match_info["attachment"])
        if stored is None:
            return web.Response(status=404, text="Not Found")
        data, content_type = stored
        return web.Response(body=data, content_type=content_type)

    # ------------------------------------------------------------------ REST

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        body, files = await self._body(request)
        call = ApiCall(request.method, path, dict(request.query), body, files)
        self.calls.append(call)
        try:
            self._fault(request.method, path)
            response = self._limited(request.method, path) or await self._route(request, path, body, files, call)
        except ApiError as exc:
            response = exc.response()
        call.status = response.status
        self._changed_soon()
        return response

    async def _body(self, request: web.Request) -> tuple[Any, list[tuple[str, bytes]]]:
        if request.content_type == "multipart/form-data":
            payload: Any = None
            files: list[tuple[str, bytes]] = []
            reader = await request.multipart()
            async for part in reader:
                data = await part.read()  # type: ignore[union-attr]
                if part.name == "payload_json":  # type: ignore[union-attr]
                    payload = json.loads(data)
                else:
                    files.append((part.filename or "", bytes(data)))  # type: ignore[union-attr]
            return payload, files
        raw = await request.read()
        return (json.loads(raw) if raw else None), []

    def _fault(self, method: str, path: str) -> None:
        for fault in self.faults:
            if fault.times > 0 and fault.method == method and fault.path.fullmatch(path):
                if fault.after > 0:
                    fault.after -= 1
                    continue
                fault.times -= 1
                raise fault.error

    def _limited(self, method: str, path: str) -> web.Response | None:
        for rule in self.rate_limits:
            if rule.times > 0 and rule.method == method and rule.path.fullmatch(path):
                rule.times -= 1
                headers = {
                    "Via": "1.1 google",
                    "Retry-After": str(max(1, round(rule.retry_after))),
                    "X-RateLimit-Limit": "5",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": f"{time.time() + rule.retry_after:.3f}",
                    "X-RateLimit-Reset-After": f"{rule.retry_after:.3f}",
                    "X-RateLimit-Bucket": "fake-bucket",
                    "X-RateLimit-Scope": "global" if rule.is_global else "user",
                }
                if rule.is_global:
                    headers["X-RateLimit-Global"] = "true"
                body = {
                    "message": "You are being rate limited.",
                    "retry_after": rule.retry_after,
                    "global": rule.is_global,
                    "code": 0,
                }
                return json_response(body, status=429, headers=headers)
        return None

    async def _route(
        self, request: web.Request, path: str, body: Any, files: list[tuple[str, bytes]], call: ApiCall
    ) -> web.Response:
        method = request.method
        if path.startswith("/interactions/"):
            return self._interaction_callback(path, body, request.query)
        if request.headers.get("Authorization") != f"Bot {self.token}":
            return json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        routes: list[tuple[str, str, Callable[..., web.Response]]] = [
            ("GET", r"/users/@me", lambda: self._json(self.bot)),
            ("GET", r"/oauth2/applications/@me", self._application),
            ("GET", r"/gateway/bot", self._gateway_bot),
            ("GET", r"/gateway", lambda: self._json({"url": self.gateway_url})),
            ("GET", r"/users/(\d+)", self._get_user),
            ("POST", r"/users/@me/channels", lambda: self._open_dm(body)),
            ("GET", r"/channels/(\d+)", self._get_channel),
            ("POST", r"/channels/(\d+)/typing", lambda c: self._typing(c)),
            ("GET", r"/channels/(\d+)/messages", lambda c: self._history(c, request.query)),
            ("POST", r"/channels/(\d+)/messages", lambda c: self._create_message(c, body, files)),
            ("GET", r"/channels/(\d+)/messages/(\d+)", self._get_message),
            ("PATCH", r"/channels/(\d+)/messages/(\d+)", lambda c, m: self._edit_message(c, m, body)),
            ("PUT", r"/channels/(\d+)/messages/(\d+)/reactions/([^/]+)/@me", self._react),
        ]
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match and route_method == method:
                return handler(*match.groups())
        return json_response({"message": "404: Not Found", "code": 0}, status=404)

    @staticmethod
    def _json(payload: Any, status: int = 200) -> web.Response:
        headers = {
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "4",
            "X-RateLimit-Reset-After": "1.000",
            "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
            "X-RateLimit-Bucket": "fake-bucket",
        }
        return json_response(payload, status=status, headers=headers)

    def _application(self) -> web.Response:
        owner = self._user_payload(self.snowflake(), "owner")
        return self._json(
            {
                "id": self.app_id,
                "name": self.bot["username"],
                "icon": None,
                "description": "",
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": owner,
                "verify_key": "0" * 64,
                "flags": 0,
                "team": None,
                "summary": "",
            }
        )

    def _gateway_bot(self) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 86_400_000, "max_concurrency": 1}
        return self._json({"url": self.gateway_url, "shards": 1, "session_start_limit": limit})

    def _get_user(self, user_id: str) -> web.Response:
        user = self.users.get(user_id)
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return self._json(user)

    def _open_dm(self, body: Any) -> web.Response:
        user = self.users.get(str((body or {}).get("recipient_id")))
        if user is None or user.get("bot"):
            raise invalid_form("recipient_id: unknown user")
        return self._json(self.dm_channel(user))

    def _channel(self, channel_id: str) -> dict[str, Any]:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise unknown_channel()
        return channel

    def _get_channel(self, channel_id: str) -> web.Response:
        return self._json(self._channel(channel_id))

    def _typing(self, channel_id: str) -> web.Response:
        self._channel(channel_id)
        return web.Response(status=204)

    def _history(self, channel_id: str, query: Any) -> web.Response:
        self._channel(channel_id)
        limit = int(query.get("limit", 50))
        if not 1 <= limit <= 100:
            raise invalid_form("limit: must be between 1 and 100")
        messages = self.messages[channel_id]
        if "before" in query:
            messages = [m for m in messages if int(m["id"]) < int(query["before"])]
        if "after" in query:
            messages = [m for m in messages if int(m["id"]) > int(query["after"])]
        newest_first = list(reversed(messages))[:limit]
        return self._json(newest_first)

    def _stored_message(self, channel_id: str, message_id: str) -> dict[str, Any]:
        self._channel(channel_id)
        for message in self.messages[channel_id]:
            if message["id"] == message_id:
                return message
        raise unknown_message()

    def _get_message(self, channel_id: str, message_id: str) -> web.Response:
        return self._json(self._stored_message(channel_id, message_id))

    def _create_message(self, channel_id: str, body: Any, files: list[tuple[str, bytes]]) -> web.Response:
        channel = self._channel(channel_id)
        body = body or {}
        content = body.get("content") or ""
        if len(content) > MAX_CONTENT:
            raise invalid_form(f"content: Must be {MAX_CONTENT} or fewer in length.")
        if len(files) > MAX_FILES:
            raise invalid_form(f"files: Must be {MAX_FILES} or fewer in length.")
        if any(len(data) > MAX_UPLOAD for _, data in files):
            raise ApiError(413, 40005, "Request entity too large")
        if not content and not files and not body.get("embeds") and not body.get("components"):
            raise ApiError(400, 50006, "Cannot send an empty message")
        reply_to = None
        reference = body.get("message_reference")
        if reference:
            try:
                reply_to = self.find_message(str(reference["message_id"]))
            except KeyError:
                if reference.get("fail_if_not_exists", True):
                    raise invalid_form("message_reference: Unknown message") from None
        attachments = [self.attachment(channel, name, data, _guess_type(name)) for name, data in files]
        message = self._message(
            channel, self.bot, content, attachments=attachments, reply_to=reply_to, components=body.get("components")
        )
        self._store(message)
        return self._json(message)

    def _edit_message(self, channel_id: str, message_id: str, body: Any) -> web.Response:
        stored = self._stored_message(channel_id, message_id)
        if stored["author"]["id"] != self.bot["id"]:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        body = body or {}
        if "content" in body:
            if len(body["content"] or "") > MAX_CONTENT:
                raise invalid_form(f"content: Must be {MAX_CONTENT} or fewer in length.")
            stored["content"] = body["content"] or ""
        if "components" in body:
            stored["components"] = body["components"] or []
        stored["edited_timestamp"] = self._timestamp()
        self.dispatch("MESSAGE_UPDATE", stored)
        return self._json(stored)

    def _react(self, channel_id: str, message_id: str, emoji: str) -> web.Response:
        stored = self._stored_message(channel_id, message_id)
        name = unquote(emoji)
        custom = re.fullmatch(r"(?:a?:)?(\w{2,32}):(\d+)", name)
        if custom is None and (not name or name.isascii()):
            raise ApiError(400, 10014, "Unknown Emoji")
        key = {"id": custom.group(2), "name": custom.group(1)} if custom else {"id": None, "name": name}
        reactions = stored.setdefault("reactions", [])
        for reaction in reactions:
            if reaction["emoji"] == key:
                reaction["me"] = True
                break
        else:
            reactions.append({"count": 1, "me": True, "emoji": key})
        return web.Response(status=204)

    def _interaction_callback(self, path: str, body: Any, query: Any) -> web.Response:
        match = re.fullmatch(r"/interactions/(\d+)/([^/]+)/callback", path)
        interaction = self._interactions.get(match.group(1)) if match else None
        if interaction is None or match is None or interaction["token"] != match.group(2):
            raise ApiError(404, 10062, "Unknown interaction")
        answered = self.interaction_responses.setdefault(interaction["id"], [])
        if answered:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        answered.append(body)
        kind, data = body.get("type"), body.get("data") or {}
        message = interaction["message"]
        resource: dict[str, Any] = {"type": kind}
        if kind == 7:  # UPDATE_MESSAGE: the component's message is edited in place
            stored = self.find_message(message["id"])
            if "content" in data:
                stored["content"] = data["content"] or ""
            if "components" in data:
                stored["components"] = data["components"] or []
            stored["edited_timestamp"] = self._timestamp()
            resource["message"] = stored
        elif kind == 4:  # CHANNEL_MESSAGE_WITH_SOURCE (ephemeral when flags & 64)
            channel = self.channels[interaction["channel_id"]]
            reply = self._message(channel, self.bot, data.get("content", ""), attachments=[], reply_to=None)
            reply["flags"] = data.get("flags", 0)
            resource["message"] = reply
        else:
            raise invalid_form(f"type: unsupported interaction response type {kind}")
        if not query.get("with_response"):
            return web.Response(status=204)
        return self._json(
            {
                "interaction": {
                    "id": interaction["id"],
                    "type": 3,
                    "response_message_loading": False,
                    "response_message_ephemeral": bool(data.get("flags", 0) & 64),
                },
                "resource": resource,
            }
        )


def _guess_type(name: str) -> str | None:
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return {
        "png": "image/png",
        "jpg": "image/jpeg",
        "jpeg": "image/jpeg",
        "txt": "text/plain; charset=utf-8",
        "pdf": "application/pdf",
    }.get(suffix)

"""The tools Claude answers with: ``reply``, ``react``, ``edit_message``, ``download_attachment``,
``fetch_messages`` (declared in :mod:`._declared`).

Every tool passes the outbound gate first: a conversation the inbound gate could deliver from
(an allowlisted member's DM, or an opted-in channel), and a file only when it was shared in one.
Arguments are checked before anything is sent; Slack's refusals come back as tool errors in words.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Final, ParamSpec

import aiohttp
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from ...access import Access, AccessStore
from ...errors import ToolError
from ...messaging import ChatBridge, partial_failure, sent_summary
from ...outbound import assert_chat_allowed, check_files
from . import FACTS, MAX_MESSAGE, MESSAGE_LIMIT
from ._directory import DirectMessages, Recent, UserNames
from ._emoji import reaction_name
from ._files import MAX_FILE_BYTES, MAX_FILES, Files, check_file_id
from ._inbound import Identity, is_ts, ts_to_iso
from ._markup import mentioned_user_ids, plain_text
from ._mrkdwn import outgoing_texts, to_slack
from ._web import describe

HISTORY_DEFAULT: Final = 20
HISTORY_MAX: Final = 100
#: A thread is read whole (Slack returns it oldest first), up to this many messages, to show its end.
THREAD_READ: Final = 1000
_CONVERSATION: Final = re.compile(r"[CDGUW][A-Z0-9]{2,}")
PLATFORM_ERRORS: Final = (SlackClientError, aiohttp.ClientError, TimeoutError)

P = ParamSpec("P")


def check_conversation(value: str, name: str = "chat_id") -> str:
    if not _CONVERSATION.fullmatch(value):
        raise ToolError(f"{name} must be a Slack conversation id like C0123ABCDEF or D0123ABCDEF, not {value!r}")
    return value


def check_ts(value: str, name: str) -> str:
    if not is_ts(value):
        raise ToolError(
            f"{name} must be a Slack message ts like 1712345678.123456 (from the inbound meta), not {value!r}"
        )
    return value


def slack_errors(tool: Callable[P, Awaitable[str]]) -> Callable[P, Awaitable[str]]:
    """Slack's refusals and network failures as tool errors, in words, never with the token."""

    @functools.wraps(tool)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> str:
        try:
            return await tool(*args, **kwargs)
        except PLATFORM_ERRORS as error:
            owner = args[0]
            raise ToolError(describe(error, owner.token if isinstance(owner, SlackTools) else "")) from None

    return wrapper


class SlackTools:
    """The tool handlers, bound to one bot token and access store."""

    def __init__(
        self,
        web: AsyncWebClient,
        store: AccessStore,
        bridge: ChatBridge,
        dms: DirectMessages,
        names: UserNames,
        files: Files,
        identity: Identity,
        threads: Recent[tuple[str, str]],
        token: str,
    ) -> None:
        self.web = web
        self.store = store
        self.bridge = bridge
        self.dms = dms
        self.names = names
        self.files = files
        self.identity = identity
        self.threads = threads
        self.token = token

    async def _allowed(self, chat_id: str) -> Access:
        """The access file, once ``chat_id`` is known to be a conversation the gate could deliver from."""
        check_conversation(chat_id)
        access = self.store.load()
        owner = await self.dms.owner(chat_id)
        extra = [chat_id] if owner is not None and owner in access.allow_from else []
        assert_chat_allowed(access, chat_id, channel=FACTS.name, extra_allowed=extra)
        return access

    @slack_errors
    async def reply(
        self,
        chat_id: str,
        text: str,
        thread_ts: str | None = None,
        files: list[str] | None = None,
        format: str = "markdown",
    ) -> str:
        access = await self._allowed(chat_id)
        paths = check_files(files or [], state_dir=self.store.state_dir, max_bytes=MAX_FILE_BYTES)
        if len(paths) > MAX_FILES:
            raise ToolError(f"at most {MAX_FILES} files per reply")
        if thread_ts is not None:
            check_ts(thread_ts, "thread_ts")
        if text.strip():
            pieces = outgoing_texts(text, format, access.chunk_limit(MESSAGE_LIMIT), access.chunk_mode)
        elif paths:
            pieces = []
        else:
            raise ToolError("nothing to send: text is empty and there are no files")
        # A member id posts to their DM with the app; files need the DM itself.
        conversation = self.dms.conversation_of(chat_id) if chat_id.startswith(("U", "W")) else chat_id
        if paths and not pieces and conversation is None:
            raise ToolError(f"to send files to {chat_id}, use the chat_id of a message from them (D...)")
        sent: list[str] = []
        try:
            for piece in pieces:
                answer = await self.web.chat_postMessage(
                    channel=chat_id, text=piece, thread_ts=thread_ts, mrkdwn=format != "text"
                )
                sent.append(str(answer["ts"]))
                conversation = str(answer.get("channel") or conversation or chat_id)
            if paths:
                assert conversation is not None
                sent.extend(await self.files.upload(paths, conversation, thread_ts))
        except (*PLATFORM_ERRORS, OSError) as error:
            raise ToolError(partial_failure(len(sent), len(pieces) + len(paths), describe(error, self.token))) from None
        finally:
            for replied_in in {chat_id, conversation or chat_id}:
                self.bridge.replied(replied_in)
        if thread_ts is not None:
            self.threads.add((conversation or chat_id, thread_ts))
        return sent_summary(sent)

    @slack_errors
    async def react(self, chat_id: str, message_id: str, emoji: str) -> str:
        await self._allowed(chat_id)
        check_ts(message_id, "message_id")
        name = reaction_name(emoji)
        if name is None:
            raise ToolError(f"{emoji!r} has no Slack name here: give the emoji's Slack name instead, e.g. :tada:")
        await self.web.reactions_add(channel=chat_id, timestamp=message_id, name=name)
        return "reacted"

    @slack_errors
    async def edit_message(self, chat_id: str, message_id: str, text: str, format: str = "markdown") -> str:
        await self._allowed(chat_id)
        check_ts(message_id, "message_id")
        if not text.strip():
            raise ToolError("text is empty: Slack keeps no empty message")
        body = to_slack(text, format)
        if len(body) > MAX_MESSAGE:
            raise ToolError(f"text is {len(body)} characters; a Slack message holds at most {MAX_MESSAGE}")
        answer = await self.web.chat_update(channel=chat_id, ts=message_id, text=body)
        return f"edited (id: {answer.get('ts') or message_id})"

    @slack_errors
    async def download_attachment(self, file_id: str) -> str:
        info = await self.files.info(check_file_id(file_id))
        await self._check_shared(info)
        return str(await self.files.save(info))

    async def _check_shared(self, info: Mapping[str, Any]) -> None:
        """Refuse a file not shared in a conversation the gate could deliver from (a file in a channel
        that is not opted in must not leak out through a prompt-injected tool call)."""
        access = self.store.load()
        for conversation in _shared_in(info):
            if conversation in access.groups:
                return
            owner = await self.dms.owner(conversation)
            if owner is not None and owner in access.allow_from:
                return
        raise ToolError(
            f"file {info.get('id')} was not shared in a conversation this channel reads "
            f"(an allowlisted DM or an opted-in channel) — add via /{FACTS.name}:access"
        )

    @slack_errors
    async def fetch_messages(self, channel: str, limit: int = HISTORY_DEFAULT, thread_ts: str | None = None) -> str:
        await self._allowed(channel)
        count = min(int(limit), HISTORY_MAX)
        if thread_ts is not None:
            check_ts(thread_ts, "thread_ts")
            answer = await self.web.conversations_replies(channel=channel, ts=thread_ts, limit=THREAD_READ)
            oldest_first = _messages(answer.get("messages"))[-count:]
        else:
            answer = await self.web.conversations_history(channel=channel, limit=count)
            oldest_first = list(reversed(_messages(answer.get("messages"))))
        if not oldest_first:
            return "(no messages)"
        people = [m["user"] for m in oldest_first if isinstance(m.get("user"), str)]
        mentioned = [user for m in oldest_first for user in mentioned_user_ids(str(m.get("text") or ""))]
        names = await self.names.names([*people, *mentioned])
        return "\n".join(self._history_line(message, names) for message in oldest_first)

    def _history_line(self, message: Mapping[str, Any], names: Mapping[str, str]) -> str:
        user = message.get("user")
        mine = user == self.identity.user_id or (
            message.get("bot_id") and message.get("bot_id") == self.identity.bot_id
        )
        who = "me" if mine else names.get(str(user)) or str(message.get("username") or user or "unknown")
        text = re.sub(r"[\r\n]+", " ⏎ ", plain_text(str(message.get("text") or ""), names))  # no forged rows
        files = message.get("files")
        extras = f" +{len(files)}file" if isinstance(files, list) and files else ""
        replies = message.get("reply_count")
        if isinstance(replies, int) and replies:
            extras += f", thread: {replies} replies"
        return f"[{ts_to_iso(str(message['ts']))}] {who}: {text}  (id: {message['ts']}{extras})"


def _messages(value: object) -> list[dict[str, Any]]:
    return [m for m in value if isinstance(m, dict) and is_ts(m.get("ts"))] if isinstance(value, list) else []


def _shared_in(info: Mapping[str, Any]) -> Iterable[str]:
    """Every conversation a file was shared in, as ``files.info`` lists them."""
    for key in ("channels", "groups", "ims"):
        value = info.get(key)
        if isinstance(value, list):
            yield from (c for c in value if isinstance(c, str))
    shares = info.get("shares")
    if isinstance(shares, dict):
        for where in shares.values():
            if isinstance(where, dict):
                yield from where

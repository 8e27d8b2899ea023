"""The Discord tools: reply, react, edit_message, download_attachment, fetch_messages (official §3.6)."""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final, ParamSpec

import discord

from ...access import AccessStore
from ...errors import ToolError
from ...messaging import ChatBridge, partial_failure, reply_targets, sent_summary
from ...outbound import INBOX_DIR, MB, check_files
from ...state import atomic_write
from ...text import chunk, iso_timestamp, saved_file_name, text_length
from . import LENGTH_UNITS, MESSAGE_LIMIT
from ._inbound import RecentlySent, attachment_name, kilobytes
from ._targets import ChannelGate, snowflake

MAX_FILES: Final = 10
MAX_FILE_BYTES: Final = 25 * MB
HISTORY_DEFAULT: Final = 20
HISTORY_MAX: Final = 100

P = ParamSpec("P")


def discord_errors(tool: Callable[P, Awaitable[str]]) -> Callable[P, Awaitable[str]]:
    """Report Discord's refusals (unknown message, missing access, ...) to the model as tool errors."""

    @functools.wraps(tool)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> str:
        try:
            return await tool(*args, **kwargs)
        except discord.DiscordException as exc:
            raise ToolError(str(exc)) from None

    return wrapper


def _history_line(message: discord.Message, bot_id: int | None) -> str:
    who = "me" if message.author.id == bot_id else message.author.name
    text = re.sub(r"[\r\n]+", " ⏎ ", message.content)  # one line per message: no forged rows
    attachments = f" +{len(message.attachments)}att" if message.attachments else ""
    return f"[{iso_timestamp(message.created_at)}] {who}: {text}  (id: {message.id}{attachments})"


def _megabytes(size: int) -> str:
    """``size`` in MB with one decimal, rounded half up like JavaScript's ``toFixed(1)``."""
    tenths = (size * 10 + MB // 2) // MB
    return f"{tenths // 10}.{tenths % 10}"


def _too_large(size: int) -> ToolError:
    return ToolError(f"attachment too large: {_megabytes(size)}MB, max {MAX_FILE_BYTES // MB}MB")


class DiscordTools:
    """The tool handlers (declared in :mod:`._declared`); every one passes the outbound gate first."""

    def __init__(
        self,
        client: discord.Client,
        store: AccessStore,
        gate: ChannelGate,
        bridge: ChatBridge,
        sent: RecentlySent,
        state_dir: Path,
    ) -> None:
        self.client = client
        self.store = store
        self.gate = gate
        self.bridge = bridge
        self.sent = sent
        self.state_dir = state_dir

    @discord_errors
    async def reply(self, chat_id: str, text: str, reply_to: str | None = None, files: list[str] | None = None) -> str:
        channel = await self.gate.allowed(chat_id)
        paths = check_files(files or [], state_dir=self.state_dir, max_bytes=MAX_FILE_BYTES)
        if len(paths) > MAX_FILES:
            raise ToolError(f"Discord allows max {MAX_FILES} attachments per message")
        if reply_to is not None:
            snowflake(reply_to, "reply_to")
        if not text.strip():
            if not paths:
                raise ToolError("nothing to send: text is empty and there are no files")
            text = ""  # blank text with files: send just the files (Discord refuses blank content)
        access = self.store.load()
        pieces = chunk(text, access.chunk_limit(MESSAGE_LIMIT), access.chunk_mode, units=LENGTH_UNITS)
        targets = reply_targets(access.reply_to_mode, reply_to, len(pieces))
        sent: list[str] = []
        try:
            for index, (piece, target) in enumerate(zip(pieces, targets, strict=True)):
                extra: dict[str, Any] = {}
                if target is not None:
                    extra["reference"] = discord.MessageReference(
                        message_id=int(target), channel_id=channel.id, fail_if_not_exists=False
                    )
                if index == 0 and paths:
                    extra["files"] = [discord.File(path) for path in paths]
                message = await channel.send(piece or None, **extra)
                self.sent.add(str(message.id))
                sent.append(str(message.id))
        except (discord.DiscordException, OSError) as exc:
            raise ToolError(partial_failure(len(sent), len(pieces), exc)) from None
        finally:
            self.bridge.replied(chat_id)
        return sent_summary(sent)

    @discord_errors
    async def react(self, chat_id: str, message_id: str, emoji: str) -> str:
        channel = await self.gate.allowed(chat_id)
        target = self.client.get_partial_messageable(channel.id).get_partial_message(snowflake(message_id, "message"))
        await target.add_reaction(emoji)
        return "reacted"

    @discord_errors
    async def edit_message(self, chat_id: str, message_id: str, text: str) -> str:
        channel = await self.gate.allowed(chat_id)
        length = text_length(text, LENGTH_UNITS)
        if length > MESSAGE_LIMIT:
            raise ToolError(f"text is {length} characters; a Discord message holds at most {MESSAGE_LIMIT}")
        target = self.client.get_partial_messageable(channel.id).get_partial_message(snowflake(message_id, "message"))
        edited = await target.edit(content=text)
        return f"edited (id: {edited.id})"

    @discord_errors
    async def download_attachment(self, chat_id: str, message_id: str) -> str:
        channel = await self.gate.allowed(chat_id)
        message = await channel.fetch_message(snowflake(message_id, "message"))
        if not message.attachments:
            return "message has no attachments"
        for attachment in message.attachments:  # refuse before writing anything
            if attachment.size > MAX_FILE_BYTES:
                raise _too_large(attachment.size)
        inbox = self.state_dir / INBOX_DIR
        inbox.mkdir(parents=True, exist_ok=True)
        lines = []
        for attachment in message.attachments:
            data = await attachment.read()
            if len(data) > MAX_FILE_BYTES:
                raise _too_large(len(data))
            path = inbox / saved_file_name(str(attachment.id), attachment.filename or "")
            await asyncio.to_thread(atomic_write, path, data)  # up to 25 MB: not on the event loop
            kind = attachment.content_type or "unknown"
            lines.append(f"  {path}  ({attachment_name(attachment)}, {kind}, {kilobytes(attachment.size)}KB)")
        return f"downloaded {len(lines)} attachment(s):\n" + "\n".join(lines)

    @discord_errors
    async def fetch_messages(self, channel: str, limit: int = HISTORY_DEFAULT) -> str:
        target = await self.gate.allowed(channel)
        newest_first = [m async for m in target.history(limit=min(int(limit), HISTORY_MAX))]
        if not newest_first:
            return "(no messages)"
        bot_id = self.client.user.id if self.client.user is not None else None
        return "\n".join(_history_line(m, bot_id) for m in reversed(newest_first))

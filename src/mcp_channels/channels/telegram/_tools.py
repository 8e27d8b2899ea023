"""The tools Claude answers with: ``reply``, ``react``, ``edit_message``, ``download_attachment``.

Behaviour, errors and result strings are the official server's (``docs/parity.md`` §2.6),
with these additions: ``format: "markdown"`` (ordinary Markdown converted for Telegram, sent as
plain text if Telegram cannot parse the conversion), flood control waited out instead of failing,
a missing ``reply_to`` target not failing the reply, an image Telegram will not take as a photo
sent as a document instead, and ids checked before anything is sent.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import aiohttp
from telegram import Bot, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from ...access import Access, AccessStore
from ...channel import Channel
from ...errors import ToolError
from ...messaging import ChatBridge, partial_failure, reply_targets, sent_summary
from ...outbound import assert_chat_allowed, check_files
from ...text import chunk
from . import LENGTH_UNITS, MESSAGE_LIMIT
from ._bot import flood_safe, reaction, redact
from ._declared import REACTION_EXAMPLES
from ._markdown import markdown_chunks, to_markdown_v2
from ._media import MAX_UPLOAD, Downloads, is_photo


def parse_message_id(value: str, name: str = "message_id") -> int:
    """A message id from a tool argument; a clear error instead of a confusing Telegram one."""
    try:
        number = int(value.strip())
    except ValueError:
        raise ToolError(f"{name} must be a Telegram message id (a number), not {value!r}") from None
    if number <= 0:
        raise ToolError(f"{name} must be a positive message id, not {value!r}")
    return number


T = TypeVar("T")
#: What the tool result adds when Telegram could not parse the Markdown converted for a message.
PLAIN_FALLBACK_NOTE = "Telegram could not parse the converted Markdown, so {count} went as plain text"


@dataclass(frozen=True)
class OutgoingText:
    """One message's text as sent, and what to send instead if Telegram cannot parse its markup."""

    body: str
    parse_mode: str | None = None
    plain: str | None = None  # for ``format: "markdown"``: the Markdown as Claude wrote it


def outgoing_texts(text: str, fmt: str, limit: int, mode: str) -> list[OutgoingText]:
    """The messages to send for ``text`` in ``fmt``, each within ``limit``."""
    if fmt == "markdown":
        return [OutgoingText(v2, ParseMode.MARKDOWN_V2, piece) for piece, v2 in markdown_chunks(text, limit, mode)]
    parse_mode = ParseMode.MARKDOWN_V2 if fmt == "markdownv2" else None
    return [OutgoingText(piece, parse_mode) for piece in chunk(text, limit, mode, units=LENGTH_UNITS)]


def is_parse_error(error: BadRequest) -> bool:
    """Whether Telegram refused a message's markup (``400 Bad Request: can't parse entities: ...``)."""
    return "can't parse entities" in error.message.lower()


def with_plain_note(result: str, fallbacks: int) -> str:
    if not fallbacks:
        return result
    count = "the message" if fallbacks == 1 else f"{fallbacks} messages"
    return f"{result}; {PLAIN_FALLBACK_NOTE.format(count=count)}"


class TelegramTools:
    """The tools, bound to one bot and access store (declared in :mod:`._declared`)."""

    def __init__(
        self, channel: Channel, bot: Bot, store: AccessStore, bridge: ChatBridge, downloads: Downloads
    ) -> None:
        self.channel = channel
        self.bot = bot
        self.store = store
        self.bridge = bridge
        self.downloads = downloads

    @contextlib.contextmanager
    def _platform_errors(self) -> Iterator[None]:
        """Telegram and network errors as tool errors, never with the token in them."""
        try:
            yield
        except TelegramError as error:
            raise ToolError(redact(error.message, self.bot.token)) from None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ToolError(redact(str(error) or type(error).__name__, self.bot.token)) from None

    def _allowed(self, chat_id: str) -> Access:
        """The access file, once the chat is known to be one the gate could deliver from."""
        access = self.store.load()
        assert_chat_allowed(access, chat_id, channel=self.store.channel)
        return access

    async def reply(
        self, chat_id: str, text: str, reply_to: str | None = None, files: list[str] | None = None, format: str = "text"
    ) -> str:
        access = self._allowed(chat_id)
        paths = check_files(files or [], state_dir=self.store.state_dir, max_bytes=MAX_UPLOAD)
        quoted = parse_message_id(reply_to, "reply_to") if reply_to is not None else None
        if text.strip():
            pieces = outgoing_texts(text, format, access.chunk_limit(MESSAGE_LIMIT), access.chunk_mode)
        elif paths:
            pieces = []
        else:
            raise ToolError("nothing to send: text is empty and there are no files")
        targets = reply_targets(access.reply_to_mode, str(quoted) if quoted else None, len(pieces))
        file_target = quoted if access.reply_to_mode != "off" else None
        total = len(pieces) + len(paths)
        ids: list[str] = []
        fallbacks = 0
        try:
            for piece, target in zip(pieces, targets, strict=True):
                send = functools.partial(self.bot.send_message, chat_id, reply_parameters=_quote(target))
                sent, plain = await self._send_formatted(piece, send)
                ids.append(str(sent.message_id))
                fallbacks += plain
            for path in paths:
                sent = await self._send_file(chat_id, path, file_target)
                ids.append(str(sent.message_id))
        except (TelegramError, OSError) as error:
            detail = error.message if isinstance(error, TelegramError) else str(error)
            raise ToolError(partial_failure(len(ids), total, redact(detail, self.bot.token))) from None
        finally:
            self.bridge.replied(chat_id)
        return with_plain_note(sent_summary(ids), fallbacks)

    async def _send_formatted(self, text: OutgoingText, send: Callable[..., Awaitable[T]]) -> tuple[T, bool]:
        """``send(body, parse_mode=...)`` for ``text``, and whether it went as plain text.

        Markdown converted by this server should always parse; if Telegram still refuses it
        (``can't parse entities``), the message goes as the Markdown Claude wrote, unformatted,
        rather than failing the reply. MarkdownV2 written by Claude (``format: "markdownv2"``)
        is not second-guessed: its error goes back, for Claude to fix.
        """
        try:
            return await flood_safe(lambda: send(text.body, parse_mode=text.parse_mode)), False
        except BadRequest as error:
            if text.plain is None or not is_parse_error(error):
                raise
            self.channel.log.warning(
                "Telegram could not parse the Markdown converted for a message (%s); sending it as plain text",
                redact(error.message, self.bot.token),
            )
            plain = text.plain
            return await flood_safe(lambda: send(plain, parse_mode=None)), True

    async def _send_file(self, chat_id: str, path: Path, quoted: int | None) -> Message:
        """An image as a photo (inline preview), anything else, or an image Telegram refuses, as a document."""
        if is_photo(path):
            try:
                return await flood_safe(
                    functools.partial(self.bot.send_photo, chat_id, path, reply_parameters=_quote(quoted))
                )
            except BadRequest as error:
                self.channel.log.info("Telegram refused %s as a photo (%s); sending it as a document", path.name, error)
        return await flood_safe(
            functools.partial(self.bot.send_document, chat_id, path, reply_parameters=_quote(quoted))
        )

    async def react(self, chat_id: str, message_id: str, emoji: str) -> str:
        self._allowed(chat_id)
        number = parse_message_id(message_id)
        canonical = reaction(emoji)
        if canonical is None:
            raise ToolError(
                f"{emoji!r} is not a Telegram reaction; bots can only use Telegram's fixed set, e.g. {REACTION_EXAMPLES}"
            )
        with self._platform_errors():
            await flood_safe(functools.partial(self.bot.set_message_reaction, chat_id, number, reaction=canonical))
        return "reacted"

    async def edit_message(self, chat_id: str, message_id: str, text: str, format: str = "text") -> str:
        self._allowed(chat_id)
        number = parse_message_id(message_id)
        if format == "markdown":
            outgoing = OutgoingText(to_markdown_v2(text), ParseMode.MARKDOWN_V2, text)
        else:
            outgoing = OutgoingText(text, None if format == "text" else ParseMode.MARKDOWN_V2)
        edit = functools.partial(self.bot.edit_message_text, chat_id=chat_id, message_id=number)
        with self._platform_errors():
            edited, plain = await self._send_formatted(outgoing, edit)
        return with_plain_note(f"edited (id: {edited.message_id if isinstance(edited, Message) else number})", plain)

    async def download_attachment(self, file_id: str) -> str:
        with self._platform_errors():
            return str(await self.downloads.fetch(file_id))


def _quote(target: str | int | None) -> ReplyParameters | None:
    """Thread under ``target``; if that message is gone, the reply is still sent, unthreaded."""
    return ReplyParameters(int(target), allow_sending_without_reply=True) if target is not None else None

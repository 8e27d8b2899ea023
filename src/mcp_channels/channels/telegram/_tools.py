"""The tools Claude answers with: ``reply``, ``react``, ``edit_message``, ``download_attachment``.

Behaviour, errors and result strings are the official server's (``official-plugins.md`` §2.6),
with these additions: ``format: "markdown"`` (ordinary Markdown converted for Telegram), flood
control waited out instead of failing, a missing ``reply_to`` target not failing the reply, an
image Telegram will not take as a photo sent as a document instead, and ids checked before
anything is sent.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import aiohttp
from telegram import Bot, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from ..._schema import object_schema, string
from ...access import Access, AccessStore
from ...messaging import (
    REACT_SCHEMA,
    REPLY_TO_HINT,
    ChatBridge,
    edit_schema,
    partial_failure,
    reply_schema,
    reply_targets,
    sent_summary,
)
from ...outbound import assert_chat_allowed, check_files
from ...server import ChannelServer, ToolError
from ...text import chunk
from ._bot import MESSAGE_LIMIT, REACTION_EXAMPLES, flood_safe, reaction, redact
from ._markdown import markdown_chunks, to_markdown_v2
from ._media import MAX_UPLOAD, Downloads, is_photo

FORMATS: Final = ("text", "markdown", "markdownv2")

FORMAT_SCHEMA: Final = string(
    "'text' (default) sends the text as typed. 'markdown' converts ordinary Markdown (**bold**, "
    "*italic*, `code`, ``` blocks, [links](url), # headings, lists) to Telegram formatting. "
    "'markdownv2' passes Telegram MarkdownV2 through unchanged: you must escape _*[]()~`>#+-=|{}.! yourself.",
    enum=list(FORMATS),
    default="text",
)


def parse_message_id(value: str, name: str = "message_id") -> int:
    """A message id from a tool argument; a clear error instead of a confusing Telegram one."""
    try:
        number = int(value.strip())
    except ValueError:
        raise ToolError(f"{name} must be a Telegram message id (a number), not {value!r}") from None
    if number <= 0:
        raise ToolError(f"{name} must be a positive message id, not {value!r}")
    return number


def formatted_chunks(text: str, fmt: str, limit: int, mode: str) -> tuple[list[str], str | None]:
    """The pieces to send and their ``parse_mode``."""
    if fmt == "markdown":
        return markdown_chunks(text, limit, mode), ParseMode.MARKDOWN_V2
    return chunk(text, limit, mode, units="utf16"), ParseMode.MARKDOWN_V2 if fmt == "markdownv2" else None


class TelegramTools:
    """The tools, bound to one bot and access store; :meth:`register` declares them on the channel."""

    def __init__(
        self, channel: ChannelServer, bot: Bot, store: AccessStore, bridge: ChatBridge, downloads: Downloads
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
            pieces, parse_mode = formatted_chunks(text, format, access.chunk_limit(MESSAGE_LIMIT), access.chunk_mode)
        elif paths:
            pieces, parse_mode = [], None
        else:
            raise ToolError("nothing to send: text is empty and there are no files")
        targets = reply_targets(access.reply_to_mode, str(quoted) if quoted else None, len(pieces))
        file_target = quoted if access.reply_to_mode != "off" else None
        total = len(pieces) + len(paths)
        ids: list[str] = []
        try:
            for piece, target in zip(pieces, targets, strict=True):
                sent = await flood_safe(
                    functools.partial(
                        self.bot.send_message, chat_id, piece, parse_mode=parse_mode, reply_parameters=_quote(target)
                    )
                )
                ids.append(str(sent.message_id))
            for path in paths:
                sent = await self._send_file(chat_id, path, file_target)
                ids.append(str(sent.message_id))
        except (TelegramError, OSError) as error:
            detail = error.message if isinstance(error, TelegramError) else str(error)
            raise ToolError(partial_failure(len(ids), total, redact(detail, self.bot.token))) from None
        finally:
            self.bridge.replied(chat_id)
        return sent_summary(ids)

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
        parse_mode = None if format == "text" else ParseMode.MARKDOWN_V2
        body = to_markdown_v2(text) if format == "markdown" else text
        with self._platform_errors():
            edited = await flood_safe(
                functools.partial(
                    self.bot.edit_message_text, body, chat_id=chat_id, message_id=number, parse_mode=parse_mode
                )
            )
        return f"edited (id: {edited.message_id if isinstance(edited, Message) else number})"

    async def download_attachment(self, file_id: str) -> str:
        with self._platform_errors():
            return str(await self.downloads.fetch(file_id))

    def register(self) -> None:
        channel = self.channel
        channel.tool(
            name="reply",
            description=(
                "Reply on Telegram. Pass chat_id from the inbound message. Optionally pass reply_to (message_id) "
                "for threading, and files (absolute paths) to attach images or other files. Long texts are split "
                "into several messages."
            ),
            input_schema=reply_schema(
                reply_to=REPLY_TO_HINT,
                files=(
                    "Absolute file paths to attach. Images send as photos (inline preview); other types as "
                    "documents. Max 50MB each."
                ),
                format=FORMAT_SCHEMA,
            ),
        )(self.reply)
        channel.tool(
            name="react",
            description=(
                "Add an emoji reaction to a Telegram message. Telegram only accepts a fixed set of reaction emoji "
                f"({REACTION_EXAMPLES} ...); others are refused."
            ),
            input_schema=REACT_SCHEMA,
        )(self.react)
        channel.tool(
            name="edit_message",
            description=(
                "Edit a message the bot sent earlier. Useful for interim progress updates. Edits don't trigger push "
                "notifications — send a new reply when a long task completes so the user's device pings."
            ),
            input_schema=edit_schema(format=FORMAT_SCHEMA),
        )(self.edit_message)
        channel.tool(
            name="download_attachment",
            description=(
                "Download a file attachment from a Telegram message to the local inbox. Use when the inbound "
                "<channel> meta shows attachment_file_id. Returns the local file path ready to Read. Telegram caps "
                "bot downloads at 20MB."
            ),
            input_schema=object_schema({"file_id": string("The attachment_file_id from inbound meta")}),
        )(self.download_attachment)


def _quote(target: str | int | None) -> ReplyParameters | None:
    """Thread under ``target``; if that message is gone, the reply is still sent, unthreaded."""
    return ReplyParameters(int(target), allow_sending_without_reply=True) if target is not None else None

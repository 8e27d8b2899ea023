"""Incoming updates: bot commands, chat messages and permission button presses.

Messages go through the shared path (:class:`~mcp_channels.messaging.ChatBridge`: gate, pairing
replies, ``yes abcde`` verdicts, typing, acknowledgement, delivery); this module only says what a
Telegram message is: DM or group, mentioned or not, which text, which attachment.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Final

from telegram import CallbackQuery, Message, MessageEntity, Update, User
from telegram.constants import ChatType, MessageEntityType

from ...access import AccessStore, InboundMessage, epoch_ms
from ...messaging import ChatBridge, Incoming, parse_permission_button
from ...text import iso_timestamp
from . import LENGTH_UNITS, MESSAGE_LIMIT
from ._bot import permission_keyboard, redact
from ._media import Described, Downloads, describe

START_TEXT: Final = (
    "This bot bridges Telegram to a Claude Code session.\n\n"
    "To pair:\n"
    "1. DM me anything — you'll get a 6-char code\n"
    "2. In Claude Code: /telegram:access pair <code>\n\n"
    "After that, DMs here reach that session."
)
HELP_TEXT: Final = (
    "Messages you send here route to a paired Claude Code session. "
    "Text and photos are forwarded; replies and reactions come back.\n\n"
    "/start — pairing instructions\n"
    "/status — check your pairing state"
)
NOT_PAIRED_TEXT: Final = "Not paired. Send me a message to get a pairing code."
#: The command menu, registered for private chats only.
COMMANDS: Final = (
    ("start", "Welcome and setup guide"),
    ("help", "What this bot can do"),
    ("status", "Check your pairing status"),
)
_COMMAND: Final = re.compile(r"^/(start|help|status)(?:@(\w+))?(?:\s|$)", re.IGNORECASE)


def command_in(text: str | None, bot_username: str) -> str | None:
    """``start``/``help``/``status`` when ``text`` is that command (for this bot), else ``None``."""
    match = _COMMAND.match(text or "")
    if match is None or (match.group(2) and match.group(2).lower() != bot_username.lower()):
        return None
    return match.group(1).lower()


def entity_text(text: str, entity: MessageEntity) -> str:
    """The part of ``text`` an entity covers; offsets and lengths count UTF-16 code units."""
    units = text.encode("utf-16-le", "surrogatepass")
    return units[entity.offset * 2 : (entity.offset + entity.length) * 2].decode("utf-16-le", "replace")


def is_mentioned(message: Message, bot: User) -> bool:
    """An ``@bot`` mention, a text mention of the bot, or a reply to one of its messages.

    The bot is recognised by id where Telegram gives one (usernames can change).
    """
    text = message.text if message.text is not None else message.caption or ""
    entities = message.entities if message.text is not None else message.caption_entities
    handle = f"@{bot.username}".lower() if bot.username else None
    for entity in entities:
        if entity.type == MessageEntityType.MENTION and entity_text(text, entity).lower() == handle:
            return True
        if entity.type == MessageEntityType.TEXT_MENTION and entity.user is not None and entity.user.id == bot.id:
            return True
    replied = message.reply_to_message
    return replied is not None and replied.from_user is not None and replied.from_user.id == bot.id


class Inbound:
    """Handles one update at a time. Platform errors are dealt with here (logged, or the message
    goes through without what failed), so an exception escaping :meth:`handle` is a defect."""

    def __init__(self, bridge: ChatBridge, store: AccessStore, downloads: Downloads, log: logging.Logger) -> None:
        self.bridge = bridge
        self.store = store
        self.downloads = downloads
        self.log = log
        self.bot_user: User | None = None  # set once getMe has answered

    async def handle(self, update: Update) -> None:
        if update.callback_query is not None:
            await self._button(update.callback_query)
        elif update.message is not None:
            await self._message(update.message)

    # ------------------------------------------------------------------ messages

    async def _message(self, message: Message) -> None:
        sender = message.from_user
        bot_user = self.bot_user
        if sender is None or bot_user is None:
            return
        command = command_in(message.text, bot_user.username or "")
        if command is not None:
            await self._command(message, sender, command)
            return
        chat = message.chat
        if chat.type == ChatType.PRIVATE:
            is_dm = True
        elif chat.type in (ChatType.GROUP, ChatType.SUPERGROUP):
            is_dm = False
        else:
            return
        described = describe(message)
        if described is None:
            return
        incoming = Incoming(
            message=InboundMessage(
                sender_id=str(sender.id),
                chat_id=str(chat.id),
                is_dm=is_dm,
                text=message.text or message.caption or "",
                mentioned=not is_dm and is_mentioned(message, bot_user),
            ),
            message_id=str(message.message_id),
            content=described.content,
            meta=self._meta(message, sender, described),
        )
        photo = described.photo_file_id
        await self.bridge.receive(incoming, enrich=(lambda: self._photo(photo)) if photo else None)

    def _meta(self, message: Message, sender: User, described: Described) -> dict[str, str]:
        return {
            "chat_id": str(message.chat.id),
            "message_id": str(message.message_id),
            "user": sender.username or str(sender.id),
            "user_id": str(sender.id),
            "ts": iso_timestamp(message.date),
            **described.attachment,
        }

    async def _photo(self, file_id: str) -> Mapping[str, str]:
        try:
            path = await self.downloads.fetch(file_id)
        except Exception as error:  # the message still goes through, without the picture
            self.log.warning("photo download failed: %s", redact(str(error), self.downloads.bot.token))
            return {}
        return {"image_path": str(path)}

    # ------------------------------------------------------------------ commands

    async def _command(self, message: Message, sender: User, command: str) -> None:
        """``/start``, ``/help``, ``/status``: DMs only, for whoever the DM policy lets talk."""
        if message.chat.type != ChatType.PRIVATE:
            return
        access = self.store.load()
        sender_id = str(sender.id)
        if access.dm_policy == "disabled":
            return
        if access.dm_policy == "allowlist" and sender_id not in access.allow_from:
            return
        if command == "start":
            text = START_TEXT
        elif command == "help":
            text = HELP_TEXT
        elif sender_id in access.allow_from:
            text = f"Paired as @{sender.username}." if sender.username else f"Paired as {sender_id}."
        else:
            now = epoch_ms()
            code = next(
                (c for c, p in access.pending.items() if p.sender_id == sender_id and p.expires_at >= now), None
            )
            text = (
                f"Pending pairing — run in Claude Code:\n\n/{self.store.channel}:access pair {code}"
                if code
                else NOT_PAIRED_TEXT
            )
        try:
            await self.bridge.platform.send_text(sender_id, text)
        except Exception as error:
            self.log.warning("/%s reply failed: %s", command, error)

    # ------------------------------------------------------------------ permission buttons

    async def _button(self, query: CallbackQuery) -> None:
        prompt = query.message if isinstance(query.message, Message) else None
        answer = self.bridge.press_permission_button(
            str(query.from_user.id),
            query.data or "",
            (prompt.text or "") if prompt else "",
            limit=MESSAGE_LIMIT,
            units=LENGTH_UNITS,
        )
        try:
            await query.answer(answer.toast if answer else None)
        except Exception as error:
            self.log.warning("answering a button press failed: %s", error)
        if answer is None or answer.text is None or prompt is None:
            return
        parsed = parse_permission_button(query.data or "")
        markup = permission_keyboard(parsed[1], details=False) if answer.keep_verdict_buttons and parsed else None
        try:
            await prompt.edit_text(answer.text, reply_markup=markup)
        except Exception as error:
            self.log.warning("updating the permission prompt failed: %s", error)

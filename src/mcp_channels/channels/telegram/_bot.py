"""python-telegram-bot glue: the Bot pointed at the right server, flood control, the shared-path calls.

``TELEGRAM_API_BASE`` points the bot at another Bot API server than ``https://api.telegram.org``
(a self-hosted ``telegram-bot-api``, or the tests' fake): method calls go to
``<base>/bot<token>/<method>`` and file downloads to ``<base>/file/bot<token>/<path>``.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import warnings
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ChatAction, ReactionEmoji
from telegram.error import RetryAfter
from telegram.request import HTTPXRequest

#: Telegram shows "typing…" for about 5 s after each sendChatAction.
TYPING_REFRESH: Final = 4.0
#: Longest flood-control wait an outbound call sits through before giving up with the error.
MAX_FLOOD_WAIT: Final = 30.0
FLOOD_ATTEMPTS: Final = 3
_VARIATION_SELECTOR: Final = "\ufe0f"
#: Telegram's fixed reaction set, keyed without variation selectors ("❤️" and "❤" are one emoji).
REACTIONS: Final = {emoji.value.replace(_VARIATION_SELECTOR, ""): emoji.value for emoji in ReactionEmoji}
#: The shared path marks permission verdicts with ✅/❌, which Telegram does not offer as reactions.
SUBSTITUTES: Final = {"✅": "👍", "❌": "👎"}

T = TypeVar("T")


def make_bot(token: str, api_base: str) -> Bot:
    """A Bot on ``api_base``; long polls get their own connection so sends never queue behind one."""
    base = api_base.rstrip("/")
    # httpx logs every request URL at INFO, and the URL holds the token.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # The Bot logs its base URLs, which hold the token, at DEBUG while it is made.
    bot_log = logging.getLogger("telegram.Bot")
    level = bot_log.level
    bot_log.setLevel(max(level, logging.INFO))
    try:
        return Bot(
            token,
            base_url=f"{base}/bot",
            base_file_url=f"{base}/file/bot",
            request=HTTPXRequest(
                connection_pool_size=8, read_timeout=30.0, write_timeout=30.0, media_write_timeout=120.0
            ),
            get_updates_request=HTTPXRequest(connection_pool_size=2, read_timeout=10.0, connect_timeout=10.0),
        )
    finally:
        bot_log.setLevel(level)


def redact(text: str, token: str) -> str:
    """``text`` without the token (some library errors quote it; logs and tool results must not)."""
    return text.replace(token, "<token>") if token else text


def retry_after_seconds(error: RetryAfter) -> float:
    """The wait Telegram asked for, whichever type this library version reports it as."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, datetime.timedelta) else float(value)


async def flood_safe(call: Callable[[], Awaitable[T]]) -> T:
    """Run an outbound call, sitting out Telegram's flood control (429 ``retry_after``).

    Retrying is safe because a 429 means the request was not carried out. A wait longer than
    :data:`MAX_FLOOD_WAIT` is not worth blocking a tool call for: the error goes back instead.
    """
    for attempt in range(1, FLOOD_ATTEMPTS + 1):
        try:
            return await call()
        except RetryAfter as error:
            wait = retry_after_seconds(error)
            if wait > MAX_FLOOD_WAIT or attempt == FLOOD_ATTEMPTS:
                raise
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")


def reaction(emoji: str) -> str | None:
    """``emoji`` as Telegram spells it in its reaction set, or ``None`` when bots cannot react with it."""
    return REACTIONS.get(emoji.strip().replace(_VARIATION_SELECTOR, ""))


def permission_keyboard(request_id: str, *, details: bool) -> InlineKeyboardMarkup:
    """See more / ✅ Allow / ❌ Deny (the payloads of ``messaging.PERMISSION_BUTTON_RE``)."""
    row = [
        InlineKeyboardButton("✅ Allow", callback_data=f"perm:allow:{request_id}"),
        InlineKeyboardButton("❌ Deny", callback_data=f"perm:deny:{request_id}"),
    ]
    if details:
        row.insert(0, InlineKeyboardButton("See more", callback_data=f"perm:more:{request_id}"))
    return InlineKeyboardMarkup([row])


class TelegramPlatform:
    """The calls :class:`~mcp_channels.messaging.ChatBridge` makes (``ChatPlatform``)."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send_text(self, chat_id: str, text: str, *, quote: str | None = None) -> None:
        # ``quote`` is not used: the official Telegram server answers pairing plainly too.
        await flood_safe(lambda: self.bot.send_message(chat_id, text))

    async def react(self, chat_id: str, message_id: str, emoji: str) -> None:
        emoji = SUBSTITUTES.get(emoji, emoji)
        await self.bot.set_message_reaction(chat_id, int(message_id), reaction=reaction(emoji) or emoji)

    async def send_typing(self, chat_id: str) -> None:
        await self.bot.send_chat_action(chat_id, ChatAction.TYPING)

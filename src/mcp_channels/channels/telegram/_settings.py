"""The Telegram channel's settings: the bot token, and which Bot API server it talks to."""

from __future__ import annotations

from typing import ClassVar

from ...settings import BotSettings
from . import FACTS, TOKEN


class TelegramSettings(BotSettings):
    """``TELEGRAM_BOT_TOKEN`` (or the state ``.env``), ``TELEGRAM_API_BASE``, ``TELEGRAM_STATE_DIR``.

    ``TELEGRAM_API_BASE`` points the bot at another Bot API server (a self-hosted
    ``telegram-bot-api``, or the tests' fake).
    """

    CHANNEL: ClassVar[str] = FACTS.name
    TOKEN_VARIABLE: ClassVar[str] = TOKEN.variable
    TOKEN_EXAMPLE: ClassVar[str] = TOKEN.example
    API_VARIABLE: ClassVar[str] = "TELEGRAM_API_BASE"
    DEFAULT_API_BASE: ClassVar[str] = "https://api.telegram.org"


__all__ = ["TelegramSettings"]

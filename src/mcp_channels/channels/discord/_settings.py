"""The Discord channel's settings: the bot token and where the Discord API is."""

from __future__ import annotations

from typing import ClassVar, Final

from ...settings import BotSettings
from . import FACTS, TOKEN

#: The version of Discord's REST API discord.py speaks (it adds ``/v10`` to the base).
API_VERSION: Final = 10


class DiscordSettings(BotSettings):
    """``DISCORD_BOT_TOKEN`` (or the state ``.env``), ``DISCORD_API_BASE``, ``DISCORD_STATE_DIR``.

    ``DISCORD_API_BASE`` moves the REST API (without the version), and the gateway follows because
    its address comes from ``GET /gateway/bot``.
    """

    CHANNEL: ClassVar[str] = FACTS.name
    TOKEN_VARIABLE: ClassVar[str] = TOKEN.variable
    TOKEN_EXAMPLE: ClassVar[str] = TOKEN.example
    API_VARIABLE: ClassVar[str] = "DISCORD_API_BASE"
    DEFAULT_API_BASE: ClassVar[str] = "https://discord.com/api"


__all__ = ["API_VERSION", "DiscordSettings"]

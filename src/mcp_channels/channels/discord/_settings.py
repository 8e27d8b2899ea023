"""The Discord channel's settings: the bot token and where the Discord API is."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ...settings import environ_or_os, required_credential, url_setting
from ...state import state_dir
from . import FACTS, TOKEN

NAME: Final = FACTS.name
#: Discord's REST API without the version; discord.py adds ``/v10``.
DEFAULT_API_BASE: Final = "https://discord.com/api"
API_VERSION: Final = 10


@dataclass(frozen=True)
class DiscordSettings:
    """Read once at start; anything missing or malformed stops the server with a message naming it.

    ``DISCORD_API_BASE`` exists for tests and proxies: it moves the REST API, and the gateway
    follows because its address comes from ``GET /gateway/bot``.
    """

    token: str
    api_base: str
    state_dir: Path

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> DiscordSettings:
        env = environ_or_os(environ)
        directory = state_dir(NAME, env)
        return cls(
            token=required_credential(TOKEN.variable, TOKEN.example, directory, env),
            api_base=url_setting(env, "DISCORD_API_BASE", DEFAULT_API_BASE),
            state_dir=directory,
        )

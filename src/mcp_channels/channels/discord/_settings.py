"""The Discord channel's settings: the bot token and where the Discord API is."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from ...errors import ConfigurationError
from ...state import ENV_FILE, credential, state_dir
from . import FACTS, TOKEN

NAME: Final = FACTS.name
TOKEN_KEY: Final = TOKEN.variable
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
        env = os.environ if environ is None else environ
        directory = state_dir(NAME, env)
        token = (credential(TOKEN_KEY, directory, env) or "").strip()
        if not token:
            raise ConfigurationError(
                f"{TOKEN_KEY} required\n  set in {directory / ENV_FILE}\n  format: {TOKEN_KEY}={TOKEN.example}"
            )
        api_base = (env.get("DISCORD_API_BASE") or DEFAULT_API_BASE).rstrip("/")
        parts = urlsplit(api_base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(f"DISCORD_API_BASE={api_base!r} is not an http(s) URL")
        return cls(token=token, api_base=api_base, state_dir=directory)

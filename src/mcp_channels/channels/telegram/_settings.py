"""The Telegram channel's settings: the bot token, and which Bot API server it talks to."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ...settings import environ_or_os, required_credential, url_setting
from ...state import state_dir
from . import FACTS, TOKEN

DEFAULT_API_BASE: Final = "https://api.telegram.org"


@dataclass(frozen=True)
class TelegramSettings:
    """Read once at start; a missing token or a malformed API base stops the server, naming it.

    ``TELEGRAM_API_BASE`` points the bot at another Bot API server (a self-hosted
    ``telegram-bot-api``, or the tests' fake).
    """

    token: str
    api_base: str
    state_dir: Path

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> TelegramSettings:
        env = environ_or_os(environ)
        directory = state_dir(FACTS.name, env)
        return cls(
            token=required_credential(TOKEN.variable, TOKEN.example, directory, env),
            api_base=url_setting(env, "TELEGRAM_API_BASE", DEFAULT_API_BASE),
            state_dir=directory,
        )


__all__ = ["DEFAULT_API_BASE", "TelegramSettings"]

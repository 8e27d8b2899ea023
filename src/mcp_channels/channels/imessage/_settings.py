"""The iMessage channel's settings, read once at start (the package's docstring lists them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ...settings import environ_or_os, flag_setting, float_setting
from ...state import state_dir
from . import FACTS
from ._chatdb import default_path

DEFAULT_POLL_INTERVAL: Final = 1.0


@dataclass(frozen=True)
class IMessageSettings:
    """Where ``chat.db`` is, what is delivered and sent, how often it is read; a bad value is named."""

    db_path: Path
    allow_sms: bool
    append_signature: bool
    poll_interval: float
    state_dir: Path

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> IMessageSettings:
        env = environ_or_os(environ)
        raw_path = env.get("IMESSAGE_DB_PATH")
        return cls(
            db_path=Path(raw_path).expanduser() if raw_path else default_path(),
            allow_sms=flag_setting(env, "IMESSAGE_ALLOW_SMS", False),
            append_signature=flag_setting(env, "IMESSAGE_APPEND_SIGNATURE", True),
            poll_interval=float_setting(env, "IMESSAGE_POLL_INTERVAL", DEFAULT_POLL_INTERVAL, 0.01, 60.0),
            state_dir=state_dir(FACTS.name, env),
        )


__all__ = ["IMessageSettings"]

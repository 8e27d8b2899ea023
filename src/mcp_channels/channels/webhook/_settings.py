"""The webhook's settings, read once at start (the package's docstring lists every variable)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from ... import _http1
from ...settings import environ_or_os, flag_setting, float_setting, int_setting
from ...state import credential, state_dir
from . import FACTS, PORT, SECRET, _presets

DEFAULT_MAX_BODY: Final = 1024 * 1024
DEFAULT_MAX_BODY_TOTAL: Final = 64 * 1024 * 1024
DEFAULT_MAX_CONNECTIONS: Final = 1024
DEFAULT_READ_TIMEOUT: Final = 10.0
#: An allow-list entry that accepts everything.
ANY: Final = "*"


@dataclass(frozen=True)
class WebhookSettings:
    """What the receiver does and refuses; a bad value stops the server with a message naming it."""

    port: int
    max_body: int
    secret: str | None
    replay_protection: bool
    allowed_hosts: frozenset[str]
    allowed_origins: frozenset[str]
    limits: _http1.Limits
    presets: _presets.PresetSettings
    inbox: _presets.Inbox

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> WebhookSettings:
        env = environ_or_os(environ)
        directory = state_dir(FACTS.name, env)
        max_body = int_setting(env, "WEBHOOK_MAX_BODY", DEFAULT_MAX_BODY, 1, 1 << 30)
        presets = _presets.PresetSettings.from_environ(env, directory)
        return cls(
            port=int_setting(env, PORT.variable, PORT.default, 1, 65535),
            max_body=max_body,
            secret=credential(SECRET.variable, directory, env),
            replay_protection=flag_setting(env, "WEBHOOK_REPLAY_PROTECTION", False),
            allowed_hosts=_allow_list(env.get("WEBHOOK_ALLOWED_HOSTS", "")),
            allowed_origins=frozenset(o.rstrip("/") for o in _allow_list(env.get("WEBHOOK_ALLOWED_ORIGINS", ""))),
            limits=_http1.Limits(
                max_body=max_body,
                max_body_total=int_setting(
                    env, "WEBHOOK_MAX_BODY_TOTAL", max(DEFAULT_MAX_BODY_TOTAL, max_body), max_body, 1 << 34
                ),
                max_connections=int_setting(env, "WEBHOOK_MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS, 1, 1 << 20),
                read_timeout=float_setting(env, "WEBHOOK_READ_TIMEOUT", DEFAULT_READ_TIMEOUT, 0.1, 3600.0),
            ),
            presets=presets,
            inbox=_presets.Inbox(directory / _presets.INBOX_DIR, presets.inbox_max_files, presets.inbox_max_bytes),
        )

    @property
    def local_hosts(self) -> frozenset[str]:
        """``Host`` values that name this receiver itself."""
        names = ("127.0.0.1", "localhost", "[::1]")
        return frozenset((*(f"{name}:{self.port}" for name in names), *(names if self.port == 80 else ())))


def _allow_list(raw: str) -> frozenset[str]:
    """Comma- or space-separated entries, lower-cased; ``*`` anywhere means everything."""
    entries = frozenset(entry.lower() for entry in raw.replace(",", " ").split())
    return frozenset({ANY}) if ANY in entries else entries


__all__ = ["ANY", "WebhookSettings"]

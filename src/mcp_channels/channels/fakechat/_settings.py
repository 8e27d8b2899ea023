"""Fakechat's settings, read once at start from the environment (``FakechatSettings.from_environ``).

``FAKECHAT_PORT``
    Port on 127.0.0.1 (default 8787, as the official server).
``FAKECHAT_MAX_MESSAGE``
    Largest websocket frame from the page, in bytes (default 256 KiB); a larger one closes the
    socket with 1009 and delivers nothing.
``FAKECHAT_MAX_UPLOAD``
    Largest upload, in bytes (default 50 MiB, the official limit on files sent by ``reply``);
    a larger one gets 413 and nothing is kept.
``FAKECHAT_HISTORY``
    Entries (messages and permission cards) the server keeps so that a reload or a new tab shows
    the conversation (default 500; the oldest go first).
``FAKECHAT_HISTORY_BYTES``
    The same history bounded by its size as sent, JSON in UTF-8 (default 8 MiB; the oldest go
    first, but the newest entry is always kept). The server holds about twice this in memory.
``FAKECHAT_TAB_BUFFER``
    Bytes that may wait for one websocket client beyond what its socket has taken (default
    1 MiB). A client further behind is closed with 1013 (try again later): the page reconnects
    and reloads the history, a client that never reads is cut off.
``FAKECHAT_MAX_TABS``
    Websocket clients open at once (default 32); one more is refused with 503.
``FAKECHAT_INBOX_QUOTA``
    Bytes all files in ``inbox/`` may take, uploads being received included (default 1 GiB). An
    upload that would pass it is refused with 507 and nothing is kept; nothing is ever deleted
    to make room (see :mod:`._uploads`).
``FAKECHAT_STATE_DIR``
    Where ``inbox/`` (uploads) and ``outbox/`` (files sent by ``reply``) live (default
    ``~/.claude/channels/fakechat``, honouring ``CLAUDE_CONFIG_DIR``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ...settings import environ_or_os, int_setting
from ...state import state_dir
from . import FACTS, PORT

NAME: Final = FACTS.name
HOST: Final = "127.0.0.1"
DEFAULT_MAX_MESSAGE: Final = 256 * 1024
DEFAULT_MAX_UPLOAD: Final = 50 * 1024 * 1024
DEFAULT_HISTORY: Final = 500
DEFAULT_HISTORY_BYTES: Final = 8 * 1024 * 1024
DEFAULT_TAB_BUFFER: Final = 1024 * 1024
DEFAULT_MAX_TABS: Final = 32
DEFAULT_INBOX_QUOTA: Final = 1024 * 1024 * 1024


@dataclass(frozen=True)
class FakechatSettings:
    port: int
    max_message: int
    max_upload: int
    history: int
    history_bytes: int
    tab_buffer: int
    max_tabs: int
    inbox_quota: int
    state: Path

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> FakechatSettings:
        """Settings from ``environ`` (default ``os.environ``); a bad value is a :class:`ConfigurationError` naming it."""
        env = environ_or_os(environ)
        return cls(
            port=int_setting(env, PORT.variable, PORT.default, 1, 65535),
            max_message=int_setting(env, "FAKECHAT_MAX_MESSAGE", DEFAULT_MAX_MESSAGE, 256, 8 * 1024 * 1024),
            max_upload=int_setting(env, "FAKECHAT_MAX_UPLOAD", DEFAULT_MAX_UPLOAD, 1, 1 << 32),
            history=int_setting(env, "FAKECHAT_HISTORY", DEFAULT_HISTORY, 1, 100_000),
            history_bytes=int_setting(env, "FAKECHAT_HISTORY_BYTES", DEFAULT_HISTORY_BYTES, 64 * 1024, 1 << 30),
            tab_buffer=int_setting(env, "FAKECHAT_TAB_BUFFER", DEFAULT_TAB_BUFFER, 64 * 1024, 1 << 30),
            max_tabs=int_setting(env, "FAKECHAT_MAX_TABS", DEFAULT_MAX_TABS, 1, 10_000),
            inbox_quota=int_setting(env, "FAKECHAT_INBOX_QUOTA", DEFAULT_INBOX_QUOTA, 1, 1 << 50),
            state=state_dir(NAME, env),
        )

    @property
    def url(self) -> str:
        """Where a person opens the page (``localhost``, as the official server prints it)."""
        return f"http://localhost:{self.port}"

    @property
    def inbox(self) -> Path:
        return self.state / "inbox"

    @property
    def outbox(self) -> Path:
        return self.state / "outbox"

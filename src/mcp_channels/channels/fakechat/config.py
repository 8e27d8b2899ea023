"""Fakechat's settings, read once at start from the environment.

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
``FAKECHAT_STATE_DIR``
    Where ``inbox/`` (uploads) and ``outbox/`` (files sent by ``reply``) live (default
    ``~/.claude/channels/fakechat``, honouring ``CLAUDE_CONFIG_DIR``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ...state import int_setting, state_dir

NAME: Final = "fakechat"
HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8787
DEFAULT_MAX_MESSAGE: Final = 256 * 1024
DEFAULT_MAX_UPLOAD: Final = 50 * 1024 * 1024
DEFAULT_HISTORY: Final = 500


@dataclass(frozen=True)
class FakechatConfig:
    port: int
    max_message: int
    max_upload: int
    history: int
    state: Path

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> FakechatConfig:
        """Settings from ``environ`` (default ``os.environ``); a bad value is a :class:`FatalError` naming it."""
        env = os.environ if environ is None else environ
        return cls(
            port=int_setting(env, "FAKECHAT_PORT", DEFAULT_PORT, 1, 65535),
            max_message=int_setting(env, "FAKECHAT_MAX_MESSAGE", DEFAULT_MAX_MESSAGE, 256, 8 * 1024 * 1024),
            max_upload=int_setting(env, "FAKECHAT_MAX_UPLOAD", DEFAULT_MAX_UPLOAD, 1, 1 << 32),
            history=int_setting(env, "FAKECHAT_HISTORY", DEFAULT_HISTORY, 1, 100_000),
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

"""Checks every outbound tool of a chat channel makes before it sends anything.

The model is steered by whoever writes to it, so a tool call is untrusted input: it may only
target chats the inbound gate could deliver from, and may not attach what :mod:`._protected`
protects (the system's pseudo-files, any channel's state, Claude Code's settings and credentials)
however the path is spelled. Every channel sends files through :func:`check_files`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from ._protected import INBOX_DIR as INBOX_DIR
from ._protected import Protected
from .access import Access
from .errors import ToolError

MB = 1024 * 1024


def assert_chat_allowed(
    access: Access,
    chat_id: str,
    *,
    channel: str,
    extra_allowed: Iterable[str] = (),
    senders_are_chats: bool = True,
) -> None:
    """Refuse a chat that is neither an allowlisted DM nor an opted-in group (nor ``extra_allowed``).

    ``senders_are_chats``: on Telegram a DM's chat id is the sender's id, so ``allowFrom`` lists
    chats too; on iMessage it lists handles, and the DM chats come in ``extra_allowed`` instead.
    ``dmPolicy`` is not consulted, as in the official servers: ``disabled`` stops inbound only.
    """
    if (
        (senders_are_chats and chat_id in access.allow_from)
        or chat_id in access.groups
        or chat_id in set(extra_allowed)
    ):
        return
    raise ToolError(f"chat {chat_id} is not allowlisted — add via /{channel}:access")


def check_files(
    paths: Sequence[str],
    *,
    state_dir: Path,
    max_bytes: int,
    allow_inbox: bool = True,
    environ: Mapping[str, str] | None = None,
) -> list[Path]:
    """Validate every file before anything is sent; the real paths to send, in order.

    Refused: anything under ``/proc``, ``/sys`` or ``/dev``, as written or once resolved; a file
    whose real path lies in any channel's state directory (except this channel's ``inbox/`` when
    ``allow_inbox``: received attachments may be sent on); Claude Code's settings and credentials;
    a hard link or symlink target that is one of those files; a missing path or one that is not a
    regular file; a file over ``max_bytes``. The first problem raises :class:`ToolError`, whose
    message names the path and never anything read from it. ``environ`` (default ``os.environ``)
    says where the state directories and Claude Code's files are.
    """
    if not paths:
        return []  # most replies carry no file: nothing to look at on disk
    protected = Protected.collect(state_dir, allow_inbox=allow_inbox, environ=environ)
    checked: list[Path] = []
    for name in paths:
        spelled = Path(os.path.abspath(Path(name).expanduser()))
        real = Path(os.path.realpath(spelled))
        refusal = protected.path_refusal(name, spelled, real)
        if refusal is not None:
            raise ToolError(refusal)
        try:
            info = real.stat()
        except OSError:
            raise ToolError(f"file not found: {name}") from None
        if not stat.S_ISREG(info.st_mode):
            raise ToolError(f"not a regular file: {name}")
        refusal = protected.file_refusal(name, real, info)
        if refusal is not None:
            raise ToolError(refusal)
        if info.st_size > max_bytes:
            raise ToolError(f"file too large: {name} ({_megabytes(info.st_size)}MB, max {_megabytes(max_bytes, 0)}MB)")
        checked.append(real)
    return checked


def _megabytes(size: int, places: int = 1) -> str:
    """``size`` in MB rounded half up, like JavaScript's ``toFixed`` (Python would round half to even)."""
    quantum = Decimal(1).scaleb(-places)
    return str((Decimal(size) / MB).quantize(quantum, rounding=ROUND_HALF_UP))


__all__ = [
    "INBOX_DIR",
    "MB",
    "assert_chat_allowed",
    "check_files",
]

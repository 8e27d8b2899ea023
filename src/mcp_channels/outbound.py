"""Checks every outbound tool of a chat channel makes before it sends anything.

The model is steered by whoever writes to it, so a tool call is untrusted input: it may only
target chats the inbound gate could deliver from, and may not attach the channel's own state (the
token in ``.env``, the allowlist) however the path is spelled (symlinks are resolved first).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from .access import Access
from .server import ToolError

MB = 1024 * 1024
INBOX_DIR = "inbox"


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


def check_files(paths: Sequence[str], *, state_dir: Path, max_bytes: int, allow_inbox: bool = True) -> list[Path]:
    """Validate every file before anything is sent; the real paths to send, in order.

    Refused: a missing path or one that is not a regular file, a file whose real path lies in the
    state directory (except ``inbox/`` when ``allow_inbox``: received attachments may be sent
    on), and a file over ``max_bytes``. The first problem raises :class:`ToolError`.
    """
    state_real = Path(os.path.realpath(state_dir))
    inbox_real = state_real / INBOX_DIR
    checked: list[Path] = []
    for name in paths:
        real = Path(os.path.realpath(Path(name).expanduser()))
        if _inside(real, state_real) and not (allow_inbox and _inside(real, inbox_real)):
            raise ToolError(f"refusing to send channel state: {name}")
        try:
            info = real.stat()
        except OSError:
            raise ToolError(f"file not found: {name}") from None
        if not stat.S_ISREG(info.st_mode):
            raise ToolError(f"not a regular file: {name}")
        if info.st_size > max_bytes:
            raise ToolError(f"file too large: {name} ({_megabytes(info.st_size)}MB, max {_megabytes(max_bytes, 0)}MB)")
        checked.append(real)
    return checked


def _inside(path: Path, directory: Path) -> bool:
    return path != directory and path.is_relative_to(directory)


def _megabytes(size: int, places: int = 1) -> str:
    """``size`` in MB rounded half up, like JavaScript's ``toFixed`` (Python would round half to even)."""
    quantum = Decimal(1).scaleb(-places)
    return str((Decimal(size) / MB).quantize(quantum, rounding=ROUND_HALF_UP))

"""Files sent by ``reply``: copied into ``outbox/`` and served from there.

Names in the outbox are made by the server (``<ms>-<random><ext>``, as the official server names
them), so ``/files/<name>`` can refuse anything else outright.
"""

from __future__ import annotations

import re
import secrets
import string
import time
from pathlib import Path
from typing import Final

from ...state import ensure_private_dir

#: Largest file ``reply`` accepts (the official limit).
REPLY_FILE_LIMIT: Final = 50 * 1024 * 1024

#: The official server's content types; anything else is offered as bytes.
CONTENT_TYPES: Final = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".pdf": "application/pdf",
    ".txt": "text/plain; charset=utf-8",
}
#: What ``/files/<name>`` serves: names this module made (no separators, no leading dot).
SERVED_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")

_TAME: Final = re.compile(r"[^A-Za-z0-9._-]+")
_BASE36: Final = string.digits + string.ascii_lowercase


def content_type(name: str) -> str:
    return CONTENT_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")


def extension(name: str) -> str:
    """A file name's extension, lowercased and tame (``""`` when there is none worth keeping)."""
    suffix = Path(name).suffix.lower()
    tame = _TAME.sub("", suffix)
    return tame if len(tame) > 1 and len(tame) <= 16 else ""


def disk_stem(name: str) -> str:
    """A file name without its extension, reduced to characters safe in any path or URL."""
    stem = _TAME.sub("_", Path(name).stem).strip("._-")[:60]
    return stem or "file"


def outbox_name(source: Path) -> str:
    """``<ms>-<6 base36 chars><ext>``, as the official server names its outbox copies."""
    token = "".join(secrets.choice(_BASE36) for _ in range(6))
    return f"{int(time.time() * 1000)}-{token}{extension(source.name)}"


def copy_to_outbox(source: Path, outbox: Path) -> Path:
    """Copy a file ``reply`` sends into the outbox (blocking: run it in a thread)."""
    ensure_private_dir(outbox)
    target = outbox / outbox_name(source)
    with source.open("rb") as reader, target.open("xb") as writer:
        while block := reader.read(1 << 20):
            writer.write(block)
    return target


def served_file(outbox: Path, name: str) -> Path | None:
    """The outbox file ``/files/<name>`` serves, or ``None`` when there is none.

    Raises ``ValueError`` for a name this module could not have made (a separator, ``..``, a
    leading dot): such a request is an attempt to leave the outbox, not a missing file.
    """
    if not SERVED_NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"bad file name: {name!r}")
    path = outbox / name
    return path if path.is_file() and not path.is_symlink() else None

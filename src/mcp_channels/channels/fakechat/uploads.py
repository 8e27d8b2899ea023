"""Uploads from the page, received into ``inbox/``.

Names on disk are made by the server (a time stamp, then a tame version of the original name),
never taken from the uploader as they are; the original name is only shown. An upload is written
to a hidden temporary file and appears under its final name only when complete, so Claude can
never read half a file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

from ...state import ensure_private_dir
from ...text import safe_name
from .files import disk_stem, extension


class TooLarge(Exception):
    """An upload passed the size limit."""


def display_name(raw: str) -> str:
    """The uploader's file name as shown to Claude and people: last path part, made harmless."""
    base = raw.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return safe_name(base)[:200] or "attachment"


class IncomingFile:
    """An upload being received into ``inbox/``: hidden until :meth:`commit` names it."""

    def __init__(self, inbox: Path, original_name: str, limit: int) -> None:
        self.name = display_name(original_name)
        self.size = 0
        self._inbox = ensure_private_dir(inbox)
        self._limit = limit
        fd, temp = tempfile.mkstemp(prefix=".upload-", suffix=".part", dir=self._inbox)
        self._temp = Path(temp)
        self._handle = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self._limit:
            raise TooLarge(f"upload is larger than {self._limit} bytes")
        self._handle.write(data)

    def commit(self) -> Path:
        """Give the complete file its final name ``<ms>-<name><ext>`` (never overwriting) and return it."""
        self._handle.close()
        stem = f"{int(time.time() * 1000)}-{disk_stem(self.name)}"
        ext = extension(self.name) or ".bin"
        for attempt in range(1000):
            target = self._inbox / (f"{stem}{ext}" if attempt == 0 else f"{stem}-{attempt}{ext}")
            try:
                os.link(self._temp, target)
            except FileExistsError:
                continue
            self._temp.unlink()
            return target
        raise OSError(f"no free name for {stem}{ext} in {self._inbox}")

    def discard(self) -> None:
        """Drop a refused or abandoned upload."""
        self._handle.close()
        with contextlib.suppress(FileNotFoundError):
            self._temp.unlink()

"""Uploads from the page, received into ``inbox/``.

Names on disk are made by the server (a time stamp, then a tame version of the original name),
never taken from the uploader as they are; the original name is only shown. An upload is written
to a hidden temporary file and appears under its final name only when complete, so Claude can
never read half a file.

All files in ``inbox/`` together may take ``FAKECHAT_INBOX_QUOTA`` bytes, counting what uploads
being received have written so far; past it an upload is refused (:class:`InboxFull`) and what it
wrote is deleted. Nothing else is ever deleted to make room: each upload's path went to Claude in
its event, and Claude may Read it at any later point of the session, or of a resumed one, so a
file vanishing under that path would be worse than a refusal the person sees at once. Files are
measured afresh at each upload, so deleting some makes room at once.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

from ...errors import InputRefused
from ...state import ensure_private_dir
from ...text import safe_name
from ._files import disk_stem, extension


class TooLarge(InputRefused):
    """An upload passed the size limit."""


class InboxFull(InputRefused):
    """An upload would take the inbox past its quota; the message says so for the person."""


def display_name(raw: str) -> str:
    """The uploader's file name as shown to Claude and people: last path part, made harmless."""
    base = raw.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return safe_name(base)[:200] or "attachment"


class Inbox:
    """``inbox/`` and the bytes uploads may still write into it."""

    def __init__(self, folder: Path, quota: int) -> None:
        self.folder = folder
        self.quota = quota
        self._stored = 0
        self._receiving: set[IncomingFile] = set()

    @property
    def used(self) -> int:
        return self._stored + sum(incoming.size for incoming in self._receiving)

    def room(self) -> int:
        """Bytes an upload may write now, measuring the folder again (blocking, but a private folder
        of regular files: it is never a FIFO or a network mount of someone else's)."""
        ensure_private_dir(self.folder)
        receiving = {incoming.temp.name for incoming in self._receiving}
        stored = 0
        with os.scandir(self.folder) as found:
            for entry in found:
                if entry.name not in receiving and entry.is_file(follow_symlinks=False):
                    stored += entry.stat(follow_symlinks=False).st_size
        self._stored = stored
        return max(0, self.quota - self.used)

    def full(self) -> InboxFull:
        """The refusal, with what to do about it."""
        return InboxFull(
            f"the inbox is full: uploads may take {_mib(self.quota)} in all (FAKECHAT_INBOX_QUOTA) "
            f"and {_mib(self.used)} are in {self.folder}; delete files there or raise the quota"
        )

    def receive(self, original_name: str, limit: int) -> IncomingFile:
        """Start receiving an upload of at most ``limit`` bytes."""
        incoming = IncomingFile(self, original_name, limit)
        self._receiving.add(incoming)
        return incoming

    def _claim(self, size: int) -> None:
        if self.used + size > self.quota:
            raise self.full()

    def _received(self, incoming: IncomingFile, kept: bool) -> None:
        self._receiving.discard(incoming)
        if kept:
            self._stored += incoming.size

    def _removed(self, size: int) -> None:
        self._stored = max(0, self._stored - size)


class IncomingFile:
    """An upload being received into ``inbox/``: hidden until :meth:`commit` names it."""

    def __init__(self, inbox: Inbox, original_name: str, limit: int) -> None:
        self.name = display_name(original_name)
        self.size = 0
        self._inbox = inbox
        self._folder = ensure_private_dir(inbox.folder)
        self._limit = limit
        fd, temp = tempfile.mkstemp(prefix=".upload-", suffix=".part", dir=self._folder)
        self.temp = Path(temp)
        self._handle = os.fdopen(fd, "wb")
        self._committed: Path | None = None

    def write(self, data: bytes) -> None:
        """Append a piece; :class:`TooLarge` past the upload limit, :class:`InboxFull` past the quota."""
        if self.size + len(data) > self._limit:
            raise TooLarge(f"upload is larger than {self._limit} bytes")
        self._inbox._claim(len(data))
        self.size += len(data)
        self._handle.write(data)

    def commit(self) -> Path:
        """Give the complete file its final name ``<ms>-<name><ext>`` (never overwriting) and return it."""
        self._handle.close()
        stem = f"{int(time.time() * 1000)}-{disk_stem(self.name)}"
        ext = extension(self.name) or ".bin"
        for attempt in range(1000):
            target = self._folder / (f"{stem}{ext}" if attempt == 0 else f"{stem}-{attempt}{ext}")
            try:
                os.link(self.temp, target)
            except FileExistsError:
                continue
            self.temp.unlink()
            self._inbox._received(self, kept=True)
            self._committed = target
            return target
        raise OSError(f"no free name for {stem}{ext} in {self._folder}")

    def withdraw(self) -> None:
        """Remove the committed file: the message it came with was refused, so nobody will read it."""
        if self._committed is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self._committed.unlink()
        self._inbox._removed(self.size)
        self._committed = None

    def discard(self) -> None:
        """Drop a refused or abandoned upload."""
        self._handle.close()
        self._inbox._received(self, kept=False)
        with contextlib.suppress(FileNotFoundError):
            self.temp.unlink()


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"

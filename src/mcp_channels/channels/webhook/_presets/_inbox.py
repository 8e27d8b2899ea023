"""The webhook's inbox: the full payload of each summarized delivery, kept for a while.

A summary drops most of a payload; Claude reads the file named in ``payload_path`` when it needs
the rest. Files are written atomically, 0600 in a 0700 directory (payloads can hold private
repository data), and the oldest are deleted once there are more than ``max_files`` of them or
they take more than ``max_bytes``. A payload that cannot be saved (disk full, bigger than the
whole budget) is logged and the event still goes out, without ``payload_path``: losing the copy
must not lose the event.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from pathlib import Path
from typing import Final

from mcp_channels.state import atomic_write, ensure_private_dir

INBOX_DIR: Final = "inbox"
#: The names this module writes: a UTC time (so names sort by age), a label, a random tail.
_NAME: Final = re.compile(r"^\d{8}T\d{6}\.\d{6}Z-[a-z0-9_.-]{1,60}-[0-9a-f]{8}\.(?:json|txt)$")
_UNSAFE: Final = re.compile(r"[^a-z0-9_.-]+")

log = logging.getLogger("mcp_channels.webhook")


def file_name(label: str, suffix: str = ".json", now: float | None = None) -> str:
    """The name a payload labelled ``label`` (``github-push``) gets at ``now`` (a Unix time)."""
    moment = time.time() if now is None else now
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(moment)) + f".{int(moment % 1 * 1_000_000):06d}Z"
    safe = _UNSAFE.sub("_", label.lower()).strip("._-")[:60] or "payload"
    return f"{stamp}-{safe}-{os.urandom(4).hex()}{suffix}"


class Inbox:
    """Saves payloads under ``directory`` within a count and a size budget."""

    def __init__(self, directory: Path, max_files: int, max_bytes: int) -> None:
        self.directory = directory
        self.max_files = max_files
        self.max_bytes = max_bytes

    def keeps(self, payload: bytes) -> bool:
        """Whether a payload this size is saved at all (not when retention is 0 or it is too big)."""
        return self.max_files > 0 and len(payload) <= self.max_bytes

    def save(self, payload: bytes, label: str, suffix: str = ".json") -> Path | None:
        """Write ``payload`` to a new file and return its path, or ``None`` when it is not kept."""
        if not self.keeps(payload):
            return None
        path = self.directory / file_name(label, suffix)
        try:
            ensure_private_dir(self.directory)
            atomic_write(path, payload, mode=0o600)
        except OSError as exc:
            log.warning("payload not saved to %s: %s", self.directory, exc.strerror or exc)
            return None
        self._prune()
        return path

    def _prune(self) -> None:
        """Delete the oldest payloads beyond the budget (only files this module named)."""
        try:
            entries = sorted(
                (entry.name, entry.stat().st_size) for entry in os.scandir(self.directory) if _NAME.match(entry.name)
            )
        except OSError as exc:
            log.warning("inbox %s not pruned: %s", self.directory, exc.strerror or exc)
            return
        count, total = len(entries), sum(size for _, size in entries)
        for name, size in entries:
            if count <= self.max_files and total <= self.max_bytes:
                break
            with contextlib.suppress(FileNotFoundError):
                (self.directory / name).unlink()
            count, total = count - 1, total - size

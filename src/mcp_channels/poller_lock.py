"""One receiving session per platform token on this machine.

Some platforms hand a token's messages to a single receiver: Telegram lets exactly one long poll
consume a bot's updates (a second poller makes both get ``409 Conflict``), and Slack's Socket Mode
gives each event to *one* of the app's open connections, at random, so two sessions each holding
a connection would each see about half of the messages, silently. Every session that receives
first takes an exclusive ``flock`` on ``<state>/poller-<token hash>.lock``; the others only send,
and the first of them to find the lock free takes over (:func:`wait_for_lock`).
The kernel releases it when the holder exits, however it exits, so a dead holder is never
"stale" and nobody has to be killed; the lock file is never deleted (deleting a locked file lets
two processes lock two different files). While it holds the lock the poller records its pid,
token hash and process start time in the file, so another process (``mcp-channels doctor``, a
second session's log line) can say who is receiving, after checking through ``/proc`` that the
recorded process is still that same process of ours and not a recycled pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

#: How often a session that only sends checks whether it can take over receiving.
LOCK_RETRY: Final = 1.0


def token_fingerprint(token: str) -> str:
    """A short, irreversible name for a token (file names and logs must not carry the token)."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def lock_path(state_dir: Path, token: str) -> Path:
    return state_dir / f"poller-{token_fingerprint(token)}.lock"


def process_start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (``/proc/<pid>/stat`` field 22).

    Together with the pid it names one process for its whole life: a recycled pid has a later
    start time. ``None`` where there is no ``/proc`` or the process does not exist.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count fields after the last ")".
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


@dataclass(frozen=True)
class LockHolder:
    """Who the lock file says is polling."""

    pid: int
    token_hash: str
    started: str | None

    @classmethod
    def read(cls, path: Path) -> LockHolder | None:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            return cls(int(record["pid"]), str(record["token_hash"]), record.get("started"))
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            return None

    def is_alive_poller(self, token_hash: str, channel: str) -> bool:
        """Whether the recorded process is still running, is this same process, and is our ``channel``'s."""
        if self.token_hash != token_hash:
            return False
        if not Path("/proc").is_dir():  # no /proc (macOS): the best available check is liveness
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                return True
            return True
        if self.started is None or process_start_time(self.pid) != self.started:
            return False
        try:
            command = Path(f"/proc/{self.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return False
        return ("mcp_channels" in command or "mcp-channels" in command) and channel in command


class PollerLock:
    """The right to receive one token's messages; :meth:`acquire` never blocks."""

    def __init__(self, state_dir: Path, token: str) -> None:
        self.path = lock_path(state_dir, token)
        self.token_hash = token_fingerprint(token)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock if nobody holds it; True when this process now holds it."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        pid = os.getpid()
        record = {
            "pid": pid,
            "token_hash": self.token_hash,
            "started": process_start_time(pid),
            "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        self._fd = fd
        return True

    def holder(self) -> LockHolder | None:
        """The other process recorded as holding the lock (its record may lag its ``flock``)."""
        return LockHolder.read(self.path)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the descriptor drops the flock


async def wait_for_lock(lock: PollerLock, log: logging.Logger, what: str) -> None:
    """Return once this process holds ``lock``, saying once on ``log`` that another session receives.

    ``what`` names whose messages are received ("this bot", "this Slack app"). Until the lock is
    free the session only sends: its tools work, and it takes over within :data:`LOCK_RETRY`
    seconds of the receiving session exiting, however that one exits.
    """
    announced = False
    while not lock.acquire():
        if not announced:
            holder = lock.holder()
            who = f"pid {holder.pid}" if holder else "pid unknown"
            log.warning(
                "another session (%s) is receiving messages for %s; this one only sends "
                "(its tools work, and it takes over receiving when that session exits)",
                who,
                what,
            )
            announced = True
        await asyncio.sleep(LOCK_RETRY)
    if announced:
        log.info("the other session has exited: this one now receives messages")


def poller_lock_status(state_dir: Path, token: str, channel: str) -> int | None:
    """The pid of the live ``channel`` session of ours receiving this token's messages, or ``None``.

    Read-only (it takes no lock), for ``mcp-channels doctor``.
    """
    holder = LockHolder.read(lock_path(state_dir, token))
    if holder is None or not holder.is_alive_poller(token_fingerprint(token), channel):
        return None
    return holder.pid


__all__ = [
    "LOCK_RETRY",
    "LockHolder",
    "PollerLock",
    "lock_path",
    "poller_lock_status",
    "process_start_time",
    "token_fingerprint",
    "wait_for_lock",
]

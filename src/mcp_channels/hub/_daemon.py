"""The hub's process life: one per user, started detached on demand, stopped on request.

* **One hub.** The running hub holds ``hub.lock`` (``flock``) for its whole life; a second one
  refuses to start. The kernel drops the lock with the process, also after kill -9, so a crashed
  hub never blocks the next one.
* **One start.** A session that finds no hub takes ``start.lock``, looks again, and only then
  starts one; a second session arriving in the same instant waits on that lock and then finds the
  hub the first one started. The starter waits until the new hub says it is listening (a line on
  a pipe, not a polling loop), so its first connection succeeds.
* **Detached.** The hub runs in a session of its own (``setsid``), its stdin is ``/dev/null``
  and its output goes to ``hub.log``: the Claude Code session that started it can exit, be
  killed, or close its terminal, and the hub stays.
* **Stop.** ``mcp-channels hub stop`` asks the hub over its socket and waits for the lock to be
  released; a hub that does not answer is sent SIGTERM (its pid is in the lock file).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Final

from ..errors import HubStartError, HubUnreachable
from ..jsonrpc import NotificationHandler, RequestHandler
from ._paths import HubPaths
from ._socket import Link, connect

#: How long a starter waits for a new hub to listen (it imports little; under load it can be slow).
START_TIMEOUT: Final = 20.0
#: How long ``hub run`` retries the lock when it is briefly held by a probe.
LOCK_PATIENCE: Final = 1.0
READY_LINE: Final = b"ready\n"


class HubLock:
    """``hub.lock``, held by the running hub, with its pid written inside."""

    def __init__(self, paths: HubPaths) -> None:
        self.path = paths.lock
        self._fd: int | None = None

    def acquire(self, patience: float = LOCK_PATIENCE, *, wait: bool = False) -> bool:
        """Take the lock (retrying for ``patience`` seconds); ``False`` if a hub holds it.

        ``wait=True`` blocks until the running hub exits (``hub run --wait``, for a service).
        """
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        if wait:
            fcntl.flock(fd, fcntl.LOCK_EX)
        deadline = time.monotonic() + patience
        while not wait:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES) or time.monotonic() > deadline:
                    os.close(fd)
                    return False
                time.sleep(0.02)  # a probe holds it for microseconds (see running_pid)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None


def running_pid(paths: HubPaths) -> int | None:
    """The pid of the running hub, ``None`` when none holds the lock."""
    try:
        fd = os.open(paths.lock, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            return int(text) if text.isdigit() else 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


@contextlib.contextmanager
def start_lock(paths: HubPaths) -> Iterator[None]:
    """Held while a hub is being started, so concurrent starters start one."""
    fd = os.open(paths.start_lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def hub_command(options: Sequence[str] = ()) -> list[str]:
    """The command line of a hub run by this interpreter."""
    return [sys.executable, "-m", "mcp_channels", "hub", "run", *options]


def spawn(paths: HubPaths, options: Sequence[str] = (), environ: Mapping[str, str] | None = None) -> int:
    """Start a detached hub and return its pid once it listens; :class:`HubStartError` if it does not.

    The caller holds :func:`start_lock`. A child the caller outlives is reaped by a daemon thread,
    so it leaves no zombie behind.
    """
    paths.prepare()
    read_end, write_end = os.pipe()
    log_fd = os.open(paths.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    try:
        env = dict(os.environ if environ is None else environ)
        env.pop("MCP_CHANNELS_HUB_READY_FD", None)
        process = subprocess.Popen(
            [*hub_command(options), "--ready-fd", str(write_end)],
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            pass_fds=(write_end,),
            start_new_session=True,
            cwd=paths.directory,
            env=env,
        )
    except OSError as exc:
        os.close(read_end)
        raise HubStartError(f"cannot start the hub: {exc}") from None
    finally:
        os.close(write_end)
        os.close(log_fd)
    threading.Thread(target=process.wait, name="hub-reaper", daemon=True).start()
    try:
        if _wait_ready(read_end, START_TIMEOUT):
            return process.pid
    finally:
        os.close(read_end)
    raise HubStartError(f"the hub (pid {process.pid}) did not start: {log_tail(paths)}")


def _wait_ready(fd: int, timeout: float) -> bool:
    """Whether the ready line arrives before ``timeout`` (EOF first: the hub died or refused)."""
    deadline = time.monotonic() + timeout
    data = b""
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([fd], [], [], left)
        if not readable:
            return False
        chunk = os.read(fd, 64)
        if not chunk:
            return data.startswith(READY_LINE)
        data += chunk
        if data.startswith(READY_LINE):
            return True
    return False


def signal_ready(fd: int | None) -> None:
    """Tell the starter the hub listens (``--ready-fd``); nothing when run by hand."""
    if fd is None:
        return
    with contextlib.suppress(OSError):
        os.write(fd, READY_LINE)
        os.close(fd)


def log_tail(paths: HubPaths, lines: int = 5) -> str:
    """The last lines of ``hub.log``, for an error that must say what went wrong."""
    try:
        text = paths.log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no hub.log)"
    tail = [line for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(tail) if tail else "(hub.log is empty)"


async def wait_released(paths: HubPaths, timeout: float) -> bool:
    """Wait until no hub holds the lock (after a stop); ``False`` on timeout."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while running_pid(paths) is not None:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(delay)  # the lock has no notification to await; back off gently
        delay = min(delay * 2, 0.2)
    return True


def terminate(pid: int) -> bool:
    """SIGTERM a hub that does not answer on its socket; ``False`` when it is already gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True


def is_private_file(path: Path) -> bool:
    """Whether ``path`` is ours and closed to others (the token file must be)."""
    try:
        info = path.stat()
    except OSError:
        return False
    return info.st_uid == os.getuid() and not info.st_mode & 0o077


async def reach_hub(
    paths: HubPaths,
    *,
    start: bool,
    on_request: RequestHandler | None = None,
    on_notification: NotificationHandler | None = None,
    logger: logging.Logger | None = None,
) -> Link:
    """A link to the hub, what a ``serve`` shim does: with ``start`` (``--hub auto``), a hub is
    started when none answers, under the start lock, so two sessions starting together start one.

    Raises :class:`HubUnreachable` (``start=False``) or :class:`HubStartError`.
    """
    try:
        return await connect(paths, on_request=on_request, on_notification=on_notification, logger=logger)
    except HubUnreachable:
        if not start:
            raise
    await asyncio.to_thread(start_once, paths)
    return await connect(paths, on_request=on_request, on_notification=on_notification, logger=logger)


def start_once(paths: HubPaths) -> None:
    """Start a hub unless one is running (blocking: runs in a thread).

    Every hub holds the start lock until it listens (one started here: through its starter), so
    a hub found running under this lock is listening already.
    """
    paths.prepare()
    with start_lock(paths):
        if running_pid(paths) is None:
            spawn(paths)


__all__ = [
    "START_TIMEOUT",
    "HubLock",
    "HubStartError",
    "hub_command",
    "is_private_file",
    "log_tail",
    "reach_hub",
    "running_pid",
    "signal_ready",
    "spawn",
    "start_lock",
    "start_once",
    "terminate",
    "wait_released",
]

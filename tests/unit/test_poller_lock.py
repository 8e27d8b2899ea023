"""The per-token poller lock: exclusive, released by the kernel, and honest about who holds it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mcp_channels.poller_lock import PollerLock, lock_path, process_start_time, token_fingerprint
from mcp_channels.poller_lock import poller_lock_status as receiving_pid

TOKEN = "123456789:AAH-lock-test-token"


def poller_lock_status(directory: Path, token: str) -> int | None:
    return receiving_pid(directory, token, "telegram")


HOLD = """
import sys
from pathlib import Path
from mcp_channels.poller_lock import PollerLock  # held for a telegram poller of ours
lock = PollerLock(Path(sys.argv[1]), sys.argv[2])
print("held" if lock.acquire() else "refused", flush=True)
sys.stdin.read()
"""


@pytest.fixture
async def holder(tmp_path: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """Another process of ours holding the lock until its stdin closes."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLD, str(tmp_path), TOKEN,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    assert await asyncio.wait_for(process.stdout.readline(), 10) == b"held\n"
    yield process
    if process.returncode is None:
        process.kill()
    await process.wait()


def test_one_holder_per_token_in_a_process(tmp_path: Path) -> None:
    first, second, other_bot = (
        PollerLock(tmp_path, TOKEN),
        PollerLock(tmp_path, TOKEN),
        PollerLock(tmp_path, "42:other"),
    )
    assert first.acquire() and first.acquire()  # idempotent
    assert not second.acquire()
    assert other_bot.acquire()  # another token is another lock
    first.release()
    assert second.acquire()
    second.release()
    other_bot.release()


def test_lock_file_names_the_holder_but_never_the_token(tmp_path: Path) -> None:
    lock = PollerLock(tmp_path, TOKEN)
    assert lock.acquire()
    path = lock_path(tmp_path, TOKEN)
    record = json.loads(path.read_text())
    assert record["pid"] == os.getpid() and record["token_hash"] == token_fingerprint(TOKEN)
    assert record["started"] == process_start_time(os.getpid())
    assert TOKEN not in path.read_text() and TOKEN.split(":")[1] not in path.name
    assert path.stat().st_mode & 0o777 == 0o600
    lock.release()
    assert path.exists() and path.read_text() == ""  # never deleted: deleting a locked file breaks locking


async def test_another_process_holds_it_until_it_dies(tmp_path: Path, holder: asyncio.subprocess.Process) -> None:
    lock = PollerLock(tmp_path, TOKEN)
    assert not lock.acquire()
    recorded = lock.holder()
    assert recorded is not None and recorded.pid == holder.pid
    assert poller_lock_status(tmp_path, TOKEN) == holder.pid
    assert poller_lock_status(tmp_path, "42:another-bot") is None
    holder.send_signal(signal.SIGKILL)  # no clean-up at all: the kernel drops the lock
    await holder.wait()
    assert poller_lock_status(tmp_path, TOKEN) is None
    assert lock.acquire()
    lock.release()


async def test_status_does_not_trust_a_recycled_or_foreign_pid(
    tmp_path: Path, holder: asyncio.subprocess.Process
) -> None:
    path = lock_path(tmp_path, TOKEN)
    fingerprint = token_fingerprint(TOKEN)
    started = process_start_time(holder.pid)
    assert started is not None

    def status_with(pid: int, started: str | None, token_hash: str = fingerprint) -> int | None:
        path.write_text(json.dumps({"pid": pid, "token_hash": token_hash, "started": started}))
        return poller_lock_status(tmp_path, TOKEN)

    assert status_with(holder.pid, started) == holder.pid
    assert status_with(holder.pid, str(int(started) + 1)) is None  # same pid, another process: recycled
    assert status_with(holder.pid, started, "0" * 16) is None  # a record for another token
    sleeper = await asyncio.create_subprocess_exec("sleep", "30")
    try:
        assert status_with(sleeper.pid, process_start_time(sleeper.pid)) is None  # alive, but not ours
    finally:
        sleeper.kill()
        await sleeper.wait()
    assert status_with(sleeper.pid, "1") is None  # dead
    path.write_text("{not json")
    assert poller_lock_status(tmp_path, TOKEN) is None


def test_a_deep_telegram_lock_record_reads_as_no_holder(tmp_path: Path) -> None:
    """What ``doctor`` and a second session read to say who is polling; any process can write it."""
    token = "123456789:AAH-deep-lock"
    lock_path(tmp_path, token).write_text("[" * 5_000 + "]" * 5_000)
    assert poller_lock_status(tmp_path, token) is None

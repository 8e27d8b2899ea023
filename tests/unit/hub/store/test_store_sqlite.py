"""What only the SQLite store promises: its files, its schema guard, group commit, and kill -9 at any moment."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import stat
import sys
from pathlib import Path

import pytest

from mcp_channels.hub.store import Event, InvalidInput, SqliteStore, StoreError, StoreUnavailable
from mcp_channels.hub.store._sqlite import SCHEMA_VERSION
from support import DATA

APPENDER = DATA / "sqlite_appender.py"


def event(event_id: str, conversation: str = "chat") -> Event:
    return Event(event_id, "telegram", conversation, "body")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_files_are_private_and_in_wal_mode(tmp_path: Path) -> None:
    directory = tmp_path / "hub" / "store"
    async with SqliteStore(directory) as store:
        await store.append([event("a")])
        assert mode(directory) == 0o700
        assert mode(directory / "events.db") == 0o600
        assert mode(directory / "events.db-wal") == 0o600
    conn = sqlite3.connect(directory / "events.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


async def test_an_existing_directory_is_made_private(tmp_path: Path) -> None:
    tmp_path.joinpath("open").mkdir(mode=0o755)
    async with SqliteStore(tmp_path / "open"):
        assert mode(tmp_path / "open") == 0o700


async def test_a_file_in_place_of_the_directory_is_refused(tmp_path: Path) -> None:
    tmp_path.joinpath("events.db").write_text("")
    with pytest.raises(InvalidInput, match="not a directory"):
        await SqliteStore(tmp_path / "events.db").initialize()


async def test_a_store_from_a_newer_version_is_refused_untouched(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path) as store:
        await store.append([event("a")])
    conn = sqlite3.connect(tmp_path / "events.db")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()

    with pytest.raises(StoreError, match="newer mcp-channels"):
        await SqliteStore(tmp_path).initialize()
    conn = sqlite3.connect(tmp_path / "events.db")
    assert conn.execute("SELECT id FROM events").fetchall() == [("a",)]
    conn.close()


async def test_other_files_are_refused_with_a_clear_error(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    conn = sqlite3.connect(foreign / "events.db")
    conn.execute("CREATE TABLE photos (name TEXT)")
    conn.close()
    with pytest.raises(StoreError, match="not an mcp-channels event store"):
        await SqliteStore(foreign).initialize()

    garbage = tmp_path / "garbage"
    garbage.mkdir()
    garbage.joinpath("events.db").write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="not a database"):
        await SqliteStore(garbage).initialize()


async def test_a_database_locked_by_another_process_is_unavailable_then_usable(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path, busy_timeout=0.05) as store:
        await store.append([event("a")])
        other = sqlite3.connect(tmp_path / "events.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailable, match="locked"):
            await store.append([event("b")])
        other.execute("ROLLBACK")
        other.close()
        assert (await store.append([event("b")]))[0].seq == 2


async def test_concurrent_appends_share_few_commits(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path) as store:
        assert store._writer is not None
        before = store._writer.commits
        results = await asyncio.gather(*(store.append([event(f"e{i}")]) for i in range(32)))
        commits = store._writer.commits - before
        assert sorted(result[0].seq for result in results) == list(range(1, 33))
        assert commits <= 8, f"32 concurrent appends took {commits} commits"


async def test_a_failing_request_fails_alone_in_its_group(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path) as store:
        await store.append([event("a")])
        results = await asyncio.gather(
            store.append([event("b")]),
            store.ack("telegram", "chat", 99),
            store.append([event("c")]),
            return_exceptions=True,
        )
        assert isinstance(results[1], InvalidInput)
        assert [item.id for item in await store.read("telegram")] == ["a", "b", "c"]


async def test_reads_do_not_wait_for_the_writer(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path) as store:
        await store.append([event("a")])
        other = sqlite3.connect(tmp_path / "events.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # holds the write lock: appends wait, reads go on
        try:
            assert [item.id for item in await store.read("telegram")] == ["a"]
            assert await store.kv_get("k") is None
        finally:
            other.execute("ROLLBACK")
            other.close()


async def run_appender_until_killed(directory: Path, prefix: str, lines_before_kill: int) -> list[str]:
    """Start the appender, SIGKILL it after ``lines_before_kill`` confirmations; every confirmed line."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(APPENDER), str(directory), prefix, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    lines = []
    try:
        while len(lines) < lines_before_kill:
            line = await asyncio.wait_for(process.stdout.readline(), 30)
            assert line, "the appender exited on its own"
            lines.append(line.decode().strip())
    finally:
        process.kill()
    rest, _ = await process.communicate()  # what it printed before dying was confirmed too
    return lines + rest.decode().split("\n")[:-1]  # whole lines only: each was one write


async def test_every_confirmed_append_and_ack_survives_kill_9(tmp_path: Path) -> None:
    rng = random.Random(9)
    confirmed: dict[str, int] = {}
    acked: dict[str, int] = {}
    for round_number in range(4):
        for line in await run_appender_until_killed(tmp_path, f"r{round_number}", rng.randint(50, 1500)):
            kind, key, seq = line.split(" ")
            if kind == "E":
                confirmed[key] = int(seq)
            else:
                acked[key] = max(acked.get(key, 0), int(seq))

        async with SqliteStore(tmp_path) as store:
            stored = await store.read("telegram", limit=10_000)
            seqs = [item.seq for item in stored]
            by_id = {item.id: item.seq for item in stored}
            assert len(by_id) == len(stored), "an id was stored twice"
            assert seqs == sorted(set(seqs)), "seqs are not strictly increasing"
            missing = {key: seq for key, seq in confirmed.items() if by_id.get(key) != seq}
            assert not missing, f"{len(missing)} confirmed appends lost or renumbered after kill -9"
            for conversation, seq in acked.items():
                assert await store.cursor("telegram", conversation) >= seq
    conn = sqlite3.connect(tmp_path / "events.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()

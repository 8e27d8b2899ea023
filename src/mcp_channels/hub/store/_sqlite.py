"""``SqliteStore``: the embedded default, one SQLite file in WAL mode that survives kill -9 and power loss.

Durability: ``synchronous=FULL`` in WAL mode, so a commit returns only after the write-ahead log is
synced; a process killed at any moment (or a machine losing power) keeps every commit that returned.
A sync costs about 200 µs on a laptop SSD, so one commit per event would cap the store near 5,000
events/s: a single writer thread takes every write waiting in its queue and commits them together
(group commit); a request that fails is taken out of its group and the rest committed without it. Reads use
a second connection on a reader thread; WAL lets them run beside the writer. Neither thread ever
blocks the event loop.

Files: ``<directory>/events.db`` (plus SQLite's ``-wal`` and ``-shm``), the directory 0700 and the
files 0600: events carry what people wrote. The schema version is ``PRAGMA user_version``; a file
written by a newer version is refused rather than misread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from ...errors import InvalidInput, StoreError, StoreUnavailable
from ...state import ensure_private_dir
from ._base import Backlog, Event, EventStore, Pruned, Retention, StoredEvent, ack_past_newest

FILENAME: Final = "events.db"
SCHEMA_VERSION: Final = 1
#: How many queued requests one transaction takes at most (a bound on one commit's size).
MAX_GROUP: Final = 4096

_SCHEMA: Final = """
CREATE TABLE channels (name TEXT PRIMARY KEY, last_seq INTEGER NOT NULL);
CREATE TABLE events (
    channel TEXT NOT NULL,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    conversation TEXT NOT NULL,
    content TEXT NOT NULL,
    meta TEXT NOT NULL,
    received_at REAL NOT NULL,
    stored_at REAL NOT NULL,
    PRIMARY KEY (channel, seq)
);
CREATE UNIQUE INDEX events_by_id ON events (channel, id);
CREATE INDEX events_by_conversation ON events (channel, conversation, seq);
CREATE TABLE cursors (
    channel TEXT NOT NULL,
    conversation TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (channel, conversation)
);
CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_EVENT_COLUMNS: Final = "channel, seq, id, conversation, content, meta, received_at"

T = TypeVar("T")


class SqliteStore(EventStore):
    """The event store in ``<directory>/events.db``: SQLite in WAL mode, ``synchronous=FULL``, group commit.

    ``directory`` is created (mode 0700) if missing and made private if it exists; an existing
    path that is not a directory is refused. ``busy_timeout`` is how long a write waits for another
    process holding the database before :class:`StoreUnavailable`. Watches see the appends made
    through this object only: one hub process owns a store file.
    """

    def __init__(
        self, directory: str | os.PathLike[str], *, retention: Retention | None = None, busy_timeout: float = 5.0
    ) -> None:
        super().__init__(retention=retention)
        self.directory = Path(directory).expanduser()
        self.path = self.directory / FILENAME
        self._busy_ms = int(busy_timeout * 1000)
        self._writer: _Writer | None = None
        self._reads: concurrent.futures.ThreadPoolExecutor | None = None
        self._reader: sqlite3.Connection | None = None

    # ------------------------------------------------------------------ lifecycle

    async def _open(self) -> None:
        if self.directory.exists() and not self.directory.is_dir():
            raise InvalidInput(
                f"{self.directory} is not a directory: the SQLite store takes the directory to keep events.db in"
            )
        try:
            await asyncio.to_thread(self._prepare_files)
        except OSError as exc:
            raise StoreError(f"cannot create the event store in {self.directory}: {exc}") from exc
        writer = _Writer(self.path, self._busy_ms)
        await writer.start()
        self._writer = writer
        self._reads = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mcp-channels-store-reader")
        try:
            self._reader = await self._in_reader(lambda: _connect(self.path, self._busy_ms, query_only=True))
        except BaseException:
            await self._close()
            raise

    def _prepare_files(self) -> None:
        ensure_private_dir(self.directory)
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
        for path in (self.path, self.path.with_name(FILENAME + "-wal"), self.path.with_name(FILENAME + "-shm")):
            with contextlib.suppress(FileNotFoundError):
                path.chmod(0o600)

    async def _close(self) -> None:
        if self._reads is not None:
            if self._reader is not None:
                await self._in_reader(self._reader.close)
            self._reads.shutdown(wait=False)
        if self._writer is not None:
            await self._writer.stop()

    # ------------------------------------------------------------------ plumbing

    async def _write(self, work: Callable[[_Transaction], T]) -> T:
        assert self._writer is not None
        result: T = await self._writer.submit(work)
        return result

    async def _in_reader(self, work: Callable[[], T]) -> T:
        assert self._reads is not None
        try:
            return await asyncio.get_running_loop().run_in_executor(self._reads, work)
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from exc

    async def _query(self, sql: str, *params: object) -> list[Any]:
        reader = self._reader
        assert reader is not None
        return await self._in_reader(lambda: reader.execute(sql, params).fetchall())

    # ------------------------------------------------------------------ events

    async def _append(self, events: list[Event]) -> list[StoredEvent]:
        return await self._write(lambda tx: _insert(tx, events, time.time()))

    async def _read(self, channel: str, conversation: str | None, after: int, limit: int) -> list[StoredEvent]:
        if conversation is None:
            rows = await self._query(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE channel = ? AND seq > ? ORDER BY seq LIMIT ?",
                channel,
                after,
                limit,
            )
        else:
            rows = await self._query(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE channel = ? AND conversation = ? AND seq > ?"
                " ORDER BY seq LIMIT ?",
                channel,
                conversation,
                after,
                limit,
            )
        return [_stored(row) for row in rows]

    async def _newest_seq(self, channel: str) -> int:
        rows = await self._query("SELECT last_seq FROM channels WHERE name = ?", channel)
        return int(rows[0][0]) if rows else 0

    # ------------------------------------------------------------------ cursors

    async def _cursor(self, channel: str, conversation: str) -> int:
        rows = await self._query(
            "SELECT seq FROM cursors WHERE channel = ? AND conversation = ?", channel, conversation
        )
        return int(rows[0][0]) if rows else 0

    async def _ack(self, channel: str, conversation: str, seq: int) -> None:
        def work(tx: _Transaction) -> None:
            newest = tx.newest_seq(channel)
            if seq > newest:
                raise ack_past_newest(channel, seq, newest)
            tx.conn.execute(
                "INSERT INTO cursors (channel, conversation, seq) VALUES (?, ?, ?)"
                " ON CONFLICT (channel, conversation) DO UPDATE SET seq = MAX(seq, excluded.seq)",
                (channel, conversation, seq),
            )

        await self._write(work)

    async def _backlog(self, channel: str) -> list[Backlog]:
        rows = await self._query(
            # With exactly one min() aggregate, SQLite takes the bare e.received_at from that row.
            "SELECT e.conversation, COUNT(*), MIN(e.seq), e.received_at, COALESCE(c.seq, 0)"
            " FROM events e LEFT JOIN cursors c ON c.channel = e.channel AND c.conversation = e.conversation"
            " WHERE e.channel = ? AND e.seq > COALESCE(c.seq, 0) GROUP BY e.conversation",
            channel,
        )
        return [Backlog(*row) for row in rows]

    async def _channel_totals(self) -> list[tuple[str, int, int]]:
        rows = await self._query(
            "SELECT name, (SELECT COUNT(*) FROM events WHERE channel = name), last_seq FROM channels"
        )
        return [(str(name), int(stored), int(newest)) for name, stored, newest in rows]

    async def _prune(self, now: float) -> list[Pruned]:
        retention = self.retention
        return await self._write(lambda tx: _prune(tx.conn, now - retention.max_age, retention.max_events))

    # ------------------------------------------------------------------ key-value

    async def _kv_get(self, key: str) -> str | None:
        rows = await self._query("SELECT value FROM kv WHERE key = ?", key)
        return str(rows[0][0]) if rows else None

    async def _kv_put(self, key: str, value: str) -> None:
        await self._write(
            lambda tx: tx.conn.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
        )

    async def _kv_create(self, key: str, value: str) -> str | None:
        def create(tx: _Transaction) -> str | None:
            row = tx.conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
            if row is not None:
                return str(row[0])
            tx.conn.execute("INSERT INTO kv (key, value) VALUES (?, ?)", (key, value))
            return None

        return await self._write(create)

    async def _kv_delete(self, key: str) -> None:
        await self._write(lambda tx: tx.conn.execute("DELETE FROM kv WHERE key = ?", (key,)))

    async def _kv_items(self, prefix: str) -> dict[str, str]:
        rows = await self._query("SELECT key, value FROM kv WHERE substr(key, 1, ?) = ?", len(prefix), prefix)
        return {str(key): str(value) for key, value in rows}


# ---------------------------------------------------------------------- the writer's work, in its thread


class _Transaction:
    """One group's transaction: the connection, and each channel's newest seq as written so far.

    Keeping the seqs here (written to ``channels`` once, before the commit) instead of reading and
    updating that table per event halves the statements an append costs.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.newest: dict[str, int] = {}

    def newest_seq(self, channel: str) -> int:
        seq = self.newest.get(channel)
        if seq is None:
            row = self.conn.execute("SELECT last_seq FROM channels WHERE name = ?", (channel,)).fetchone()
            seq = self.newest[channel] = int(row[0]) if row else 0
        return seq

    def write_seqs(self) -> None:
        self.conn.executemany(
            "INSERT INTO channels (name, last_seq) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET last_seq = excluded.last_seq",
            self.newest.items(),
        )


def _insert(tx: _Transaction, events: list[Event], now: float) -> list[StoredEvent]:
    """Store the events not stored yet (by channel and id); return each as stored."""
    result = []
    for event in events:
        seq = tx.newest_seq(event.channel) + 1
        inserted = tx.conn.execute(
            "INSERT INTO events (channel, seq, id, conversation, content, meta, received_at, stored_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (channel, id) DO NOTHING",
            (
                event.channel,
                seq,
                event.id,
                event.conversation,
                event.content,
                json.dumps(dict(event.meta), ensure_ascii=False),
                event.received_at,
                now,
            ),
        ).rowcount
        if inserted:
            tx.newest[event.channel] = seq
            result.append(StoredEvent.of(event, seq))
        else:
            row = tx.conn.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE channel = ? AND id = ?", (event.channel, event.id)
            ).fetchone()
            result.append(_stored(row))
    return result


def _prune(conn: sqlite3.Connection, cutoff: float, max_events: int) -> list[Pruned]:
    pruned = []
    for (channel,) in conn.execute("SELECT name FROM channels").fetchall():
        row = conn.execute(
            "SELECT seq FROM events WHERE channel = ? ORDER BY seq DESC LIMIT 1 OFFSET ?", (channel, max_events)
        ).fetchone()
        doomed = "e.channel = ? AND (e.stored_at < ? OR e.seq <= ?)"
        params = (channel, cutoff, row[0] if row else 0)
        for conversation, dropped, undelivered in conn.execute(
            "SELECT e.conversation, COUNT(*), SUM(e.seq > COALESCE(c.seq, 0)) FROM events e"
            " LEFT JOIN cursors c ON c.channel = e.channel AND c.conversation = e.conversation"
            f" WHERE {doomed} GROUP BY e.conversation",
            params,
        ).fetchall():
            pruned.append(Pruned(channel, conversation, dropped, undelivered))
        conn.execute(f"DELETE FROM events AS e WHERE {doomed}", params)
    conn.execute(
        "DELETE FROM cursors WHERE NOT EXISTS"
        " (SELECT 1 FROM events e WHERE e.channel = cursors.channel AND e.conversation = cursors.conversation)"
    )
    return pruned


def _stored(row: tuple[Any, ...]) -> StoredEvent:
    channel, seq, event_id, conversation, content, meta, received_at = row
    return StoredEvent(
        id=event_id,
        channel=channel,
        conversation=conversation,
        content=content,
        meta=json.loads(meta),
        received_at=received_at,
        seq=seq,
    )


def _connect(path: Path, busy_ms: int, *, query_only: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{path}: SQLite refused WAL mode (journal_mode is {mode})")
        conn.execute("PRAGMA synchronous = FULL")
        if query_only:
            conn.execute("PRAGMA query_only = 1")
    except BaseException:
        conn.close()
        raise
    return conn


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Create the schema in a new file; refuse a file from a newer version of mcp-channels."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{path} was written by a newer mcp-channels (store schema {version}; this version knows "
                f"up to {SCHEMA_VERSION}): upgrade mcp-channels, or point the hub at another directory"
            )
        if version == 0:
            if conn.execute("SELECT COUNT(*) FROM sqlite_schema").fetchone()[0]:
                raise StoreError(f"{path} is an SQLite database but not an mcp-channels event store")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def translate(exc: sqlite3.Error, path: Path) -> StoreError:
    """The store's error for an SQLite error: a locked database is "unavailable", the rest plain errors."""
    message = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in message or "busy" in message):
        return StoreUnavailable(f"{path} is locked by another process: {message}")
    return StoreError(f"{path}: {message}")


@dataclass
class _Job:
    work: Callable[[_Transaction], Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


class _Writer:
    """One thread, one connection: takes all queued work and commits it in one transaction."""

    def __init__(self, path: Path, busy_ms: int) -> None:
        self._path = path
        self._busy_ms = busy_ms
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="mcp-channels-store-writer", daemon=True)
        self._opened: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._failure: BaseException | None = None
        #: Transactions committed so far: with group commit, far fewer than the requests served.
        self.commits = 0

    async def start(self) -> None:
        self._thread.start()
        try:
            await asyncio.wrap_future(self._opened)
        except sqlite3.Error as exc:
            raise translate(exc, self._path) from exc

    async def stop(self) -> None:
        """Finish the queued work, then close the connection."""
        self._jobs.put(None)
        await asyncio.to_thread(self._thread.join)

    def submit(self, work: Callable[[_Transaction], T]) -> asyncio.Future[T]:
        if self._failure is not None:
            raise StoreError(f"the event store's writer stopped: {self._failure}")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(work, future, loop))
        return future

    def _run(self) -> None:
        try:
            conn = _connect(self._path, self._busy_ms)
            try:
                _migrate(conn, self._path)
            except BaseException:
                conn.close()
                raise
        except BaseException as exc:
            self._failure = exc
            self._opened.set_exception(exc)
            return
        self._opened.set_result(None)
        try:
            self._serve(conn)
        except BaseException as exc:
            self._failure = exc
            self._fail_queued(exc)
        finally:
            conn.close()

    def _serve(self, conn: sqlite3.Connection) -> None:
        while True:
            first = self._jobs.get()
            group = [first]
            while len(group) < MAX_GROUP:
                try:
                    group.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            jobs = [job for job in group if job is not None]
            self._settle(jobs, self._commit(conn, jobs))
            if None in group:
                return

    def _commit(self, conn: sqlite3.Connection, jobs: list[_Job]) -> list[tuple[bool, Any]]:
        """Run every job in one transaction; ``(ok, value or exception)`` per job.

        A job that raises (a refused ``ack``) is left out and the group is run again without it,
        so its partial writes vanish and the others commit; an SQLite error fails the whole group
        (a full disk or an I/O error is no single caller's fault). Failures are rare, so the
        common path pays no savepoint per job.
        """
        refused: dict[int, Exception] = {}
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                values, failed = self._run_jobs(conn, jobs, refused)
                if failed is None:
                    conn.execute("COMMIT")
                    self.commits += 1
                    break
                conn.execute("ROLLBACK")
                refused.update(failed)
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                return [(False, translate(exc, self._path))] * len(jobs)
        return [(False, refused[i]) if i in refused else (True, values[i]) for i in range(len(jobs))]

    @staticmethod
    def _run_jobs(
        conn: sqlite3.Connection, jobs: list[_Job], skip: dict[int, Exception]
    ) -> tuple[dict[int, Any], dict[int, Exception] | None]:
        """Run the jobs not in ``skip``: their values, or the first job that raised and its error."""
        tx = _Transaction(conn)
        values = {}
        for index, job in enumerate(jobs):
            if index in skip:
                continue
            try:
                values[index] = job.work(tx)
            except sqlite3.Error:
                raise
            except Exception as exc:
                return values, {index: exc}
        tx.write_seqs()
        return values, None

    def _settle(self, jobs: list[_Job], outcomes: list[tuple[bool, Any]]) -> None:
        """Hand each outcome to its caller's loop: one wake-up per loop, not one per job."""
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        for job, (ok, value) in zip(jobs, outcomes, strict=True):
            by_loop.setdefault(job.loop, []).append((job.future, ok, value))
        for loop, results in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a loop closed meanwhile has no one waiting
                loop.call_soon_threadsafe(_resolve, results)

    def _fail_queued(self, exc: BaseException) -> None:
        jobs = []
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                jobs.append(job)
        error = StoreError(f"the event store's writer stopped: {exc}")
        self._settle(jobs, [(False, error)] * len(jobs))


def _resolve(results: Iterable[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in results:
        if future.done():  # the caller was cancelled; its work is committed all the same
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

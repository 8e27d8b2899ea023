"""Stand-ins for Messages' ``chat.db`` (and the typedstream blobs in it) and for ``osascript``.

:class:`ChatDbBuilder` creates a database with the tables and columns of a real macOS 14
``chat.db`` (the columns the channel reads, with their real names, types and defaults, and enough
of the others to look the part), in WAL mode like the real one, and appends rows while the server
under test is polling it, the way Messages.app does. :func:`typedstream` builds an
``attributedBody`` blob shaped like the ones Messages writes (an archived NSAttributedString).
:class:`OsascriptRecorder` collects what ``tests/bin/osascript`` was asked to send.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import BIN

APPLE_EPOCH_S = 978_307_200
#: Holds the ``osascript`` stand-in; put it first on the server's PATH.

SCHEMA = """
CREATE TABLE _SqliteDatabaseProperties (key TEXT, value TEXT, UNIQUE(key));
CREATE TABLE handle (
    ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, id TEXT NOT NULL, country TEXT, service TEXT NOT NULL,
    uncanonicalized_id TEXT, person_centric_id TEXT, UNIQUE (id, service));
CREATE TABLE chat (
    ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, style INTEGER, state INTEGER,
    account_id TEXT, properties BLOB, chat_identifier TEXT, service_name TEXT, room_name TEXT, account_login TEXT,
    is_archived INTEGER DEFAULT 0, last_addressed_handle TEXT, display_name TEXT, group_id TEXT,
    is_filtered INTEGER DEFAULT 0, successful_query INTEGER, engram_id TEXT, server_change_token TEXT,
    ck_sync_state INTEGER DEFAULT 0, original_group_id TEXT, last_read_message_timestamp INTEGER DEFAULT 0,
    cloudkit_record_id TEXT, last_addressed_sim_id TEXT, is_blackholed INTEGER DEFAULT 0,
    syndication_date INTEGER DEFAULT 0, syndication_type INTEGER DEFAULT 0, is_recovered INTEGER DEFAULT 0,
    is_deleting_incoming_messages INTEGER DEFAULT 0);
CREATE TABLE message (
    ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, text TEXT, replace INTEGER DEFAULT 0,
    service_center TEXT, handle_id INTEGER DEFAULT 0, subject TEXT, country TEXT, attributedBody BLOB,
    version INTEGER DEFAULT 0, type INTEGER DEFAULT 0, service TEXT, account TEXT, account_guid TEXT,
    error INTEGER DEFAULT 0, date INTEGER, date_read INTEGER, date_delivered INTEGER,
    is_delivered INTEGER DEFAULT 0, is_finished INTEGER DEFAULT 0, is_emote INTEGER DEFAULT 0,
    is_from_me INTEGER DEFAULT 0, is_empty INTEGER DEFAULT 0, is_delayed INTEGER DEFAULT 0,
    is_auto_reply INTEGER DEFAULT 0, is_prepared INTEGER DEFAULT 0, is_read INTEGER DEFAULT 0,
    is_system_message INTEGER DEFAULT 0, is_sent INTEGER DEFAULT 0, has_dd_results INTEGER DEFAULT 0,
    is_service_message INTEGER DEFAULT 0, is_forward INTEGER DEFAULT 0, was_downgraded INTEGER DEFAULT 0,
    is_archive INTEGER DEFAULT 0, cache_has_attachments INTEGER DEFAULT 0, cache_roomnames TEXT,
    was_data_detected INTEGER DEFAULT 0, was_deduplicated INTEGER DEFAULT 0, is_audio_message INTEGER DEFAULT 0,
    is_played INTEGER DEFAULT 0, date_played INTEGER, item_type INTEGER DEFAULT 0, other_handle INTEGER DEFAULT 0,
    group_title TEXT, group_action_type INTEGER DEFAULT 0, share_status INTEGER DEFAULT 0,
    share_direction INTEGER DEFAULT 0, is_expirable INTEGER DEFAULT 0, expire_state INTEGER DEFAULT 0,
    message_action_type INTEGER DEFAULT 0, message_source INTEGER DEFAULT 0, associated_message_guid TEXT,
    associated_message_type INTEGER DEFAULT 0, balloon_bundle_id TEXT, payload_data BLOB,
    expressive_send_style_id TEXT, associated_message_range_location INTEGER DEFAULT 0,
    associated_message_range_length INTEGER DEFAULT 0, time_expressive_send_played INTEGER,
    message_summary_info BLOB, ck_sync_state INTEGER DEFAULT 0, ck_record_id TEXT, ck_record_change_tag TEXT,
    destination_caller_id TEXT, is_corrupt INTEGER DEFAULT 0, reply_to_guid TEXT, sort_id INTEGER,
    is_spam INTEGER DEFAULT 0, has_unseen_mention INTEGER DEFAULT 0, thread_originator_guid TEXT,
    thread_originator_part TEXT, syndication_ranges TEXT, synced_syndication_ranges TEXT,
    was_delivered_quietly INTEGER DEFAULT 0, did_notify_recipient INTEGER DEFAULT 0, date_retracted INTEGER,
    date_edited INTEGER, was_detonated INTEGER DEFAULT 0, part_count INTEGER, is_stewie INTEGER DEFAULT 0,
    is_kt_verified INTEGER DEFAULT 0, is_sos INTEGER DEFAULT 0, is_critical INTEGER DEFAULT 0,
    bia_reference_id TEXT DEFAULT NULL, fallback_hash TEXT DEFAULT NULL, associated_message_emoji TEXT DEFAULT NULL,
    is_pending_satellite_send INTEGER DEFAULT 0, needs_relay INTEGER DEFAULT 0, schedule_type INTEGER DEFAULT 0,
    schedule_state INTEGER DEFAULT 0, sent_or_received_off_grid INTEGER DEFAULT 0);
CREATE TABLE attachment (
    ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, created_date INTEGER DEFAULT 0,
    start_date INTEGER DEFAULT 0, filename TEXT, uti TEXT, mime_type TEXT, transfer_state INTEGER DEFAULT 0,
    is_outgoing INTEGER DEFAULT 0, user_info BLOB, transfer_name TEXT, total_bytes INTEGER DEFAULT 0,
    is_sticker INTEGER DEFAULT 0, sticker_user_info BLOB, attribution_info BLOB, hide_attachment INTEGER DEFAULT 0,
    ck_sync_state INTEGER DEFAULT 0, ck_server_change_token_blob BLOB, ck_record_id TEXT,
    original_guid TEXT UNIQUE NOT NULL, is_commsafety_sensitive INTEGER DEFAULT 0,
    emoji_image_content_identifier TEXT DEFAULT NULL, emoji_image_short_description TEXT DEFAULT NULL,
    preview_generation_state INTEGER DEFAULT 0);
CREATE TABLE chat_handle_join (
    chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE,
    handle_id INTEGER REFERENCES handle (ROWID) ON DELETE CASCADE, UNIQUE(chat_id, handle_id));
CREATE TABLE chat_message_join (
    chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE,
    message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE, message_date INTEGER DEFAULT 0,
    PRIMARY KEY (chat_id, message_id));
CREATE TABLE message_attachment_join (
    message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE,
    attachment_id INTEGER REFERENCES attachment (ROWID) ON DELETE CASCADE, UNIQUE(message_id, attachment_id));
CREATE INDEX chat_message_join_idx_message_date_id_chat_id ON chat_message_join(chat_id, message_date, message_id);
CREATE INDEX message_idx_handle ON message(handle_id, date);
CREATE INDEX message_attachment_join_idx_message_id ON message_attachment_join(message_id);
CREATE INDEX chat_handle_join_idx_handle_id ON chat_handle_join(handle_id);
"""

# The typedstream around the string, as Messages archives an NSAttributedString.
_BLOB_HEAD = (
    b"\x04\x0bstreamtyped\x81\xe8\x03\x84\x01@\x84\x84\x84\x12NSAttributedString\x00\x84\x84\x08NSObject\x00\x85"
    b"\x92\x84\x84\x84\x08NSString\x01\x94\x84\x01+"
)
_BLOB_TAIL = (
    b"\x86\x84\x02iI\x01{units}\x92\x84\x84\x84\x0cNSDictionary\x00\x94\x84\x01i\x01\x92\x84\x96\x96"
    b"\x1d__kIMMessagePartAttributeName\x86\x92\x84\x84\x84\x08NSNumber\x00\x84\x84\x07NSValue\x00\x94\x84\x01*"
    b"\x84\x9b\x9b\x00\x86\x86\x86"
)


def typedstream_integer(value: int) -> bytes:
    """A typedstream integer: one byte below 128, else 0x81 + 2 bytes or 0x82 + 4 bytes, little-endian."""
    if 0 <= value < 0x80:
        return bytes([value])
    if value < 0x8000:
        return b"\x81" + value.to_bytes(2, "little")
    return b"\x82" + value.to_bytes(4, "little")


def typedstream(text: str) -> bytes:
    """An ``attributedBody`` blob holding ``text``, with the length encoded as Messages encodes it."""
    raw = text.encode("utf-8")
    units = len(text.encode("utf-16-le")) // 2
    tail = _BLOB_TAIL.replace(b"{units}", typedstream_integer(units))
    return _BLOB_HEAD + typedstream_integer(len(raw)) + raw + tail


def apple_date(epoch_seconds: float | None = None) -> int:
    """``message.date`` for a moment (default now): nanoseconds since 2001-01-01 UTC."""
    moment = time.time() if epoch_seconds is None else epoch_seconds
    return int((moment - APPLE_EPOCH_S) * 1_000_000_000)


@dataclass(frozen=True)
class AddedMessage:
    rowid: int
    guid: str


class ChatDbBuilder:
    """Creates ``chat.db`` at ``path`` and writes to it like Messages.app (one committed insert at a time)."""

    def __init__(self, path: Path, *, journal_mode: str = "wal") -> None:
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute(f"PRAGMA journal_mode={journal_mode}")
        self.db.executescript(SCHEMA)
        self._handles: dict[tuple[str, str], int] = {}

    def close(self) -> None:
        self.db.close()

    def handle(self, address: str, service: str = "iMessage") -> int:
        """The ROWID of a handle, created on first use."""
        key = (address, service)
        if key not in self._handles:
            cursor = self.db.execute(
                "INSERT INTO handle (id, country, service, uncanonicalized_id, person_centric_id) VALUES (?, 'us', ?, ?, '')",
                (address, service, address),
            )
            self._handles[key] = int(cursor.lastrowid or 0)
        return self._handles[key]

    def chat(
        self,
        guid: str,
        members: Sequence[str],
        *,
        style: int | None = 45,
        display_name: str = "",
        service: str = "iMessage",
    ) -> int:
        """A chat (style 45: one-to-one, 43: group) with its members; returns its ROWID."""
        identifier = guid.split(";", 2)[-1]
        cursor = self.db.execute(
            "INSERT INTO chat (guid, style, state, account_id, chat_identifier, service_name, account_login, "
            "display_name, group_id) VALUES (?, ?, 3, ?, ?, ?, 'E:owner@icloud.com', ?, ?)",
            (guid, style, str(uuid.uuid4()).upper(), identifier, service, display_name, str(uuid.uuid4()).upper()),
        )
        chat_id = int(cursor.lastrowid or 0)
        for member in members:
            self.db.execute(
                "INSERT INTO chat_handle_join (chat_id, handle_id) VALUES (?, ?)",
                (chat_id, self.handle(member, service)),
            )
        return chat_id

    def message(
        self,
        chat_guid: str | None,
        sender: str | None,
        text: str | None = None,
        *,
        body: bytes | None = None,
        from_me: bool = False,
        account: str | None = None,
        service: str = "iMessage",
        date: int | None = None,
        associated_type: int = 0,
        attachments: Sequence[tuple[str | None, str | None, str]] = (),
    ) -> AddedMessage:
        """Append one message (and its chat link and attachments) in a single transaction.

        ``text=None`` with ``body`` is the modern shape: only ``attributedBody`` holds the text.
        ``attachments`` are ``(filename, mime_type, transfer_name)``.
        """
        guid = str(uuid.uuid4()).upper()
        handle_id = self.handle(sender, service) if sender is not None else 0
        when = apple_date() if date is None else date
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO message (guid, text, handle_id, attributedBody, service, account, account_guid, date, "
                "date_read, date_delivered, is_delivered, is_finished, is_from_me, is_sent, is_read, "
                "cache_has_attachments, associated_message_type, associated_message_guid, part_count) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 1, 1, ?, ?, 0, ?, ?, ?, 1)",
                (
                    guid, text, handle_id, body, service, account, str(uuid.uuid4()).upper(), when, int(from_me),
                    int(from_me), int(bool(attachments)), associated_type,
                    f"p:0/{uuid.uuid4()}".upper() if associated_type else None,
                ),
            )  # fmt: skip
            rowid = int(cursor.lastrowid or 0)
            if chat_guid is not None:
                self.db.execute(
                    "INSERT INTO chat_message_join (chat_id, message_id, message_date) "
                    "SELECT ROWID, ?, ? FROM chat WHERE guid = ?",
                    (rowid, when, chat_guid),
                )
            for filename, mime_type, transfer_name in attachments:
                attachment = self.db.execute(
                    "INSERT INTO attachment (guid, created_date, filename, mime_type, transfer_state, transfer_name, "
                    "total_bytes, original_guid) VALUES (?, ?, ?, ?, 5, ?, 1234, ?)",
                    (str(uuid.uuid4()).upper(), when // 10**9, filename, mime_type, transfer_name, str(uuid.uuid4())),
                )
                self.db.execute(
                    "INSERT INTO message_attachment_join (message_id, attachment_id) VALUES (?, ?)",
                    (rowid, attachment.lastrowid),
                )
        return AddedMessage(rowid, guid)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an exclusive lock (readers get SQLITE_BUSY; needs ``journal_mode="delete"``)."""
        self.db.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            self.db.execute("COMMIT")


class OsascriptRecorder:
    """Receives the call records of ``tests/bin/osascript`` (``OSASCRIPT_NOTIFY_PORT``) as they happen."""

    def __init__(self, directory: Path) -> None:
        self.log = directory / "osascript.jsonl"
        self.control = directory / "osascript-control.json"
        self.calls: list[dict[str, Any]] = []
        self.port = 0
        self._changed = asyncio.Condition()
        self._server: asyncio.Server | None = None

    async def start(self) -> OsascriptRecorder:
        self._server = await asyncio.start_server(self._receive, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def env(self) -> dict[str, str]:
        """What the server needs to find and use the stand-in."""
        return {
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "OSASCRIPT_LOG": str(self.log),
            "OSASCRIPT_NOTIFY_PORT": str(self.port),
            "OSASCRIPT_CONTROL": str(self.control),
        }

    def fail(self, *, after: int | None = None, stderr: str | None = None, status: int = 1) -> None:
        """Make calls fail from now on (``after``: once that many calls are in the log in all)."""
        settings: dict[str, Any] = {"fail_after": len(self.recorded()) if after is None else after, "status": status}
        if stderr is not None:
            settings["stderr"] = stderr
        self.control.write_text(json.dumps(settings))

    async def _receive(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        writer.close()
        async with self._changed:
            self.calls.append(json.loads(line))
            self._changed.notify_all()

    async def wait(self, count: int, *, timeout: float = 15.0) -> list[dict[str, Any]]:
        """The first ``count`` calls, once that many have been made."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.calls) >= count)
            return self.calls[:count]

    def recorded(self) -> list[dict[str, Any]]:
        """The calls as written to the log file (the stand-in's own record)."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines() if line.strip()]

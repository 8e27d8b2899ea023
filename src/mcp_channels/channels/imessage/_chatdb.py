"""Reading Messages' ``chat.db``: read-only, a few fixed queries, rows as plain values.

The database belongs to Messages.app, which writes it all the time; this module only ever opens
it read-only and never holds a transaction open. The queries are the official server's
(``docs/parity.md`` §4.2), plus ``associated_message_type`` so tapbacks can be recognised,
and ``account`` so the owner's own addresses can be learned from new sent rows too. Columns that
an older or hand-made database lacks read as NULL instead of failing every query.

A lock held by Messages (``SQLITE_BUSY``) is waited for briefly and then reported as
:class:`sqlite3.OperationalError`; the caller logs it and tries again on its next poll.
"""

from __future__ import annotations

import datetime
import os
import sqlite3
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ...errors import ConfigurationError
from ...text import iso_timestamp
from ._typedstream import decode_attributed_body

DEFAULT_PATH: Final = "~/Library/Messages/chat.db"
#: ``message.date`` counts nanoseconds from 2001-01-01 UTC (Apple's reference date).
APPLE_EPOCH_MS: Final = 978_307_200_000
STYLE_GROUP: Final = 43
STYLE_DM: Final = 45
#: ``associated_message_type`` of tapbacks (2000-2007) and of their removal (3000-3007).
TAPBACK_TYPES: Final = range(2000, 3008)
#: How long to wait for Messages to release a lock before giving up until the next poll (s).
BUSY_TIMEOUT: Final = 0.5
#: Rows handled per poll; the rest follow on the next one, so a burst cannot exhaust memory.
POLL_BATCH: Final = 500
#: The ``message`` columns read, in order; the optional ones read as NULL when a database
#: (older macOS, a hand-made test database) lacks them.
MESSAGE_COLUMNS: Final = (
    "guid", "text", "attributedBody", "date", "is_from_me", "cache_has_attachments", "service", "account",
    "associated_message_type",
)  # fmt: skip
OPTIONAL_COLUMNS: Final = frozenset(
    ("attributedBody", "cache_has_attachments", "service", "account", "associated_message_type")
)


class ChatDbError(ConfigurationError):
    """``chat.db`` cannot be opened or is not a Messages database; the message says what to do."""


@dataclass(frozen=True)
class MessageRow:
    """One message with its chat and sender, as the shared query returns it."""

    rowid: int
    guid: str
    text: str | None
    attributed_body: bytes | None
    date: int
    is_from_me: bool
    has_attachments: bool
    service: str | None
    account: str | None
    associated_type: int
    handle: str | None
    chat_guid: str | None
    chat_style: int | None

    @property
    def body(self) -> str:
        """The text: the ``text`` column, else the string decoded from ``attributedBody``, else ``""``."""
        if self.text is not None:
            return self.text
        return decode_attributed_body(self.attributed_body) or ""

    @property
    def is_tapback(self) -> bool:
        """A reaction (or its removal): its text is like ``Loved “…”``, not something the sender wrote."""
        return self.associated_type in TAPBACK_TYPES

    @property
    def epoch_ms(self) -> int:
        return apple_to_epoch_ms(self.date)


@dataclass(frozen=True)
class Attachment:
    filename: str | None
    mime_type: str | None
    transfer_name: str | None


@dataclass(frozen=True)
class ChatInfo:
    display_name: str | None
    style: int | None


#: Latest time a timestamp can show: a day short of Python's calendar limit (the end of 9999),
#: so that a local-time rendering east of UTC still fits.
MAX_EPOCH_MS = 253_402_214_399_999


def apple_to_epoch_ms(date: int) -> int:
    """Milliseconds since 1970 for a ``message.date`` (nanoseconds since 2001).

    Clamped to 1970..9999: a corrupt date must not lose the message or break the history.
    """
    return min(max(date // 1_000_000 + APPLE_EPOCH_MS, 0), MAX_EPOCH_MS)


def epoch_ms_iso(epoch_ms: int) -> str:
    """Milliseconds since 1970 as meta ``ts`` (``2026-03-24T10:15:30.123Z``), exact to the millisecond."""
    return iso_timestamp(datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(milliseconds=epoch_ms))


def normalise_address(account: str) -> str:
    """An owner address from ``message.account``: ``E:you@icloud.com`` -> ``you@icloud.com``, lowercased."""
    if len(account) >= 2 and account[1] == ":" and account[0].isascii() and account[0].isalpha():
        account = account[2:]
    return account.lower()


def default_path() -> Path:
    return Path(DEFAULT_PATH).expanduser()


class ChatDb:
    """A read-only connection to ``chat.db``; usable from one thread at a time (any thread).

    Opening it checks that every query works and records where polling starts
    (``initial_watermark``) and the owner's addresses (``initial_self_addresses``), so that all
    that can fail at start fails here, with the Full Disk Access hint.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(
                path.expanduser().absolute().as_uri() + "?mode=ro", uri=True, timeout=BUSY_TIMEOUT,
                check_same_thread=False,
            )  # fmt: skip
        except sqlite3.Error as exc:
            raise ChatDbError(_cannot_read(path, exc)) from None
        try:
            present = {row[1] for row in self._db.execute("PRAGMA table_info(message)")}
            self._has_account = "account" in present
            self._columns = ", ".join(
                f"NULL AS {name}" if name in OPTIONAL_COLUMNS and name not in present else f"m.{name}"
                for name in MESSAGE_COLUMNS
            )
            # Compile and run every query once, so a database without Messages' tables fails now.
            self.messages_after(sys.maxsize)
            self.attachments(-1)
            self.chats_for_handle("")
            self.initial_watermark = self.watermark()
            self.initial_self_addresses = self.self_addresses()
        except sqlite3.Error as exc:
            self._db.close()
            raise ChatDbError(_cannot_read(path, exc)) from None

    def close(self) -> None:
        self._db.close()

    # ---- queries

    def self_addresses(self) -> set[str]:
        """The owner's own addresses: the accounts messages were sent from (at most 50)."""
        if not self._has_account:
            return set()
        rows = self._db.execute(
            "SELECT DISTINCT account FROM message WHERE is_from_me = 1 AND account IS NOT NULL AND account != '' "
            "LIMIT 50"
        )
        return {normalise_address(account) for (account,) in rows if isinstance(account, str)}

    def watermark(self) -> int:
        """The newest ``message.ROWID`` (0 for an empty table): where polling starts."""
        (newest,) = self._db.execute("SELECT MAX(ROWID) FROM message").fetchone()
        return int(newest or 0)

    def messages_after(self, rowid: int, limit: int = POLL_BATCH) -> list[MessageRow]:
        """Messages with a ROWID above ``rowid``, oldest first (a message in two chats appears twice)."""
        return self._rows(f"{self._select()} WHERE m.ROWID > ? ORDER BY m.ROWID ASC LIMIT ?", (rowid, limit))

    def history(self, chat_guid: str, limit: int) -> list[MessageRow]:
        """The ``limit`` most recent messages of a chat, oldest first."""
        rows = self._rows(f"{self._select()} WHERE c.guid = ? ORDER BY m.date DESC LIMIT ?", (chat_guid, limit))
        return rows[::-1]

    def chats_for_handle(self, handle: str) -> list[str]:
        """The GUIDs of the one-to-one chats with ``handle`` (compared case-insensitively)."""
        rows = self._db.execute(
            "SELECT DISTINCT c.guid FROM chat c JOIN chat_handle_join chj ON chj.chat_id = c.ROWID "
            "JOIN handle h ON h.ROWID = chj.handle_id WHERE c.style = ? AND LOWER(h.id) = ?",
            (STYLE_DM, handle.lower()),
        )
        return [guid for (guid,) in rows]

    def chats_for_handles(self, handles: Iterable[str]) -> list[str]:
        return [guid for handle in dict.fromkeys(handles) for guid in self.chats_for_handle(handle)]

    def participants(self, chat_guid: str) -> list[str]:
        rows = self._db.execute(
            "SELECT DISTINCT h.id FROM handle h JOIN chat_handle_join chj ON chj.handle_id = h.ROWID "
            "JOIN chat c ON c.ROWID = chj.chat_id WHERE c.guid = ?",
            (chat_guid,),
        )
        return [handle for (handle,) in rows]

    def chat_info(self, chat_guid: str) -> ChatInfo | None:
        row = self._db.execute("SELECT display_name, style FROM chat WHERE guid = ?", (chat_guid,)).fetchone()
        return None if row is None else ChatInfo(row[0], row[1])

    def attachments(self, rowid: int) -> list[Attachment]:
        rows = self._db.execute(
            "SELECT a.filename, a.mime_type, a.transfer_name FROM attachment a "
            "JOIN message_attachment_join maj ON maj.attachment_id = a.ROWID WHERE maj.message_id = ?",
            (rowid,),
        )
        return [Attachment(*row) for row in rows]

    # ---- internals

    def _select(self) -> str:
        return (
            f"SELECT m.ROWID, {self._columns}, h.id, c.guid, c.style FROM message m "
            "JOIN chat_message_join cmj ON cmj.message_id = m.ROWID JOIN chat c ON c.ROWID = cmj.chat_id "
            "LEFT JOIN handle h ON h.ROWID = m.handle_id"
        )

    def _rows(self, sql: str, parameters: tuple[object, ...]) -> list[MessageRow]:
        return [_message(row) for row in self._db.execute(sql, parameters)]


def _message(row: tuple[Any, ...]) -> MessageRow:
    """A result row as a :class:`MessageRow`; odd types (a hand-made database) are coerced, not trusted."""
    (rowid, guid, text, body, date, from_me, attachments, service, account, associated, handle, chat, style) = row
    return MessageRow(
        rowid=int(rowid),
        guid=str(guid),
        text=text if isinstance(text, str) else None,
        attributed_body=body if isinstance(body, bytes) else None,
        date=date if isinstance(date, int) else 0,
        is_from_me=from_me == 1,
        has_attachments=attachments == 1,
        service=service if isinstance(service, str) else None,
        account=account if isinstance(account, str) else None,
        associated_type=associated if isinstance(associated, int) else 0,
        handle=handle if isinstance(handle, str) else None,
        chat_guid=chat if isinstance(chat, str) else None,
        chat_style=style if isinstance(style, int) else None,
    )


def _cannot_read(path: Path, error: sqlite3.Error) -> str:
    """The official message, with the operating system's reason when there is one."""
    try:
        os.stat(path.expanduser())
        reason = str(error)
    except OSError as exc:
        reason = exc.strerror or str(error)
    return (
        f"cannot read {path}\n  {reason}\n"
        f"  Grant Full Disk Access to your terminal (or the Python binary, {sys.executable}) in\n"
        "  System Settings → Privacy & Security → Full Disk Access."
    )

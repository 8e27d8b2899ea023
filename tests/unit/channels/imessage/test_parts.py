"""The iMessage channel's parts on their own: typedstream decoding, the echo filter, chat.db
queries against a database with the real schema, history rendering, and osascript calls through
the stand-in. The whole channel is tested end to end in ``test_imessage.py``.
"""

from __future__ import annotations

import datetime
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_channels.channel import PermissionRequest
from mcp_channels.channels.imessage._channel import permission_text
from mcp_channels.channels.imessage._chatdb import (
    ChatDb,
    ChatDbError,
    ChatInfo,
    MessageRow,
    apple_to_epoch_ms,
    epoch_ms_iso,
    normalise_address,
)
from mcp_channels.channels.imessage._echo import ATTACHMENT_KEY, EchoFilter, echo_key
from mcp_channels.channels.imessage._history import header, render_conversation
from mcp_channels.channels.imessage._osascript import SEND_FILE_SCRIPT, SEND_TEXT_SCRIPT, Osascript, SendError
from mcp_channels.channels.imessage._settings import IMessageSettings
from mcp_channels.channels.imessage._typedstream import decode_attributed_body
from mcp_channels.errors import ConfigurationError
from support.imessage import BIN, ChatDbBuilder, apple_date, typedstream, typedstream_integer

# --------------------------------------------------------------------------- attributedBody


@pytest.mark.parametrize("size", [1, 100, 127, 128, 200, 300, 4000, 32767, 40000, 70000])
def test_decodes_every_length_encoding(size: int) -> None:
    text = ("0123456789" * (size // 10 + 1))[:size]
    assert decode_attributed_body(typedstream(text)) == text


def test_length_shapes_are_the_real_typedstream_ones() -> None:
    """1 byte below 128; 0x81 + 2 bytes; 0x82 + 4 bytes (the official reads 1 and 2 bytes and garbles)."""
    assert typedstream_integer(100) == b"d"
    assert typedstream_integer(200) == b"\x81\xc8\x00"
    assert typedstream_integer(300) == b"\x81\x2c\x01"
    assert typedstream_integer(70000) == b"\x82\x70\x11\x01\x00"
    blob = typedstream("x" * 200)
    assert b"+\x81\xc8\x00" + b"x" * 200 in blob
    decoded = decode_attributed_body(blob)
    assert decoded == "x" * 200 and "\x00" not in decoded


def test_lengths_count_utf8_bytes() -> None:
    text = "héllo 👋🏽 “quoted” " * 12
    assert len(text.encode()) > 128
    assert decode_attributed_body(typedstream(text)) == text


@pytest.mark.parametrize(
    "blob",
    [
        None,
        b"",
        b"no marker at all",
        b"NSString without the type code",
        b"NSString\x01\x94\x84\x01+",  # no length
        b"NSString\x01\x94\x84\x01+\x81\x05",  # 2-byte length cut short
        b"NSString\x01\x94\x84\x01+\x82\x05\x00",  # 4-byte length cut short
        b"NSString\x01\x94\x84\x01+\x0aabc",  # length past the end
        b"NSString\x01\x94\x84\x01+\x81\xff\xffabc",
        b"NSString\x01\x94\x84\x01+\x83\x03\x00\x00abc",  # 0x83 is not a length tag
        b"NSString\x01\x94\x84\x01+\x80abc",
        b"NSString\x01\x94\x84\x01+\x92abc",  # a negative literal
    ],
)
def test_malformed_blobs_give_none(blob: bytes | None) -> None:
    assert decode_attributed_body(blob) is None


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert decode_attributed_body(b"NSString\x01+\x03a\xffb") == "a\ufffdb"


@given(st.binary(max_size=512))
def test_never_raises_on_arbitrary_bytes(blob: bytes) -> None:
    result = decode_attributed_body(blob)
    assert result is None or isinstance(result, str)


@given(st.binary(max_size=64), st.binary(max_size=300))
def test_never_raises_after_a_plausible_header(prefix: bytes, rest: bytes) -> None:
    result = decode_attributed_body(prefix + b"NSString\x01\x94\x84\x01+" + rest)
    assert result is None or isinstance(result, str)


@given(st.text(st.characters(exclude_categories=["Cs"]), max_size=2000))  # lone surrogates are not UTF-8
def test_round_trips_any_text(text: str) -> None:
    assert decode_attributed_body(typedstream(text)) == text


# --------------------------------------------------------------------------- echo filter


def test_echo_key_survives_messages_rewriting() -> None:
    sent = 'Don\'t "panic"   now\n\nSent by Claude'
    assert echo_key(sent) == echo_key("Don’t “panic” now")
    assert echo_key("ok\ufe0f\u200d ") == "ok"
    assert len(echo_key("x" * 500)) == 120
    assert echo_key(ATTACHMENT_KEY) == ATTACHMENT_KEY


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_each_send_suppresses_one_echo_within_the_window() -> None:
    clock = Clock()
    echoes = EchoFilter(window=15.0, clock=clock)
    echoes.track("chat", "hi\nSent by Claude")
    echoes.track("chat", "hi\nSent by Claude")
    echoes.track("chat", ATTACHMENT_KEY)
    echoes.track("chat", ATTACHMENT_KEY)
    assert not echoes.consume("other chat", "hi")
    assert echoes.consume("chat", "hi") and echoes.consume("chat", "hi")
    assert not echoes.consume("chat", "hi")  # the third "hi" is the user's own
    assert echoes.consume("chat", ATTACHMENT_KEY) and echoes.consume("chat", ATTACHMENT_KEY)
    echoes.track("chat", "late")
    clock.now += 15.5
    assert not echoes.consume("chat", "late")


# --------------------------------------------------------------------------- chat.db


@pytest.fixture
def chat_db(tmp_path: Path) -> Iterator[ChatDbBuilder]:
    builder = ChatDbBuilder(tmp_path / "chat.db")
    yield builder
    builder.close()


def test_queries_read_the_real_schema(chat_db: ChatDbBuilder) -> None:
    chat_db.chat("iMessage;-;+15551230001", ["+15551230001"])
    chat_db.chat("iMessage;-;Owner@iCloud.com", ["Owner@iCloud.com"])
    chat_db.chat("iMessage;+;chat1", ["+15551230001", "jo@icloud.com"], style=43, display_name="Climbing")
    first = chat_db.message("iMessage;-;+15551230001", "+15551230001", "hello", date=apple_date(1_774_346_400))
    chat_db.message("iMessage;-;+15551230001", None, "sent", from_me=True, account="E:Owner@iCloud.com")
    chat_db.message("iMessage;-;+15551230001", None, "by sms", from_me=True, account="p:+15550000000")
    db = ChatDb(chat_db.path)
    try:
        assert db.self_addresses() == {"owner@icloud.com", "+15550000000"}
        assert db.watermark() == first.rowid + 2
        row = db.messages_after(0)[0]
        assert (row.rowid, row.guid, row.body, row.handle, row.service) == (
            first.rowid, first.guid, "hello", "+15551230001", "iMessage",
        )  # fmt: skip
        assert (row.chat_guid, row.chat_style, row.is_from_me, row.has_attachments) == (
            "iMessage;-;+15551230001", 45, False, False,
        )  # fmt: skip
        assert epoch_ms_iso(row.epoch_ms) == "2026-03-24T10:00:00.000Z"
        assert [r.body for r in db.history("iMessage;-;+15551230001", 2)] == ["sent", "by sms"]
        assert db.messages_after(first.rowid + 2) == []
        assert db.chats_for_handle("OWNER@icloud.com") == ["iMessage;-;Owner@iCloud.com"]
        assert db.chats_for_handle("jo@icloud.com") == []  # group chats are not DMs
        assert db.participants("iMessage;+;chat1") == ["+15551230001", "jo@icloud.com"]
        assert db.chat_info("iMessage;+;chat1") == ChatInfo("Climbing", 43)
        assert db.chat_info("nope") is None
    finally:
        db.close()


def test_attachments_and_tapbacks(chat_db: ChatDbBuilder) -> None:
    chat_db.chat("iMessage;-;+1", ["+1"])
    photo = chat_db.message(
        "iMessage;-;+1", "+1", attachments=[("~/Library/Messages/Attachments/a/IMG_1.heic", "image/heic", "IMG_1.heic")]
    )
    chat_db.message("iMessage;-;+1", "+1", "Loved “hello”", associated_type=2000)
    db = ChatDb(chat_db.path)
    try:
        image, tapback = db.messages_after(0)
        assert image.has_attachments and image.body == "" and not image.is_tapback
        assert tapback.is_tapback and tapback.body == "Loved “hello”"
        [attachment] = db.attachments(photo.rowid)
        assert (attachment.filename, attachment.mime_type) == (
            "~/Library/Messages/Attachments/a/IMG_1.heic",
            "image/heic",
        )
    finally:
        db.close()


def test_a_database_without_the_newer_columns_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.executescript(
            "CREATE TABLE message (ROWID INTEGER PRIMARY KEY, guid TEXT, text TEXT, date INTEGER, is_from_me INTEGER,"
            " handle_id INTEGER);"
            "CREATE TABLE handle (ROWID INTEGER PRIMARY KEY, id TEXT); CREATE TABLE chat (ROWID INTEGER PRIMARY KEY,"
            " guid TEXT, style INTEGER, display_name TEXT); CREATE TABLE chat_message_join (chat_id INTEGER,"
            " message_id INTEGER); CREATE TABLE chat_handle_join (chat_id INTEGER, handle_id INTEGER);"
            "CREATE TABLE attachment (ROWID INTEGER PRIMARY KEY, filename TEXT, mime_type TEXT, transfer_name TEXT);"
            "CREATE TABLE message_attachment_join (message_id INTEGER, attachment_id INTEGER);"
            "INSERT INTO handle VALUES (1, '+1'); INSERT INTO chat VALUES (1, 'iMessage;-;+1', 45, NULL);"
            "INSERT INTO message VALUES (1, 'g1', 'hi', 0, 0, 1); INSERT INTO chat_message_join VALUES (1, 1);"
        )
    db = ChatDb(path)
    try:
        [row] = db.messages_after(0)
        assert (row.body, row.service, row.associated_type, row.account) == ("hi", None, 0, None)
        assert db.self_addresses() == set()
    finally:
        db.close()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "No such file or directory"),
        (b"not a database at all" * 100, "file is not a database"),
        (b"", "no such table"),
    ],
)
def test_unreadable_database_names_full_disk_access(tmp_path: Path, content: bytes | None, reason: str) -> None:
    path = tmp_path / "chat.db"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ChatDbError) as raised:
        ChatDb(path)
    message = str(raised.value)
    assert message.startswith(f"cannot read {path}\n  ")
    assert reason in message and "Full Disk Access" in message


def test_owner_addresses_are_normalised() -> None:
    assert normalise_address("E:You@iCloud.com") == "you@icloud.com"
    assert normalise_address("p:+15551230001") == "+15551230001"
    assert normalise_address("+15551230001") == "+15551230001"


# --------------------------------------------------------------------------- rendering


def row(
    text: str | None, when: str, *, me: bool = False, handle: str | None = "+1", attached: bool = False
) -> MessageRow:
    moment = datetime.datetime.fromisoformat(when).replace(tzinfo=datetime.UTC)
    return MessageRow(
        rowid=1, guid="g", text=text, attributed_body=None, date=apple_date(moment.timestamp()), is_from_me=me,
        has_attachments=attached, service="iMessage", account=None, associated_type=0, handle=handle,
        chat_guid="c", chat_style=45,
    )  # fmt: skip


def test_history_layout() -> None:
    rows = [
        row("Saturday?\nOr Sunday", "2026-03-24T18:02:00"),
        row("Saturday", "2026-03-24T18:05:00", me=True, attached=True),
        row(None, "2026-03-25T07:30:00", handle=None),
    ]
    title = header("iMessage;+;chat1", ChatInfo("Climbing", 43), ["+1", "jo@icloud.com"])
    assert render_conversation(title, rows, tz=datetime.UTC) == (
        '=== Group "Climbing" (+1, jo@icloud.com) ===\n'
        "-- Tue Mar 24 2026 --\n"
        "[18:02] +1: Saturday? ⏎ Or Sunday\n"
        "[18:05] me: Saturday [attachment]\n"
        "-- Wed Mar 25 2026 --\n"
        "[07:30] unknown: "
    )
    assert header("iMessage;+;chat2", ChatInfo(None, 43), []) == "=== Group (iMessage;+;chat2) ==="
    assert header("iMessage;-;+1", ChatInfo(None, 45), ["+1"]) == "=== DM with +1 ==="
    assert render_conversation("=== DM with +1 ===", []) == "=== DM with +1 ===\n(no messages)"


def test_permission_prompt_shows_the_input_only_for_bash() -> None:
    bash = PermissionRequest("abcde", "Bash", "List files", '{"command": "ls"}')
    assert permission_text(bash) == (
        '🔐 Permission request [abcde]\nBash: List files\n{"command": "ls"}\n\nReply "yes abcde" to allow or "no abcde" to deny.'
    )
    write = PermissionRequest("fghij", "Write", "Create a.txt", '{"content": "long"}')
    assert permission_text(write) == (
        '🔐 Permission request [fghij]\nWrite: Create a.txt\n\nReply "yes fghij" to allow or "no fghij" to deny.'
    )


# --------------------------------------------------------------------------- settings


def test_settings_from_the_environment(tmp_path: Path) -> None:
    config = IMessageSettings.from_environ(
        {
            "IMESSAGE_DB_PATH": str(tmp_path / "x.db"),
            "IMESSAGE_ALLOW_SMS": "true",
            "IMESSAGE_APPEND_SIGNATURE": "false",
            "IMESSAGE_POLL_INTERVAL": "0.25",
            "IMESSAGE_STATE_DIR": str(tmp_path),
        }
    )
    assert (config.db_path, config.allow_sms, config.append_signature, config.poll_interval, config.state_dir) == (
        tmp_path / "x.db", True, False, 0.25, tmp_path,
    )  # fmt: skip
    defaults = IMessageSettings.from_environ({"HOME": str(tmp_path)})
    assert (defaults.allow_sms, defaults.append_signature, defaults.poll_interval) == (False, True, 1.0)


@pytest.mark.parametrize(
    ("value", "message"), [("soon", "is not a number"), ("0", "out of range"), ("600", "out of range")]
)
def test_bad_poll_interval_is_refused(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        IMessageSettings.from_environ({"IMESSAGE_POLL_INTERVAL": value, "IMESSAGE_STATE_DIR": str(tmp_path)})
    assert str(raised.value).startswith("IMESSAGE_POLL_INTERVAL=") and message in str(raised.value)


@pytest.mark.parametrize("value", ["maybe", "2", "enabled"])
def test_a_flag_that_is_neither_true_nor_false_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigurationError, match=r"IMESSAGE_ALLOW_SMS=.* is neither true nor false"):
        IMessageSettings.from_environ({"IMESSAGE_ALLOW_SMS": value, "IMESSAGE_STATE_DIR": str(tmp_path)})


# --------------------------------------------------------------------------- osascript


@pytest.fixture
def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "osascript.jsonl"
    monkeypatch.setenv("OSASCRIPT_LOG", str(log))
    monkeypatch.setenv("OSASCRIPT_CONTROL", str(tmp_path / "control.json"))
    return log


async def test_text_and_chat_travel_as_arguments_never_as_script(stand_in: Path) -> None:
    osascript = Osascript(str(BIN / "osascript"))
    hostile = 'x" & (do shell script "touch /tmp/pwned") & "\\\nend run\ntell application "Finder" to quit'
    await osascript.send_text("iMessage;-;+1", hostile)
    await osascript.send_file("iMessage;-;+1", '/tmp/a "b".png')
    calls = [json.loads(line) for line in stand_in.read_text().splitlines()]
    assert calls == [
        {"argv": ["-", hostile, "iMessage;-;+1"], "script": SEND_TEXT_SCRIPT, "ok": True},
        {"argv": ["-", '/tmp/a "b".png', "iMessage;-;+1"], "script": SEND_FILE_SCRIPT, "ok": True},
    ]


async def test_send_failures_are_reported(stand_in: Path, tmp_path: Path) -> None:
    osascript = Osascript(str(BIN / "osascript"))
    (tmp_path / "control.json").write_text(json.dumps({"fail_after": 0, "stderr": "  Messages got an error  \n"}))
    with pytest.raises(SendError, match=r"^Messages got an error$"):
        await osascript.send_text("c", "hi")
    (tmp_path / "control.json").write_text(json.dumps({"fail_after": 0, "stderr": "", "status": 3}))
    with pytest.raises(SendError, match=r"^osascript exit 3$"):
        await osascript.send_text("c", "hi")
    with pytest.raises(SendError, match="NUL"):
        await osascript.send_text("c", "a\x00b")
    with pytest.raises(SendError, match="not found: sending iMessages needs macOS"):
        await Osascript(str(tmp_path / "missing" / "osascript")).send_text("c", "hi")
    assert len(stand_in.read_text().splitlines()) == 2  # the NUL text never reached osascript


@pytest.mark.parametrize(
    ("date", "expected"), [(2**80, "9999-12-30T23:59:59.999Z"), (-(2**80), "1970-01-01T00:00:00.000Z")]
)
def test_an_impossible_date_is_clamped_not_fatal(date: int, expected: str) -> None:
    assert epoch_ms_iso(apple_to_epoch_ms(date)) == expected

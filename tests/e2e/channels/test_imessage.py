"""The iMessage channel end to end: the host spawns ``mcp-channels serve imessage`` over stdio, the
test writes rows into a ``chat.db`` with the real schema while it polls, and ``osascript`` is the
stand-in in ``tests/bin``, which records exactly what it was asked to send.

A row that must be dropped is always followed by one that must arrive: rows are handled in order,
so once the second one's event is in, the first one's fate is known without sleeping.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mcp_channels.channels.imessage._osascript import SEND_FILE_SCRIPT, SEND_TEXT_SCRIPT
from support.imessage import ChatDbBuilder, OsascriptRecorder, apple_date, typedstream
from support.processes import HostProcess, RawServer, channel_config, write_mcp_config

OWNER = "owner@icloud.com"
FRIEND = "+15551230001"
STRANGER = "+15559990000"
MEMBER = "jo@icloud.com"
SELF_CHAT = f"iMessage;-;{OWNER}"
FRIEND_CHAT = f"iMessage;-;{FRIEND}"
STRANGER_CHAT = f"iMessage;-;{STRANGER}"
GROUP = "iMessage;+;chat424242"
SMS_CHAT = f"SMS;-;{FRIEND}"
SIGNED = "\nSent by Claude"

ACCESS: dict[str, Any] = {
    "dmPolicy": "allowlist",
    "allowFrom": [FRIEND],
    "groups": {GROUP: {"requireMention": True, "allowFrom": []}},
    "pending": {},
    "mentionPatterns": [r"\bclaude\b"],
    "ackReaction": "👀",  # iMessage cannot react: must be ignored
}


@dataclass
class World:
    db: ChatDbBuilder
    host: HostProcess
    osascript: OsascriptRecorder
    state: Path
    home: Path

    def write_access(self, **changes: Any) -> None:
        (self.state / "access.json").write_text(json.dumps({**ACCESS, **changes}))

    async def event(self, number: int = 1) -> dict[str, Any]:
        """The ``number``-th event (from 1), once it has arrived."""
        return (await self.host.wait_count("event", number))[number - 1]

    async def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        return await self.host.call("imessage", tool, arguments)


def build_db(path: Path, *, owner_has_sent: bool = True, journal_mode: str = "wal") -> ChatDbBuilder:
    db = ChatDbBuilder(path, journal_mode=journal_mode)
    db.chat(SELF_CHAT, [OWNER])
    db.chat(FRIEND_CHAT, [FRIEND])
    db.chat(STRANGER_CHAT, [STRANGER])
    db.chat(GROUP, [FRIEND, MEMBER], style=43, display_name="Climbing")
    db.chat(SMS_CHAT, [FRIEND], service="SMS")
    if owner_has_sent:
        db.message(FRIEND_CHAT, FRIEND, "old news", date=apple_date(1_774_346_400))  # 2026-03-24 10:00 UTC
        db.message(FRIEND_CHAT, None, "seen it", from_me=True, account=f"E:{OWNER}", date=apple_date(1_774_350_000))
        db.message(STRANGER_CHAT, STRANGER, "private", date=apple_date(1_774_350_000))
    return db


@pytest.fixture
async def start_world(tmp_path: Path) -> AsyncIterator[Any]:
    started: list[tuple[HostProcess, OsascriptRecorder, ChatDbBuilder]] = []

    async def start(
        *,
        owner_has_sent: bool = True,
        journal_mode: str = "wal",
        access: dict[str, Any] | None = None,
        delivering: bool = True,
        **env: str,
    ) -> World:
        """The host running the channel; ``delivering=False``: a session without the channel flag."""
        state, home = tmp_path / "state", tmp_path / "home"
        state.mkdir(exist_ok=True)
        home.mkdir(exist_ok=True)
        db = build_db(tmp_path / "chat.db", owner_has_sent=owner_has_sent, journal_mode=journal_mode)
        osascript = await OsascriptRecorder(tmp_path).start()
        settings = {
            "IMESSAGE_DB_PATH": str(db.path),
            "IMESSAGE_STATE_DIR": str(state),
            "IMESSAGE_POLL_INTERVAL": "0.05",
            "HOME": str(home),
            "TZ": "UTC",
            **osascript.env(),
            **env,
        }
        (state / "access.json").write_text(json.dumps(access if access is not None else ACCESS))
        config = write_mcp_config(tmp_path, channel_config("imessage", settings))
        flags = ["--dangerously-load-development-channels", "server:imessage"] if delivering else []
        host = HostProcess(["--mcp-config", str(config), *flags])
        started.append((host, osascript, db))
        await host.start()
        await host.wait_type("ready")
        await host.wait_stderr("watching chat.db" if delivering else "not enabled as a channel in this session")
        return World(db, host, osascript, state, home)

    yield start
    for host, osascript, db in started:
        await host.stop()
        await osascript.stop()
        db.close()


# --------------------------------------------------------------------------- inbound


async def test_dm_from_an_allowlisted_handle_and_not_from_an_unknown_one(start_world: Any) -> None:
    world: World = await start_world()
    assert (await world.host.wait_type("server"))["tools"] == ["reply", "chat_messages"]
    await world.host.wait_stderr(f"self-chat addresses: {OWNER}")
    world.db.message(STRANGER_CHAT, STRANGER, "let me in")
    sent = world.db.message(
        FRIEND_CHAT, FRIEND, 'are you there? </channel> "quoted"', date=apple_date(1_774_346_400.25)
    )
    event = await world.event()
    assert event["content"] == 'are you there? </channel> "quoted"'
    assert event["meta"] == {
        "chat_id": FRIEND_CHAT,
        "message_id": sent.guid,
        "user": FRIEND,
        "ts": "2026-03-24T10:00:00.250Z",
    }
    assert event["rendered"].startswith(f'<channel source="imessage" chat_id="{FRIEND_CHAT}" message_id="{sent.guid}"')
    assert len(world.host.of_type("event")) == 1  # the stranger was dropped...
    assert world.osascript.recorded() == []  # ...without a pairing reply (allowlist), and no ack "reaction"


async def test_rows_that_are_not_someone_writing_are_skipped(start_world: Any) -> None:
    world: World = await start_world()
    world.db.message(FRIEND_CHAT, FRIEND, "Loved “are you there?”", associated_type=2000)  # a tapback
    world.db.message(FRIEND_CHAT, FRIEND, "Removed a heart from “x”", associated_type=3000)
    world.db.message(FRIEND_CHAT, FRIEND, "  \n ")  # a synced read receipt
    world.db.message(FRIEND_CHAT, None, "my own send", from_me=True, account=f"E:{OWNER}")
    world.db.message(FRIEND_CHAT, None, "no sender")
    world.db.message(None, FRIEND, "no chat")
    world.db.chat("iMessage;-;odd", [FRIEND], style=None)
    world.db.message("iMessage;-;odd", FRIEND, "chat without a style")
    world.db.message(FRIEND_CHAT, FRIEND, "the real one")
    event = await world.event()
    assert event["content"] == "the real one"
    assert len(world.host.of_type("event")) == 1
    await world.host.wait_stderr("undefined chat.style (chat: iMessage;-;odd) — dropping")


async def test_group_needs_a_mention_pattern(start_world: Any) -> None:
    world: World = await start_world()
    world.db.chat("iMessage;+;chat-other", [MEMBER], style=43)
    world.db.message(GROUP, MEMBER, "anyone up for Saturday?")
    world.db.message("iMessage;+;chat-other", MEMBER, "claude, hi")  # a group that is not opted in
    sent = world.db.message(GROUP, MEMBER, "Claude: what's the forecast?")
    event = await world.event()
    assert event["content"] == "Claude: what's the forecast?"
    assert event["meta"]["chat_id"] == GROUP and event["meta"]["user"] == MEMBER
    assert event["meta"]["message_id"] == sent.guid
    assert len(world.host.of_type("event")) == 1


async def test_text_only_in_attributed_body(start_world: Any) -> None:
    world: World = await start_world()
    long = "Long message, 300 bytes: " + "é" * 137 + "!"
    assert len(long.encode()) == 300
    world.db.message(FRIEND_CHAT, FRIEND, None, body=typedstream("short one"))
    world.db.message(FRIEND_CHAT, FRIEND, None, body=typedstream(long))
    world.db.message(FRIEND_CHAT, FRIEND, None, body=b"\x04\x0bstreamtyped garbage NSString+\x83\xff")
    world.db.message(FRIEND_CHAT, FRIEND, "after the garbage")
    await world.host.wait_count("event", 3)
    assert [e["content"] for e in world.host.of_type("event")] == ["short one", long, "after the garbage"]


async def test_image_and_other_attachments(start_world: Any) -> None:
    world: World = await start_world()
    world.db.message(
        FRIEND_CHAT,
        FRIEND,
        attachments=[
            ("~/Library/Messages/Attachments/0a/10/doc.pdf", "application/pdf", "doc.pdf"),
            ("~/Library/Messages/Attachments/0b/11/IMG_0001.heic", "image/heic", "IMG_0001.heic"),
        ],
    )
    world.db.message(FRIEND_CHAT, FRIEND, "look at this", attachments=[("/abs/photo.png", None, "photo.png")])
    world.db.message(
        FRIEND_CHAT, FRIEND, attachments=[("~/Library/Messages/Attachments/0c/12/a.pdf", "application/pdf", "a.pdf")]
    )
    events = await world.host.wait_count("event", 3)
    image = str(world.home / "Library/Messages/Attachments/0b/11/IMG_0001.heic")
    assert (events[0]["content"], events[0]["meta"]["image_path"]) == ("(image)", image)
    assert (events[1]["content"], events[1]["meta"]["image_path"]) == ("look at this", "/abs/photo.png")
    assert events[2]["content"] == "(attachment)"
    assert events[2]["meta"]["attachment_path"] == str(world.home / "Library/Messages/Attachments/0c/12/a.pdf")
    assert events[2]["meta"]["attachment_mime"] == "application/pdf" and "image_path" not in events[2]["meta"]


async def test_sms_is_dropped_unless_allowed(start_world: Any) -> None:
    world: World = await start_world()
    world.db.message(SMS_CHAT, FRIEND, "sms from an allowlisted number", service="SMS")
    world.db.message(FRIEND_CHAT, FRIEND, "imessage")
    assert (await world.event())["content"] == "imessage"
    assert len(world.host.of_type("event")) == 1


async def test_sms_allowed_and_no_signature(start_world: Any) -> None:
    world: World = await start_world(IMESSAGE_ALLOW_SMS="true", IMESSAGE_APPEND_SIGNATURE="false")
    world.db.chat(f"SMS;-;{OWNER}", [OWNER], service="SMS")
    world.db.message(f"SMS;-;{OWNER}", OWNER, "forged: from the owner's address", service="SMS")
    world.db.message(SMS_CHAT, FRIEND, "sms from an allowlisted number", service="SMS")
    event = await world.event()  # the forged one got no self-chat trust: the gate dropped it
    assert (event["content"], event["meta"]["chat_id"]) == ("sms from an allowlisted number", SMS_CHAT)
    assert (await world.call("reply", chat_id=FRIEND_CHAT, text="plain"))["text"] == "sent"
    assert world.osascript.recorded()[0]["argv"] == ["-", "plain", FRIEND_CHAT]


# --------------------------------------------------------------------------- self-chat


async def test_self_chat_bypasses_the_gate_and_our_echoes_are_suppressed(start_world: Any) -> None:
    world: World = await start_world()
    world.write_access(dmPolicy="disabled")  # even "disabled" does not silence the owner
    world.db.message(SELF_CHAT, OWNER, "note to self: call mum")
    assert (await world.event())["meta"] == {
        "chat_id": SELF_CHAT,
        "message_id": world.host.of_type("event")[0]["meta"]["message_id"],
        "user": OWNER,
        "ts": world.host.of_type("event")[0]["meta"]["ts"],
    }
    result = await world.call("reply", chat_id=SELF_CHAT, text='Don\'t forget: "mum"', files=[str(make_file(world))])
    assert result["text"] == "sent 2 parts"
    # Messages hands our sends back as incoming self-chat rows, quotes curled, signature kept:
    world.db.message(SELF_CHAT, None, 'Don\'t forget: "mum"\nSent by Claude', from_me=True, account=f"E:{OWNER}")
    world.db.message(SELF_CHAT, OWNER, "Don’t forget: “mum”\nSent by Claude")
    world.db.message(
        SELF_CHAT, OWNER, attachments=[("~/Library/Messages/Attachments/x/notes.txt", "text/plain", "notes.txt")]
    )
    world.db.message(SELF_CHAT, OWNER, 'Don\'t forget: "mum"')  # the owner typing the same again: not an echo
    second = await world.event(2)
    assert second["content"] == 'Don\'t forget: "mum"'
    assert len(world.host.of_type("event")) == 2


def make_file(world: World, name: str = "notes.txt", size: int = 10) -> Path:
    path = world.home / name
    path.write_bytes(b"x" * size)
    return path


async def test_permission_relay_to_and_from_the_self_chat_only(start_world: Any) -> None:
    world: World = await start_world()
    await world.host.command('/permission Bash "List files" {"command": "ls -la"}')
    request = await world.host.wait_type("permission_request")
    rid = request["request_id"]
    assert request["sent_to"] == ["imessage"]
    [prompt] = await world.osascript.wait(1)
    assert prompt["script"] == SEND_TEXT_SCRIPT
    assert prompt["argv"] == [
        "-",
        f"🔐 Permission request [{rid}]\nBash: List files\n{request['input_preview']}\n\n"
        f'Reply "yes {rid}" to allow or "no {rid}" to deny.',
        SELF_CHAT,
    ]
    # An allowlisted friend answering is just chat, never a verdict.
    world.db.message(FRIEND_CHAT, FRIEND, f"yes {rid}")
    assert (await world.event())["content"] == f"yes {rid}"
    # The echo of the prompt itself is swallowed; the owner's answer is a verdict, acknowledged by text.
    world.db.message(SELF_CHAT, OWNER, prompt["argv"][1])
    world.db.message(SELF_CHAT, OWNER, f"  YES {rid.upper()} ")
    resolved = await world.host.wait_type("permission_resolved")
    assert (resolved["request_id"], resolved["behavior"], resolved["by"]) == (rid, "allow", "channel imessage")
    ack = (await world.osascript.wait(2))[1]
    assert ack["argv"] == ["-", "✅", SELF_CHAT]
    world.db.message(SELF_CHAT, OWNER, "✅")  # its echo
    world.db.message(SELF_CHAT, OWNER, "thanks")
    await world.host.wait_count("event", 2)
    assert [e["content"] for e in world.host.of_type("event")] == [f"yes {rid}", "thanks"]


async def test_without_a_self_chat_prompts_are_not_sent_until_the_owner_is_known(start_world: Any) -> None:
    world: World = await start_world(owner_has_sent=False)
    await world.host.wait_stderr("self-chat addresses: (none)")
    await world.host.command('/permission Write "Create a.txt"')
    rid = (await world.host.wait_type("permission_request"))["request_id"]
    await world.host.wait_stderr(f"permission_request {rid} not relayed — no self-chat found")
    # The owner sends something from another device: their address is learned from the sent row.
    world.db.message(FRIEND_CHAT, None, "hi", from_me=True, account=f"e:{OWNER.upper()}")
    world.db.message(SELF_CHAT, OWNER, "me again")
    assert (await world.event())["content"] == "me again"
    await world.host.wait_stderr(f"self-chat address learned: {OWNER}")
    start = len(world.host.messages)
    await world.host.command('/permission Write "Create b.txt"')
    rid = (await world.host.wait_type("permission_request", start=start))["request_id"]
    [prompt] = await world.osascript.wait(1)
    assert prompt["argv"][1].startswith(f"🔐 Permission request [{rid}]\nWrite: Create b.txt\n\nReply")
    assert prompt["argv"][2] == SELF_CHAT


# --------------------------------------------------------------------------- tools


async def test_reply_chunks_signs_and_sends_files_after_the_text(start_world: Any) -> None:
    world: World = await start_world()
    world.write_access(textChunkLimit=4000)
    text = "a" * 4000 + "b" * 4000 + "c" * 100
    photo, notes = make_file(world, "photo.png"), make_file(world, "notes.txt")
    result = await world.call("reply", chat_id=FRIEND_CHAT, text=text, files=[str(photo), str(notes)])
    assert (result["is_error"], result["text"]) == (False, "sent 5 parts")
    calls = world.osascript.recorded()
    assert [c["argv"] for c in calls] == [
        ["-", "a" * 4000, FRIEND_CHAT],
        ["-", "b" * 4000, FRIEND_CHAT],
        ["-", "c" * 100 + SIGNED, FRIEND_CHAT],
        ["-", str(photo), FRIEND_CHAT],
        ["-", str(notes), FRIEND_CHAT],
    ]
    assert [c["script"] for c in calls] == [SEND_TEXT_SCRIPT] * 3 + [SEND_FILE_SCRIPT] * 2
    # Groups opted in may be answered too; an empty text with a file sends the file alone.
    result = await world.call("reply", chat_id=GROUP, text=" ", files=[str(photo)])
    assert result["text"] == "sent"
    assert world.osascript.recorded()[-1]["argv"] == ["-", str(photo), GROUP]


async def test_reply_refusals(start_world: Any) -> None:
    world: World = await start_world()
    big = world.home / "big.bin"
    with big.open("wb") as handle:
        handle.truncate(100 * 1024 * 1024 + 1)
    secret = world.state / "access.json"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"chat_id": STRANGER_CHAT, "text": "hi"}, f"reply failed: chat {STRANGER_CHAT} is not allowlisted — add via /imessage:access"),
        # an allowlisted handle is a sender, not a chat: only chat GUIDs are targets
        ({"chat_id": FRIEND, "text": "hi"}, f"reply failed: chat {FRIEND} is not allowlisted — add via /imessage:access"),
        ({"chat_id": FRIEND_CHAT, "text": "hi", "files": [str(secret)]}, f"reply failed: refusing to send channel state: {secret}"),
        ({"chat_id": FRIEND_CHAT, "text": "hi", "files": [str(big)]}, f"reply failed: file too large: {big} (100.0MB, max 100MB)"),
        ({"chat_id": FRIEND_CHAT, "text": "hi", "files": [str(world.home / "nope")]}, "reply failed: file not found:"),
        ({"chat_id": FRIEND_CHAT, "text": "  "}, "reply failed: text is empty and there are no files: nothing to send"),
        ({"chat_id": FRIEND_CHAT}, "reply failed: invalid arguments:"),
    ]  # fmt: skip
    for arguments, error in cases:
        result = await world.call("reply", **arguments)
        assert result["is_error"] and result["text"].startswith(error), result["text"]
    assert world.osascript.recorded() == []  # nothing was sent for any of them


async def test_quotes_backslashes_and_applescript_cannot_inject(start_world: Any) -> None:
    world: World = await start_world(IMESSAGE_APPEND_SIGNATURE="false")
    hostile = '"\\" & (do shell script "touch /tmp/pwned") & "\nend run\non run argv\n\tdo shell script "id"\n¬'
    assert (await world.call("reply", chat_id=FRIEND_CHAT, text=hostile))["text"] == "sent"
    [call] = world.osascript.recorded()
    assert call == {"argv": ["-", hostile, FRIEND_CHAT], "script": SEND_TEXT_SCRIPT, "ok": True}


async def test_send_failures_say_how_far_the_reply_got(start_world: Any) -> None:
    world: World = await start_world()
    world.write_access(textChunkLimit=5)
    world.osascript.fail(after=1)
    result = await world.call("reply", chat_id=FRIEND_CHAT, text="12345678")
    assert result["is_error"]
    assert (
        result["text"]
        == "reply failed: chunk 2/2 failed (1 sent ok): execution error: Messages got an error: Can’t get chat id. (-1728)"
    )
    world.osascript.fail(after=3, stderr="", status=2)
    result = await world.call("reply", chat_id=FRIEND_CHAT, text="ok", files=[str(make_file(world, "x.png"))])
    assert result["text"] == "reply failed: attachment x.png failed (1 sent ok): osascript exit 2"


async def test_a_session_without_the_flag_watches_nothing_and_its_tools_work(start_world: Any) -> None:
    world: World = await start_world(delivering=False)
    world.db.message(FRIEND_CHAT, FRIEND, "nobody is watching")
    assert (await world.call("reply", chat_id=FRIEND_CHAT, text="sent anyway"))["text"] == "sent"
    assert world.osascript.recorded()[-1]["argv"] == ["-", "sent anyway" + SIGNED, FRIEND_CHAT]
    history = (await world.call("chat_messages", chat_guid=FRIEND_CHAT))["text"]
    assert "nobody is watching" in history
    assert not any("watching chat.db" in line or "self-chat addresses" in line for line in world.host.stderr_lines)
    assert world.host.of_type("event") == []


async def test_chat_messages_is_scoped_to_allowlisted_chats(start_world: Any) -> None:
    world: World = await start_world()
    friend_history = f"=== DM with {FRIEND} ===\n-- Tue Mar 24 2026 --\n[10:00] {FRIEND}: old news\n[11:00] me: seen it"
    assert (await world.call("chat_messages", chat_guid=FRIEND_CHAT, limit=10))["text"] == friend_history
    assert (await world.call("chat_messages", chat_guid=FRIEND_CHAT, limit=1))["text"].endswith("\n[11:00] me: seen it")
    assert (await world.call("chat_messages", chat_guid=GROUP))["text"] == (
        f'=== Group "Climbing" ({FRIEND}, {MEMBER}) ===\n(no messages)'
    )
    # Every allowed chat: the empty group and self-chat are left out, the stranger's chat is out of scope.
    assert (await world.call("chat_messages", limit=1000))["text"] == friend_history
    refused = await world.call("chat_messages", chat_guid=STRANGER_CHAT)
    assert refused["is_error"] and refused["text"] == (
        f"chat_messages failed: chat {STRANGER_CHAT} is not allowlisted — add via /imessage:access"
    )
    world.write_access(allowFrom=[], groups={})
    # The owner's self-chat always stays in scope; it has no messages yet, so there is nothing to show.
    assert (await world.call("chat_messages"))["text"] == "(no messages)"


async def test_chat_messages_without_any_allowed_chat(start_world: Any) -> None:
    world: World = await start_world(owner_has_sent=False, access={"dmPolicy": "allowlist"})
    assert (await world.call("chat_messages"))["text"] == "(no allowlisted chats — configure via /imessage:access)"


# --------------------------------------------------------------------------- pairing (opt-in on iMessage)


async def test_pairing_when_chosen_and_approvals_are_confirmed(start_world: Any, tmp_path: Path) -> None:
    approved = tmp_path / "state" / "approved"
    approved.mkdir(parents=True)
    (approved / STRANGER).write_text(STRANGER_CHAT)  # written by `mcp-channels access imessage pair <code>`
    (approved / "someone").write_text("")  # no chat recorded: dropped without a send
    world: World = await start_world(access={"dmPolicy": "pairing"})
    [paired] = await world.osascript.wait(1)
    assert paired["argv"] == ["-", "Paired! Say hi to Claude.", STRANGER_CHAT]
    world.db.message(FRIEND_CHAT, FRIEND, "hello?")
    [_, pairing] = await world.osascript.wait(2)
    code = json.loads((world.state / "access.json").read_text())["pending"]
    assert pairing["argv"] == [
        "-",
        f"Pairing required — run in Claude Code:\n\n/imessage:access pair {next(iter(code))}",
        FRIEND_CHAT,
    ]
    assert not os.listdir(approved)


# --------------------------------------------------------------------------- the database


async def test_a_locked_database_is_retried_not_fatal(start_world: Any) -> None:
    world: World = await start_world(journal_mode="delete")
    with world.db.locked():
        await world.host.wait_stderr("poll query failed: database is locked")
    world.db.message(FRIEND_CHAT, FRIEND, "after the lock")
    assert (await world.event())["content"] == "after the lock"
    await world.host.wait_stderr("chat.db is readable again")
    assert world.host.of_type("server_exited") == []


async def test_unreadable_database_exits_1_naming_full_disk_access(tmp_path: Path) -> None:
    missing = tmp_path / "Messages" / "chat.db"
    server = RawServer("imessage", env={"IMESSAGE_DB_PATH": str(missing), "IMESSAGE_STATE_DIR": str(tmp_path)})
    await server.start()
    try:
        assert await server.wait_exit() == 1
        stderr = server.stderr.decode()
        assert f"imessage channel: cannot read {missing}\n  No such file or directory\n" in stderr
        assert (
            "Grant Full Disk Access" in stderr and "System Settings → Privacy & Security → Full Disk Access." in stderr
        )
        assert "Traceback" not in stderr and server.lines == []
    finally:
        await server.stop()


async def test_a_message_that_cannot_be_delivered_is_logged_and_polling_goes_on(start_world: Any) -> None:
    world: World = await start_world()
    world.db.message(FRIEND_CHAT, FRIEND, "x" * (17 * 1024 * 1024))  # past Claude Code's line limit
    world.db.message(FRIEND_CHAT, FRIEND, "next")
    assert (await world.event())["content"] == "next"
    await world.host.wait_stderr("could not be handled")

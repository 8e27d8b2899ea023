"""The Telegram channel end to end, inbound side: pairing, commands, groups, media, relay, typing.

The channel runs as Claude Code runs it (a subprocess of the host over stdio); python-telegram-bot
talks HTTP to a local fake of the Bot API (``fakes/telegram_api.py``).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path
from typing import Any

from fakes.telegram_api import FakeTelegram
from fakes.telegram_session import ALICE, BOB, GROUP, MALLORY, PNG, TelegramSession, fake, session, state, write_access
from mcp_channels.access import AccessStore, approve_pairing
from support.processes import PYTHON, RawServer

__all__ = ["fake", "session", "state"]  # fixtures


async def sentinel(fake: FakeTelegram, session: TelegramSession, text: str = "sentinel") -> None:
    """Send a message that is delivered; everything sent before it has been handled by then."""
    fake.send_text(fake.users[ALICE], text)
    await session.event(text)


# --------------------------------------------------------------------------- start-up


async def test_missing_token_explains_where_to_put_it(tmp_path: Path) -> None:
    server = await RawServer(
        "telegram", env={"TELEGRAM_BOT_TOKEN": "", "TELEGRAM_STATE_DIR": str(tmp_path / "st")}
    ).start()
    assert await server.wait_exit() == 1
    assert server.stderr.decode() == (
        "telegram channel: TELEGRAM_BOT_TOKEN required\n"
        f"  set in {tmp_path / 'st' / '.env'}\n"
        "  format: TELEGRAM_BOT_TOKEN=123456789:AAH...\n"
    )


async def test_bad_api_base_is_refused(tmp_path: Path) -> None:
    server = await RawServer(
        "telegram",
        env={"TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_API_BASE": "api.example", "TELEGRAM_STATE_DIR": str(tmp_path)},
    ).start()
    assert await server.wait_exit() == 1
    assert "TELEGRAM_API_BASE='api.example' is not an http(s) URL" in server.stderr.decode()


async def test_token_from_env_file_webhook_removed_and_commands_registered(
    fake: FakeTelegram, state: Path, tmp_path: Path
) -> None:
    write_access(state)
    (state / ".env").write_text(f"TELEGRAM_BOT_TOKEN={fake.token}\n")
    fake.webhook_url = "https://example.invalid/hook"
    running = TelegramSession(fake, state, tmp_path / "host", TELEGRAM_BOT_TOKEN="")
    await running.start()
    try:
        await fake.wait_until(lambda: fake.webhook_url == "")  # the first poll finds it in the way
        assert (state / ".env").stat().st_mode & 0o777 == 0o600
        await fake.wait_until(lambda: fake.commands)
        assert fake.commands[0] == {
            "commands": [
                {"command": "start", "description": "Welcome and setup guide"},
                {"command": "help", "description": "What this bot can do"},
                {"command": "status", "description": "Check your pairing status"},
            ],
            "scope": {"type": "all_private_chats"},
        }
        server = running.host.of_type("server")[0]
        assert server["tools"] == ["reply", "react", "edit_message", "download_attachment"]
        assert server["permission_relay"] is True
    finally:
        await running.stop()


async def test_rejected_token_is_reported_and_retried_while_tools_still_answer(
    fake: FakeTelegram, state: Path, tmp_path: Path
) -> None:
    write_access(state, allowFrom=[str(ALICE)])
    running = TelegramSession(fake, state, tmp_path / "host", TELEGRAM_BOT_TOKEN="999:wrong-token-for-this-fake")
    await running.start(receiving=False)
    try:
        await running.host.wait_stderr("Telegram rejected the bot token")
        error = await running.error("reply", chat_id=str(ALICE), text="hi")
        assert error == "reply failed: reply failed after 0 of 1 chunk(s) sent: Unauthorized"
        assert "999:wrong-token-for-this-fake" not in "\n".join(running.host.stderr_lines)
    finally:
        await running.stop()


# --------------------------------------------------------------------------- pairing and commands


async def test_pairing_a_new_user_through_the_command_line(
    fake: FakeTelegram, session: TelegramSession, state: Path
) -> None:
    carol = fake.user(333, "carol")
    fake.send_text(carol, "hello?")
    first = await fake.wait_sent(lambda m: m["chat"]["id"] == 333)
    code = re.fullmatch(r"Pairing required — run in Claude Code:\n\n/telegram:access pair ([0-9a-f]{6})", first["text"])
    assert code is not None, first["text"]
    start = len(fake.sent)
    fake.send_text(carol, "still there?")
    reminder = await fake.wait_sent(lambda m: m["chat"]["id"] == 333, start=start)
    assert reminder["text"] == f"Still pending — run in Claude Code:\n\n/telegram:access pair {code[1]}"
    fake.send_text(carol, "hello??")  # a third message gets no answer
    await sentinel(fake, session)
    assert len(fake.sent_to(333)) == 2
    assert "hello?" not in session.contents()

    process = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "mcp_channels", "access", "telegram", "pair", code[1],
        env={**os.environ, "TELEGRAM_STATE_DIR": str(state)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await process.communicate()
    assert process.returncode == 0, err
    paired = await fake.wait_sent(lambda m: m["chat"]["id"] == 333 and m["text"] == "Paired! Say hi to Claude.")
    assert paired
    fake.send_text(carol, "hi Claude")
    event = await session.event("hi Claude")
    assert event["meta"]["user"] == "carol" and event["meta"]["chat_id"] == "333"


async def test_bot_commands_in_dms(fake: FakeTelegram, session: TelegramSession, state: Path) -> None:
    alice, carol = fake.users[ALICE], fake.user(333)  # carol has no username

    async def ask(user: dict[str, Any], text: str) -> str:
        start = len(fake.sent)
        fake.send_text(user, text)
        return str((await fake.wait_sent(lambda m: m["chat"]["id"] == user["id"], start=start))["text"])

    assert (await ask(carol, "/start")).startswith("This bot bridges Telegram to a Claude Code session.")
    assert (await ask(carol, "/help")).startswith("Messages you send here route to a paired Claude Code session.")
    assert await ask(carol, "/status") == "Not paired. Send me a message to get a pairing code."
    pairing = await ask(carol, "pair me")
    code = pairing.rsplit(" ", 1)[1]
    assert (
        await ask(carol, "/status@claude_test_bot")
        == f"Pending pairing — run in Claude Code:\n\n/telegram:access pair {code}"
    )
    assert await ask(alice, "/status") == "Paired as @alice."
    approve_pairing(AccessStore("telegram", state), code)
    assert await ask(carol, "/status") == "Paired as 333."
    # Commands are consumed: none of them reached Claude.
    fake.send_text(fake.users[ALICE], "/status@some_other_bot")  # not ours: ordinary text
    await session.event("/status@some_other_bot")
    assert not [c for c in session.contents() if c.startswith(("/start", "/help", "/status "))]
    assert "/status" not in session.contents()


async def test_commands_are_silent_in_groups_and_for_strangers_under_allowlist(
    fake: FakeTelegram, session: TelegramSession, state: Path
) -> None:
    fake.send_text(fake.users[ALICE], "/start", chat=fake.chats[GROUP])
    write_access(state, dmPolicy="allowlist", allowFrom=[str(ALICE)])
    fake.send_text(fake.users[BOB], "/help")
    fake.send_text(fake.users[BOB], "let me in")
    start = len(fake.sent)
    fake.send_text(fake.users[ALICE], "/help")
    await fake.wait_sent(lambda m: m["chat"]["id"] == ALICE, start=start)
    await sentinel(fake, session)
    assert fake.sent_to(GROUP) == [] and fake.sent_to(BOB) == []
    write_access(state, dmPolicy="disabled", allowFrom=[str(ALICE)])
    sent_before = len(fake.sent)
    fake.send_text(fake.users[ALICE], "/start")
    fake.send_text(fake.users[ALICE], "anyone?")
    await fake.wait_confirmed(fake.last_update_id)  # handled (and dropped): confirmed by the next poll
    assert "anyone?" not in session.contents()
    assert len(fake.sent) == sent_before


async def test_static_mode_reads_access_once_and_never_pairs(fake: FakeTelegram, state: Path, tmp_path: Path) -> None:
    fake.user(ALICE, "alice")
    stranger = fake.user(MALLORY)
    write_access(state, allowFrom=[str(ALICE)])
    running = await TelegramSession(fake, state, tmp_path / "host", TELEGRAM_ACCESS_MODE="static").start()
    try:
        await running.host.wait_stderr('static mode — dmPolicy "pairing" downgraded to "allowlist"')
        fake.send_text(stranger, "let me in")
        write_access(state, allowFrom=[str(ALICE), str(MALLORY)])  # ignored until a restart
        fake.send_text(stranger, "please")
        fake.send_text(fake.users[ALICE], "hello")
        await running.event("hello")
        assert running.contents() == ["hello"] and fake.sent_to(MALLORY) == []
    finally:
        await running.stop()


# --------------------------------------------------------------------------- groups


async def test_group_mention_rules(fake: FakeTelegram, session: TelegramSession, state: Path) -> None:
    alice, bob, group = fake.users[ALICE], fake.users[BOB], fake.chats[GROUP]
    write_access(
        state,
        allowFrom=[str(ALICE)],
        groups={str(GROUP): {"requireMention": True, "allowFrom": []}},
        mentionPatterns=["\\bclaude\\b", "(unclosed"],
    )
    bot_message = (await session.ok("reply", chat_id=str(GROUP), text="I am the bot")).split("id: ")[1].rstrip(")")
    mention = "🎉🎉 hey @Claude_Test_Bot look"  # two astral emoji first: offsets count UTF-16 units
    offset = len("🎉🎉 hey ".encode("utf-16-le")) // 2
    fake.send_text(bob, "just chatting", chat=group)
    fake.send_text(bob, mention, chat=group, entities=[{"type": "mention", "offset": offset, "length": 16}])
    fake.send_text(bob, "@someone_else hi", chat=group, entities=[{"type": "mention", "offset": 0, "length": 13}])
    fake.send_text(
        bob, "Claude Test, help", chat=group,
        entities=[{"type": "text_mention", "offset": 0, "length": 11, "user": fake.bot}],
    )  # fmt: skip
    fake.send_text(bob, "replying to you", chat=group, reply_to_message=fake.reply_to(int(bot_message), GROUP))
    fake.send_text(bob, "ask claude about it", chat=group)
    fake.message(bob, group, photo=[{"file_id": "p1", "file_unique_id": "u1", "width": 1, "height": 1}],
                 caption="@claude_test_bot see", caption_entities=[{"type": "mention", "offset": 0, "length": 16}])  # fmt: skip
    fake.send_text(bob, "@claude_test_bot in an unknown group", chat=fake.group(-100999),
                   entities=[{"type": "mention", "offset": 0, "length": 16}])  # fmt: skip
    fake.send_text(bob, "🎉@claude_test_bot", chat=group, entities=[{"type": "mention", "offset": 1, "length": 17}])
    await sentinel(fake, session)  # the misaligned entity above did not trip anything up
    group_events = [e["content"] for e in session.events() if e["meta"]["chat_id"] == str(GROUP)]
    assert group_events == [
        mention,
        "Claude Test, help",
        "replying to you",
        "ask claude about it",
        "@claude_test_bot see",
    ]
    assert session.log_has("mentionPatterns: '(unclosed' is skipped")

    write_access(
        state, allowFrom=[str(ALICE)], groups={str(GROUP): {"requireMention": False, "allowFrom": [str(ALICE)]}}
    )
    fake.send_text(bob, "bob is not on the group's list", chat=group)
    fake.send_text(alice, "no mention needed", chat=group)
    event = await session.event("no mention needed")
    assert event["meta"] == {
        "chat_id": str(GROUP), "message_id": event["meta"]["message_id"], "user": "alice", "user_id": str(ALICE),
        "ts": event["meta"]["ts"],
    }  # fmt: skip
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z", event["meta"]["ts"])
    assert "bob is not on the group's list" not in session.contents()


# --------------------------------------------------------------------------- media


async def test_each_inbound_media_kind(fake: FakeTelegram, session: TelegramSession, state: Path) -> None:
    alice = fake.users[ALICE]
    photo = fake.add_file(PNG, "photos/file_7.png")
    small = {"file_id": "small", "file_unique_id": "s", "width": 1, "height": 1}
    fake.message(alice, photo=[small, {**photo.info(), "width": 9, "height": 9}], caption="look")
    fake.message(alice, photo=[{**photo.info(), "width": 9, "height": 9}])
    document = {
        "file_id": "DOC1",
        "file_unique_id": "d1",
        "file_name": "evil<name>;[x].pdf",
        "mime_type": "application/pdf",
        "file_size": 1234,
    }
    fake.message(alice, document=document)
    fake.message(alice, document={"file_id": "DOC2", "file_unique_id": "d2"}, caption="the report")
    fake.message(
        alice,
        voice={"file_id": "VOICE", "file_unique_id": "v", "duration": 3, "mime_type": "audio/ogg", "file_size": 99},
    )
    fake.message(
        alice,
        audio={
            "file_id": "AUD",
            "file_unique_id": "a",
            "duration": 3,
            "title": "Song\nTitle",
            "file_name": "s.mp3",
            "mime_type": "audio/mpeg",
            "file_size": 5,
        },
    )
    fake.message(alice, audio={"file_id": "AUD2", "file_unique_id": "a2", "duration": 3})
    fake.message(
        alice,
        video={
            "file_id": "VID",
            "file_unique_id": "vi",
            "width": 1,
            "height": 1,
            "duration": 1,
            "file_name": "clip.mp4",
            "mime_type": "video/mp4",
            "file_size": 7,
        },
    )
    fake.message(
        alice,
        video_note={"file_id": "NOTE", "file_unique_id": "n", "length": 1, "duration": 1, "file_size": 8},
        caption="ignored",
    )
    fake.message(
        alice,
        sticker={
            "file_id": "STK",
            "file_unique_id": "st",
            "type": "regular",
            "width": 1,
            "height": 1,
            "is_animated": False,
            "is_video": False,
            "emoji": "😀",
            "file_size": 9,
        },
    )
    fake.message(
        alice,
        sticker={
            "file_id": "STK2",
            "file_unique_id": "st2",
            "type": "regular",
            "width": 1,
            "height": 1,
            "is_animated": False,
            "is_video": False,
        },
    )
    fake.message(alice, location={"latitude": 1.0, "longitude": 2.0})  # not handled: ignored
    unpaired = fake.add_file(PNG, "photos/file_8.png")
    fake.message(fake.users[BOB], photo=[{**unpaired.info(), "width": 9, "height": 9}])  # gets a pairing code only
    await sentinel(fake, session)
    fake.fault("download", "bad_gateway")  # this photo cannot be fetched: it is delivered without it
    fake.message(alice, photo=[{**photo.info(), "width": 9, "height": 9}], caption="lost picture")
    lost = await session.event("lost picture")

    def attachment(event: dict[str, Any]) -> dict[str, str]:
        return {k: v for k, v in event["meta"].items() if k.startswith(("attachment_", "image_path"))}

    events = session.events()[:-2]
    assert [e["content"] for e in events] == [
        "look", "(photo)", "(document: evil_name___x_.pdf)", "the report", "(voice message)", "(audio: Song_Title)",
        "(audio: audio)", "(video)", "(video note)", "(sticker 😀)", "(sticker)",
    ]  # fmt: skip
    for event in events[:2]:
        path = Path(attachment(event).pop("image_path"))
        assert path.parent == state / "inbox" and path.read_bytes() == PNG
        assert re.fullmatch(rf"\d+-{photo.file_unique_id}\.png", path.name)
    assert attachment(events[2]) == {
        "attachment_kind": "document", "attachment_file_id": "DOC1", "attachment_size": "1234",
        "attachment_mime": "application/pdf", "attachment_name": "evil_name___x_.pdf",
    }  # fmt: skip
    assert attachment(events[3]) == {"attachment_kind": "document", "attachment_file_id": "DOC2"}
    assert attachment(events[4]) == {
        "attachment_kind": "voice",
        "attachment_file_id": "VOICE",
        "attachment_size": "99",
        "attachment_mime": "audio/ogg",
    }
    assert attachment(events[5]) == {
        "attachment_kind": "audio",
        "attachment_file_id": "AUD",
        "attachment_size": "5",
        "attachment_mime": "audio/mpeg",
        "attachment_name": "s.mp3",
    }
    assert attachment(events[7]) == {
        "attachment_kind": "video",
        "attachment_file_id": "VID",
        "attachment_size": "7",
        "attachment_mime": "video/mp4",
        "attachment_name": "clip.mp4",
    }
    assert attachment(events[8]) == {
        "attachment_kind": "video_note",
        "attachment_file_id": "NOTE",
        "attachment_size": "8",
    }
    assert attachment(events[9]) == {"attachment_kind": "sticker", "attachment_file_id": "STK", "attachment_size": "9"}
    assert attachment(lost) == {}
    assert not [p for m, p in fake.calls if m == "getfile" and p["file_id"] == unpaired.file_id]  # gate first
    assert session.log_has("photo download failed: download failed: HTTP 502")


# --------------------------------------------------------------------------- delivery extras


async def test_ack_reaction_and_typing_kept_alive_until_the_reply(
    fake: FakeTelegram, session: TelegramSession, state: Path
) -> None:
    write_access(state, allowFrom=[str(ALICE), str(BOB)], ackReaction="👀")
    message = fake.send_text(fake.users[ALICE], "quick question")
    await session.event("quick question")
    assert fake.reactions[-1] == {
        "chat_id": ALICE, "message_id": message["message_id"], "reaction": [{"type": "emoji", "emoji": "👀"}],
    }  # fmt: skip
    await fake.wait_until(lambda: any(a["chat_id"] == ALICE for a in fake.actions))
    await session.ok("reply", chat_id=str(ALICE), text="quick answer")
    replied = len(fake.actions)
    # Bob's indicator starts after Alice's; its refresh comes after hers would have, had the reply not stopped it.
    fake.send_text(fake.users[BOB], "think hard")
    await session.event("think hard")
    await fake.wait_until(lambda: sum(1 for a in fake.actions if a["chat_id"] == BOB) >= 2, timeout=10)
    bob = [a for a in fake.actions if a["chat_id"] == BOB]
    assert [a["action"] for a in bob] == ["typing", "typing"]
    assert 3.0 < bob[1]["at"] - bob[0]["at"] < 6.0
    assert [a for a in fake.actions[replied:] if a["chat_id"] == ALICE] == []


# --------------------------------------------------------------------------- permission relay


async def open_permission(session: TelegramSession) -> str:
    start = len(session.host.messages)
    await session.host.command('/permission Bash "list the files" {"command": "ls -la"}')
    request = await session.host.wait_type("permission_request", start=start)
    return str(request["request_id"])


async def test_long_permission_prompts_still_expand_and_show_the_outcome(
    fake: FakeTelegram, session: TelegramSession, state: Path
) -> None:
    """A Write with large fields: "See more" and the outcome are cut to one Telegram message."""
    write_access(state, allowFrom=[str(ALICE)])
    start = len(session.host.messages)
    big = json.dumps({"file_path": "/tmp/a.txt", "content": "x" * 3000, "other": "y" * 3000})
    await session.host.command(f'/permission Write "write a file" {big}')
    request_id = (await session.host.wait_type("permission_request", start=start))["request_id"]
    prompt = await fake.wait_sent(lambda m: m["chat"]["id"] == ALICE and "reply_markup" in m)
    fake.press(fake.users[ALICE], prompt, f"perm:more:{request_id}")
    expanded = await fake.wait_until(
        lambda: next((e for e in fake.edits if e["message_id"] == prompt["message_id"]), None)
    )
    assert expanded["text"].startswith("🔐 Permission: Write\n\ntool_name: Write") and expanded["text"].endswith("…")
    assert len(expanded["text"].encode("utf-16-le")) // 2 <= 4096
    fake.press(fake.users[ALICE], expanded, f"perm:allow:{request_id}")
    final = await fake.wait_until(lambda: fake.edits[-1] if fake.edits[-1]["text"].endswith("✅ Allowed") else None)
    assert len(final["text"].encode("utf-16-le")) // 2 <= 4096 and "reply_markup" not in final
    assert (await session.host.wait_type("permission_resolved"))["behavior"] == "allow"


async def test_permission_relay_by_buttons(fake: FakeTelegram, session: TelegramSession, state: Path) -> None:
    write_access(state, allowFrom=[str(ALICE), str(BOB)])
    request_id = await open_permission(session)
    prompts = [await fake.wait_sent(lambda m, u=u: m["chat"]["id"] == u and "reply_markup" in m) for u in (ALICE, BOB)]
    prompt = prompts[0]
    assert prompt["text"] == "🔐 Permission: Bash"
    assert prompt["reply_markup"] == {
        "inline_keyboard": [[
            {"text": "See more", "callback_data": f"perm:more:{request_id}"},
            {"text": "✅ Allow", "callback_data": f"perm:allow:{request_id}"},
            {"text": "❌ Deny", "callback_data": f"perm:deny:{request_id}"},
        ]]
    }  # fmt: skip

    stranger = fake.user(MALLORY, "mallory")
    query = fake.press(stranger, prompt, f"perm:allow:{request_id}")
    await fake.wait_until(lambda: any(a["callback_query_id"] == query for a in fake.callback_answers))
    assert fake.callback_answers[-1]["text"] == "Not authorized."

    query = fake.press(fake.users[ALICE], prompt, "perm:bogus:xxxxx")
    await fake.wait_until(lambda: any(a["callback_query_id"] == query for a in fake.callback_answers))
    assert fake.callback_answers[-1]["text"] is None

    fake.press(fake.users[ALICE], prompt, f"perm:more:{request_id}")
    expanded = await fake.wait_until(
        lambda: next((e for e in fake.edits if e["message_id"] == prompt["message_id"]), None)
    )
    assert expanded["text"] == (
        "🔐 Permission: Bash\n\ntool_name: Bash\ndescription: list the files\ninput_preview:\n"
        + json.dumps({"command": "ls -la"}, indent=2)
    )
    assert [b["text"] for b in expanded["reply_markup"]["inline_keyboard"][0]] == ["✅ Allow", "❌ Deny"]
    assert session.host.of_type("permission_resolved") == []

    query = fake.press(fake.users[ALICE], expanded, f"perm:allow:{request_id}")
    resolved = await session.host.wait_type("permission_resolved")
    assert resolved["request_id"] == request_id and resolved["behavior"] == "allow"
    assert resolved["by"] == "channel telegram"
    await fake.wait_until(lambda: any(a["callback_query_id"] == query for a in fake.callback_answers))
    assert fake.callback_answers[-1]["text"] == "✅ Allowed"
    final = await fake.wait_until(lambda: fake.edits[-1] if fake.edits[-1]["text"].endswith("✅ Allowed") else None)
    assert final["text"] == expanded["text"] + "\n\n✅ Allowed" and "reply_markup" not in final

    # Bob's copy keeps live buttons; his late answer is stale for the host, and says "Denied" on his copy.
    fake.press(fake.users[BOB], prompts[1], f"perm:deny:{request_id}")
    await session.host.wait_type("permission_stale")
    denied = await fake.wait_until(lambda: fake.edits[-1] if fake.edits[-1]["chat"]["id"] == BOB else None)
    assert denied["text"] == "🔐 Permission: Bash\n\n❌ Denied"

    fake.press(fake.users[ALICE], prompt, f"perm:more:{request_id}")  # answered: details are gone
    await fake.wait_until(lambda: fake.callback_answers[-1]["text"] == "Details no longer available.")


async def test_permission_relay_by_text(fake: FakeTelegram, session: TelegramSession, state: Path) -> None:
    request_id = await open_permission(session)
    await fake.wait_sent(lambda m: "reply_markup" in m)
    answer = fake.send_text(fake.users[ALICE], f"  YES {request_id.upper()} ")
    resolved = await session.host.wait_type("permission_resolved")
    assert (resolved["request_id"], resolved["behavior"]) == (request_id, "allow")
    reaction = await fake.wait_until(
        lambda: next((r for r in fake.reactions if r["message_id"] == answer["message_id"]), None)
    )
    assert reaction["reaction"] == [{"type": "emoji", "emoji": "👍"}]  # ✅ is not a Telegram reaction

    second = await open_permission(session)
    answer = fake.send_text(fake.users[ALICE], f"n {second}")
    resolved = await session.host.wait_type("permission_resolved", request_id=second)
    assert resolved["behavior"] == "deny"
    reaction = await fake.wait_until(
        lambda: next((r for r in fake.reactions if r["message_id"] == answer["message_id"]), None)
    )
    assert reaction["reaction"] == [{"type": "emoji", "emoji": "👎"}]
    fake.send_text(fake.users[ALICE], f"yes {second} please")  # not the whole message: ordinary chat
    await session.event(f"yes {second} please")
    assert not any(c.lower().strip().startswith(("yes " + request_id, "n ")) for c in session.contents()[:-1])

"""The Slack channel's tools end to end: reply (threads, chunks, formats, files), react, edit_message,
fetch_messages, download_attachment, and every refusal, through the host against the fake Slack."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fakes.slack_api import FakeSlack
from fakes.slack_session import SlackSession, fake, people, session, state, write_access

__all__ = ["fake", "people", "session", "state"]  # fixtures

People = dict[str, dict[str, Any]]


def ids_in(result: str) -> list[str]:
    """The ids a ``sent (id: …)`` / ``sent N parts (ids: …)`` result lists."""
    match = re.fullmatch(r"sent (?:\d+ parts \(ids: (.+)\)|\(id: (.+)\))", result)
    assert match is not None, result
    return (match.group(1) or match.group(2)).split(", ")


async def test_reply_in_a_thread_cut_at_the_limit_with_code_kept_whole(
    fake: FakeSlack, session: SlackSession, state: Path, people: People
) -> None:
    eng = people["eng"]
    write_access(
        state, allowFrom=[people["alice"]["id"]], groups={eng["id"]: {}}, textChunkLimit=60, chunkMode="newline"
    )
    root = fake.post(people["alice"], eng, "<@U0FAKEBOT> explain")
    await session.event("@claude explain")
    text = "First paragraph, short.\n\n```\nline one of code\nline two of code\nline three\n```\nafter the code"
    result = await session.ok("reply", chat_id=eng["id"], text=text, thread_ts=root["ts"])
    sent = fake.app_messages(eng)
    assert ids_in(result) == [m["ts"] for m in sent] and len(sent) > 1
    assert all(m["thread_ts"] == root["ts"] for m in sent)
    assert all(len(m["text"]) <= 60 + len("\n```") for m in sent)
    for message in sent:  # every piece that holds code opens and closes its block
        assert message["text"].count("```") % 2 == 0
    assert fake.find(eng["id"], root["ts"])["reply_count"] == len(sent)


async def test_reply_formats(fake: FakeSlack, session: SlackSession, people: People) -> None:
    dm = people["alice_dm"]["id"]
    await session.ok("reply", chat_id=dm, text="**Done**: see [the PR](https://example.com/pr?a=1&b=2) <now>")
    await session.ok("reply", chat_id=dm, text="**as typed** <!here> & more", format="text")
    await session.ok(
        "reply", chat_id=dm, text="*bold* for <@U000000002>, not <!channel> or <!subteam^S1|@devs>", format="mrkdwn"
    )
    await session.ok("reply", chat_id=dm, text="Markdown cannot page: <!everyone>")
    sent = fake.app_messages(people["alice_dm"])
    assert [m["text"] for m in sent] == [
        "*Done*: see <https://example.com/pr?a=1&amp;b=2|the PR> &lt;now&gt;",
        "**as typed** &lt;!here&gt; &amp; more",
        "*bold* for <@U000000002>, not @channel or @devs",
        "Markdown cannot page: &lt;!everyone&gt;",
    ]
    posts = fake.calls_to("chat.postMessage")
    assert [p.params.get("mrkdwn") for p in posts] == [True, False, True, True]


async def test_reply_with_files_uses_the_external_upload(
    fake: FakeSlack, session: SlackSession, people: People, tmp_path: Path
) -> None:
    report = tmp_path / "report<1>.txt"
    report.write_bytes(b"all green\n")
    image = tmp_path / "chart.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x01" * 100)
    dm = people["alice_dm"]
    root = fake.post(people["alice"], dm, "send the report")
    await session.event("send the report")
    result = await session.ok(
        "reply", chat_id=dm["id"], text="here it is", thread_ts=root["ts"], files=[str(report), str(image)]
    )
    ids = ids_in(result)
    assert len(ids) == 3 and ids[1].startswith("F") and ids[2].startswith("F")
    assert [c.params["filename"] for c in fake.calls_to("files.getUploadURLExternal")] == ["report_1_.txt", "chart.png"]
    complete = fake.calls_to("files.completeUploadExternal")[-1].params
    assert complete["channel_id"] == dm["id"] and complete["thread_ts"] == root["ts"]
    assert [f["id"] for f in complete["files"]] == ids[1:]
    assert fake.file_data[ids[1]] == b"all green\n" and fake.file_data[ids[2]] == image.read_bytes()
    shared = fake.app_messages(dm)[-1]
    assert shared["thread_ts"] == root["ts"] and [f["id"] for f in shared["files"]] == ids[1:]
    only_files = await session.ok("reply", chat_id=dm["id"], text="", files=[str(report)])
    assert len(ids_in(only_files)) == 1


async def test_reply_refusals_send_nothing(
    fake: FakeSlack, session: SlackSession, state: Path, people: People, tmp_path: Path
) -> None:
    secret = state / ".env"
    secret.write_text(f"SLACK_BOT_TOKEN={fake.bot_token}\n")
    link = tmp_path / "innocent.txt"
    link.symlink_to(secret)
    dm = people["alice_dm"]["id"]
    outsider = fake.channel("random", members=[people["bob"]])
    many = []
    for index in range(11):
        path = tmp_path / f"f{index}.txt"
        path.write_text("x")
        many.append(str(path))
    refusals = {
        f"chat {outsider['id']} is not allowlisted — add via /slack:access": {"chat_id": outsider["id"], "text": "hi"},
        f"chat {people['bob_dm']['id']} is not allowlisted — add via /slack:access": {
            "chat_id": people["bob_dm"]["id"],
            "text": "hi",
        },
        f"chat {people['bob']['id']} is not allowlisted — add via /slack:access": {
            "chat_id": people["bob"]["id"],
            "text": "hi",
        },
        "chat D0NOSUCH1 is not allowlisted — add via /slack:access": {"chat_id": "D0NOSUCH1", "text": "hi"},
        "chat_id must be a Slack conversation id like C0123ABCDEF or D0123ABCDEF, not '#eng'": {
            "chat_id": "#eng",
            "text": "hi",
        },
        f"refusing to send channel state: {link}": {"chat_id": dm, "text": "hi", "files": [str(link)]},
        f"file not found: {tmp_path / 'nope.txt'}": {
            "chat_id": dm,
            "text": "hi",
            "files": [str(tmp_path / "nope.txt")],
        },
        "at most 10 files per reply": {"chat_id": dm, "text": "hi", "files": many},
        "nothing to send: text is empty and there are no files": {"chat_id": dm, "text": "  "},
        "thread_ts must be a Slack message ts like 1712345678.123456 (from the inbound meta), not 'latest'": {
            "chat_id": dm,
            "text": "hi",
            "thread_ts": "latest",
        },
    }
    for expected, arguments in refusals.items():
        assert await session.error("reply", **arguments) == f"reply failed: {expected}"
    assert fake.calls_to("chat.postMessage") == [] and fake.calls_to("files.getUploadURLExternal") == []


async def test_slack_refusals_come_back_in_words(
    fake: FakeSlack, session: SlackSession, state: Path, people: People
) -> None:
    outside = fake.channel("announcements", members=[people["alice"]], app=False)
    write_access(state, allowFrom=[people["alice"]["id"]], groups={outside["id"]: {}})
    assert await session.error("reply", chat_id=outside["id"], text="hi") == (
        "reply failed: reply failed after 0 of 1 chunk(s) sent: not_in_channel: the app is not a member of that "
        "channel: invite it with /invite @yourapp"
    )
    fake.fail("conversations.history", "missing_scope", needed="channels:history")
    assert await session.error("fetch_messages", channel=outside["id"]) == (
        "fetch_messages failed: missing_scope: the app lacks a scope it needs: add it under OAuth & Permissions "
        "and reinstall the app (needed: channels:history)"
    )


async def test_a_member_id_posts_to_their_dm_and_an_unknown_dm_is_looked_up(
    fake: FakeSlack, session: SlackSession, people: People
) -> None:
    alice = people["alice"]
    result = await session.ok("reply", chat_id=alice["id"], text="to your DM")
    assert fake.app_messages(people["alice_dm"])[-1]["ts"] == ids_in(result)[0]
    # Alice's DM was never seen by this session: Slack is asked whose it is (conversations.info).
    result = await session.ok("reply", chat_id=people["alice_dm"]["id"], text="by conversation id")
    assert [c.params["channel"] for c in fake.calls_to("conversations.info")] == [people["alice_dm"]["id"]]


async def test_partial_failure_says_how_far_it_got(
    fake: FakeSlack, session: SlackSession, state: Path, people: People
) -> None:
    write_access(state, allowFrom=[people["alice"]["id"]], textChunkLimit=10)
    fake.fail("chat.postMessage", "is_archived", after=1)
    error = await session.error("reply", chat_id=people["alice"]["id"], text="0123456789abcdefghijKLMNOPQRST")
    assert error == "reply failed: reply failed after 1 of 3 chunk(s) sent: is_archived: the channel is archived"


async def test_rate_limits_are_waited_out_when_short_and_reported_when_long(
    fake: FakeSlack, session: SlackSession, people: People
) -> None:
    dm = people["alice"]["id"]
    fake.rate_limit("chat.postMessage", retry_after=1)
    assert (await session.ok("reply", chat_id=dm, text="after a wait")).startswith("sent (id: ")
    posts = fake.calls_to("chat.postMessage")
    assert len(posts) == 2 and posts[1].at - posts[0].at >= 1.0
    fake.rate_limit("chat.postMessage", retry_after=120)
    error = await session.error("reply", chat_id=dm, text="too long a wait")
    assert error == (
        "reply failed: reply failed after 0 of 1 chunk(s) sent: ratelimited: Slack asks to wait 120 s before trying again"
    )


async def test_react(fake: FakeSlack, session: SlackSession, people: People) -> None:
    dm = people["alice_dm"]
    message = fake.post(people["alice"], dm, "react to me")
    await session.event("react to me")
    for emoji in ("👍", ":partyparrot:", "rocket", "❤️"):
        assert await session.ok("react", chat_id=dm["id"], message_id=message["ts"], emoji=emoji) == "reacted"
    added = [r["name"] for r in fake.reactions if r["ts"] == message["ts"] and r["action"] == "add"]
    assert [name for name in added if name != "eyes"] == ["+1", "partyparrot", "rocket", "heart"]
    errors = {
        "🦩": "react failed: '🦩' has no Slack name here: give the emoji's Slack name instead, e.g. :tada:",
        "no_such_emoji": "react failed: invalid_name: Slack knows no emoji by that name",
        "rocket": "react failed: already_reacted: the app has already reacted with that emoji",
    }
    for emoji, expected in errors.items():
        assert await session.error("react", chat_id=dm["id"], message_id=message["ts"], emoji=emoji) == expected
    missing = await session.error("react", chat_id=dm["id"], message_id="1.000001", emoji="eyes")
    assert missing == "react failed: message_not_found: no such message in that channel"


async def test_edit_message(fake: FakeSlack, session: SlackSession, people: People) -> None:
    dm = people["alice_dm"]
    sent = ids_in(await session.ok("reply", chat_id=dm["id"], text="working…"))[0]
    assert (
        await session.ok("edit_message", chat_id=dm["id"], message_id=sent, text="**done**") == f"edited (id: {sent})"
    )
    assert fake.find(dm["id"], sent)["text"] == "*done*"
    theirs = fake.post(people["alice"], dm, "not yours")
    await session.event("not yours")
    errors = {
        "edit_message failed: cant_update_message: only messages the app sent can be edited": {
            "message_id": theirs["ts"],
            "text": "x",
        },
        "edit_message failed: text is empty: Slack keeps no empty message": {"message_id": sent, "text": " "},
        "edit_message failed: text is 40001 characters; a Slack message holds at most 40000": {
            "message_id": sent,
            "text": "a" * 40_001,
        },
    }
    for expected, arguments in errors.items():
        assert await session.error("edit_message", chat_id=dm["id"], **arguments) == expected


async def test_fetch_messages(fake: FakeSlack, session: SlackSession, state: Path, people: People) -> None:
    eng = people["eng"]
    write_access(state, allowFrom=[people["alice"]["id"]], groups={eng["id"]: {"requireMention": False}})
    first = fake.post(people["alice"], eng, "first\nline")
    fake.post(
        people["bob"],
        eng,
        f"hi <@{people['alice']['id']}>",
        files=[fake.add_file(people["bob"], "a.txt", b"a", "text/plain")],
    )
    await session.event("hi @alice")
    await session.ok("reply", chat_id=eng["id"], text="in the thread", thread_ts=first["ts"])
    await session.ok("reply", chat_id=eng["id"], text="top level")
    history = await session.ok("fetch_messages", channel=eng["id"])
    lines = history.splitlines()
    assert len(lines) == 3
    assert re.fullmatch(
        rf"\[\d{{4}}-.+Z\] alice: first ⏎ line  \(id: {re.escape(first['ts'])}, thread: 1 replies\)", lines[0]
    )
    assert re.fullmatch(r"\[.+\] Bobby: hi @alice  \(id: [\d.]+ \+1file\)", lines[1])
    assert re.fullmatch(r"\[.+\] me: top level  \(id: [\d.]+\)", lines[2])
    assert len((await session.ok("fetch_messages", channel=eng["id"], limit=1)).splitlines()) == 1
    thread = (await session.ok("fetch_messages", channel=eng["id"], thread_ts=first["ts"])).splitlines()
    assert [line.split("] ", 1)[1].split("  (")[0] for line in thread] == ["alice: first ⏎ line", "me: in the thread"]
    outsider = fake.channel("random", members=[people["bob"]])
    assert await session.error("fetch_messages", channel=outsider["id"]) == (
        f"fetch_messages failed: chat {outsider['id']} is not allowlisted — add via /slack:access"
    )
    empty = fake.channel("empty")
    write_access(state, allowFrom=[people["alice"]["id"]], groups={empty["id"]: {}})
    assert await session.ok("fetch_messages", channel=empty["id"]) == "(no messages)"


async def test_download_attachment(fake: FakeSlack, session: SlackSession, state: Path, people: People) -> None:
    alice, bob = people["alice"], people["bob"]
    shared = fake.add_file(alice, "log.txt", b"line 1\nline 2\n", "text/plain")
    fake.post(alice, people["alice_dm"], "the log", files=[shared])
    await session.event("the log")
    path = Path(await session.ok("download_attachment", file_id=shared["id"]))
    assert path.parent == state / "inbox" and path.read_bytes() == b"line 1\nline 2\n" and path.suffix == ".txt"
    elsewhere = fake.add_file(bob, "secret.pdf", b"%PDF", "application/pdf")
    fake.post(bob, fake.channel("private", private=True, members=[bob]), "only here", files=[elsewhere])
    huge = fake.add_file(alice, "huge.bin", b"0", "application/octet-stream")
    fake.post(alice, people["alice_dm"], "huge", files=[huge])
    fake.files[huge["id"]]["size"] = 60 * 1024 * 1024
    errors = {
        elsewhere["id"]: f"file {elsewhere['id']} was not shared in a conversation this channel reads "
        "(an allowlisted DM or an opted-in channel) — add via /slack:access",
        "F0NOSUCH": "file_not_found: no such file, or the app cannot see it",
        "report.pdf": "file_id must be a Slack file id like F0123ABCDEF (from attachments in the inbound meta), "
        "not 'report.pdf'",
        huge["id"]: "file is 60 MB; this channel downloads at most 50 MB",
    }
    for file_id, expected in errors.items():
        assert await session.error("download_attachment", file_id=file_id) == f"download_attachment failed: {expected}"
    assert not any(elsewhere["id"] in d["path"] for d in fake.downloads)

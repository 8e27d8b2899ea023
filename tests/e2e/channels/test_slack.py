"""The Slack channel end to end, inbound side: start-up, pairing, the gate, markup, files, relay, progress.

The channel runs as Claude Code runs it (a subprocess of the host over stdio); slack_sdk talks HTTP
and Socket Mode to a local fake of Slack (``fakes/slack_api.py``).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from fakes.slack_api import FakeSlack
from fakes.slack_session import SlackSession, fake, people, session, slack_env, state, write_access
from mcp_channels.channels.slack import FACTS
from support.processes import PYTHON, RawServer

__all__ = ["fake", "people", "session", "state"]  # fixtures

People = dict[str, dict[str, Any]]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def sentinel(fake: FakeSlack, session: SlackSession, people: People, text: str = "sentinel") -> None:
    """Send a message that is delivered; everything sent before it has been handled by then."""
    fake.post(people["alice"], people["alice_dm"], text)
    await session.event(text)


def mention(fake: FakeSlack) -> str:
    return f"<@{fake.bot['id']}>"


# --------------------------------------------------------------------------- start-up


async def start_raw(env: dict[str, str]) -> RawServer:
    """``mcp-channels serve slack`` on stdio, as Claude Code starts it."""
    return await RawServer("slack", env=env).start()


async def test_missing_tokens_say_where_and_what(tmp_path: Path) -> None:
    state = tmp_path / "st"
    for present, missing in (({}, "SLACK_BOT_TOKEN"), ({"SLACK_BOT_TOKEN": "xoxb-1-2-abc"}, "SLACK_APP_TOKEN")):
        server = await start_raw(
            {"SLACK_BOT_TOKEN": "", "SLACK_APP_TOKEN": "", "SLACK_STATE_DIR": str(state), **present}
        )
        assert await server.wait_exit() == 1
        example = FACTS.token(missing).example
        assert server.stderr.decode() == (
            f"slack channel: {missing} required\n  set in {state / '.env'}\n  format: {missing}={example}\n"
        )
    assert not state.exists()


async def test_swapped_tokens_bad_base_and_bad_progress_are_refused(fake: FakeSlack, tmp_path: Path) -> None:
    swapped = slack_env(fake, tmp_path, SLACK_BOT_TOKEN=fake.app_token, SLACK_APP_TOKEN=fake.bot_token)
    user_token = slack_env(fake, tmp_path, SLACK_BOT_TOKEN="xoxp-1-2-3")
    unknown = slack_env(fake, tmp_path, SLACK_APP_TOKEN="hunter2")
    base = slack_env(fake, tmp_path, SLACK_API_BASE="ftp://slack.example/api")
    progress = slack_env(fake, tmp_path, SLACK_PROGRESS="typing")
    bot_wanted = (
        "SLACK_BOT_TOKEN takes the bot token (from OAuth & Permissions → Bot User OAuth Token, like "
        "xoxb-1234567890123-1234567890123-AbCdEf...)"
    )
    expected = [
        f"slack channel: SLACK_BOT_TOKEN is the app token: {bot_wanted}; are the two swapped?\n",
        f"slack channel: SLACK_BOT_TOKEN is a user token, not the bot token: {bot_wanted}\n",
        "slack channel: SLACK_APP_TOKEN does not look like a Slack app token: SLACK_APP_TOKEN takes the app token "
        "(from Basic Information → App-Level Tokens, with the connections:write scope, like "
        "xapp-1-A0123ABCDEF-1234567890123-0123abcd...)\n",
        "slack channel: SLACK_API_BASE='ftp://slack.example/api' is not an http(s) URL (e.g. https://slack.com/api)\n",
        "slack channel: SLACK_PROGRESS='typing' is not one of reaction, status, off\n",
    ]
    for env, stderr in zip((swapped, user_token, unknown, base, progress), expected, strict=True):
        server = await start_raw(env)
        assert await server.wait_exit() == 1
        assert server.stderr.decode() == stderr
    assert fake.calls == []


async def test_without_the_library_the_server_says_what_to_install(
    fake: FakeSlack, state: Path, tmp_path: Path
) -> None:
    shadow = tmp_path / "shadow" / "slack_sdk"  # stands in for a Python without the slack extra
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'slack_sdk'\", name='slack_sdk')\n"
    )
    path = os.pathsep.join(filter(None, [str(tmp_path / "shadow"), os.environ.get("PYTHONPATH")]))
    server = await start_raw({**slack_env(fake, state), "PYTHONPATH": path, "MCP_CHANNELS_LOG_LEVEL": "info"})
    answer = await server.handshake()  # answered before the library is imported
    assert answer["result"]["serverInfo"]["name"] == "slack"
    assert await server.wait_exit() == 1
    assert server.stderr.decode().splitlines()[-1] == (
        f"slack channel: slack_sdk is not installed in this Python ({sys.executable}): pip install 'mcp-channels[slack]'"
    )


async def test_tokens_from_the_env_file_and_what_is_declared(
    fake: FakeSlack, state: Path, tmp_path: Path, people: People
) -> None:
    write_access(state, allowFrom=[people["alice"]["id"]])
    (state / ".env").write_text(f"SLACK_BOT_TOKEN={fake.bot_token}\nSLACK_APP_TOKEN={fake.app_token}\n")
    running = SlackSession(fake, state, tmp_path / "host", SLACK_BOT_TOKEN="", SLACK_APP_TOKEN="")
    await running.start()
    try:
        server = running.host.of_type("server")[0]
        assert server["tools"] == ["reply", "react", "edit_message", "download_attachment", "fetch_messages"]
        assert server["permission_relay"] is True
        assert (state / ".env").stat().st_mode & 0o777 == 0o600
        assert running.log_has("signed in to Slack as @claude in Fake Workspace")
        opened = fake.calls_to("apps.connections.open")
        assert [call.token for call in opened] == [fake.app_token]
        assert {call.token for call in fake.calls if call.method != "apps.connections.open"} == {fake.bot_token}
    finally:
        await running.stop()


async def test_a_revoked_bot_token_stops_the_server_with_one_line(fake: FakeSlack, state: Path, tmp_path: Path) -> None:
    fake.revoke(fake.bot_token)
    server = await start_raw({**slack_env(fake, state), "MCP_CHANNELS_LOG_LEVEL": "info"})
    await server.handshake()
    assert await server.wait_exit() == 1
    assert server.stderr.decode().splitlines() == [
        "slack channel: Slack refused SLACK_BOT_TOKEN (token_revoked: the token was revoked (the app was "
        "uninstalled, or the token regenerated)); save a valid bot token (from OAuth & Permissions → Bot User "
        "OAuth Token, like xoxb-1234567890123-1234567890123-AbCdEf...) with `mcp-channels configure slack "
        "<bot token>` and restart the session"
    ]


async def test_a_refused_app_token_stops_the_server_with_one_line(fake: FakeSlack, state: Path) -> None:
    env = {**slack_env(fake, state), "MCP_CHANNELS_LOG_LEVEL": "info"}
    server = await start_raw({**env, "SLACK_APP_TOKEN": "xapp-1-A0FAKEAPP-1-deadbeef"})
    await server.handshake()
    assert await server.wait_exit() == 1
    lines = server.stderr.decode().splitlines()
    assert lines[-1].startswith("slack channel: Slack refused SLACK_APP_TOKEN (invalid_auth: Slack does not recognise")
    assert len([line for line in lines if "refused" in line]) == 1 and "Traceback" not in server.stderr.decode()


async def test_a_token_revoked_mid_session_stops_it(fake: FakeSlack, session: SlackSession, people: People) -> None:
    fake.revoke(fake.bot_token)
    error = await session.error("reply", chat_id=people["alice_dm"]["id"], text="hi")
    assert "token_revoked: the token was revoked" in error
    await session.host.wait_stderr("Slack refused SLACK_BOT_TOKEN (token_revoked")
    assert (await session.host.wait_type("server_exited"))["returncode"] == 1


# --------------------------------------------------------------------------- pairing and the gate


async def test_pairing_a_new_member(fake: FakeSlack, session: SlackSession, state: Path, people: People) -> None:
    carol = fake.user("carol")
    carol_dm = fake.dm(carol)
    fake.post(carol, carol_dm, "hello?")
    first = await fake.wait_app_message(carol_dm)
    code = re.fullmatch(r"Pairing required — run in Claude Code:\n\n/slack:access pair ([0-9a-f]{6})", first["text"])
    assert code is not None, first["text"]
    fake.post(carol, carol_dm, "still there?")
    reminder = await fake.wait_app_message(carol_dm, start=1)
    assert reminder["text"] == f"Still pending — run in Claude Code:\n\n/slack:access pair {code[1]}"
    fake.post(carol, carol_dm, "hello??")  # a third message gets no answer
    await sentinel(fake, session, people)
    assert len(fake.app_messages(carol_dm)) == 2 and "hello?" not in session.contents()
    pending = json.loads((state / "access.json").read_text())["pending"][code[1]]
    assert (pending["senderId"], pending["chatId"]) == (carol["id"], carol_dm["id"])

    approve = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "mcp_channels", "access", "slack", "pair", code[1],
        env={**os.environ, "SLACK_STATE_DIR": str(state)}, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(approve.communicate(), 30)
    assert approve.returncode == 0 and out.decode().startswith(f"paired {carol['id']}"), out
    paired = await fake.wait_app_message(carol_dm, lambda m: m["text"] == "Paired! Say hi to Claude.")
    assert paired
    fake.post(carol, carol_dm, "hi Claude")
    event = await session.event("hi Claude")
    assert event["meta"]["user"] == "carol" and event["meta"]["chat_id"] == carol_dm["id"]


async def test_static_mode_reads_access_once_and_never_pairs(
    fake: FakeSlack, state: Path, tmp_path: Path, people: People
) -> None:
    write_access(state, allowFrom=[people["alice"]["id"]])
    running = await SlackSession(fake, state, tmp_path / "host", SLACK_ACCESS_MODE="static").start()
    try:
        await running.host.wait_stderr('static mode — dmPolicy "pairing" downgraded to "allowlist"')
        fake.post(people["bob"], people["bob_dm"], "let me in")
        write_access(state, allowFrom=[people["alice"]["id"], people["bob"]["id"]])  # ignored until a restart
        fake.post(people["bob"], people["bob_dm"], "please")
        await sentinel(fake, running, people, "hello")
        assert running.contents() == ["hello"] and fake.app_messages(people["bob_dm"]) == []
    finally:
        await running.stop()


async def test_channel_mention_rules_and_threads(
    fake: FakeSlack, session: SlackSession, state: Path, people: People
) -> None:
    alice, bob, eng = people["alice"], people["bob"], people["eng"]
    write_access(
        state,
        allowFrom=[alice["id"]],
        groups={eng["id"]: {"requireMention": True, "allowFrom": []}},
        mentionPatterns=["\\bclaude\\b", "(unclosed"],
    )
    fake.post(bob, eng, "just chatting")
    mentioned = fake.post(bob, eng, f"{mention(fake)} look at this")  # sent twice: message and app_mention
    fake.post(bob, eng, "ask Claude about it")
    fake.post(bob, eng, "<@U0SOMEONE> not you")
    started = fake.post(bob, eng, f"{mention(fake)} start a thread")
    fake.post(bob, eng, "in the thread, no mention", thread_ts=started["ts"])
    await sentinel(fake, session, people, "handled up to here")
    posted = await session.ok("reply", chat_id=eng["id"], text="my own post")
    own_ts = posted.split("id: ")[1].rstrip(")")
    fake.post(bob, eng, "a reply to the app's post", thread_ts=own_ts)
    await session.ok("reply", chat_id=eng["id"], text="answering in a thread", thread_ts=started["ts"])
    fake.post(bob, eng, "the thread goes on", thread_ts=started["ts"])
    other = fake.channel("random", members=[bob])
    fake.post(bob, other, f"{mention(fake)} in a channel nobody opted in")
    await sentinel(fake, session, people)
    in_eng = [e for e in session.events() if e["meta"]["chat_id"] == eng["id"]]
    assert [e["content"] for e in in_eng] == [
        "@claude look at this",
        "ask Claude about it",
        "@claude start a thread",
        "a reply to the app's post",
        "the thread goes on",
    ]
    assert in_eng[0]["meta"]["thread_ts"] == mentioned["ts"]  # a new thread under the message
    assert in_eng[3]["meta"]["thread_ts"] == own_ts and in_eng[4]["meta"]["thread_ts"] == started["ts"]
    assert in_eng[0]["meta"]["user"] == "Bobby"  # the display name
    assert session.log_has("mentionPatterns: '(unclosed' is skipped")

    write_access(
        state, allowFrom=[alice["id"]], groups={eng["id"]: {"requireMention": False, "allowFrom": [alice["id"]]}}
    )
    fake.post(bob, eng, "bob is not on the channel's list")
    fake.post(alice, eng, "no mention needed")
    event = await session.event("no mention needed")
    assert set(event["meta"]) == {"chat_id", "message_id", "user", "user_id", "ts", "thread_ts"}
    assert "bob is not on the channel's list" not in session.contents()


async def test_bots_edits_and_system_messages_are_ignored(
    fake: FakeSlack, session: SlackSession, state: Path, people: People
) -> None:
    write_access(state, allowFrom=[people["alice"]["id"]], groups={people["eng"]["id"]: {"requireMention": False}})
    eng = people["eng"]
    edited = fake.post(people["alice"], eng, "first version")
    await session.event("first version")
    fake.edit(edited, eng, "second version")
    fake.post(people["bob"], eng, "a bot says hi", bot_id="B0OTHERBOT", subtype="bot_message")
    fake.post(people["bob"], eng, "<@U000000002> has joined the channel", subtype="channel_join")
    await session.ok("reply", chat_id=eng["id"], text="the app's own message comes back as an event")
    await sentinel(fake, session, people)
    assert session.contents() == ["first version", "sentinel"]


async def test_markup_becomes_what_people_read(fake: FakeSlack, session: SlackSession, people: People) -> None:
    text = (
        f"hey <@{people['bob']['id']}> and <@U0GONE123|ghost> see <#C0123ABC|general> and <#C0456DEF> "
        "at <https://example.com/a?b=1&amp;c=2|the docs>, <https://example.com> or <mailto:a@b.co|a@b.co>; "
        "<!here> <!channel> <!subteam^S0123|@devs> <!date^1392734382^{date}|Feb 18th> 1 &lt; 2 &amp;&amp; 3 &gt; 2"
    )
    fake.post(people["alice"], people["alice_dm"], text)
    expected = (
        "hey @Bobby and @ghost see #general and #C0456DEF at the docs (https://example.com/a?b=1&c=2), "
        "https://example.com or a@b.co; @here @channel @devs Feb 18th 1 < 2 && 3 > 2"
    )
    assert (await session.event(expected))["content"] == expected
    lookups = [call.params["user"] for call in fake.calls_to("users.info")]
    assert lookups.count(people["bob"]["id"]) == 1 and "U0GONE123" in lookups
    fake.post(people["alice"], people["alice_dm"], f"again <@{people['bob']['id']}>")
    await session.event("again @Bobby")
    assert [call.params["user"] for call in fake.calls_to("users.info")].count(people["bob"]["id"]) == 1  # cached


# --------------------------------------------------------------------------- files


async def test_files_are_described_and_images_saved_after_the_gate(
    fake: FakeSlack, session: SlackSession, state: Path, people: People
) -> None:
    alice = people["alice"]
    image = fake.add_file(alice, "cat<1>.png", PNG, "image/png")
    report = fake.add_file(alice, "q3;report.pdf", b"%PDF-1.4 " + b"x" * 2000, "application/pdf")
    fake.post(alice, people["alice_dm"], "have a look", files=[image, report])
    event = await session.event("have a look")
    assert event["meta"]["attachment_count"] == "2"
    assert event["meta"]["attachments"] == (
        f"{image['id']} cat_1_.png (image/png, 0KB); {report['id']} q3_report.pdf (application/pdf, 2KB)"
    )
    saved = Path(event["meta"]["image_path"])
    assert saved.parent == state / "inbox" and saved.read_bytes() == PNG
    assert re.fullmatch(rf"\d+-{image['id']}\.png", saved.name) and saved.stat().st_mode & 0o777 == 0o600
    assert fake.downloads[-1]["token"] == fake.bot_token and "download/cat<1>.png" in fake.downloads[-1]["path"]

    only_file = fake.add_file(alice, "notes.txt", b"notes", "text/plain")
    fake.post(alice, people["alice_dm"], "", files=[only_file])
    assert (await session.event("(file: notes.txt)"))["meta"]["attachment_count"] == "1"

    stranger_image = fake.add_file(people["bob"], "b.png", PNG, "image/png")
    downloads = len(fake.downloads)
    fake.post(people["bob"], people["bob_dm"], "pair me, and my picture", files=[stranger_image])
    await fake.wait_app_message(people["bob_dm"])  # the pairing code
    await sentinel(fake, session, people)
    assert len(fake.downloads) == downloads  # the gate came first

    fake.scopes.discard("files:read")  # Slack then serves a sign-in page, not the file
    broken = fake.add_file(alice, "x.png", PNG, "image/png")
    fake.post(alice, people["alice_dm"], "no picture", files=[broken])
    event = await session.event("no picture")
    assert "image_path" not in event["meta"]
    assert session.log_has("image download failed: Slack answered with a sign-in page instead of the file")


# --------------------------------------------------------------------------- permission relay


async def open_permission(session: SlackSession, tool: str = "Bash", preview: str = '{"command": "ls -la"}') -> str:
    start = len(session.host.messages)
    await session.host.command(f'/permission {tool} "list the files" {preview}')
    request = await session.host.wait_type("permission_request", start=start)
    return str(request["request_id"])


async def test_permission_relay_by_buttons(fake: FakeSlack, session: SlackSession, state: Path, people: People) -> None:
    alice, bob = people["alice"], people["bob"]
    write_access(state, allowFrom=[alice["id"], bob["id"]])
    request_id = await open_permission(session)
    prompts = [await fake.wait_app_message(people[dm], lambda m: "blocks" in m) for dm in ("alice_dm", "bob_dm")]
    prompt = prompts[0]
    assert prompt["text"] == "🔐 Permission: Bash"
    assert prompt["blocks"][0] == {
        "type": "section",
        "text": {"type": "plain_text", "text": "🔐 Permission: Bash", "emoji": True},
    }
    buttons = prompt["blocks"][1]["elements"]
    assert [(b["text"]["text"], b["action_id"], b.get("style")) for b in buttons] == [
        ("See more", f"perm:more:{request_id}", None),
        ("✅ Allow", f"perm:allow:{request_id}", "primary"),
        ("❌ Deny", f"perm:deny:{request_id}", "danger"),
    ]

    mallory = fake.user("mallory")
    people["alice_dm"]["members"].add(mallory["id"])  # the prompt was shared with someone not allowlisted
    fake.click(mallory, people["alice_dm"], prompt, f"perm:allow:{request_id}")
    await fake.wait_until(lambda: fake.ephemerals)
    assert fake.ephemerals[-1] == {
        "channel": people["alice_dm"]["id"],
        "user": mallory["id"],
        "text": "Not authorized.",
    }

    fake.click(alice, people["alice_dm"], prompt, f"perm:more:{request_id}")
    expanded = await fake.wait_until(lambda: prompt.get("edited") and prompt)
    details = "🔐 Permission: Bash\n\ntool_name: Bash\ndescription: list the files\ninput_preview:\n" + json.dumps(
        {"command": "ls -la"}, indent=2
    )
    assert expanded["text"] == details.replace(">", "&gt;")
    assert [b["action_id"] for b in expanded["blocks"][1]["elements"]] == [
        f"perm:allow:{request_id}",
        f"perm:deny:{request_id}",
    ]
    assert session.host.of_type("permission_resolved") == []

    fake.click(alice, people["alice_dm"], expanded, f"perm:allow:{request_id}")
    resolved = await session.host.wait_type("permission_resolved")
    assert (resolved["request_id"], resolved["behavior"], resolved["by"]) == (request_id, "allow", "channel slack")
    final = await fake.wait_until(lambda: prompt["text"].endswith("✅ Allowed") and prompt)
    assert final["text"] == details + "\n\n✅ Allowed" and len(final["blocks"]) == 1

    # Bob's copy keeps live buttons; his late answer is stale for the host, and says "Denied" on his copy.
    fake.click(bob, people["bob_dm"], prompts[1], f"perm:deny:{request_id}")
    await session.host.wait_type("permission_stale")
    denied = await fake.wait_until(lambda: prompts[1]["text"].endswith("Denied") and prompts[1])
    assert denied["text"] == "🔐 Permission: Bash\n\n❌ Denied"
    fake.click(alice, people["alice_dm"], prompt, f"perm:more:{request_id}")  # answered: details are gone
    await fake.wait_until(lambda: fake.ephemerals[-1]["text"] == "Details no longer available.")


async def test_a_long_prompt_is_cut_to_fit_a_block(fake: FakeSlack, session: SlackSession, people: People) -> None:
    big = json.dumps({"file_path": "/tmp/a.txt", "content": "x" * 5000})
    request_id = await open_permission(session, "Write", big)
    prompt = await fake.wait_app_message(people["alice_dm"], lambda m: "blocks" in m)
    fake.click(people["alice"], people["alice_dm"], prompt, f"perm:more:{request_id}")
    expanded = await fake.wait_until(lambda: prompt.get("edited") and prompt)
    section = expanded["blocks"][0]["text"]["text"]
    assert section.startswith("🔐 Permission: Write\n\ntool_name: Write") and section.endswith("…")
    assert len(section) <= 3000
    fake.click(people["alice"], people["alice_dm"], expanded, f"perm:deny:{request_id}")
    assert (await session.host.wait_type("permission_resolved"))["behavior"] == "deny"
    final = await fake.wait_until(lambda: prompt["text"].endswith("❌ Denied") and prompt)
    assert len(final["blocks"][0]["text"]["text"]) <= 3000


async def test_permission_relay_by_text(fake: FakeSlack, session: SlackSession, state: Path, people: People) -> None:
    # A channel id put in allowFrom by mistake gets no prompt: it shows the tool's input to everyone there.
    write_access(state, allowFrom=[people["alice"]["id"], people["eng"]["id"]])
    request_id = await open_permission(session)
    await fake.wait_app_message(people["alice_dm"], lambda m: "blocks" in m)
    answer = fake.post(people["alice"], people["alice_dm"], f"  YES {request_id.upper()} ")
    resolved = await session.host.wait_type("permission_resolved")
    assert (resolved["request_id"], resolved["behavior"]) == (request_id, "allow")
    await fake.wait_until(
        lambda: (
            {"action": "add", "channel": people["alice_dm"]["id"], "ts": answer["ts"], "name": "white_check_mark"}
            in fake.reactions
        )
    )
    second = await open_permission(session)
    answer = fake.post(people["alice"], people["alice_dm"], f"n {second}")
    assert (await session.host.wait_type("permission_resolved", request_id=second))["behavior"] == "deny"
    await fake.wait_until(lambda: any(r["ts"] == answer["ts"] and r["name"] == "x" for r in fake.reactions))
    fake.post(people["bob"], people["bob_dm"], f"yes {second}")  # not allowlisted: a pairing request, no verdict
    await sentinel(fake, session, people)
    assert not any(c.strip().lower().startswith(("yes", "n ")) for c in session.contents())
    assert fake.app_messages(people["eng"]) == []


# --------------------------------------------------------------------------- progress and acknowledgement


async def test_eyes_while_claude_works_removed_on_reply_and_the_ack_reaction(
    fake: FakeSlack, session: SlackSession, state: Path, people: People
) -> None:
    write_access(state, allowFrom=[people["alice"]["id"]], ackReaction="🎉")
    message = fake.post(people["alice"], people["alice_dm"], "quick question")
    await session.event("quick question")
    where = {"channel": people["alice_dm"]["id"], "ts": message["ts"]}
    await fake.wait_until(lambda: {**where, "action": "add", "name": "eyes"} in fake.reactions)
    await fake.wait_until(lambda: {**where, "action": "add", "name": "tada"} in fake.reactions)
    await session.ok("reply", chat_id=people["alice_dm"]["id"], text="quick answer")
    await fake.wait_until(lambda: {**where, "action": "remove", "name": "eyes"} in fake.reactions)
    assert [r["name"] for r in fake.find(where["channel"], where["ts"])["reactions"]] == ["tada"]


async def test_unanswered_messages_lose_their_eyes_beyond_ten(
    fake: FakeSlack, session: SlackSession, people: People
) -> None:
    posted = [fake.post(people["alice"], people["alice_dm"], f"message {n}") for n in range(11)]
    await session.event("message 10")
    first = {"channel": people["alice_dm"]["id"], "ts": posted[0]["ts"], "name": "eyes"}
    await fake.wait_until(lambda: {**first, "action": "remove"} in fake.reactions)
    await fake.wait_until(lambda: sum(r["action"] == "add" for r in fake.reactions) == 11)
    assert [r for r in fake.reactions if r["action"] == "remove"] == [{**first, "action": "remove"}]


async def test_assistant_status_where_slack_allows_it(
    fake: FakeSlack, state: Path, tmp_path: Path, people: People
) -> None:
    write_access(state, allowFrom=[people["alice"]["id"]])
    fake.scopes.add("assistant:write")
    running = await SlackSession(fake, state, tmp_path / "host", SLACK_PROGRESS="status").start()
    try:
        dm = people["alice_dm"]
        top = fake.post(people["alice"], dm, "in an assistant thread")
        threaded = fake.post(people["alice"], dm, "a follow-up", thread_ts=top["ts"])
        await running.event("a follow-up")
        thinking = {"channel_id": dm["id"], "thread_ts": top["ts"], "status": "is thinking…"}
        await fake.wait_until(lambda: thinking in fake.statuses)
        await running.ok("reply", chat_id=dm["id"], text="done", thread_ts=top["ts"])
        await fake.wait_until(lambda: {**thinking, "status": ""} in fake.statuses)
        assert not any(r["ts"] == threaded["ts"] for r in fake.reactions)
        # A top-level DM message has no thread to show a status under: the reaction is used.
        fake.post(people["alice"], dm, "top level")
        await running.event("top level")
        await fake.wait_until(lambda: any(r["name"] == "eyes" for r in fake.reactions))
    finally:
        await running.stop()


async def test_progress_off_shows_nothing(fake: FakeSlack, state: Path, tmp_path: Path, people: People) -> None:
    write_access(state, allowFrom=[people["alice"]["id"]])
    running = await SlackSession(fake, state, tmp_path / "host", SLACK_PROGRESS="off").start()
    try:
        await sentinel(fake, running, people, "first")
        await sentinel(fake, running, people, "second")
        assert fake.reactions == [] and fake.calls_to("reactions.add") == []
    finally:
        await running.stop()

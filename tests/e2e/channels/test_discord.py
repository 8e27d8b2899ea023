"""The Discord channel end to end: the host spawns it over stdio, discord.py talks to a local Discord.

Every test plays real users on the fake (``tests/fakes/discord_api.py``): their messages reach the
bot over the websocket gateway, the bot answers over REST, and the test checks both what Claude
would see (the host's JSON lines) and what Discord received.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fakes.discord_api import (
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
    FakeDiscord,
)
from support import planted_secrets
from support.processes import PYTHON, HostProcess, RawServer, channel_config, free_port, write_mcp_config

SERVER = "discord"


@dataclass
class World:
    """A Discord server with a bot, people and channels, and the host running the channel against it."""

    fake: FakeDiscord
    state: Path
    tmp: Path
    host: HostProcess
    alice: dict[str, Any]  # allowlisted
    bob: dict[str, Any]  # a stranger
    carol: dict[str, Any]  # member of the guild, not allowlisted
    guild: dict[str, Any]
    general: dict[str, Any]  # opted in, mention required
    lounge: dict[str, Any]  # opted in, no mention needed
    closed: dict[str, Any]  # not opted in
    helpers_role: dict[str, Any]  # a role the bot holds

    @property
    def bot(self) -> dict[str, Any]:
        return self.fake.bot

    async def event(self, start: int = 0, timeout: float = 10.0) -> dict[str, Any]:
        return await self.host.wait_type("event", start=start, timeout=timeout)

    def events(self) -> list[dict[str, Any]]:
        return self.host.of_type("event")

    async def next_event(self) -> dict[str, Any]:
        """The first event after those already seen."""
        seen = len(self.events())
        found = await self.host.wait_count("event", seen + 1)
        return found[seen]

    async def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        return await self.host.call(SERVER, tool, arguments)

    def write_access(self, access: dict[str, Any]) -> None:
        (self.state / "access.json").write_text(json.dumps(access))


def default_access(world_ids: dict[str, str]) -> dict[str, Any]:
    return {
        "dmPolicy": "pairing",
        "allowFrom": [world_ids["alice"]],
        "groups": {
            world_ids["general"]: {"requireMention": True, "allowFrom": []},
            world_ids["lounge"]: {"requireMention": False, "allowFrom": []},
        },
        "pending": {},
    }


async def start_host(tmp: Path, fake: FakeDiscord, state: Path, **env: str) -> HostProcess:
    settings = {
        "DISCORD_BOT_TOKEN": fake.token,
        "DISCORD_API_BASE": fake.api_base,
        "DISCORD_STATE_DIR": str(state),
        "DISCORD_ACCESS_MODE": "",
        **env,
    }
    config = write_mcp_config(tmp, channel_config(SERVER, settings))
    host = await HostProcess(
        ["--mcp-config", str(config), "--dangerously-load-development-channels", f"server:{SERVER}"]
    ).start()
    await host.wait_type("ready")
    return host


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    fake = await FakeDiscord().start()
    alice, bob, carol = fake.add_user("alice"), fake.add_user("bob"), fake.add_user("carol")
    guild = fake.add_guild("test server")
    for user in (alice, carol):
        fake.add_member(guild, user)
    helpers_role = fake.add_role(guild, "helpers", members=[fake.bot])
    general = fake.add_text_channel(guild, "general")
    lounge = fake.add_text_channel(guild, "lounge")
    closed = fake.add_text_channel(guild, "closed")
    state = tmp_path / "state"
    state.mkdir()
    ids = {"alice": alice["id"], "general": general["id"], "lounge": lounge["id"]}
    (state / "access.json").write_text(json.dumps(default_access(ids)))
    host = await start_host(tmp_path, fake, state)
    world = World(fake, state, tmp_path, host, alice, bob, carol, guild, general, lounge, closed, helpers_role)
    try:
        await fake.wait_gateway("identify")
        yield world
    finally:
        await host.stop()
        await fake.close()


# --------------------------------------------------------------------------- start-up


async def test_missing_token_exits_with_the_official_message(tmp_path: Path) -> None:
    server = RawServer(SERVER, env={"DISCORD_BOT_TOKEN": "", "DISCORD_STATE_DIR": str(tmp_path)})
    await server.start()
    try:
        assert await server.wait_exit() == 1
    finally:
        await server.stop()
    assert server.stderr.decode() == (
        "discord channel: DISCORD_BOT_TOKEN required\n"
        f"  set in {tmp_path / '.env'}\n"
        "  format: DISCORD_BOT_TOKEN=MTIz...\n"
    )


async def test_token_from_the_state_env_file_and_a_refused_login(tmp_path: Path) -> None:
    fake = await FakeDiscord().start()
    (tmp_path / ".env").write_text("DISCORD_BOT_TOKEN=not-the-right-token\n")
    server = RawServer(
        SERVER, env={"DISCORD_BOT_TOKEN": "", "DISCORD_STATE_DIR": str(tmp_path), "DISCORD_API_BASE": fake.api_base}
    )
    await server.start()
    try:
        await server.handshake()
        assert await server.wait_exit() == 1
    finally:
        await server.stop()
        await fake.close()
    assert "discord channel: login failed: Improper token has been passed. (check DISCORD_BOT_TOKEN)" in (
        server.stderr.decode()
    )
    assert fake.calls[0].path == "/users/@me" and fake.calls[0].status == 401


async def exit_log(tmp_path: Path, fake: FakeDiscord | None, **env: str) -> str:
    """Start the server alone, expect it to exit 1, and return what it logged."""
    settings = {"DISCORD_BOT_TOKEN": "MTIz.fake-bot.token", "DISCORD_STATE_DIR": str(tmp_path), **env}
    if fake is not None:
        settings = {"DISCORD_BOT_TOKEN": fake.token, "DISCORD_API_BASE": fake.api_base, **settings}
    server = RawServer(SERVER, env=settings)
    await server.start()
    try:
        assert await server.wait_exit() == 1
    finally:
        await server.stop()
    return server.stderr.decode()


async def test_bad_api_base_and_unreachable_api_stop_the_server(tmp_path: Path) -> None:
    assert "discord channel: DISCORD_API_BASE='ftp://example' is not an http(s) URL" in await exit_log(
        tmp_path, None, DISCORD_API_BASE="ftp://example"
    )
    unreachable = await exit_log(tmp_path, None, DISCORD_API_BASE=f"http://127.0.0.1:{free_port()}/api")
    assert "discord channel: login failed: Cannot connect to host 127.0.0.1" in unreachable


async def test_gateway_refusals_stop_the_server_with_a_reason(tmp_path: Path) -> None:
    fake = await FakeDiscord().start()
    try:
        fake.disallowed_intents = INTENT_MESSAGE_CONTENT
        assert "enable MESSAGE CONTENT INTENT for this bot in the Developer Portal" in await exit_log(tmp_path, fake)
        fake.disallowed_intents = 0
        fake.refuse_identify = (4011, "Sharding required")
        assert "discord channel: the gateway closed the connection: 4011 sharding required" in await exit_log(
            tmp_path, fake
        )
        fake.fail("GET", "/gateway/bot", 503, 0, "upstream connect error")
        assert "could not get the gateway address from GET /gateway/bot: 503 Service Unavailable" in await exit_log(
            tmp_path, fake
        )
    finally:
        await fake.close()


async def test_connects_to_the_advertised_gateway_with_zlib_stream_and_the_right_intents(world: World) -> None:
    await world.host.wait_stderr("gateway connected as claude-bot")
    connect = next(data for kind, data in world.fake.gateway_log if kind == "connect")
    assert connect == {"v": "10", "encoding": "json", "compress": "zlib-stream"}
    identify = (await world.fake.wait_gateway("identify"))[0]
    assert (
        identify["intents"] == INTENT_GUILDS | INTENT_GUILD_MESSAGES | INTENT_DIRECT_MESSAGES | INTENT_MESSAGE_CONTENT
    )
    assert world.fake.calls_to("GET", "/gateway/bot")


# --------------------------------------------------------------------------- DMs and pairing


async def test_allowlisted_dm_is_delivered_with_meta_typing_and_ack(world: World) -> None:
    access = json.loads((world.state / "access.json").read_text())
    world.write_access({**access, "ackReaction": "👀"})
    dm = world.fake.dm_channel(world.alice)
    posted = world.fake.post(dm, world.alice, "hello <b>bot</b>")
    event = await world.event()
    created = world.fake.snowflake_time(posted["id"])
    assert event["content"] == "hello <b>bot</b>"
    assert event["meta"] == {
        "chat_id": dm["id"],
        "message_id": posted["id"],
        "user": "alice",
        "user_id": world.alice["id"],
        "ts": created,
    }
    await world.fake.wait_call("POST", rf"/channels/{dm['id']}/typing")
    await world.fake.wait_call("PUT", rf"/channels/{dm['id']}/messages/{posted['id']}/reactions/.*/@me")
    assert world.fake.find_message(posted["id"])["reactions"][0]["emoji"] == {"id": None, "name": "👀"}


async def test_pairing_code_reminder_silence_and_the_hand_off(world: World) -> None:
    dm = world.fake.dm_channel(world.bob)
    hello = world.fake.post(dm, world.bob, "hi")
    first = await world.fake.wait_bot_message(dm)
    assert first["message_reference"]["message_id"] == hello["id"]  # a quote-reply, as the official server
    lead, _, command = first["content"].partition("\n\n")
    assert lead == "Pairing required — run in Claude Code:"
    code = command.removeprefix("/discord:access pair ")
    assert len(code) == 6 and int(code, 16) >= 0
    world.fake.post(dm, world.bob, "hello?")
    second = await world.fake.wait_bot_message(dm, after=1)
    assert second["content"] == f"Still pending — run in Claude Code:\n\n/discord:access pair {code}"
    world.fake.post(dm, world.bob, "anyone?")
    world.fake.post(world.fake.dm_channel(world.alice), world.alice, "messages are handled in order")
    await world.event()  # so bob's third message has been handled too
    pending = json.loads((world.state / "access.json").read_text())["pending"]
    assert pending[code]["senderId"] == world.bob["id"] and pending[code]["chatId"] == dm["id"]

    proc = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "mcp_channels", "access", "discord", "pair", code,
        env={**os.environ, "DISCORD_STATE_DIR": str(world.state)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert await proc.wait() == 0
    paired = await world.fake.wait_bot_message(dm, after=2)
    assert paired["content"] == "Paired! Say hi to Claude."
    assert len(world.fake.bot_messages(dm)) == 3  # the third DM got no answer
    world.fake.post(dm, world.bob, "hi Claude")
    assert (await world.next_event())["content"] == "hi Claude"
    assert [e["meta"]["user"] for e in world.events()] == ["alice", "bob"]


# --------------------------------------------------------------------------- guild channels


async def test_guild_mention_rules(world: World) -> None:
    fake, bot, carol = world.fake, world.bot, world.carol
    access = json.loads((world.state / "access.json").read_text())
    world.write_access({**access, "mentionPatterns": [r"^claude\b", "(unclosed"]})
    fake.post(world.general, carol, "no mention here")
    fake.post(world.general, carol, f"<@{bot['id']}> direct", mentions=[bot])
    fake.post(world.general, carol, f"<@&{world.helpers_role['id']}> role", mention_roles=[world.helpers_role])
    fake.post(world.general, carol, "@everyone all", mention_everyone=True)
    fake.post(world.general, carol, "Claude, pattern")
    fake.post(world.lounge, carol, "lounge needs no mention")
    fake.post(world.closed, carol, f"<@{bot['id']}> closed channel", mentions=[bot])
    fake.post(world.lounge, fake.add_user("otherbot", bot=True), "bots are ignored")
    fake.post(world.lounge, carol, "end")
    await world.host.wait_for(lambda m: m.get("type") == "event" and m["content"] == "end")
    assert [e["content"] for e in world.events()] == [
        f"<@{bot['id']}> direct",
        f"<@&{world.helpers_role['id']}> role",
        "@everyone all",
        "Claude, pattern",
        "lounge needs no mention",
        "end",
    ]
    assert all(e["meta"]["user"] == "carol" for e in world.events())


async def test_replies_to_the_bot_count_as_mentions(world: World) -> None:
    fake, carol = world.fake, world.carol
    result = await world.call("reply", chat_id=world.general["id"], text="I am the bot")
    assert not result["is_error"], result
    recent = fake.bot_messages(world.general)[-1]
    earlier = fake.post(world.general, fake.bot, "sent by an earlier run")  # not in the recent-sent memory
    fake.post(world.general, carol, "reply, no ping, recent", reply_to=recent, ping=False)
    fake.post(world.general, carol, "reply, no ping, resolved", reply_to=earlier, ping=False)
    fake.post(world.general, carol, "reply, no ping, fetched", reply_to=earlier, ping=False, resolved=False)
    vanished = fake.post(world.general, fake.bot, "deleted since")
    fake.fail("GET", rf"/channels/{world.general['id']}/messages/{vanished['id']}", 404, 10008, "Unknown Message")
    fake.post(
        world.general, carol, "reply to a message that cannot be fetched", reply_to=vanished, ping=False, resolved=False
    )
    other = fake.post(world.general, carol, "not for the bot")
    fake.post(world.general, carol, "reply to a person", reply_to=other)
    fake.post(world.general, carol, "reply, ping", reply_to=earlier)
    await world.host.wait_for(lambda m: m.get("type") == "event" and m["content"] == "reply, ping")
    assert [e["content"] for e in world.events()] == [
        "reply, no ping, recent",
        "reply, no ping, resolved",
        "reply, no ping, fetched",
        "reply, ping",
    ]
    assert fake.calls_to("GET", rf"/channels/{world.general['id']}/messages/{earlier['id']}")


async def test_group_allow_from_limits_who_is_heard(world: World) -> None:
    access = json.loads((world.state / "access.json").read_text())
    access["groups"][world.lounge["id"]]["allowFrom"] = [world.alice["id"]]
    world.write_access(access)
    world.fake.post(world.lounge, world.carol, "carol is not on the list")
    world.fake.post(world.lounge, world.alice, "alice is")
    assert (await world.event())["content"] == "alice is"
    assert len(world.events()) == 1


async def test_threads_use_their_parent_channel_entry(world: World) -> None:
    fake, carol = world.fake, world.carol
    known = fake.add_thread(world.lounge, "known thread")
    unseen = fake.add_thread(world.lounge, "unseen thread", announce=False)
    elsewhere = fake.add_thread(world.closed, "closed thread")
    hidden = fake.add_thread(world.lounge, "thread the bot cannot look up", announce=False)
    fake.fail("GET", rf"/channels/{hidden['id']}", 403, 50001, "Missing Access")
    fake.post(hidden, carol, "dropped: its parent is unknown")
    fake.post(known, carol, "in a known thread")
    fake.post(elsewhere, carol, f"<@{fake.bot['id']}> in a closed thread", mentions=[fake.bot])
    fake.post(unseen, carol, "in a thread the bot had not seen")
    await world.host.wait_count("event", 2)
    first, second = world.events()
    assert (first["content"], first["meta"]["chat_id"]) == ("in a known thread", known["id"])
    assert (second["content"], second["meta"]["chat_id"]) == ("in a thread the bot had not seen", unseen["id"])
    assert fake.calls_to("GET", rf"/channels/{unseen['id']}")
    await world.host.wait_stderr(f"could not look up channel {hidden['id']}: 403 Forbidden (error code: 50001)")
    answer = await world.call("reply", chat_id=unseen["id"], text="answering in the thread")
    assert answer["text"] == f"sent (id: {fake.bot_messages(unseen)[0]['id']})"
    refused = await world.call("reply", chat_id=elsewhere["id"], text="no")
    assert refused["text"] == f"reply failed: channel {elsewhere['id']} is not allowlisted — add via /discord:access"


# --------------------------------------------------------------------------- attachments


async def test_attachments_are_listed_then_downloaded_on_demand(world: World) -> None:
    fake = world.fake
    report = fake.attachment(world.lounge, "report[1];\n.txt", b"x" * 1536, "text/plain")
    blob = fake.attachment(world.lounge, "blob", b"\x00" * 2560, None)
    posted = fake.post(world.lounge, world.carol, "", attachments=[report, blob])
    event = await world.event()
    assert event["content"] == "(attachment)"
    assert event["meta"]["attachment_count"] == "2"
    assert event["meta"]["attachments"] == "report_1___.txt (text/plain, 2KB); blob (unknown, 3KB)"
    assert "inbox" not in event["content"]

    result = await world.call("download_attachment", chat_id=world.lounge["id"], message_id=posted["id"])
    header, *lines = result["text"].split("\n")
    assert header == "downloaded 2 attachment(s):"
    paths = [Path(line.strip().split("  ")[0]) for line in lines]
    assert [p.parent for p in paths] == [world.state / "inbox"] * 2
    assert paths[0].name.endswith(f"-{report['id']}.txt") and paths[1].name.endswith(f"-{blob['id']}.bin")
    assert paths[0].read_bytes() == b"x" * 1536 and paths[1].read_bytes() == b"\x00" * 2560
    assert lines[0].endswith("  (report_1___.txt, text/plain, 2KB)")

    long_extension = fake.attachment(world.lounge, "notes." + "x" * 300, b"long", "text/plain")
    posted = fake.post(world.lounge, world.carol, "", attachments=[long_extension])
    await world.next_event()
    result = await world.call("download_attachment", chat_id=world.lounge["id"], message_id=posted["id"])
    saved = Path(result["text"].split("\n")[1].strip().split("  ")[0])  # the name could not be written
    assert not result["is_error"] and saved.name.endswith(f"-{long_extension['id']}.bin")
    assert saved.read_bytes() == b"long"

    sticker_only = fake.post(world.lounge, world.carol, "")
    assert (await world.next_event())["content"] == ""
    plain = fake.post(world.lounge, world.carol, "no files")
    for message in (plain, sticker_only):
        none = await world.call("download_attachment", chat_id=world.lounge["id"], message_id=message["id"])
        assert (none["text"], none["is_error"]) == ("message has no attachments", False)

    huge = fake.attachment(world.lounge, "huge.bin", b"", "application/octet-stream")
    huge["size"] = 26 * 1024 * 1024 + 1
    big = fake.post(world.lounge, world.carol, "big", attachments=[huge])
    refused = await world.call("download_attachment", chat_id=world.lounge["id"], message_id=big["id"])
    assert refused["text"] == "download_attachment failed: attachment too large: 26.0MB, max 25MB"


# --------------------------------------------------------------------------- tools


async def test_reply_chunks_threads_and_attaches_files(world: World) -> None:
    fake, lounge = world.fake, world.lounge
    asked = fake.post(lounge, world.carol, "write me an essay")
    picture = world.tmp / "chart.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    notes = world.tmp / "notes.txt"
    notes.write_text("notes")
    text = "a" * 1990 + " " + "b" * 1990 + " " + "c" * 500
    result = await world.call(
        "reply", chat_id=lounge["id"], text=text, reply_to=asked["id"], files=[str(picture), str(notes)]
    )
    sent = fake.bot_messages(lounge)
    assert result["text"] == f"sent 3 parts (ids: {', '.join(m['id'] for m in sent)})"
    assert "".join(m["content"] for m in sent) == text
    assert all(len(m["content"]) <= 2000 for m in sent)
    assert [m.get("message_reference", {}).get("message_id") for m in sent] == [asked["id"], None, None]
    assert [a["filename"] for a in sent[0]["attachments"]] == ["chart.png", "notes.txt"]
    assert sent[1]["attachments"] == [] and sent[2]["attachments"] == []
    upload = fake.calls_to("POST", rf"/channels/{lounge['id']}/messages")[0]
    assert upload.files[0][1] == picture.read_bytes()

    access = json.loads((world.state / "access.json").read_text())
    world.write_access({**access, "replyToMode": "all", "textChunkLimit": 10, "chunkMode": "newline"})
    await world.call("reply", chat_id=lounge["id"], text="first line\nsecond", reply_to=asked["id"])
    assert [m["content"] for m in fake.bot_messages(lounge)[3:]] == ["first line", "second"]
    assert all(m["message_reference"]["message_id"] == asked["id"] for m in fake.bot_messages(lounge)[3:])


async def test_reply_refuses_before_sending_anything(world: World) -> None:
    fake = world.fake
    (world.state / ".env").write_text("DISCORD_BOT_TOKEN=secret\n")
    ok_file = world.tmp / "ok.txt"
    ok_file.write_text("fine")
    lounge = world.lounge["id"]
    cases = {
        "closed": (dict(chat_id=world.closed["id"], text="x"),
                   f"channel {world.closed['id']} is not allowlisted — add via /discord:access"),
        "stranger's DM": (dict(chat_id=fake.dm_channel(world.bob)["id"], text="x"),
                          f"channel {fake.dm_channel(world.bob)['id']} is not allowlisted — add via /discord:access"),
        "unknown": (dict(chat_id="123456", text="x"), "channel 123456 not found or not text-based"),
        "not an id": (dict(chat_id="general", text="x"), "channel 'general' is not a Discord id"),
        "state": (dict(chat_id=lounge, text="x", files=[str(ok_file), str(world.state / ".env")]),
                  f"refusing to send channel state: {world.state / '.env'}"),
        "missing": (dict(chat_id=lounge, text="x", files=[str(world.tmp / "nope.txt")]),
                    f"file not found: {world.tmp / 'nope.txt'}"),
        "eleven": (dict(chat_id=lounge, text="x", files=[str(ok_file)] * 11),
                   "Discord allows max 10 attachments per message"),
        "empty": (dict(chat_id=lounge, text=""), "nothing to send: text is empty and there are no files"),
        "blank": (dict(chat_id=lounge, text=" \n "), "nothing to send: text is empty and there are no files"),
        "bad reply_to": (dict(chat_id=lounge, text="x", reply_to="latest"), "reply_to 'latest' is not a Discord id"),
    }  # fmt: skip
    for name, (arguments, message) in cases.items():
        result = await world.call("reply", **arguments)
        assert (result["is_error"], result["text"]) == (True, f"reply failed: {message}"), name
    assert not fake.calls_to("POST", r"/channels/\d+/messages")


async def test_reply_refuses_secrets_of_the_machine(tmp_path: Path) -> None:
    """The token in the server's environment, another channel's, Claude Code's credentials, a hard link."""
    home = planted_secrets.plant(tmp_path)
    fake = await FakeDiscord().start()
    lounge = fake.add_text_channel(fake.add_guild("test server"), "lounge")
    state = tmp_path / "state"
    state.mkdir()
    (state / "access.json").write_text(json.dumps({"groups": {lounge["id"]: {"requireMention": False}}}))
    host = await start_host(tmp_path, fake, state, **home.env)
    try:
        await fake.wait_gateway("identify")
        refusals = {
            "/proc/self/environ": "hold the system's live state",
            str(home.telegram_env): "refusing to send channel state: ",
            str(home.hard_link): f"is the same file as {home.telegram_env}",
            str(home.credentials): "refusing to send Claude Code's settings and credentials: ",
        }
        for name, refusal in refusals.items():
            result = await host.call(SERVER, "reply", {"chat_id": lounge["id"], "text": "x", "files": [name]})
            assert result["is_error"] and refusal in result["text"], result["text"]
            assert fake.token not in result["text"] and planted_secrets.MARK not in result["text"]
        assert not fake.calls_to("POST", r"/channels/\d+/messages")
    finally:
        await host.stop()
        await fake.close()


async def test_reply_failing_midway_says_how_far_it_got(world: World) -> None:
    path = rf"/channels/{world.lounge['id']}/messages"
    world.fake.fail("POST", path, 403, 50013, "Missing Permissions", after=1)
    result = await world.call("reply", chat_id=world.lounge["id"], text="x" * 4500)
    assert result["text"] == (
        "reply failed: reply failed after 1 of 3 chunk(s) sent: 403 Forbidden (error code: 50013): Missing Permissions"
    )
    assert len(world.fake.bot_messages(world.lounge)) == 1


async def test_dm_replies_use_what_the_inbound_message_taught(world: World) -> None:
    fake = world.fake
    dm = fake.dm_channel(world.alice)
    fake.post(dm, world.alice, "hi")
    await world.event()
    result = await world.call("reply", chat_id=dm["id"], text="hello alice")
    assert result["text"] == f"sent (id: {fake.bot_messages(dm)[0]['id']})"
    assert not fake.calls_to("GET", rf"/channels/{dm['id']}")  # no lookup: the DM's user is known
    fresh = fake.dm_channel(world.carol)
    access = json.loads((world.state / "access.json").read_text())
    world.write_access({**access, "allowFrom": [world.alice["id"], world.carol["id"]]})
    result = await world.call("reply", chat_id=fresh["id"], text="hello carol")
    assert not result["is_error"], result
    assert fake.calls_to("GET", rf"/channels/{fresh['id']}")  # never heard from: looked up


async def test_react_edit_and_fetch_messages(world: World) -> None:
    fake, lounge = world.fake, world.lounge
    empty = await world.call("fetch_messages", channel=lounge["id"])
    assert empty["text"] == "(no messages)"
    first = fake.post(lounge, world.carol, "line one\r\nline two\n\nthree")
    picture = fake.attachment(lounge, "p.png", b"png", "image/png")
    fake.post(lounge, world.carol, "", attachments=[picture])
    await world.call("reply", chat_id=lounge["id"], text="answer")
    mine = fake.bot_messages(lounge)[0]

    assert (await world.call("react", chat_id=lounge["id"], message_id=first["id"], emoji="👍"))["text"] == "reacted"
    custom = "<:party:112233445566778899>"
    assert (await world.call("react", chat_id=lounge["id"], message_id=first["id"], emoji=custom))["text"] == "reacted"
    assert [r["emoji"] for r in fake.find_message(first["id"])["reactions"]] == [
        {"id": None, "name": "👍"},
        {"id": "112233445566778899", "name": "party"},
    ]
    gone = await world.call("react", chat_id=lounge["id"], message_id="1234567", emoji="👍")
    assert gone["text"] == "react failed: 404 Not Found (error code: 10008): Unknown Message"

    edited = await world.call("edit_message", chat_id=lounge["id"], message_id=mine["id"], text="better answer")
    assert edited["text"] == f"edited (id: {mine['id']})"
    assert fake.find_message(mine["id"])["content"] == "better answer"
    theirs = await world.call("edit_message", chat_id=lounge["id"], message_id=first["id"], text="hijack")
    assert theirs["text"] == (
        "edit_message failed: 403 Forbidden (error code: 50005): Cannot edit a message authored by another user"
    )
    too_long = await world.call("edit_message", chat_id=lounge["id"], message_id=mine["id"], text="x" * 2001)
    assert too_long["text"] == "edit_message failed: text is 2001 characters; a Discord message holds at most 2000"

    history = (await world.call("fetch_messages", channel=lounge["id"]))["text"].split("\n")
    messages = fake.messages[lounge["id"]]
    assert history == [
        f"[{fake.snowflake_time(messages[0]['id'])}] carol: line one ⏎ line two ⏎ three  (id: {messages[0]['id']})",
        f"[{fake.snowflake_time(messages[1]['id'])}] carol:   (id: {messages[1]['id']} +1att)",
        f"[{fake.snowflake_time(messages[2]['id'])}] me: better answer  (id: {messages[2]['id']})",
    ]
    last_two = (await world.call("fetch_messages", channel=lounge["id"], limit=2))["text"].split("\n")
    assert last_two == history[1:]
    refused = await world.call("fetch_messages", channel=world.closed["id"])
    assert (
        refused["text"]
        == f"fetch_messages failed: channel {world.closed['id']} is not allowlisted — add via /discord:access"
    )


# --------------------------------------------------------------------------- permission relay


async def test_permission_buttons(world: World) -> None:
    fake, host = world.fake, world.host
    dana = fake.add_user("dana")
    access = json.loads((world.state / "access.json").read_text())
    world.write_access({**access, "allowFrom": [world.alice["id"], "4242", dana["id"]]})
    await host.command('/permission Bash "list files" {"command": "ls -la"}')
    request_id = (await host.wait_type("permission_request"))["request_id"]
    prompt = await fake.wait_bot_message(fake.dm_channel(world.alice))
    other_copy = await fake.wait_bot_message(fake.dm_channel(dana))
    await host.wait_stderr("permission_request send to 4242 failed: 404 Not Found (error code: 10013): Unknown User")
    assert prompt["content"] == "🔐 Permission: Bash"
    buttons = prompt["components"][0]["components"]
    assert [(b["label"], b.get("emoji", {}).get("name"), b["style"], b["custom_id"]) for b in buttons] == [
        ("See more", None, 2, f"perm:more:{request_id}"),
        ("Allow", "✅", 3, f"perm:allow:{request_id}"),
        ("Deny", "❌", 4, f"perm:deny:{request_id}"),
    ]

    async def press(message: dict[str, Any], user: dict[str, Any], action: str) -> dict[str, Any]:
        interaction = fake.click(fake.find_message(message["id"]), user, f"perm:{action}:{request_id}")
        return (await fake.wait_until(lambda: fake.interaction_responses.get(interaction["id"])))[0]

    unrelated = fake.click(fake.find_message(prompt["id"]), world.alice, "poll:vote:1")
    world.write_access({**access, "allowFrom": [dana["id"]]})
    refused = await press(prompt, world.alice, "allow")
    assert (refused["type"], refused["data"]["content"], refused["data"]["flags"]) == (4, "Not authorized.", 64)
    world.write_access({**access, "allowFrom": [world.alice["id"], dana["id"]]})
    more = await press(prompt, world.alice, "more")
    assert more["type"] == 7
    assert more["data"]["content"] == (
        '🔐 Permission: Bash\n\ntool_name: Bash\ndescription: list files\ninput_preview:\n{\n  "command": "ls -la"\n}'
    )
    assert [b["custom_id"] for b in more["data"]["components"][0]["components"]] == [
        f"perm:allow:{request_id}",
        f"perm:deny:{request_id}",
    ]
    allowed = await press(prompt, world.alice, "allow")
    assert allowed["data"]["content"] == more["data"]["content"] + "\n\n✅ Allowed"
    assert allowed["data"]["components"] == []
    resolved = await host.wait_type("permission_resolved")
    assert (resolved["request_id"], resolved["behavior"], resolved["by"]) == (request_id, "allow", "channel discord")
    assert fake.find_message(prompt["id"])["components"] == []

    assert unrelated["id"] not in fake.interaction_responses  # not ours: left unanswered
    gone = await press(other_copy, dana, "more")
    assert (gone["type"], gone["data"]["content"], gone["data"]["flags"]) == (4, "Details no longer available.", 64)


async def test_permission_text_reply_is_consumed_with_a_reaction(world: World) -> None:
    fake, host = world.fake, world.host
    await host.command("/permission Write 'write a file'")
    request_id = (await host.wait_type("permission_request"))["request_id"]
    dm = fake.dm_channel(world.alice)
    answer = fake.post(dm, world.alice, f"  NO {request_id.upper()} ")
    resolved = await host.wait_type("permission_resolved")
    assert (resolved["request_id"], resolved["behavior"]) == (request_id, "deny")
    await fake.wait_until(lambda: fake.find_message(answer["id"]).get("reactions"))
    assert fake.find_message(answer["id"])["reactions"][0]["emoji"]["name"] == "❌"
    fake.post(dm, world.alice, "after")
    assert (await world.event())["content"] == "after"
    assert len(world.events()) == 1


# --------------------------------------------------------------------------- resilience


async def test_gateway_drop_resume_and_reconnect_lose_nothing(world: World) -> None:
    fake = world.fake
    dm = fake.dm_channel(world.alice)
    fake.post(dm, world.alice, "before the drop")
    await world.event()
    await fake.drop_connections()
    fake.post(dm, world.alice, "while the bot was away")  # only the session's buffer has it
    resumed = (await fake.wait_gateway("resume"))[0]
    assert "MESSAGE_CREATE" in resumed["replayed"]
    await world.host.wait_count("event", 2)
    fake.reconnect()
    await fake.wait_gateway("resume", count=2)
    fake.post(dm, world.alice, "after the reconnect")
    await world.host.wait_count("event", 3)
    assert [e["content"] for e in world.events()] == [
        "before the drop",
        "while the bot was away",
        "after the reconnect",
    ]
    assert len(await fake.wait_gateway("identify")) == 1  # resumed every time, never re-identified


async def test_invalid_session_leads_to_a_fresh_identify(world: World) -> None:
    fake = world.fake
    fake.invalidate_session(resumable=False)
    await fake.wait_gateway("identify", count=2)  # discord.py waits 5 s before re-identifying, as Discord asks
    dm = fake.dm_channel(world.alice)
    fake.post(dm, world.alice, "new session")
    assert (await world.event())["content"] == "new session"


async def test_rate_limited_send_is_retried_after_retry_after(world: World) -> None:
    fake = world.fake
    path = rf"/channels/{world.lounge['id']}/messages"
    fake.rate_limit("POST", path, 0.6)
    result = await world.call("reply", chat_id=world.lounge["id"], text="patience")
    assert not result["is_error"], result
    limited, accepted = fake.calls_to("POST", path)
    assert (limited.status, accepted.status) == (429, 200)
    assert accepted.at - limited.at >= 0.55
    assert [m["content"] for m in fake.bot_messages(world.lounge)] == ["patience"]

    fake.rate_limit("POST", path, 120.0)
    started = time.monotonic()
    slow = await world.call("reply", chat_id=world.lounge["id"], text="too slow")
    assert (
        slow["text"]
        == "reply failed: reply failed after 0 of 1 chunk(s) sent: Too many requests. Retry in 120.00 seconds."
    )
    assert time.monotonic() - started < 5


async def test_static_mode_reads_the_file_once_and_never_pairs(tmp_path: Path) -> None:
    fake = await FakeDiscord().start()
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    state = tmp_path / "state"
    state.mkdir()
    (state / "access.json").write_text(json.dumps({"dmPolicy": "pairing", "allowFrom": [alice["id"]]}))
    host = await start_host(tmp_path, fake, state, DISCORD_ACCESS_MODE="static")
    try:
        await host.wait_stderr('static mode — dmPolicy "pairing" downgraded to "allowlist"')
        await fake.wait_gateway("identify")
        (state / "access.json").write_text(json.dumps({"dmPolicy": "pairing", "allowFrom": [bob["id"]]}))
        fake.post(fake.dm_channel(bob), bob, "let me in")
        fake.post(fake.dm_channel(alice), alice, "still me")
        event = await host.wait_type("event")
        assert (event["meta"]["user"], len(host.of_type("event"))) == ("alice", 1)
        assert fake.bot_messages(fake.dm_channel(bob)) == []
    finally:
        await host.stop()
        await fake.close()


async def test_a_message_claude_code_could_not_take_is_logged_and_the_next_one_flows(world: World) -> None:
    giant = world.fake.post(world.lounge, world.carol, "x" * (16 * 1024 * 1024 + 1))  # far past Discord's own cap
    world.fake.post(world.lounge, world.carol, "next")
    assert (await world.event(timeout=30))["content"] == "next"
    await world.host.wait_stderr(f"inbound message {giant['id']} could not be handled")
    assert len(world.events()) == 1

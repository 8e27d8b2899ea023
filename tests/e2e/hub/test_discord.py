"""Several Claude Code sessions on one Discord bot through the hub: one gateway connection, each channel or thread to its session.

Each session is ``mcp-channels host`` running ``serve discord`` (the shim, ``--hub auto``)
against the fake Discord; the hub holds the bot's only gateway session. A Discord thread has a
channel id of its own, so it is a conversation of its own, bound apart from its parent channel.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from fakes.discord_api import FakeDiscord
from support.hub import HubDir, HubSession, OpenSessions

World = dict[str, dict[str, Any]]


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = await FakeDiscord().start()
    yield server
    await server.close()


@pytest.fixture
def world(fake: FakeDiscord) -> World:
    """Alice (allowlisted) and Mallory in a guild; #lounge and #ops opted in (no mention needed), a thread under #lounge."""
    alice, mallory = fake.add_user("alice"), fake.add_user("mallory")
    guild = fake.add_guild("test server")
    for user in (alice, mallory):
        fake.add_member(guild, user)
    lounge = fake.add_text_channel(guild, "lounge")
    return {
        "alice": alice,
        "mallory": mallory,
        "lounge": lounge,
        "ops": fake.add_text_channel(guild, "ops"),
        "thread": fake.add_thread(lounge, "release"),
    }


@pytest.fixture
async def sessions(fake: FakeDiscord, world: World, hub: HubDir, tmp_path: Path) -> AsyncIterator[OpenSessions]:
    state = tmp_path / "state"
    state.mkdir()
    opened = {"requireMention": False, "allowFrom": []}
    access = {
        "dmPolicy": "allowlist",
        "allowFrom": [world["alice"]["id"]],
        "groups": {world["lounge"]["id"]: opened, world["ops"]["id"]: opened},
    }
    (state / "access.json").write_text(json.dumps(access))
    env = {"DISCORD_BOT_TOKEN": fake.token, "DISCORD_API_BASE": fake.api_base, "DISCORD_STATE_DIR": str(state)}
    sessions = OpenSessions(hub, "discord", tmp_path, **env)
    yield sessions
    await sessions.stop()


async def open_two(fake: FakeDiscord, sessions: OpenSessions) -> tuple[HubSession, HubSession]:
    one = await sessions.open("one")
    two = await sessions.open("two")
    await fake.wait_gateway("identify")  # the hub's gateway session is up: messages now reach it
    return one, two


async def answer_in(session: HubSession, channel: dict[str, Any]) -> None:
    """The session answers there: ``reply`` binds that channel or thread to it."""
    await session.ok("reply", chat_id=channel["id"], text=f"on it in {channel['name']}")


async def test_one_gateway_each_channel_and_thread_to_its_session_and_switch(
    fake: FakeDiscord, world: World, sessions: OpenSessions
) -> None:
    one, two = await open_two(fake, sessions)
    alice, lounge, thread = world["alice"], world["lounge"], world["thread"]
    await answer_in(one, lounge)
    await answer_in(two, thread)
    for n in range(3):
        fake.post(lounge, alice, f"lounge {n}")
        fake.post(thread, alice, f"thread {n}")
    for n in range(3):
        await one.event(f"lounge {n}")
        await two.event(f"thread {n}")
    assert one.contents() == [f"lounge {n}" for n in range(3)]
    assert two.contents() == [f"thread {n}" for n in range(3)]
    assert (await two.event("thread 0"))["meta"]["chat_id"] == thread["id"]

    fake.post(thread, alice, f"<@{fake.bot['id']}> /switch one")
    moved = await fake.wait_bot_message(thread, lambda m: "now goes to" in m["content"])
    assert moved["content"] == "This chat now goes to one."
    fake.post(thread, alice, "thread, moved")
    await one.event("thread, moved")
    assert "thread, moved" not in two.contents()
    assert not [text for text in one.contents() + two.contents() if "/switch" in text]

    identifies = [entry for entry in fake.gateway_log if entry[0] == "identify"]
    assert len(identifies) == 1 and len(fake.sessions) == 1  # one gateway session for every Claude session


async def test_permission_prompt_in_the_asking_sessions_thread_and_verdict_to_it_only(
    fake: FakeDiscord, world: World, sessions: OpenSessions
) -> None:
    quiet, asking = await open_two(fake, sessions)
    await answer_in(asking, world["thread"])
    await answer_in(quiet, world["ops"])
    await asking.host.command('/permission Bash "list the files" {"command": "ls"}')
    request_id = (await asking.host.wait_type("permission_request"))["request_id"]
    prompt = await fake.wait_bot_message(world["thread"], lambda m: bool(m.get("components")))
    await fake.wait_bot_message(fake.dm_channel(world["alice"]), lambda m: bool(m.get("components")))
    assert not [m for m in fake.bot_messages(world["ops"]) if m.get("components")]  # the other session's channel

    async def press(user: dict[str, Any], action: str) -> dict[str, Any]:
        interaction = fake.click(fake.find_message(prompt["id"]), user, f"perm:{action}:{request_id}")
        return (await fake.wait_until(lambda: fake.interaction_responses.get(interaction["id"])))[0]

    refused = await press(world["mallory"], "allow")
    assert refused["data"]["content"] == "Not authorized."
    allowed = await press(world["alice"], "allow")
    assert allowed["data"]["components"] == []
    resolved = await asking.host.wait_type("permission_resolved")
    assert resolved["behavior"] == "allow" and resolved["by"] == "channel discord"
    fake.post(world["thread"], world["alice"], "after the verdict")
    await asking.event("after the verdict")
    assert quiet.host.of_type("permission_resolved") == [] and quiet.host.of_type("permission_request") == []

"""Several Claude Code sessions on one Telegram bot through the hub: real hosts, shims, hub and the fake Bot API.

Each session is ``mcp-channels host`` running ``serve telegram`` (the shim, ``--hub auto``); the
first one starts the hub, which polls the fake. Nothing here reaches into a process: what a
session received is what its host printed, what a person saw is what the fake recorded.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fakes.telegram_api import FakeTelegram
from fakes.telegram_session import TelegramSession, write_access
from support.hub import HubDir, cli, hub_processes

ALICE, BOB, CAROL = 111, 222, 333
PEOPLE = (ALICE, BOB, CAROL)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = await FakeTelegram().start()
    for user, name in zip(PEOPLE, ("alice", "bob", "carol"), strict=True):
        server.user(user, name)
    yield server
    await server.stop()


@pytest.fixture
def state(tmp_path: Path) -> Path:
    directory = tmp_path / "state"
    write_access(directory, dmPolicy="allowlist", allowFrom=[str(p) for p in PEOPLE])
    return directory


class Sessions:
    """The test's sessions, all stopped at the end."""

    def __init__(self, fake: FakeTelegram, state: Path, hub: HubDir, tmp_path: Path) -> None:
        self.fake, self.state, self.hub, self.tmp_path = fake, state, hub, tmp_path
        self.started: list[TelegramSession] = []

    async def open(self, name: str, *, delivering: bool = True, **env: str) -> TelegramSession:
        settings = {
            "MCP_CHANNELS_HUB": "auto",
            "MCP_CHANNELS_HUB_DIR": str(self.hub.path),
            "MCP_CHANNELS_SESSION_NAME": name,
            "CLAUDE_PROJECT_DIR": f"/projects/{name}",
            **env,
        }
        session = TelegramSession(self.fake, self.state, self.tmp_path / f"host-{name}-{len(self.started)}", **settings)
        if not delivering:  # a plain `claude`: the server runs, the session registers no channel
            session.host.args = [arg for arg in session.host.args if not arg.startswith(("--dangerously", "server:"))]
        self.started.append(session)
        await session.host.start()
        await session.host.wait_stderr("the hub")  # attached, or refused
        return session

    async def close(self, session: TelegramSession) -> None:
        await session.stop()
        self.started.remove(session)

    async def stop(self) -> None:
        for session in self.started:
            await session.stop()


@pytest.fixture
async def sessions(fake: FakeTelegram, state: Path, hub: HubDir, tmp_path: Path) -> AsyncIterator[Sessions]:
    opened = Sessions(fake, state, hub, tmp_path)
    yield opened
    await opened.stop()


async def bind(session: TelegramSession, person: int) -> None:
    """The session answers a person: ``reply`` binds that chat to it."""
    await session.ok("reply", chat_id=str(person), text=f"hello {person}")


def texts(session: TelegramSession) -> list[str]:
    return session.contents()


# --------------------------------------------------------------------------- the scenarios


async def test_three_sessions_one_poller_each_chat_to_its_session_and_switch(
    fake: FakeTelegram, sessions: Sessions, hub: HubDir
) -> None:
    one, two, three = [await sessions.open(name) for name in ("one", "two", "three")]
    assert len(hub_processes(hub.path)) == 1
    for session, person in zip((one, two, three), PEOPLE, strict=True):
        await bind(session, person)
    for round_ in range(3):
        for person in PEOPLE:
            fake.send_text(fake.users[person], f"{person} says {round_}")
    for session, person in zip((one, two, three), PEOPLE, strict=True):
        for round_ in range(3):
            await session.event(f"{person} says {round_}")
    for session, person in zip((one, two, three), PEOPLE, strict=True):
        assert texts(session) == [f"{person} says {round_}" for round_ in range(3)]

    fake.send_text(fake.users[ALICE], "/sessions")
    listing = await fake.wait_sent(lambda m: m["chat"]["id"] == ALICE and "/switch" in m["text"])
    assert "1. one — /projects/one" in listing["text"] and "3. three" in listing["text"]
    fake.send_text(fake.users[ALICE], "/switch three")
    await fake.wait_sent(lambda m: m["chat"]["id"] == ALICE and m["text"] == "This chat now goes to three.")
    fake.send_text(fake.users[ALICE], "alice moved")
    await three.event("alice moved")
    fake.send_text(fake.users[BOB], "bob stays")
    await two.event("bob stays")
    assert "alice moved" not in texts(one) and "/sessions" not in texts(one) + texts(three)

    assert all(poll.status in (200, None) for poll in fake.polls), [p.status for p in fake.polls]
    assert len({poll.agent for poll in fake.polls}) == 1


async def test_closed_session_messages_are_kept_for_the_next_session_in_order(
    fake: FakeTelegram, sessions: Sessions
) -> None:
    first = await sessions.open("app")
    bystander = await sessions.open("other")
    await bind(first, ALICE)
    await sessions.close(first)
    for n in range(5):
        fake.send_text(fake.users[ALICE], f"while closed {n}")
    notice = await fake.wait_sent(lambda m: m["chat"]["id"] == ALICE and "not open" in m["text"])
    assert "(app)" in notice["text"] and "/switch" in notice["text"]
    assert len([m for m in fake.sent_to(ALICE) if "not open" in m["text"]]) == 1  # one notice, not five
    successor = await sessions.open("app")
    for n in range(5):
        event = await successor.event(f"while closed {n}")
        assert event["meta"]["queued"] == "true" and event["meta"]["queued_at"].endswith("Z")
    assert texts(successor) == [f"while closed {n}" for n in range(5)]
    assert texts(bystander) == []


async def test_kill_9_of_the_hub_mid_burst_loses_nothing_and_repeats_nothing(
    fake: FakeTelegram, sessions: Sessions, hub: HubDir
) -> None:
    session = await sessions.open("burst")
    await bind(session, ALICE)
    burst = [f"m{n:03d}" for n in range(500)]
    for text in burst:
        fake.send_text(fake.users[ALICE], text)
    await session.host.wait_count("event", 60, timeout=60)
    first_hub = hub.pid()
    assert first_hub
    os.kill(first_hub, signal.SIGKILL)
    await session.host.wait_count("event", 500, timeout=120)
    await session.event(burst[-1])
    assert texts(session) == burst  # every message, once, in order
    assert hub.pid() not in (None, first_hub)  # the session started a new hub by itself
    await fake.wait_confirmed(fake.last_update_id)


async def test_two_sessions_started_together_start_one_hub(sessions: Sessions, hub: HubDir) -> None:
    both = await asyncio.gather(sessions.open("left"), sessions.open("right"))
    assert len(both) == 2
    assert len(hub_processes(hub.path)) == 1


async def test_the_hub_survives_the_session_that_started_it(
    fake: FakeTelegram, sessions: Sessions, hub: HubDir
) -> None:
    starter = await sessions.open("starter")
    pid = hub.pid()
    await sessions.close(starter)
    fake.send_text(fake.users[ALICE], "nobody home")
    await fake.wait_sent(lambda m: m["chat"]["id"] == ALICE and "No Claude Code session is open" in m["text"])
    assert hub.pid() == pid
    later = await sessions.open("later")
    event = await later.event("nobody home")
    assert event["meta"]["queued"] == "true"


async def test_a_session_without_the_channel_flag_takes_nothing_and_its_tools_work(
    fake: FakeTelegram, sessions: Sessions
) -> None:
    plain = await sessions.open("plain", delivering=False)
    await plain.ok("reply", chat_id=str(BOB), text="tools still work")
    await fake.wait_sent(lambda m: m["text"] == "tools still work")
    for n in range(3):
        fake.send_text(fake.users[ALICE], f"early {n}")
    await fake.wait_sent(lambda m: m["chat"]["id"] == ALICE and "No Claude Code session is open" in m["text"])
    channel = await sessions.open("channel")
    for n in range(3):
        await channel.event(f"early {n}")
    fake.send_text(fake.users[BOB], "later")
    await channel.event("later")  # a tools-only session's reply bound nothing
    assert plain.events() == []
    code, out, _ = await _status(sessions.hub)
    assert code == 0 and "tools only (no channel flag)" in out


async def test_permission_verdict_goes_back_to_the_asking_session_only(fake: FakeTelegram, sessions: Sessions) -> None:
    quiet = await sessions.open("quiet")
    asking = await sessions.open("asking")
    await bind(asking, ALICE)
    await asking.host.command('/permission Bash "list the files" {"command": "ls"}')
    request = await asking.host.wait_type("permission_request")
    prompt = await fake.wait_sent(lambda m: m["chat"]["id"] == ALICE and "reply_markup" in m)
    fake.press(fake.users[ALICE], prompt, f"perm:allow:{request['request_id']}")
    resolved = await asking.host.wait_type("permission_resolved")
    assert resolved["behavior"] == "allow" and resolved["by"] == "channel telegram"
    fake.send_text(fake.users[ALICE], f"no {request['request_id']}")  # a second answer: first one won
    fake.send_text(fake.users[ALICE], "after the verdict")
    await asking.event("after the verdict")
    assert quiet.host.of_type("permission_resolved") == []
    assert len(asking.host.of_type("permission_resolved")) == 1


async def test_conflicting_settings_are_refused_clearly(fake: FakeTelegram, sessions: Sessions, tmp_path: Path) -> None:
    await sessions.open("first")
    other_state = tmp_path / "other-state"
    write_access(other_state, dmPolicy="allowlist", allowFrom=[str(ALICE)])
    second = await sessions.open("second", TELEGRAM_STATE_DIR=str(other_state))
    line = await second.host.wait_stderr("the hub refused this session")
    assert "TELEGRAM_STATE_DIR" in line and "--hub off" in line and "first" in line
    assert fake.token not in line
    error = await second.error("reply", chat_id=str(ALICE), text="x")
    assert error.startswith("reply failed: the hub already runs telegram for session first")
    fake.send_text(fake.users[ALICE], "to the first only")
    await sessions.started[0].event("to the first only")
    assert second.events() == []


async def _status(hub: HubDir) -> tuple[int, str, str]:
    return await cli(hub.env, "hub", "status")


async def test_permission_prompts_also_go_to_the_groups_bound_to_the_asking_session(
    fake: FakeTelegram, sessions: Sessions, state: Path
) -> None:
    ours, theirs = -1001, -1002
    for group in (ours, theirs):
        fake.group(group)
    write_access(
        state,
        dmPolicy="allowlist",
        allowFrom=[str(p) for p in PEOPLE],
        groups={str(g): {"requireMention": False, "allowFrom": []} for g in (ours, theirs)},
    )
    other = await sessions.open("other")
    asking = await sessions.open("asking")
    await asking.ok("reply", chat_id=str(ours), text="this group is mine")
    await other.ok("reply", chat_id=str(theirs), text="this one is mine")
    await asking.host.command('/permission Bash "list the files" {"command": "ls"}')
    request = await asking.host.wait_type("permission_request")
    in_group = await fake.wait_sent(lambda m: m["chat"]["id"] == ours and "reply_markup" in m)
    await fake.wait_sent(lambda m: m["chat"]["id"] == ALICE and "reply_markup" in m)  # and the DMs, as before
    fake.press(fake.users[BOB], in_group, f"perm:deny:{request['request_id']}")
    resolved = await asking.host.wait_type("permission_resolved")
    assert resolved["behavior"] == "deny"
    assert not [m for m in fake.sent_to(theirs) if "reply_markup" in m]

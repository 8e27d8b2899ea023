"""Several Claude Code sessions on one Slack app through the hub: one Socket Mode connection, one thread per session.

Each session is ``mcp-channels host`` running ``serve slack`` (the shim, ``--hub auto``) against
the fake Slack; the hub holds the app's only Socket Mode connection. A thread (its channel and
root ts; a message at the top of a channel starts its own) is a conversation of its own, bound
to the session that answers in it; a DM's top-level messages are one conversation, and a thread
in it goes where the DM goes until someone binds it.
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from fakes.slack_api import FakeSlack
from fakes.slack_session import fake, slack_env
from support.chat_session import write_access
from support.hub import HubDir, HubSession, OpenSessions, cli

__all__ = ["fake"]  # fixtures

People = dict[str, dict[str, Any]]


@pytest.fixture
def people(fake: FakeSlack) -> People:
    """Alice (allowlisted), Mallory (in #eng, not allowlisted), #eng and #ops (opted in, no mention needed)."""
    alice, mallory = fake.user("alice"), fake.user("mallory")
    return {
        "alice": alice,
        "mallory": mallory,
        "eng": fake.channel("eng", members=[alice, mallory]),
        "ops": fake.channel("ops", members=[alice]),
        "alice_dm": fake.dm(alice),
    }


@pytest.fixture
async def sessions(fake: FakeSlack, people: People, hub: HubDir, tmp_path: Path) -> AsyncIterator[OpenSessions]:
    state = tmp_path / "state"
    open_channel = {"requireMention": False, "allowFrom": []}
    write_access(
        state,
        dmPolicy="allowlist",
        allowFrom=[people["alice"]["id"]],
        groups={people["eng"]["id"]: open_channel, people["ops"]["id"]: open_channel},
    )
    opened = OpenSessions(hub, "slack", tmp_path, **slack_env(fake, state))
    yield opened
    await opened.stop()
    for session in opened.started:
        assert not [line for line in session.host.stderr_lines if fake.bot_token in line or fake.app_token in line]


def start_thread(fake: FakeSlack, people: People, text: str, where: str = "eng") -> str:
    """Alice writes at the top of a channel: the message is the root of a new thread; its ts."""
    return str(fake.post(people["alice"], people[where], text)["ts"])


def in_thread(fake: FakeSlack, people: People, root: str, text: str, where: str = "eng") -> None:
    fake.post(people["alice"], people[where], text, thread_ts=root)


async def answer_in(session: HubSession, people: People, root: str, where: str = "eng") -> None:
    """The session answers in the thread: ``reply`` binds that thread to it."""
    await session.ok("reply", chat_id=people[where]["id"], thread_ts=root, text=f"on it ({root})")


async def bound_thread(
    fake: FakeSlack, people: People, newest: HubSession, owner: HubSession, text: str, where: str = "eng"
) -> str:
    """Alice starts a thread (unbound, it reaches the ``newest`` session), and ``owner`` answers in it."""
    root = start_thread(fake, people, text, where)
    await newest.event(text)
    await answer_in(owner, people, root, where)
    return root


def mention(fake: FakeSlack, text: str) -> str:
    """``@claude <text>``: Slack sends no message that starts with ``/``, so commands follow a mention."""
    return f"<@{fake.bot['id']}> {text}"


def socket_connections_opened(fake: FakeSlack) -> int:
    return len([entry for entry in fake.connection_log if entry[0] == "open"])


async def test_two_sessions_two_threads_each_to_its_session_over_one_socket(
    fake: FakeSlack, people: People, sessions: OpenSessions
) -> None:
    one = await sessions.open("one")
    two = await sessions.open("two")
    first = start_thread(fake, people, "first question")
    started = await two.event("first question")  # an unbound thread goes to the newest session
    assert started["meta"]["chat_id"] == people["eng"]["id"] and started["meta"]["thread_ts"] == first
    await answer_in(one, people, first)  # ... and one's reply takes it
    second = await bound_thread(fake, people, two, two, "second question")
    for n in range(3):
        in_thread(fake, people, first, f"first follow-up {n}")
        in_thread(fake, people, second, f"second follow-up {n}")
    for n in range(3):
        await one.event(f"first follow-up {n}")
        await two.event(f"second follow-up {n}")
    assert one.contents() == [f"first follow-up {n}" for n in range(3)]
    assert two.contents() == ["first question", "second question", *[f"second follow-up {n}" for n in range(3)]]
    answers = [m for m in fake.app_messages(people["eng"]) if m["text"].startswith("on it")]
    assert [m.get("thread_ts") for m in answers] == [first, second]  # each reply went into its thread

    third = await sessions.open("three")
    in_thread(fake, people, first, "still the first thread")
    await one.event("still the first thread")  # a bound thread stays with its session
    assert third.contents() == []
    assert socket_connections_opened(fake) == 1 and len(fake.connections) == 1  # one app connection for all


async def test_switch_moves_one_thread_and_is_answered_in_it(
    fake: FakeSlack, people: People, sessions: OpenSessions
) -> None:
    one = await sessions.open("one")
    two = await sessions.open("two")
    first = await bound_thread(fake, people, two, one, "first")
    second = await bound_thread(fake, people, two, two, "second")

    in_thread(fake, people, first, mention(fake, "/sessions"))
    listing = await fake.wait_app_message(people["eng"], lambda m: "/switch" in m["text"])
    assert listing.get("thread_ts") == first
    assert "1. one" in listing["text"] and "2. two" in listing["text"]
    assert "← this thread" in next(line for line in listing["text"].splitlines() if "1. one" in line)
    in_thread(fake, people, first, mention(fake, "/switch two"))
    moved = await fake.wait_app_message(people["eng"], lambda m: "now goes to" in m["text"])
    assert moved["text"] == "This thread now goes to two." and moved.get("thread_ts") == first

    in_thread(fake, people, first, "first, moved")
    await two.event("first, moved")
    in_thread(fake, people, second, "second, untouched")
    await two.event("second, untouched")
    assert one.contents() == []
    assert not [text for text in one.contents() + two.contents() if "/s" in text]  # commands are never events


async def test_a_dm_is_one_conversation_and_its_threads_follow_it(
    fake: FakeSlack, people: People, sessions: OpenSessions
) -> None:
    one = await sessions.open("one")
    two = await sessions.open("two")
    dm = people["alice_dm"]
    fake.post(people["alice"], dm, "hello in the DM")
    arrived = await two.event("hello in the DM")
    assert "thread_ts" not in arrived["meta"]
    await one.ok("reply", chat_id=dm["id"], text="one here")  # binds the DM
    fake.post(people["alice"], dm, "second DM line")
    await one.event("second DM line")
    answer = fake.app_messages(dm)[-1]
    fake.post(people["alice"], dm, "a thread under one's answer", thread_ts=answer["ts"])
    threaded = await one.event("a thread under one's answer")  # not to the newest session: to the DM's
    assert threaded["meta"]["thread_ts"] == answer["ts"]
    assert two.contents() == ["hello in the DM"]


async def test_a_channel_routed_from_the_command_line_takes_its_new_threads(
    fake: FakeSlack, people: People, sessions: OpenSessions, hub: HubDir
) -> None:
    one = await sessions.open("one")
    two = await sessions.open("two")
    code, out, err = await cli(hub.env, "hub", "route", "slack", people["ops"]["id"], "one")
    assert code == 0, err
    assert f"slack {people['ops']['id']} → one" in out
    for n in range(2):
        start_thread(fake, people, f"ops question {n}", where="ops")
    start_thread(fake, people, "eng question")
    for n in range(2):
        await one.event(f"ops question {n}")  # not to the newest session: the channel is one's
    await two.event("eng question")
    assert sorted(one.contents()) == ["ops question 0", "ops question 1"]  # two threads: side by side
    assert two.contents() == ["eng question"]


async def test_a_closed_sessions_thread_is_kept_for_its_successor(
    fake: FakeSlack, people: People, sessions: OpenSessions
) -> None:
    first = await sessions.open("app")
    bystander = await sessions.open("other")
    root = await bound_thread(fake, people, bystander, first, "start")
    await sessions.close(first)
    for n in range(3):
        in_thread(fake, people, root, f"while closed {n}")
    notice = await fake.wait_app_message(people["eng"], lambda m: "not open" in m["text"])
    assert notice.get("thread_ts") == root and "this thread goes to (app)" in notice["text"]
    successor = await sessions.open("app")
    for n in range(3):
        event = await successor.event(f"while closed {n}")
        assert event["meta"]["queued"] == "true" and event["meta"]["thread_ts"] == root
    assert successor.contents() == [f"while closed {n}" for n in range(3)]
    assert bystander.contents() == ["start"]
    assert len([m for m in fake.app_messages(people["eng"]) if "not open" in m["text"]]) == 1


async def test_kill_9_of_the_hub_loses_no_thread_message_nor_its_binding(
    fake: FakeSlack, people: People, sessions: OpenSessions, hub: HubDir
) -> None:
    one = await sessions.open("one")
    two = await sessions.open("two")
    root = await bound_thread(fake, people, two, one, "before the crash")
    first_hub = hub.pid()
    assert first_hub
    os.kill(first_hub, signal.SIGKILL)
    await fake.wait_until(lambda: not fake.connections)  # Slack keeps what it cannot send
    for n in range(3):
        in_thread(fake, people, root, f"during the crash {n}")
    for n in range(3):
        await one.event(f"during the crash {n}", timeout=30)  # a session started a new hub, which reconnected
    during = [text for text in one.contents() if text.startswith("during")]
    assert during == [f"during the crash {n}" for n in range(3)]  # once each, in order, to the bound session
    # "before the crash" may come to one again: two's acknowledgement, written in batches, may not
    # have reached the store when the hub died (at least once, not exactly once).
    assert set(one.contents()) - set(during) <= {"before the crash"}
    assert "during the crash 0" not in two.contents()
    assert hub.pid() not in (None, first_hub) and len(fake.connections) == 1


async def test_permission_buttons_in_the_asking_sessions_thread_reach_it_only(
    fake: FakeSlack, people: People, sessions: OpenSessions
) -> None:
    quiet = await sessions.open("quiet")
    asking = await sessions.open("asking")
    older = await bound_thread(fake, people, asking, asking, "an older thread of the asking session")
    ours = await bound_thread(fake, people, asking, asking, "ours")
    await bound_thread(fake, people, asking, quiet, "theirs", where="ops")

    await asking.host.command('/permission Bash "list the files" {"command": "ls"}')
    request_id = (await asking.host.wait_type("permission_request"))["request_id"]
    prompt = await fake.wait_app_message(people["eng"], lambda m: bool(m.get("blocks")))
    assert prompt.get("thread_ts") == ours
    await fake.wait_app_message(people["alice_dm"], lambda m: bool(m.get("blocks")))  # and the DMs, as before
    assert not [m for m in fake.app_messages(people["ops"]) if m.get("blocks")]  # not the other session's thread

    fake.click(people["mallory"], people["eng"], prompt, f"perm:allow:{request_id}")
    await fake.wait_until(lambda: fake.calls_to("chat.postEphemeral"))
    assert asking.host.of_type("permission_resolved") == []  # only allowlisted people answer
    fake.click(people["alice"], people["eng"], prompt, f"perm:deny:{request_id}")
    resolved = await asking.host.wait_type("permission_resolved")
    assert resolved["behavior"] == "deny" and resolved["by"] == "channel slack"
    await fake.wait_until(lambda: "Denied" in fake.find(people["eng"]["id"], prompt["ts"])["text"])
    in_thread(fake, people, ours, "after the verdict")
    await asking.event("after the verdict")
    assert quiet.host.of_type("permission_resolved") == [] and quiet.host.of_type("permission_request") == []
    prompts = [m for m in fake.app_messages(people["eng"]) if m.get("blocks")]
    assert [m.get("thread_ts") for m in prompts] == [ours] and older != ours  # the thread it works in only

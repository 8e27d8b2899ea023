"""The Slack channel's Socket Mode connection: one per app, reconnects, rate limits, acknowledgements.

Slack gives each event to one of an app's open connections at random, so a second session must
not open one; Slack sends an event again until it is acknowledged, so an event is acknowledged
only once Claude Code has it, and a redelivery is never delivered twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fakes.slack_api import FakeSlack
from fakes.slack_session import SlackSession, fake, people, session, state, write_access

__all__ = ["fake", "people", "session", "state"]  # fixtures

People = dict[str, dict[str, Any]]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


async def test_a_second_session_only_sends_then_takes_over(
    fake: FakeSlack, session: SlackSession, state: Path, tmp_path: Path, people: People
) -> None:
    second = await SlackSession(fake, state, tmp_path / "second").start(receiving=False)
    try:
        line = await second.host.wait_stderr("another session (pid")
        assert "is receiving messages for this Slack app; this one only sends" in line
        assert len(fake.connections) == 1 and len(fake.calls_to("apps.connections.open")) == 1
        assert (await second.ok("reply", chat_id=people["alice"]["id"], text="from the second")).startswith("sent")
        start = len(second.host.messages)
        await second.host.command('/permission Bash "list" {"command": "ls"}')
        request = await second.host.wait_type("permission_request", start=start)
        await second.host.wait_stderr(f"permission request {request['request_id']} not relayed")

        fake.post(people["alice"], people["alice_dm"], "to the first")
        await session.event("to the first")
        await session.stop()
        await second.host.wait_stderr("the other session has exited: this one now receives messages")
        await second.host.wait_stderr("connected to Slack (Socket Mode)")
        fake.post(people["alice"], people["alice_dm"], "to the second")
        await second.event("to the second")
        assert "to the first" not in second.contents()
        assert len(fake.connections) == 1
    finally:
        await second.stop()


async def test_a_connection_outside_the_lock_is_reported(
    fake: FakeSlack, session: SlackSession, tmp_path: Path, people: People
) -> None:
    elsewhere = tmp_path / "other-state"
    write_access(elsewhere, allowFrom=[people["alice"]["id"]])
    other = await SlackSession(fake, elsewhere, tmp_path / "other").start()
    try:
        line = await other.host.wait_stderr("Slack reports 2 open Socket Mode connections for this app")
        assert "gives each event to one of them at random" in line
    finally:
        await other.stop()


async def test_reconnects_when_slack_asks_or_the_connection_drops(
    fake: FakeSlack, session: SlackSession, people: People
) -> None:
    fake.disconnect("refresh_requested")
    await session.host.wait_stderr("Slack asked for a fresh connection (refresh_requested): reconnecting")
    await fake.wait_until(lambda: ("open", 2) in fake.connection_log and 1 not in fake.connections)
    fake.post(people["alice"], people["alice_dm"], "after the refresh")
    await session.event("after the refresh")

    fake.drop_connections()
    await fake.wait_until(lambda: ("open", 3) in fake.connection_log)
    fake.post(people["alice"], people["alice_dm"], "after the drop")
    await session.event("after the drop")

    fake.disconnect("link_disabled")
    line = await session.host.wait_stderr("Slack turned Socket Mode off for this app (link_disabled)")
    assert "Socket Mode → Enable" in line
    await fake.wait_until(lambda: ("open", 4) in fake.connection_log)
    fake.post(people["alice"], people["alice_dm"], "after it is back")
    await session.event("after it is back")
    assert session.contents() == ["after the refresh", "after the drop", "after it is back"]


async def test_a_rate_limited_connection_open_waits_as_slack_asks(
    fake: FakeSlack, state: Path, tmp_path: Path, people: People
) -> None:
    write_access(state, allowFrom=[people["alice"]["id"]])
    fake.rate_limit("apps.connections.open", retry_after=1)
    running = await SlackSession(fake, state, tmp_path / "host").start()
    try:
        opens = fake.calls_to("apps.connections.open")
        assert len(opens) == 2 and opens[1].at - opens[0].at >= 1.0
        fake.post(people["alice"], people["alice_dm"], "connected after the wait")
        await running.event("connected after the wait")
    finally:
        await running.stop()


async def test_events_are_acknowledged_once_delivered_and_a_retry_is_not_delivered_twice(
    fake: FakeSlack, session: SlackSession, people: People
) -> None:
    fake.redeliver_after = 0.3
    fake.download_delay = 1.5  # the event is still on its way when Slack sends it again
    image = fake.add_file(people["alice"], "slow.png", PNG, "image/png")
    fake.post(people["alice"], people["alice_dm"], "slow one", files=[image])
    event_id = next(e.payload["event_id"] for e in fake.envelopes.values() if e.payload.get("event", {}).get("files"))
    await fake.wait_until(lambda: len(fake.deliveries(event_id)) >= 2)
    assert not fake.acknowledged(event_id)  # a retry of an event on its way is not acknowledged
    assert (await session.event("slow one"))["meta"]["image_path"]
    await fake.wait_until(lambda: fake.acknowledged(event_id))
    fake.download_delay = 0.0
    fake.post(people["alice"], people["alice_dm"], "next")
    await session.event("next")  # the retries came before it: dropped, not queued behind it
    assert session.contents() == ["slow one", "next"]
    assert {e.retry_attempt for e in fake.deliveries(event_id)} >= {0, 1}


async def test_an_event_a_stopped_session_did_not_deliver_reaches_the_next(
    fake: FakeSlack, session: SlackSession, state: Path, tmp_path: Path, people: People
) -> None:
    fake.download_delay = 60.0  # never finishes in this session; Slack sends the event again after 3 s
    image = fake.add_file(people["alice"], "late.png", PNG, "image/png")
    fake.post(people["alice"], people["alice_dm"], "caught in a restart", files=[image])
    await fake.wait_until(lambda: any(image["id"] in d["path"] for d in fake.downloads))
    await session.stop()
    fake.download_delay = 0.0
    successor = await SlackSession(fake, state, tmp_path / "successor").start()
    try:
        event = await successor.event("caught in a restart")
        assert Path(event["meta"]["image_path"]).read_bytes() == PNG
    finally:
        await successor.stop()

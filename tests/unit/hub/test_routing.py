"""Routing and delivery in one process: a real hub on a real socket, sessions speaking its wire protocol.

The hub's store is the in-memory twin; events enter as the hub's channels would commit them
(``Hub.commit``). The end-to-end tests drive the same paths through real shims and channels.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mcp_channels.errors import HubRequestError
from mcp_channels.hub import Hub, HubOptions, HubPaths
from mcp_channels.hub._client import ask
from mcp_channels.hub._wire import WINDOW
from support.hub import WireSession

CHANNEL = "chat"


@pytest.fixture
async def hub() -> AsyncIterator[Hub]:
    with tempfile.TemporaryDirectory(prefix="hubr-") as tmp:
        paths = HubPaths(Path(tmp) / "h", "unix")
        running = Hub(paths, HubOptions(store="memory:", reconnect_grace=0), None)
        task = asyncio.create_task(running.run(signals=False))
        async with asyncio.timeout(10):
            await running.listening.wait()
        yield running
        running.stop()
        assert await task == 0


async def say(hub: Hub, chat: str, text: str, message_id: str | None = None) -> None:
    await hub.commit(CHANNEL, text, {"chat_id": chat, "message_id": message_id or text, "user": "u"})


async def attached(hub: Hub, key: str, channel: str = CHANNEL, **kwargs: object) -> WireSession:
    session = WireSession(key, **kwargs)  # type: ignore[arg-type]
    await session.attach(hub.paths, channel)
    return session


async def test_an_unbound_conversation_goes_to_the_newest_session_and_stays(hub: Hub) -> None:
    first = await attached(hub, "s1")
    second = await attached(hub, "s2")
    await say(hub, "c1", "hello")
    await second.wait_events(1)
    third = await attached(hub, "s3")
    await say(hub, "c1", "again")
    await say(hub, "c2", "new chat")
    await second.wait_events(2)
    await third.wait_events(1)
    assert second.contents() == ["hello", "again"]
    assert third.contents() == ["new chat"]
    assert first.events == []
    assert hub.routing.binding(CHANNEL, "c1").session == "s2"  # type: ignore[union-attr]


async def test_a_session_without_the_channel_flag_takes_nothing(hub: Hub) -> None:
    """Issue 17 under the hub: it is never routed to; a delivering one that comes later gets everything."""
    tools_only = await attached(hub, "plain", delivery="not delivering")
    for n in range(5):
        await say(hub, "c1", f"m{n}")
    delivering = await attached(hub, "chan")
    await delivering.wait_events(5)
    assert delivering.contents() == [f"m{n}" for n in range(5)]
    assert all(event["meta"]["queued"] == "true" and event["meta"]["queued_at"] for event in delivering.events)
    assert tools_only.events == []
    status = await hub.status()
    assert [a["tools_only"] for a in status["attachments"]] == [True, False]


async def test_closed_session_messages_wait_for_a_successor_not_for_the_sessions_already_open(hub: Hub) -> None:
    bystander = await attached(hub, "old")
    leaving = await attached(hub, "leaving", project="/p/app")
    await say(hub, "c1", "before")
    await leaving.wait_events(1)
    leaving.close()
    await _until(lambda: all(a.session.key != "leaving" for a in hub.attachments))
    for n in range(3):
        await say(hub, "c1", f"while closed {n}")
    successor = await attached(hub, "new", project="/p/app")
    await successor.wait_events(3)
    assert successor.contents() == [f"while closed {n}" for n in range(3)]
    assert bystander.events == []
    assert all(event["meta"].get("queued") == "true" for event in successor.events)
    assert hub.routing.binding(CHANNEL, "c1").how == "successor"  # type: ignore[union-attr]


async def test_a_named_binding_waits_for_its_name(hub: Hub) -> None:
    named = await attached(hub, "a", name="ci")
    await say(hub, "c1", "one")
    await named.wait_events(1)
    named.close()
    await _until(lambda: not hub.attachments)
    other = await attached(hub, "b")
    await say(hub, "c1", "two")
    back = await attached(hub, "c", name="ci")
    await back.wait_events(1)
    assert back.contents() == ["two"] and other.events == []


async def test_unacknowledged_events_go_to_the_next_session_acknowledged_ones_do_not(hub: Hub) -> None:
    first = await attached(hub, "s1", project="/p")
    first.auto_ack = False
    for n in range(4):
        await say(hub, "c1", f"m{n}")
    await first.wait_events(4)
    first.ack(first.events[0])
    first.ack(first.events[1])
    await _until(lambda: hub.dispatchers[CHANNEL].conversations["c1"].cursor == first.events[1]["seq"])
    first.close()
    await _until(lambda: not hub.attachments)
    second = await attached(hub, "s2", project="/p")
    await second.wait_events(2)
    assert second.contents() == ["m2", "m3"]


async def test_a_session_gets_at_most_a_window_of_unacknowledged_events(hub: Hub) -> None:
    slow = await attached(hub, "slow")
    slow.auto_ack = False
    for n in range(WINDOW + 20):
        await say(hub, "c1", f"m{n}")
    await slow.wait_events(WINDOW)
    assert len(slow.events) == WINDOW
    for event in slow.events[:20]:
        slow.ack(event)
    await slow.wait_events(WINDOW + 20)
    assert slow.contents() == [f"m{n}" for n in range(WINDOW + 20)]


async def test_switch_and_sessions_in_the_chat(hub: Hub) -> None:
    alpha = await attached(hub, "k1", name="alpha", project="/w/alpha")
    beta = await attached(hub, "k2", name="beta")
    await say(hub, "c1", "to beta")
    await beta.wait_events(1)
    listing = await hub.chat_command(CHANNEL, "c1", "/sessions")
    assert listing is not None
    assert "1. alpha — /w/alpha" in listing and "2. beta" in listing and "beta (since" in listing
    assert listing.splitlines()[2].endswith("← this chat")
    assert await hub.chat_command(CHANNEL, "c1", "/switch@somebot 1") == "This chat now goes to alpha."
    await say(hub, "c1", "to alpha")
    await alpha.wait_events(1)
    assert alpha.contents() == ["to alpha"] and beta.contents() == ["to beta"]
    assert await hub.chat_command(CHANNEL, "c1", "/switch gamma") == "No open session called gamma; see /sessions"
    assert await hub.chat_command(CHANNEL, "c1", "/switch 9") == "No session number 9; see /sessions"
    assert await hub.chat_command(CHANNEL, "c1", "hello /switch 1") is None


async def test_path_prefix_routes(hub: Hub) -> None:
    ci = await attached(hub, "k1", "webhook", name="ci")
    other = await attached(hub, "k2", "webhook")
    await ask(hub.paths, "hub/route", {"action": "prefix", "channel": "webhook", "prefix": "/ci/", "session": "ci"})
    await hub.commit("webhook", "build failed", {"path": "/ci/build"})  # the webhook's conversation is its path
    await hub.commit("webhook", "page", {"path": "/alerts"})
    await ci.wait_events(1)
    await other.wait_events(1)
    assert ci.contents() == ["build failed"] and other.contents() == ["page"]


async def test_a_thread_nobody_bound_follows_its_chat_until_it_is_bound(hub: Hub) -> None:
    """Slack: a channel bound by ``hub route`` takes its new threads; a thread's own binding wins."""
    one = await attached(hub, "k1", "slack", name="one")
    two = await attached(hub, "k2", "slack", name="two")
    await ask(hub.paths, "hub/route", {"action": "bind", "channel": "slack", "conversation": "C1", "session": "one"})

    async def post(text: str, ts: str, thread_ts: str) -> None:
        await hub.commit("slack", text, {"chat_id": "C1", "message_id": ts, "thread_ts": thread_ts, "user_id": "U1"})

    await post("new thread", "1.000001", "1.000001")
    await post("another thread", "2.000002", "2.000002")
    await one.wait_events(2)  # not to the newest session: to the one the channel is bound to
    await ask(
        hub.paths, "hub/route", {"action": "bind", "channel": "slack", "conversation": "C1/2.000002", "session": "two"}
    )
    await post("in the second thread", "3.000003", "2.000002")
    await post("in the first thread", "4.000004", "1.000001")
    await two.wait_events(1)
    await one.wait_events(3)
    # Conversations are delivered side by side: order holds within one, not across them.
    assert sorted(one.contents()) == ["another thread", "in the first thread", "new thread"]
    assert two.contents() == ["in the second thread"]
    assert hub.routing.binding("slack", "C1/1.000001") is None  # it follows the channel, unbound


async def test_route_from_the_command_line(hub: Hub) -> None:
    one = await attached(hub, "k1", name="one")
    two = await attached(hub, "k2", name="two")
    result = await ask(
        hub.paths, "hub/route", {"action": "bind", "channel": CHANNEL, "conversation": "c9", "session": "1"}
    )
    assert result["bindings"][0]["label"] == "one"
    await say(hub, "c9", "x")
    await one.wait_events(1)
    assert two.events == []
    with pytest.raises(HubRequestError, match="no open session matches 'zzz'"):
        await ask(
            hub.paths, "hub/route", {"action": "bind", "channel": CHANNEL, "conversation": "c9", "session": "zzz"}
        )
    await ask(hub.paths, "hub/route", {"action": "unbind", "channel": CHANNEL, "conversation": "c9"})
    assert hub.routing.binding(CHANNEL, "c9") is None


async def test_bindings_survive_a_restart_of_the_hub_on_the_same_store(tmp_path: Path) -> None:
    """Routing state is in the store's key-value map, not only in the hub's memory."""
    with tempfile.TemporaryDirectory(prefix="hubr-") as tmp:
        paths = HubPaths(Path(tmp) / "h", "unix")
        options = HubOptions(store=str(tmp_path / "store"), reconnect_grace=0)
        for round_ in (1, 2):
            running = Hub(paths, options, None)
            task = asyncio.create_task(running.run(signals=False))
            await running.listening.wait()
            a = await attached(running, "ka", project="/a")
            b = await attached(running, "kb", project="/b")
            if round_ == 1:
                await ask(
                    paths, "hub/route", {"action": "bind", "channel": CHANNEL, "conversation": "c", "session": "1"}
                )
            await say(running, "c", f"round {round_}")
            await a.wait_events(1)
            assert b.events == []
            a.close()
            b.close()
            running.stop()
            assert await task == 0


async def _until(predicate: object, timeout: float = 5.0) -> None:
    assert callable(predicate)
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


async def test_quiet_conversations_and_bindings_are_forgotten_and_start_afresh(hub: Hub) -> None:
    """What keeps the hub's memory and key-value map bounded when senders use ever new paths."""
    first = await attached(hub, "a")
    for chat in ("c1", "c2"):
        await say(hub, chat, f"to {chat}")
    await first.wait_events(2)
    dispatcher = hub.dispatchers[CHANNEL]
    await _until(lambda: not any(state.pending for state in dispatcher.conversations.values()))
    assert dispatcher.forget_idle(0) == 2 and dispatcher.conversations == {}
    assert await hub.routing.forget_bindings(time.time() + 1) == 2
    assert await hub.store.kv_items("hub/b/") == {}
    second = await attached(hub, "b")
    await say(hub, "c1", "again")
    await second.wait_events(1)  # unbound: the newest session takes it
    assert second.contents() == ["again"] and sorted(first.contents()) == ["to c1", "to c2"]

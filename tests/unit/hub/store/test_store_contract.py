"""Every promise of ``EventStore``, checked against each backend (memory, SQLite, a real JetStream)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from mcp_channels.hub.store import (
    Backlog,
    Event,
    EventStore,
    InvalidInput,
    Retention,
    StoredEvent,
    StoreError,
)

DAY = 24 * 3600.0
StoreFactory = Callable[..., Awaitable[EventStore]]


def event(
    event_id: str, conversation: str = "chat-1", content: str = "hi", channel: str = "telegram", **meta: str
) -> Event:
    return Event(event_id, channel, conversation, content, meta, received_at=1_000.0 + len(event_id))


async def next_value(watch: AsyncIterator[int]) -> int:
    return await asyncio.wait_for(anext(watch), 10)


# ---------------------------------------------------------------------- append


async def test_append_returns_events_as_stored_with_increasing_seqs_per_channel(store: EventStore) -> None:
    stored = await store.append([event("a"), event("b", channel="webhook"), event("c"), event("d", meta_key="v")])

    assert [(item.channel, item.seq) for item in stored] == [
        ("telegram", 1),
        ("webhook", 1),
        ("telegram", 2),
        ("telegram", 3),
    ]
    assert stored[3] == StoredEvent.of(event("d", meta_key="v"), 3)
    assert dict(stored[3].meta) == {"meta_key": "v"}
    assert (await store.append([event("e")]))[0].seq == 4
    assert await store.append([]) == []


async def test_append_is_idempotent_by_id_within_a_channel(store: EventStore) -> None:
    first = await store.append([event("a", content="original"), event("b")])
    again = await store.append([event("a", content="retry with other content"), event("c"), event("c")])

    assert again[0] == first[0]
    assert again[0].content == "original"
    assert again[1].seq == again[2].seq == 3
    assert [item.id for item in await store.read("telegram")] == ["a", "b", "c"]
    other_channel = await store.append([event("a", channel="webhook")])
    assert other_channel[0].seq == 1


async def test_concurrent_appends_are_all_stored_once_in_seq_order(store: EventStore) -> None:
    results = await asyncio.gather(*(store.append([event(f"e{i}", conversation=f"c{i % 4}")]) for i in range(64)))
    again = await asyncio.gather(*(store.append([event(f"e{i}")]) for i in range(0, 64, 3)))

    seqs = sorted(result[0].seq for result in results)
    assert seqs == list(range(1, 65))
    assert all(repeat[0].seq == results[i * 3][0].seq for i, repeat in enumerate(again))
    stored = await store.read("telegram")
    assert [item.seq for item in stored] == seqs
    assert len({item.id for item in stored}) == 64


@pytest.mark.parametrize(
    "make",
    [
        lambda: Event("x", "bad channel", "c", "t"),
        lambda: Event("x", "telegram.ops", "c", "t"),
        lambda: Event("x", "", "c", "t"),
        lambda: Event("", "telegram", "c", "t"),
        lambda: Event("line\nbreak", "telegram", "c", "t"),
        lambda: Event("x", "telegram", "", "t"),
        lambda: Event("x", "telegram", "tab\there", "t"),
        lambda: Event("x", "telegram", "c" * 257, "t"),
        lambda: Event("x", "telegram", "c", "t" * (512 * 1024 + 1)),
        lambda: Event("x", "telegram", "c", "t", {"k": 1}),  # type: ignore[dict-item]
        lambda: Event("x", "telegram", "c", "t", received_at=float("nan")),
    ],
)
def test_events_breaking_a_limit_cannot_be_built(make: object) -> None:
    with pytest.raises(InvalidInput):
        make()  # type: ignore[operator]


async def test_append_refuses_what_is_not_an_event_and_stores_nothing(store: EventStore) -> None:
    with pytest.raises(InvalidInput):
        await store.append([event("a"), ("b", "telegram")])  # type: ignore[list-item]
    assert await store.read("telegram") == []


def test_meta_is_a_read_only_copy_and_events_hash_by_channel_and_id() -> None:
    meta = {"user": "alice"}
    built = Event("x", "telegram", "c", "t", meta)
    meta["user"] = "mallory"
    assert built.meta["user"] == "alice"
    with pytest.raises(TypeError):
        built.meta["user"] = "mallory"  # type: ignore[index]
    assert len({built, Event("x", "telegram", "c", "t", {"user": "alice"}, built.received_at)}) == 1
    assert len({StoredEvent.of(built, 1), StoredEvent.of(built, 2)}) == 2  # equal hashes, unequal events


async def test_conversations_and_ids_with_any_printable_characters_round_trip(store: EventStore) -> None:
    odd = ["/ci/build.*>", "chat:-100123/topic:45", "fête ünïcödé 🎉", "a.b c=d%41", "=41", "*", ">"]
    stored = await store.append([event(f"id {name}", conversation=name) for name in odd])
    for name, item in zip(odd, stored, strict=True):
        assert [read.id for read in await store.read("telegram", conversation=name)] == [item.id]
        assert item.conversation == name


# ---------------------------------------------------------------------- read


async def test_read_filters_by_conversation_and_seq_and_limits(store: EventStore) -> None:
    await store.append([event(f"e{i}", conversation="odd" if i % 2 else "even") for i in range(1, 11)])

    assert [item.seq for item in await store.read("telegram", after=7)] == [8, 9, 10]
    assert [item.seq for item in await store.read("telegram", conversation="odd", after=3)] == [5, 7, 9]
    assert [item.seq for item in await store.read("telegram", conversation="even", limit=2)] == [2, 4]
    assert await store.read("telegram", after=10) == []
    assert await store.read("telegram", conversation="nobody") == []
    assert await store.read("unknown-channel") == []
    for bad in ({"after": -1}, {"limit": 0}, {"limit": 10_001}, {"conversation": ""}):
        with pytest.raises(InvalidInput):
            await store.read("telegram", **bad)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- cursors and backlog


async def test_cursors_start_at_zero_and_only_move_forward(store: EventStore) -> None:
    await store.append([event(f"e{i}") for i in range(5)])
    assert await store.cursor("telegram", "chat-1") == 0

    await store.ack("telegram", "chat-1", 3)
    await store.ack("telegram", "chat-1", 2)
    assert await store.cursor("telegram", "chat-1") == 3
    assert await store.cursor("telegram", "chat-2") == 0
    await store.ack("telegram", "chat-1", 5)
    assert await store.cursor("telegram", "chat-1") == 5


async def test_ack_past_the_newest_event_is_refused(store: EventStore) -> None:
    await store.append([event("a"), event("b")])
    with pytest.raises(InvalidInput, match="newest event is 2"):
        await store.ack("telegram", "chat-1", 3)
    with pytest.raises(InvalidInput):
        await store.ack("nothing-here", "chat-1", 1)
    assert await store.cursor("telegram", "chat-1") == 0


async def test_backlog_lists_conversations_with_events_past_their_cursor(store: EventStore) -> None:
    await store.append(
        [
            Event("a", "telegram", "alice", "1", received_at=100.0),
            Event("b", "telegram", "bob", "2", received_at=200.0),
            Event("c", "telegram", "alice", "3", received_at=300.0),
            Event("d", "telegram", "carol", "4", received_at=400.0),
            Event("e", "telegram", "bob", "5", received_at=50.0),  # clocks differ: the head's time counts
        ]
    )
    await store.ack("telegram", "alice", 1)
    await store.ack("telegram", "carol", 4)

    assert await store.backlog("telegram") == [
        Backlog(conversation="bob", count=2, oldest_seq=2, oldest_received_at=200.0, cursor=0),
        Backlog(conversation="alice", count=1, oldest_seq=3, oldest_received_at=300.0, cursor=1),
    ]
    await store.ack("telegram", "bob", 5)
    await store.ack("telegram", "alice", 3)
    assert await store.backlog("telegram") == []
    assert await store.backlog("webhook") == []


async def test_stats_give_queue_depth_and_age_per_channel(store: EventStore) -> None:
    await store.append(
        [
            Event("a", "telegram", "alice", "1", received_at=100.0),
            Event("b", "telegram", "bob", "2", received_at=200.0),
            Event("c", "webhook", "/ci", "3", received_at=300.0),
        ]
    )
    await store.ack("telegram", "alice", 1)
    await store.ack("webhook", "/ci", 1)

    stats = {item.channel: item for item in await store.stats()}
    assert (stats["telegram"].stored, stats["telegram"].newest_seq, stats["telegram"].pending) == (2, 2, 1)
    assert stats["telegram"].oldest_pending_received_at == 200.0
    assert (stats["webhook"].pending, stats["webhook"].oldest_pending_received_at) == (0, None)
    watch = store.watch("never-used")  # watching a channel does not make it one with events
    assert await next_value(watch) == 0
    assert [item.channel for item in await store.stats()] == ["telegram", "webhook"]
    await watch.aclose()


# ---------------------------------------------------------------------- watch


async def test_watch_yields_the_newest_seq_then_each_growth(store: EventStore) -> None:
    await store.append([event("a")])
    watch = store.watch("telegram")
    try:
        assert await next_value(watch) == 1
        await store.append([event("b")])
        assert await next_value(watch) == 2
        await store.append([event("c"), event("d"), event("e")])
        seen = await next_value(watch)
        while seen < 5:  # appends may be coalesced: values only grow, and reach the newest
            seen = await next_value(watch)
        assert seen == 5
        await store.append([event("a")])  # a duplicate grows nothing
        await store.append([event("f", channel="webhook")])
        await store.append([event("g")])
        assert await next_value(watch) == 6
    finally:
        await watch.aclose()


async def test_watch_of_an_empty_channel_starts_at_zero_and_ends_at_shutdown(store: EventStore) -> None:
    watch = store.watch("quiet")
    assert await next_value(watch) == 0
    waiting = asyncio.ensure_future(anext(watch))
    await asyncio.sleep(0)
    await store.shutdown()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, 10)


# ---------------------------------------------------------------------- key-value


async def test_kv_puts_gets_deletes_and_lists_by_prefix(store: EventStore) -> None:
    assert await store.kv_get("binding/telegram/1") is None
    await store.kv_put("binding/telegram/1", "session-a")
    await store.kv_put("binding/telegram/2", "session-b")
    await store.kv_put("binding/telegram/1", "session-c")
    await store.kv_put("binding/web hook/ci.*", "ci ✓")
    await store.kv_put("hub/started", "")

    assert await store.kv_get("binding/telegram/1") == "session-c"
    assert await store.kv_items("binding/telegram/") == {
        "binding/telegram/1": "session-c",
        "binding/telegram/2": "session-b",
    }
    assert list(await store.kv_items()) == sorted(
        ["binding/telegram/1", "binding/telegram/2", "binding/web hook/ci.*", "hub/started"]
    )
    await store.kv_delete("binding/telegram/1")
    await store.kv_delete("never/there")
    assert await store.kv_get("binding/telegram/1") is None
    assert await store.kv_items("binding/") == {"binding/telegram/2": "session-b", "binding/web hook/ci.*": "ci ✓"}
    assert await store.kv_items("zzz") == {}
    for bad_key in ("", "new\nline", "k" * 257):
        with pytest.raises(InvalidInput):
            await store.kv_put(bad_key, "v")
    with pytest.raises(InvalidInput):
        await store.kv_put("k", "v" * (256 * 1024 + 1))


async def test_kv_create_stores_only_when_absent_and_one_of_concurrent_creators_wins(
    open_backend: StoreFactory, backend: str
) -> None:
    """What lets edges on several machines claim a conversation without both taking it."""
    store = await open_backend()
    assert await store.kv_create("claim", "first") is None
    assert await store.kv_create("claim", "second") == "first"
    assert await store.kv_get("claim") == "first"
    await store.kv_delete("claim")
    assert await store.kv_create("claim", "after delete") is None
    others = [store] if backend == "memory" else [store, await open_backend(), await open_backend()]
    results = await asyncio.gather(*(others[n % len(others)].kv_create("race", f"hub {n}") for n in range(9)))
    winners = [n for n, result in enumerate(results) if result is None]
    assert len(winners) == 1
    assert set(results) == {None, f"hub {winners[0]}"}
    with pytest.raises(InvalidInput):
        await store.kv_create("", "v")


# ---------------------------------------------------------------------- lifecycle and durability across opens


async def test_calls_outside_initialize_and_shutdown_raise(open_backend: StoreFactory) -> None:
    store = await open_backend()
    await store.initialize()  # idempotent
    await store.shutdown()
    await store.shutdown()
    with pytest.raises(StoreError, match="not open"):
        await store.append([event("a")])
    with pytest.raises(StoreError, match="shut down"):
        await store.initialize()


async def test_shutdown_lets_writes_already_called_finish(open_backend: StoreFactory, backend: str) -> None:
    store = await open_backend()
    appends = [asyncio.ensure_future(store.append([event(f"e{i}")])) for i in range(20)]
    await asyncio.sleep(0)  # every append has started
    await store.shutdown()
    assert sorted(result[0].seq for result in await asyncio.gather(*appends)) == list(range(1, 21))
    if backend != "memory":
        reopened = await open_backend()
        assert len(await reopened.read("telegram")) == 20


async def test_a_second_store_on_the_same_data_sees_everything(open_backend: StoreFactory, backend: str) -> None:
    if backend == "memory":
        pytest.skip("the memory store keeps nothing beyond its object")
    first = await open_backend()
    await first.append([event("a"), event("b")])
    await first.ack("telegram", "chat-1", 1)
    await first.kv_put("binding", "s1")
    await first.shutdown()

    second = await open_backend()
    assert [item.id for item in await second.read("telegram")] == ["a", "b"]
    assert await second.cursor("telegram", "chat-1") == 1
    assert await second.kv_get("binding") == "s1"
    assert (await second.append([event("a"), event("c")]))[1].seq == 3


# ---------------------------------------------------------------------- retention


async def test_count_retention_keeps_the_newest_events(open_backend: StoreFactory) -> None:
    store = await open_backend(retention=Retention(max_events=3))
    await store.append([event(f"e{i}", conversation="old" if i < 3 else "new") for i in range(1, 7)])
    await store.ack("telegram", "old", 1)

    pruned = await store.prune()

    assert [item.seq for item in await store.read("telegram")] == [4, 5, 6]
    assert (await store.append([event("e7")]))[0].seq == 7
    assert await store.cursor("telegram", "old") == 0  # the conversation has no events left
    if pruned:  # the memory and SQLite stores report; JetStream drops at publish time, unreported
        assert sorted((item.conversation, item.dropped, item.undelivered) for item in pruned) == [
            ("new", 1, 1),
            ("old", 2, 1),
        ]


async def test_prune_by_age_reports_undelivered_events(open_backend: StoreFactory, backend: str) -> None:
    if backend == "nats":
        pytest.skip("JetStream applies MaxAge itself, by the server's clock")
    store = await open_backend(retention=Retention(max_age=DAY))
    await store.append([event("a", conversation="x"), event("b", conversation="y"), event("c", conversation="x")])
    await store.ack("telegram", "x", 1)
    assert await store.prune() == []

    pruned = await store.prune(now=time.time() + 2 * DAY)

    assert sorted((item.conversation, item.dropped, item.undelivered) for item in pruned) == [("x", 2, 1), ("y", 1, 1)]
    assert await store.read("telegram") == []
    assert await store.cursor("telegram", "x") == 0
    assert (await store.append([event("d")]))[0].seq == 4  # seqs are never reused

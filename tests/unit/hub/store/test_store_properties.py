"""Seq and cursor rules under random operation sequences (hypothesis), and the package's public face."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mcp_channels.hub.store as store_package
from mcp_channels.hub.store import (
    Event,
    EventStore,
    InvalidInput,
    MemoryStore,
    NatsStore,
    SqliteStore,
    open_store,
)

IDS = st.sampled_from([f"id{i}" for i in range(10)])
CHANNELS = st.sampled_from(["telegram", "webhook"])
CONVERSATIONS = st.sampled_from(["a", "b", "c"])
APPEND = st.lists(st.tuples(IDS, CHANNELS, CONVERSATIONS), min_size=1, max_size=6).map(lambda batch: ("append", batch))
ACK = st.tuples(st.just("ack"), CHANNELS, CONVERSATIONS, st.integers(0, 30))
OPERATIONS = st.lists(st.one_of(APPEND, ACK), max_size=25)


async def check_against_model(store: EventStore, operations: list[tuple[object, ...]]) -> None:
    """Run ``operations`` and compare with the obvious model: first id wins, seqs count up per channel."""
    seq_of: dict[tuple[str, str], int] = {}
    newest: dict[str, int] = {}
    cursors: dict[tuple[str, str], int] = {}
    async with store:
        for operation in operations:
            if operation[0] == "append":
                batch = operation[1]
                assert isinstance(batch, list)
                events = [Event(event_id, channel, conversation, "x") for event_id, channel, conversation in batch]
                stored = await store.append(events)
                for item in stored:
                    key = (item.channel, item.id)
                    if key not in seq_of:
                        newest[item.channel] = newest.get(item.channel, 0) + 1
                        seq_of[key] = newest[item.channel]
                    assert item.seq == seq_of[key]
            else:
                _, channel, conversation, seq = operation
                assert isinstance(channel, str) and isinstance(conversation, str) and isinstance(seq, int)
                if seq > newest.get(channel, 0):
                    with pytest.raises(InvalidInput):
                        await store.ack(channel, conversation, seq)
                else:
                    await store.ack(channel, conversation, seq)
                    cursors[(channel, conversation)] = max(seq, cursors.get((channel, conversation), 0))
        for channel in ("telegram", "webhook"):
            read = await store.read(channel)
            assert [item.seq for item in read] == list(range(1, newest.get(channel, 0) + 1))
            assert {(channel, item.id): item.seq for item in read} == {
                key: seq for key, seq in seq_of.items() if key[0] == channel
            }
            for conversation in ("a", "b", "c"):
                assert await store.cursor(channel, conversation) == cursors.get((channel, conversation), 0)


@given(OPERATIONS)
@settings(max_examples=150, deadline=None)
def test_memory_store_follows_the_model(operations: list[tuple[object, ...]]) -> None:
    asyncio.run(check_against_model(MemoryStore(), operations))


@given(OPERATIONS)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_sqlite_store_follows_the_model(operations: list[tuple[object, ...]]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(check_against_model(SqliteStore(directory), operations))


# ---------------------------------------------------------------------- the public face


def test_the_public_names_are_exactly_these() -> None:
    assert sorted(store_package.__all__) == [
        "Backlog",
        "ChannelStats",
        "Event",
        "EventStore",
        "InvalidInput",
        "MemoryStore",
        "NatsStore",
        "Pruned",
        "Retention",
        "SqliteStore",
        "StoreError",
        "StoreUnavailable",
        "StoredEvent",
        "open_store",
    ]
    for name in store_package.__all__:  # the store's own, or its errors from the one error tree
        module = getattr(store_package, name).__module__
        assert module.startswith("mcp_channels.hub.store") or module == "mcp_channels.errors"


def test_open_store_picks_the_backend_from_the_url(tmp_path: Path) -> None:
    assert isinstance(open_store("memory:"), MemoryStore)
    nats_store = open_store("nats://u:p@host-a:4222,nats://host-b:4222", namespace="team")
    assert isinstance(nats_store, NatsStore)
    assert nats_store.urls == ["nats://u:p@host-a:4222", "nats://host-b:4222"]
    assert isinstance(open_store("tls://host:4222"), NatsStore)
    for target in (tmp_path, str(tmp_path), f"sqlite://{tmp_path}"):
        sqlite_store = open_store(target)
        assert isinstance(sqlite_store, SqliteStore)
        assert sqlite_store.path == tmp_path / "events.db"
    assert open_store("sqlite://relative/dir").path == Path("relative/dir/events.db")  # type: ignore[attr-defined]
    for bad in ("redis://host", "sqlite://", ""):
        with pytest.raises(InvalidInput):
            open_store(bad)
    with pytest.raises(InvalidInput):
        open_store("memory:", busy_timeout=1)

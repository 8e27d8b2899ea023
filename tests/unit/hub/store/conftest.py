"""Fixtures of the store tests: one real nats-server per session, and a factory for each backend."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mcp_channels.hub.store import EventStore, MemoryStore, NatsStore, Retention, SqliteStore
from support.nats_server import NatsServer, running_nats

BACKENDS = ("memory", "sqlite", "nats")
_namespaces = itertools.count(1)

StoreFactory = Callable[..., Awaitable[EventStore]]


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    with running_nats(tmp_path_factory.mktemp("jetstream")) as server:
        yield server


@pytest.fixture
def namespace() -> str:
    """A NATS namespace of the test's own: the tests share one server, not its data."""
    return f"t{next(_namespaces)}"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def open_backend(
    backend: str, tmp_path: Path, namespace: str, request: pytest.FixtureRequest
) -> AsyncIterator[Callable[..., Awaitable[EventStore]]]:
    """``await open_backend(retention=..., same=True)``: an initialized store of the test's backend.

    ``same=True`` opens another store on the same data (the same directory or namespace), as a
    second hub or a restarted one would.
    """
    opened: list[EventStore] = []
    server: NatsServer | None = request.getfixturevalue("nats_server") if backend == "nats" else None

    async def make(retention: Retention | None = None, **options: Any) -> EventStore:
        store: EventStore
        if backend == "memory":
            store = MemoryStore(retention=retention)
        elif backend == "sqlite":
            store = SqliteStore(tmp_path / "store", retention=retention, **options)
        else:
            assert server is not None
            store = NatsStore(server.url, retention=retention, namespace=namespace, **options)
        await store.initialize()
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.shutdown()


@pytest.fixture
async def store(open_backend: StoreFactory) -> EventStore:
    return await open_backend()

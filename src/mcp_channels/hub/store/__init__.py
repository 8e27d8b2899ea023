"""The hub's durable event store: one interface, :class:`EventStore`, and three backends side by side.

* :class:`SqliteStore`, the embedded default: one SQLite file in WAL mode, every commit synced,
  concurrent appends grouped into few commits.
* :class:`NatsStore`, for teams: NATS JetStream, so hubs on several machines share the events,
  the cursors and the key-value namespace (install the ``nats`` extra).
* :class:`MemoryStore`, for tests: the same promises, nothing durable.

:func:`open_store` picks one from a path or URL. The promises (durability, idempotence by event
id, seq order, monotonic cursors, retention) are in the docstrings of :class:`EventStore`.
"""

from __future__ import annotations

import os
from typing import Any

from ...errors import InvalidInput, StoreError, StoreUnavailable
from ._base import Backlog, ChannelStats, Event, EventStore, Pruned, Retention, StoredEvent
from ._memory import MemoryStore
from ._nats import NatsStore
from ._sqlite import SqliteStore

__all__ = [
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


def open_store(
    url_or_path: str | os.PathLike[str], *, retention: Retention | None = None, **options: Any
) -> EventStore:
    """The store named by ``url_or_path``, not yet initialized (``async with open_store(...) as store:``).

    * ``memory:`` → :class:`MemoryStore`;
    * ``nats://host:4222`` or ``tls://host:4222`` (several comma-separated, ``user:password@``
      allowed) → :class:`NatsStore`, ``options`` being its keyword arguments (``token``,
      ``user_credentials``, ``nkeys_seed``, ``tls_ca_file``, ``namespace``, ``replicas``, ...);
    * ``sqlite:///abs/dir``, ``sqlite://rel/dir`` or a plain path → :class:`SqliteStore` keeping
      ``events.db`` in that directory (``busy_timeout`` the only option).

    Any other ``scheme://`` raises :class:`InvalidInput`.
    """
    target = os.fspath(url_or_path)
    if target == "memory:":
        if options:
            raise InvalidInput(f"the memory store takes no options (got {sorted(options)})")
        return MemoryStore(retention=retention)
    if target.startswith(("nats://", "tls://")):
        return NatsStore(target, retention=retention, **options)
    if target.startswith("sqlite://"):
        target = target.removeprefix("sqlite://")
    elif "://" in target:
        raise InvalidInput(
            f"unknown store {target.split('://')[0]!r}: use a directory, sqlite://, nats://, tls:// or memory:"
        )
    if not target:
        raise InvalidInput("the SQLite store needs a directory")
    return SqliteStore(target, retention=retention, **options)

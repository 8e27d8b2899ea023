"""The event store's contract: the records, the errors and :class:`EventStore`, which every backend implements.

The public methods of :class:`EventStore` validate their arguments and check the lifecycle here,
once, then call the backend's ``_``-prefixed hooks; a backend only stores. Every promise a backend
must keep is written in the docstring of the public method, and ``tests/unit/hub/store/test_store_contract.py``
checks each one against every backend.
"""

from __future__ import annotations

import abc
import asyncio
import math
import re
import time
import types
from collections.abc import AsyncGenerator, Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Self, TypeVar

from ...errors import InvalidInput, StoreError

#: Channel names become JetStream stream names and subject tokens, so they are kept to these.
CHANNEL_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: Limits of the free-form strings, in UTF-8 bytes (they end up in subjects, headers and keys).
MAX_ID_BYTES: Final = 256
MAX_CONVERSATION_BYTES: Final = 256
MAX_KEY_BYTES: Final = 256
#: Content plus every meta key and value, in UTF-8 bytes: well under NATS's default 1 MiB payload.
MAX_EVENT_BYTES: Final = 512 * 1024
MAX_VALUE_BYTES: Final = 256 * 1024
T = TypeVar("T")

#: ``read`` returns at most this many events per call.
MAX_READ_LIMIT: Final = 10_000
DEFAULT_READ_LIMIT: Final = 1_000


@dataclass(frozen=True)
class Retention:
    """How long a backend keeps events: a hard bound, applied whether or not they were delivered.

    ``max_age`` counts seconds from when the store accepted an event (for JetStream, the server's
    timestamp), ``max_events`` counts a channel's stored events, newest kept. Events dropped by
    either are gone even if no session ever received them: :meth:`EventStore.prune` reports them.
    """

    max_age: float = 7 * 24 * 3600.0
    max_events: int = 10_000

    def __post_init__(self) -> None:
        if not (math.isfinite(self.max_age) and self.max_age > 0):
            raise InvalidInput(f"retention max_age must be a positive number of seconds, not {self.max_age!r}")
        if self.max_events < 1:
            raise InvalidInput(f"retention max_events must be at least 1, not {self.max_events!r}")


@dataclass(frozen=True)
class Event:
    """One inbound event, as the hub offers it to the store.

    ``id`` is chosen by the producer and stable across retries (a Telegram update id, a webhook
    delivery id): it is what makes ``append`` idempotent and redelivery harmless. ``conversation``
    is the routing key inside the channel (a chat, a thread, a webhook path). Construction checks
    every limit and raises :class:`InvalidInput`; ``meta`` is copied into a read-only mapping.
    """

    id: str
    channel: str
    conversation: str
    content: str
    meta: Mapping[str, str] = field(default_factory=dict)
    received_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        check_channel(self.channel)
        _check_text("event id", self.id, MAX_ID_BYTES)
        check_conversation(self.conversation)
        if not isinstance(self.content, str):
            raise InvalidInput("event content must be a string")
        size = len(self.content.encode("utf-8"))
        for key, value in self.meta.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise InvalidInput(f"event meta must map strings to strings (key {key!r})")
            size += len(key.encode("utf-8")) + len(value.encode("utf-8"))
        if size > MAX_EVENT_BYTES:
            raise InvalidInput(f"event {self.id!r} is {size} bytes; the limit is {MAX_EVENT_BYTES}")
        if not isinstance(self.received_at, int | float) or not math.isfinite(self.received_at):
            raise InvalidInput(f"event received_at must be a finite number, not {self.received_at!r}")
        object.__setattr__(self, "meta", types.MappingProxyType(dict(self.meta)))

    def __hash__(self) -> int:
        """By channel and id, what identifies an event (a read-only ``meta`` mapping is not hashable)."""
        return hash((self.channel, self.id))


@dataclass(frozen=True)
class StoredEvent(Event):
    """An event as stored: ``seq`` is strictly increasing within its channel and never reused."""

    seq: int = field(kw_only=True)

    __hash__ = Event.__hash__

    @classmethod
    def of(cls, event: Event, seq: int) -> StoredEvent:
        return cls(
            id=event.id,
            channel=event.channel,
            conversation=event.conversation,
            content=event.content,
            meta=event.meta,
            received_at=event.received_at,
            seq=seq,
        )


@dataclass(frozen=True)
class Backlog:
    """A conversation's undelivered events: those with a seq above its cursor.

    ``oldest_seq`` is the first of them and ``oldest_received_at`` that event's ``received_at``
    (how long the head of the queue has waited).
    """

    conversation: str
    count: int
    oldest_seq: int
    oldest_received_at: float
    cursor: int


@dataclass(frozen=True)
class ChannelStats:
    """What ``hub status`` shows per channel: what is stored, and the queue (depth and its oldest age)."""

    channel: str
    stored: int
    newest_seq: int
    pending: int
    oldest_pending_received_at: float | None


@dataclass(frozen=True)
class Pruned:
    """Events retention dropped from one conversation; ``undelivered`` of them were past its cursor."""

    channel: str
    conversation: str
    dropped: int
    undelivered: int


def check_channel(channel: str) -> str:
    if not isinstance(channel, str) or not CHANNEL_RE.match(channel):
        raise InvalidInput(f"channel name {channel!r} must be 1-64 letters, digits, '-' or '_'")
    return channel


def check_conversation(conversation: str) -> str:
    return _check_text("conversation", conversation, MAX_CONVERSATION_BYTES)


def _check_text(what: str, value: str, limit: int) -> str:
    """Non-empty, printable (no control characters: they are shown in logs and ``hub status``), bounded."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{what} must be a non-empty string")
    if not value.isprintable():
        raise InvalidInput(f"{what} {value!r} contains control or non-printable characters")
    if len(value.encode("utf-8")) > limit:
        raise InvalidInput(f"{what} {value[:40]!r}... is longer than {limit} bytes")
    return value


class NewestSeq:
    """The newest seq of one channel, and a way to wait for it to grow (what ``watch`` yields)."""

    def __init__(self) -> None:
        self.value = 0
        self.closed = False
        self._changed = asyncio.Event()

    def advance(self, seq: int) -> None:
        if seq > self.value:
            self.value = seq
            self._wake()

    def close(self) -> None:
        self.closed = True
        self._wake()

    async def wait_past(self, seq: int) -> None:
        """Return once the value exceeds ``seq`` or the store closes."""
        while self.value <= seq and not self.closed:
            await self._changed.wait()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()


class EventStore(abc.ABC):
    """A durable, per-channel, append-only log of events with per-conversation cursors and a key-value map.

    Lifecycle: ``await initialize()`` (or ``async with store:``) before use, ``await shutdown()``
    after; both are idempotent, and a store cannot be opened again once shut down. Calls outside
    that window raise :class:`StoreError`. A store is used from one event loop. Every method may
    raise :class:`StoreUnavailable` when the backend cannot be reached and :class:`StoreError` for
    other failures; bad arguments raise :class:`InvalidInput` before anything is stored.

    Delivery model: events are appended once committed; the hub reads a conversation's events after
    its cursor, hands them to the session bound to it, and acknowledges (``ack``) what the session
    confirmed. After a crash the same events can be read again: consumers drop duplicates by id.
    """

    #: Whether other hubs (other machines) may read and write the same data: they can move a
    #: conversation's cursor or bindings, so a hub re-reads them where it would trust its memory.
    shared = False

    def __init__(self, *, retention: Retention | None = None) -> None:
        self.retention = retention or Retention()
        self._phase = "new"
        self._newest: dict[str, NewestSeq] = {}
        self._writes_in_flight = 0
        self._no_writes = asyncio.Event()
        self._no_writes.set()

    # ------------------------------------------------------------------ lifecycle

    async def initialize(self) -> None:
        """Open the backend (create files, schema, connections). Raises :class:`StoreUnavailable`
        when it cannot be reached and :class:`StoreError` when it is unusable (e.g. a newer schema)."""
        if self._phase == "open":
            return
        if self._phase == "closed":
            raise StoreError("this store was shut down; open a new one")
        await self._open()
        self._phase = "open"

    async def shutdown(self) -> None:
        """Refuse new calls, end every ``watch``, let the writes already called finish, then close."""
        if self._phase != "open":
            self._phase = "closed"
            return
        self._phase = "closed"
        for newest in self._newest.values():
            newest.close()
        await self._no_writes.wait()
        await self._close()

    async def __aenter__(self) -> Self:
        await self.initialize()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    # ------------------------------------------------------------------ events

    async def append(self, events: Sequence[Event]) -> list[StoredEvent]:
        """Store ``events`` durably and return them as stored, in the order given.

        Returns only once every event is committed: SQLite has synced its write-ahead log
        (``synchronous=FULL``), JetStream has acknowledged the publish. Idempotent by id within a
        channel: an event whose id is already stored there is not stored again, and the stored one
        (with its original seq and content) is returned in its place; this holds while the stored
        event is retained (for JetStream also only within the stream's duplicate window). Events of
        one channel get increasing seqs in the order given. Concurrent calls are committed in
        groups, so many callers each appending one event cost few disk syncs.

        If it raises, some of the events may still have been stored: retrying with the same ids is
        always safe. The SQLite backend commits each call atomically (all or nothing).
        """
        self._check_open()
        for event in events:
            if not isinstance(event, Event):
                raise InvalidInput(f"append takes Event objects, not {type(event).__name__}")
        if not events:
            return []
        stored = await self._write_call(self._append(list(events)))
        for event in stored:
            self._signal(event.channel).advance(event.seq)
        return stored

    async def read(
        self, channel: str, *, conversation: str | None = None, after: int = 0, limit: int = DEFAULT_READ_LIMIT
    ) -> list[StoredEvent]:
        """The channel's stored events with ``seq > after`` (only ``conversation``'s when given),
        in seq order, at most ``limit`` (1 to 10,000). Events dropped by retention are not returned."""
        self._check_open()
        check_channel(channel)
        if conversation is not None:
            check_conversation(conversation)
        if not isinstance(after, int) or after < 0:
            raise InvalidInput(f"after must be a seq >= 0, not {after!r}")
        if not isinstance(limit, int) or not 1 <= limit <= MAX_READ_LIMIT:
            raise InvalidInput(f"limit must be 1-{MAX_READ_LIMIT}, not {limit!r}")
        return await self._read(channel, conversation, after, limit)

    async def watch(self, channel: str) -> AsyncGenerator[int, None]:
        """Yield the channel's newest seq now (0 when it has none), then again each time it grows.

        Values strictly increase; several appends may be coalesced into one value. The memory and
        SQLite backends see the appends made through this store object; JetStream sees appends from
        every process and machine on the server. A consumer that reads up to each yielded value
        misses nothing. Iteration ends when the store shuts down; a consumer that stops earlier
        closes it (``aclose()``, or leaving ``async for``) so a JetStream subscription is released.
        """
        self._check_open()
        check_channel(channel)
        newest = self._signal(channel)
        await self._watch_start(channel)
        try:
            newest.advance(await self._newest_seq(channel))
            seen = newest.value
            yield seen
            while True:
                await newest.wait_past(seen)
                if newest.closed:
                    return
                seen = newest.value
                yield seen
        finally:
            await self._watch_stop(channel)

    # ------------------------------------------------------------------ cursors

    async def cursor(self, channel: str, conversation: str) -> int:
        """The highest seq acknowledged for ``conversation`` (0 when none): its events above it are undelivered."""
        self._check_open()
        check_channel(channel)
        check_conversation(conversation)
        return await self._cursor(channel, conversation)

    async def ack(self, channel: str, conversation: str, seq: int) -> None:
        """Mark ``conversation``'s events up to ``seq`` delivered; durable on return.

        Monotonic: a ``seq`` at or below the current cursor is ignored. A ``seq`` above the channel's
        newest seq is refused (:class:`InvalidInput`): it would silently skip events not yet stored.
        """
        self._check_open()
        check_channel(channel)
        check_conversation(conversation)
        if not isinstance(seq, int) or seq < 0:
            raise InvalidInput(f"seq must be >= 0, not {seq!r}")
        await self._write_call(self._ack(channel, conversation, seq))

    async def backlog(self, channel: str) -> list[Backlog]:
        """Each conversation of ``channel`` with stored events above its cursor, by oldest seq."""
        self._check_open()
        check_channel(channel)
        return sorted(await self._backlog(channel), key=lambda item: item.oldest_seq)

    async def stats(self) -> list[ChannelStats]:
        """Per channel that has ever stored an event, by name: what ``hub status`` shows.

        ``stored`` counts the events retained, ``newest_seq`` is the last seq given, ``pending`` the
        events past their conversation's cursor and ``oldest_pending_received_at`` the oldest
        ``received_at`` among the heads of those queues (``None`` when nothing is pending).
        """
        self._check_open()
        result = []
        for channel, stored, newest in sorted(await self._channel_totals()):
            backlog = await self._backlog(channel)
            result.append(
                ChannelStats(
                    channel=channel,
                    stored=stored,
                    newest_seq=newest,
                    pending=sum(item.count for item in backlog),
                    oldest_pending_received_at=min((item.oldest_received_at for item in backlog), default=None),
                )
            )
        return result

    async def prune(self, now: float | None = None) -> list[Pruned]:
        """Apply the retention bounds now and return what was dropped, per conversation.

        Drops events stored more than ``retention.max_age`` seconds before ``now`` and, per channel,
        all but the newest ``retention.max_events``, delivered or not; then forgets the cursors of
        conversations left without events (their next event is delivered from a fresh cursor, and
        seqs never go back, so nothing is delivered twice because of it). The hub calls it
        periodically and logs what it returns. JetStream enforces the bounds itself, continuously,
        as stream limits: there ``prune`` only forgets stale cursors and reports nothing dropped.
        """
        self._check_open()
        return await self._write_call(self._prune(time.time() if now is None else now))

    # ------------------------------------------------------------------ key-value

    async def kv_get(self, key: str) -> str | None:
        """The value stored under ``key``, or ``None``. Keys are shared by every hub on one backend."""
        self._check_open()
        return await self._kv_get(check_key(key))

    async def kv_put(self, key: str, value: str) -> None:
        """Store ``value`` under ``key`` (replacing any), durable on return."""
        self._check_open()
        check_key(key)
        if not isinstance(value, str) or len(value.encode("utf-8")) > MAX_VALUE_BYTES:
            raise InvalidInput(f"value must be a string of at most {MAX_VALUE_BYTES} bytes")
        await self._write_call(self._kv_put(key, value))

    async def kv_create(self, key: str, value: str) -> str | None:
        """Store ``value`` under ``key`` only if ``key`` has no value; ``None`` when stored, else the
        value already there. Atomic across every hub on one backend: of several hubs creating one
        key, exactly one succeeds (how edges claim an unbound conversation). Durable on return."""
        self._check_open()
        check_key(key)
        if not isinstance(value, str) or len(value.encode("utf-8")) > MAX_VALUE_BYTES:
            raise InvalidInput(f"value must be a string of at most {MAX_VALUE_BYTES} bytes")
        return await self._write_call(self._kv_create(key, value))

    async def kv_delete(self, key: str) -> None:
        """Remove ``key``; removing an absent key is not an error. Durable on return."""
        self._check_open()
        await self._write_call(self._kv_delete(check_key(key)))

    async def kv_items(self, prefix: str = "") -> dict[str, str]:
        """Every key starting with ``prefix`` and its value, in key order."""
        self._check_open()
        if not isinstance(prefix, str):
            raise InvalidInput("prefix must be a string")
        items = await self._kv_items(prefix)
        return {key: items[key] for key in sorted(items)}

    # ------------------------------------------------------------------ helpers for backends

    def _check_open(self) -> None:
        if self._phase != "open":
            raise StoreError("the store is not open: call initialize() (or use 'async with') first")

    async def _write_call(self, write: Awaitable[T]) -> T:
        """Await a write, counted so that ``shutdown`` lets it finish before closing the backend."""
        self._writes_in_flight += 1
        self._no_writes.clear()
        try:
            return await write
        finally:
            self._writes_in_flight -= 1
            if not self._writes_in_flight:
                self._no_writes.set()

    def _signal(self, channel: str) -> NewestSeq:
        newest = self._newest.get(channel)
        if newest is None:
            newest = self._newest[channel] = NewestSeq()
        return newest

    async def _watch_start(self, channel: str) -> None:  # noqa: B027 (an optional hook)
        """Hook: a ``watch`` of ``channel`` begins (JetStream subscribes to other hubs' appends)."""

    async def _watch_stop(self, channel: str) -> None:  # noqa: B027 (an optional hook)
        """Hook: a ``watch`` of ``channel`` ended."""

    # ------------------------------------------------------------------ what a backend implements

    @abc.abstractmethod
    async def _open(self) -> None: ...

    @abc.abstractmethod
    async def _close(self) -> None: ...

    @abc.abstractmethod
    async def _append(self, events: list[Event]) -> list[StoredEvent]: ...

    @abc.abstractmethod
    async def _read(self, channel: str, conversation: str | None, after: int, limit: int) -> list[StoredEvent]: ...

    @abc.abstractmethod
    async def _newest_seq(self, channel: str) -> int: ...

    @abc.abstractmethod
    async def _cursor(self, channel: str, conversation: str) -> int: ...

    @abc.abstractmethod
    async def _ack(self, channel: str, conversation: str, seq: int) -> None: ...

    @abc.abstractmethod
    async def _backlog(self, channel: str) -> list[Backlog]: ...

    @abc.abstractmethod
    async def _channel_totals(self) -> list[tuple[str, int, int]]:
        """``(channel, stored events, newest seq)`` for every channel."""

    @abc.abstractmethod
    async def _prune(self, now: float) -> list[Pruned]: ...

    @abc.abstractmethod
    async def _kv_get(self, key: str) -> str | None: ...

    @abc.abstractmethod
    async def _kv_put(self, key: str, value: str) -> None: ...

    @abc.abstractmethod
    async def _kv_create(self, key: str, value: str) -> str | None: ...

    @abc.abstractmethod
    async def _kv_delete(self, key: str) -> None: ...

    @abc.abstractmethod
    async def _kv_items(self, prefix: str) -> dict[str, str]: ...


def check_key(key: str) -> str:
    return _check_text("key", key, MAX_KEY_BYTES)


def ack_past_newest(channel: str, seq: int, newest: int) -> InvalidInput:
    """The error of ``ack`` for a seq not yet stored (shared wording of every backend)."""
    return InvalidInput(f"cannot acknowledge seq {seq} of channel {channel!r}: its newest event is {newest}")

"""``MemoryStore``: the event store in a few dicts, for tests of the hub's logic in one process.

It keeps every promise of :class:`EventStore` except durability: everything is gone when the
process ends. "Committed" means "in the dicts".
"""

from __future__ import annotations

import bisect
import time
from collections import Counter
from dataclasses import dataclass, field

from ._base import Backlog, Event, EventStore, Pruned, Retention, StoredEvent, ack_past_newest


@dataclass
class _Channel:
    last_seq: int = 0
    seqs: list[int] = field(default_factory=list)
    events: list[StoredEvent] = field(default_factory=list)
    stored_at: list[float] = field(default_factory=list)
    by_id: dict[str, StoredEvent] = field(default_factory=dict)

    def drop_first(self, count: int) -> list[StoredEvent]:
        dropped = self.events[:count]
        del self.seqs[:count], self.events[:count], self.stored_at[:count]
        for event in dropped:
            del self.by_id[event.id]
        return dropped


class MemoryStore(EventStore):
    """Every promise of :class:`EventStore` but durability: the in-memory twin of the other backends."""

    def __init__(self, *, retention: Retention | None = None) -> None:
        super().__init__(retention=retention)
        self._channels: dict[str, _Channel] = {}
        self._cursors: dict[tuple[str, str], int] = {}
        self._kv: dict[str, str] = {}

    async def _open(self) -> None:
        pass

    async def _close(self) -> None:
        pass

    async def _append(self, events: list[Event]) -> list[StoredEvent]:
        result = []
        now = time.time()
        for event in events:
            channel = self._channels.setdefault(event.channel, _Channel())
            stored = channel.by_id.get(event.id)
            if stored is None:
                channel.last_seq += 1
                stored = StoredEvent.of(event, channel.last_seq)
                channel.seqs.append(stored.seq)
                channel.events.append(stored)
                channel.stored_at.append(now)
                channel.by_id[event.id] = stored
            result.append(stored)
        return result

    async def _read(self, channel: str, conversation: str | None, after: int, limit: int) -> list[StoredEvent]:
        log = self._channels.get(channel)
        if log is None:
            return []
        result = []
        for event in log.events[bisect.bisect_right(log.seqs, after) :]:
            if conversation is None or event.conversation == conversation:
                result.append(event)
                if len(result) == limit:
                    break
        return result

    async def _newest_seq(self, channel: str) -> int:
        log = self._channels.get(channel)
        return log.last_seq if log else 0

    async def _cursor(self, channel: str, conversation: str) -> int:
        return self._cursors.get((channel, conversation), 0)

    async def _ack(self, channel: str, conversation: str, seq: int) -> None:
        newest = await self._newest_seq(channel)
        if seq > newest:
            raise ack_past_newest(channel, seq, newest)
        key = (channel, conversation)
        self._cursors[key] = max(seq, self._cursors.get(key, 0))

    async def _backlog(self, channel: str) -> list[Backlog]:
        log = self._channels.get(channel)
        pending: dict[str, list[StoredEvent]] = {}
        for event in log.events if log else []:
            if event.seq > self._cursors.get((channel, event.conversation), 0):
                pending.setdefault(event.conversation, []).append(event)
        return [
            Backlog(
                conversation=conversation,
                count=len(events),
                oldest_seq=events[0].seq,
                oldest_received_at=events[0].received_at,
                cursor=self._cursors.get((channel, conversation), 0),
            )
            for conversation, events in pending.items()
        ]

    async def _channel_totals(self) -> list[tuple[str, int, int]]:
        return [(name, len(log.events), log.last_seq) for name, log in self._channels.items()]

    async def _prune(self, now: float) -> list[Pruned]:
        cutoff = now - self.retention.max_age
        pruned = []
        for name, log in self._channels.items():
            too_old = bisect.bisect_left(log.stored_at, cutoff)
            too_many = len(log.events) - self.retention.max_events
            dropped = log.drop_first(max(too_old, too_many, 0))
            counts = Counter(event.conversation for event in dropped)
            undelivered = Counter(
                event.conversation for event in dropped if event.seq > self._cursors.get((name, event.conversation), 0)
            )
            pruned += [
                Pruned(name, conversation, counts[conversation], undelivered[conversation]) for conversation in counts
            ]
        live = {(name, event.conversation) for name, log in self._channels.items() for event in log.events}
        for key in [key for key in self._cursors if key not in live]:
            del self._cursors[key]
        return pruned

    async def _kv_get(self, key: str) -> str | None:
        return self._kv.get(key)

    async def _kv_put(self, key: str, value: str) -> None:
        self._kv[key] = value

    async def _kv_create(self, key: str, value: str) -> str | None:
        existing = self._kv.get(key)
        if existing is None:
            self._kv[key] = value
        return existing

    async def _kv_delete(self, key: str) -> None:
        self._kv.pop(key, None)

    async def _kv_items(self, prefix: str) -> dict[str, str]:
        return {key: value for key, value in self._kv.items() if key.startswith(prefix)}

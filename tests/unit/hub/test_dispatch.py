"""The dispatcher against a store that other hubs write to: nothing stored may wait for a later event."""

from __future__ import annotations

import asyncio

from mcp_channels.hub._dispatch import Dispatcher
from mcp_channels.hub._router import Choice
from mcp_channels.hub.store import Event, MemoryStore, StoredEvent


class AppendedDuringARead(MemoryStore):
    """A real memory store in which, once, another hub's event lands while this hub reads the channel."""

    def __init__(self) -> None:
        super().__init__()
        self.raced = False

    async def _read(self, channel: str, conversation: str | None, after: int, limit: int) -> list[StoredEvent]:
        found = await super()._read(channel, conversation, after, limit)
        if found and not self.raced and conversation is None:
            self.raced = True
            await self.append([Event("late", channel, "chat", "late")])
            await asyncio.sleep(0.01)  # the watch reports it before this read returns
        return found


class Nowhere:
    """No session: the dispatcher only takes what is stored."""

    async def decide(self, channel: str, conversation: str) -> Choice:
        return Choice(None)

    async def waiting(self, channel: str, conversation: str, event: StoredEvent, choice: Choice) -> None:
        return None


async def test_an_event_reported_while_reading_is_read_too() -> None:
    store = AppendedDuringARead()
    await store.initialize()
    dispatcher = Dispatcher("webhook", store, Nowhere(), 0.0)
    await dispatcher.start()
    try:
        await store.append([Event("first", "webhook", "chat", "first")])  # not handed over: read from the store
        async with asyncio.timeout(5):
            while dispatcher.seen < 2:
                await asyncio.sleep(0.01)
        assert store.raced
    finally:
        await dispatcher.stop()
        await store.shutdown()

"""Append to an SQLite store until killed, printing what is confirmed (for the kill -9 tests).

Usage: ``python sqlite_appender.py DIRECTORY PREFIX``. Eight tasks append one event each in a loop
(so commits are grouped), a ninth appends batches of five; after each append returns it prints
``E <id> <seq>``, and after each acknowledgement returns ``A <conversation> <seq>``. A line is
printed only once the store has promised durability, so every printed line must survive.
"""

from __future__ import annotations

import asyncio
import sys

from mcp_channels.hub.store import Event, SqliteStore


async def appender(store: SqliteStore, prefix: str, worker: int, batch: int) -> None:
    conversation = f"conv-{worker % 3}"
    for n in range(10**9):
        events = [Event(f"{prefix}-{worker}-{n}-{i}", "telegram", conversation, f"body {n}") for i in range(batch)]
        for stored in await store.append(events):
            print(f"E {stored.id} {stored.seq}", flush=True)
        if n % 4 == 0:
            await store.ack("telegram", conversation, stored.seq)
            print(f"A {conversation} {stored.seq}", flush=True)


async def main(directory: str, prefix: str) -> None:
    async with SqliteStore(directory) as store:
        await asyncio.gather(*(appender(store, prefix, worker, 5 if worker == 8 else 1) for worker in range(9)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))

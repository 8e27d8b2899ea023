"""The one conversation the page shows, kept by the server so it outlives a reload.

Every entry (a message from either side, a permission card) is a JSON-ready dict with a unique
``id``. The server keeps the last ``limit`` entries for the life of the session. Every new or
changed entry goes out whole, as one frame, and the page upserts by ``id``: an edit, a delivery
receipt or a card's outcome is the same kind of frame as a new message, so tabs cannot drift apart.

Two kinds of subscriber: a *viewer* (our page, once it has said hello) gets the history first and
then everything, including what the user typed in another tab; a *listener* (any other websocket
client, as with the official server) gets Claude's side only. The official server kept no
history and broadcast only Claude's side, so a reload lost the conversation and a second tab
never saw what the first one typed; a script that only sends (a load generator) still costs no
more than one frame per reply.
"""

from __future__ import annotations

import json
import secrets
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

Entry = dict[str, Any]
#: Takes one serialised frame for a tab; the transport queues and writes it.
Subscriber = Callable[[str], None]

#: Client message ids remembered to drop a message a tab re-sends after reconnecting.
SEEN_IDS_LIMIT: Final = 10_000


class Conversation:
    """Bounded history plus the tabs and clients it is mirrored to."""

    def __init__(self, limit: int) -> None:
        #: Changes when the server restarts, so a page knows its history is from an old session.
        self.session = secrets.token_hex(6)
        self._limit = limit
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._viewers: list[Subscriber] = []
        self._listeners: list[Subscriber] = []
        self._seen: OrderedDict[str, None] = OrderedDict()

    @property
    def watchers(self) -> int:
        """How many clients get Claude's messages (open tabs and other websocket clients)."""
        return len(self._viewers) + len(self._listeners)

    def listen(self, subscriber: Subscriber) -> None:
        """Add a client that gets Claude's side: replies, edits, permission cards."""
        self._listeners.append(subscriber)

    def view(self, subscriber: Subscriber, **hello: Any) -> None:
        """Make a client a viewer: ``{"type": "hello", "session", "history", **hello}``, then everything."""
        self.leave(subscriber)
        frame = {"type": "hello", "session": self.session, "history": list(self._entries.values()), **hello}
        subscriber(_encode(frame))
        self._viewers.append(subscriber)

    def leave(self, subscriber: Subscriber) -> None:
        for group in (self._viewers, self._listeners):
            if subscriber in group:
                group.remove(subscriber)

    def first_sight(self, client_id: str) -> bool:
        """Record a client message id; ``False`` when it was seen before (a re-send)."""
        if client_id in self._seen:
            return False
        self._seen[client_id] = None
        if len(self._seen) > SEEN_IDS_LIMIT:
            self._seen.popitem(last=False)
        return True

    def get(self, entry_id: str) -> Entry | None:
        return self._entries.get(entry_id)

    def add(self, entry: Entry) -> None:
        """Append an entry (or replace one with the same id) and show it in every tab."""
        self._entries.pop(entry["id"], None)
        self._entries[entry["id"]] = entry
        while len(self._entries) > self._limit:
            self._entries.popitem(last=False)
        self._broadcast(entry)

    def change(self, entry_id: str, **fields: Any) -> None:
        """Update an entry in place and show its new state in every tab (ignored once it left the history)."""
        entry = self._entries.get(entry_id)
        if entry is not None:
            entry.update(fields)
            self._broadcast(entry)

    def _broadcast(self, entry: Entry) -> None:
        frame = _encode(entry)
        for subscriber in list(self._viewers):
            subscriber(frame)
        if entry.get("from") != "user":
            for subscriber in list(self._listeners):
                subscriber(frame)


def _encode(frame: Entry) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))

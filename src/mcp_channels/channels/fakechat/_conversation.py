"""The one conversation the page shows, kept by the server so it outlives a reload.

Every entry (a message from either side, a permission card) is a JSON-ready dict with a unique
``id``. The server keeps the last ``limit`` entries of at most ``max_bytes`` (as sent) for the
life of the session; the oldest go first, but the newest is always kept. Every new or changed
entry goes out whole, as one frame encoded once for every tab, and the page upserts by ``id``: an
edit, a delivery receipt or a card's outcome is the same kind of frame as a new message, so tabs
cannot drift apart.

Two kinds of subscriber: a *viewer* (our page, once it has said hello) gets the history first and
then everything, including what the user typed in another tab; a *listener* (any other websocket
client, as with the official server) gets Claude's side only. The official server kept no
history and broadcast only Claude's side, so a reload lost the conversation and a second tab
never saw what the first one typed; a script that only sends (a load generator) still costs no
more than one frame per reply.

The history goes to a viewer in pieces (:class:`Replay`): ``{"type": "hello", "session",
"more", "history": [...], ...}``, then ``{"type": "history", "more", "history": [...]}`` until
``more`` is false, each piece produced only when the tab's socket has taken the one before. A
tab that never reads therefore holds one piece, not a copy of the history; what leaves the
history before its turn comes is skipped, and a tab that had it on screen keeps showing it.
"""

from __future__ import annotations

import json
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final, Protocol

Entry = dict[str, Any]

#: Client message ids remembered to drop a message a tab re-sends after reconnecting.
SEEN_IDS_LIMIT: Final = 10_000
#: Entries put in one history frame (at least one entry, however large).
REPLAY_PIECE_BYTES: Final = 128 * 1024


class Subscriber(Protocol):
    """A websocket client the conversation is mirrored to; the transport queues and writes."""

    def send(self, frame: bytes) -> None:
        """One serialised frame (UTF-8 JSON), shared with every other subscriber: never changed."""

    def replay(self, history: Replay) -> None:
        """Send this history before anything else; what was waiting is superseded by it."""


@dataclass(slots=True)
class _Kept:
    entry: Entry
    frame: bytes


class Conversation:
    """Bounded history plus the tabs and clients it is mirrored to."""

    def __init__(self, limit: int, max_bytes: int) -> None:
        #: Changes when the server restarts, so a page knows its history is from an old session.
        self.session = secrets.token_hex(6)
        self._limit = limit
        self._max_bytes = max_bytes
        #: Kept entries by sequence number (oldest first); an entry gets a new one when re-added.
        self._kept: OrderedDict[int, _Kept] = OrderedDict()
        self._seq_of: dict[str, int] = {}
        self._last_seq = 0
        self._bytes = 0
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
        """Make a client a viewer: the history (see :class:`Replay`), then everything."""
        self.leave(subscriber)
        subscriber.replay(Replay(self, {"type": "hello", "session": self.session, **hello}))
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
        seq = self._seq_of.get(entry_id)
        return None if seq is None else self._kept[seq].entry

    def add(self, entry: Entry) -> None:
        """Append an entry (or replace one with the same id) and show it in every tab."""
        old = self._seq_of.pop(entry["id"], None)
        if old is not None:
            self._bytes -= len(self._kept.pop(old).frame)
        self._last_seq += 1
        kept = _Kept(entry, encode(entry))
        self._kept[self._last_seq] = kept
        self._seq_of[entry["id"]] = self._last_seq
        self._bytes += len(kept.frame)
        self._trim()
        self._broadcast(kept)

    def change(self, entry_id: str, **fields: Any) -> None:
        """Update an entry in place and show its new state in every tab (ignored once it left the history)."""
        seq = self._seq_of.get(entry_id)
        if seq is None:
            return
        kept = self._kept[seq]
        kept.entry.update(fields)
        self._bytes -= len(kept.frame)
        kept.frame = encode(kept.entry)
        self._bytes += len(kept.frame)
        self._trim()
        self._broadcast(kept)

    def _trim(self) -> None:
        """Drop the oldest entries past either bound, always keeping the newest."""
        while len(self._kept) > 1 and (len(self._kept) > self._limit or self._bytes > self._max_bytes):
            _, oldest = self._kept.popitem(last=False)
            del self._seq_of[oldest.entry["id"]]
            self._bytes -= len(oldest.frame)

    def _broadcast(self, kept: _Kept) -> None:
        for subscriber in list(self._viewers):
            subscriber.send(kept.frame)
        if kept.entry.get("from") != "user":
            for subscriber in list(self._listeners):
                subscriber.send(kept.frame)

    def _frames_after(self, seq: int, until: int) -> tuple[list[bytes], int]:
        """Frames of kept entries numbered after ``seq`` up to ``until``, about one piece's worth,
        and the number of the last one looked at."""
        frames: list[bytes] = []
        size = 0
        first = next(iter(self._kept), until + 1)
        for number in range(max(seq + 1, first), until + 1):
            kept = self._kept.get(number)
            if kept is None:
                continue
            if frames and size + len(kept.frame) > REPLAY_PIECE_BYTES:
                return frames, number - 1
            frames.append(kept.frame)
            size += len(kept.frame)
        return frames, until


class Replay:
    """The history as it stood at a hello, made into frames one at a time as the socket takes them.

    It holds a position, not entries, so a stalled tab pins nothing the history lets go of.
    """

    def __init__(self, conversation: Conversation, hello: dict[str, Any]) -> None:
        self._conversation = conversation
        self._head: dict[str, Any] = hello
        self._position = 0
        self._until = conversation._last_seq
        self.done = False

    def next_frame(self) -> bytes | None:
        """The next frame of the history, ``None`` once it has all been given."""
        if self.done:
            return None
        frames, self._position = self._conversation._frames_after(self._position, self._until)
        more = self._position < self._until
        head = encode({**self._head, "more": more})
        self._head = {"type": "history"}
        self.done = not more
        return head[:-1] + b',"history":[' + b",".join(frames) + b"]}"


def encode(frame: dict[str, Any]) -> bytes:
    """A frame as sent: compact UTF-8 JSON."""
    text = json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate (JSON lets "\ud800" in): escape, as UTF-8 cannot carry it
        return json.dumps(frame, separators=(",", ":")).encode()

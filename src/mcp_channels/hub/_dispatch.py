"""From the store to the sessions: each conversation's events, in order, to the session it is routed to.

One :class:`Dispatcher` per channel. It learns of new events two ways: the hub's own channel
hands over what it has just committed (no read, the fast path), and the store's ``watch`` wakes
it for anything else (a gap between concurrent commits, another hub on a shared store). Then, per
conversation, it asks where the events go (:meth:`Deciding.decide`) and sends them there, at most
:data:`~._wire.WINDOW` unacknowledged per attachment.

**Sent while being committed.** A conversation that is caught up with a live session gets its
next event at once, while the store commits it (:meth:`Dispatcher.before_commit`), with seq 0;
the session acknowledges it by id, and the acknowledgement counts once the commit has given the
seq. A commit takes a disk sync (a few tenths of a millisecond); Claude Code need not wait for
it. Nothing acknowledges the platform before the commit, so a crash loses nothing; an event
whose commit failed was delivered but is not stored, and the platform offers it again (Telegram
with the same id, which the session drops; a webhook sender's retry is a new delivery).

Promises:

* **Order.** A conversation's events reach its session in seq order.
* **At least once.** A conversation's cursor moves only when its session acknowledges (the shim
  does once the notification is written to Claude Code and the readiness hold is past). Events
  sent to a session that leaves, or to one the conversation is moved away from, before
  acknowledging are sent again to the next one; a session drops an id it has already written.
* **Queued events say so.** An event that found no session for its conversation, or that was
  stored before this hub started, reaches its session with ``queued="true"`` and ``queued_at``
  (when it was received) in its meta.
* **Shared stores.** On a store other hubs use too (JetStream), a conversation newly routed to
  a session starts after its cursor as stored, which another hub's session may have moved.
* **Bounded memory.** At most :data:`BUFFER_LIMIT` events per conversation are kept in memory;
  beyond that the rest is read back from the store when there is room for it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Protocol

from ._attachment import Attachment
from ._router import Choice
from ._wire import WINDOW, Delivered
from .store import Event, EventStore, StoredEvent, StoreError

#: Events of one conversation held in memory; more are read back from the store as needed.
BUFFER_LIMIT: Final = 1_000
#: Events read from the store per call when catching up.
READ_BATCH: Final = 1_000
#: Acknowledged cursors are written this long after the first acknowledgement, many at once: the
#: next event's commit is not made to wait for a cursor's, and a crash in between costs only
#: redelivery (which the session drops by id).
ACK_DELAY: Final = 0.05

log = logging.getLogger("mcp_channels.hub")


class Deciding(Protocol):
    """What the dispatcher asks of the hub."""

    async def decide(self, channel: str, conversation: str) -> Choice:
        """Where the conversation's events go now (a binding it implies is recorded first)."""

    async def waiting(self, channel: str, conversation: str, event: StoredEvent, choice: Choice) -> None:
        """The conversation has events and no session: tell the sender once, where possible."""


@dataclass(frozen=True)
class Ticket:
    """An event on its way into the store: its conversation, and the session it was sent to early."""

    conversation: str
    id: str
    early: Attachment | None


@dataclass
class _Conversation:
    """One conversation's delivery state."""

    cursor: int
    sent: int
    target: Attachment | None = None
    buffer: collections.deque[StoredEvent] = field(default_factory=collections.deque)
    #: Whether ``buffer`` holds every event of the conversation above ``sent`` up to the
    #: dispatcher's ``seen``; when not, the rest is read from the store.
    complete: bool = False
    noticed: bool = False
    last_seq: int = 0
    #: Events up to this seq found no session: they are delivered marked ``queued``.
    waited_upto: int = 0
    #: The routing version ``target`` was chosen under (-1: never).
    routed: int = -1
    #: When something last happened to it (an event, an acknowledgement).
    touched: float = field(default_factory=time.monotonic)
    #: Events committed late (not sent early) so far: a read of the store that saw this number
    #: change while under way may have missed one, and so cannot vouch that ``buffer`` is complete.
    taken_late: int = 0

    def restart_from_cursor(self) -> None:
        """Forget what was sent: the next session gets everything above the cursor again."""
        self.target = None
        self.sent = self.cursor
        self.buffer.clear()
        self.complete = False

    @property
    def pending(self) -> bool:
        return self.last_seq > self.cursor


class Dispatcher:
    """Delivers one channel's stored events to the sessions its conversations are routed to."""

    def __init__(self, channel: str, store: EventStore, deciding: Deciding, started_at: float) -> None:
        self.channel = channel
        self.started_at = started_at
        self.store = store
        self.deciding = deciding
        self.seen = 0
        #: The newest seq the store has reported (``watch``); above ``seen`` means a read is due.
        self.newest = 0
        self.conversations: dict[str, _Conversation] = {}
        #: Conversations to look at on the next pass (``None``: all of them).
        self._dirty: set[str] | None = None
        self.delivered = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._acks: dict[str, int] = {}
        #: Events sent before their commit returned: id -> the attachment it went to.
        self._early: dict[str, Attachment] = {}
        #: Per conversation, commits under way that were not sent early: until they are taken,
        #: sending a later event early would overtake them. Kept apart from the conversations'
        #: state, which may not exist yet when such a commit starts (and is created before it ends).
        self._committing_late: collections.Counter[str] = collections.Counter()
        #: Counts routing changes (sessions, bindings): a conversation's session is sent to early
        #: only if it was chosen since the last one.
        self._routing_version = 0
        self._stopping = asyncio.Event()
        self._ack_task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Load the backlog (events stored but never acknowledged) and start delivering."""
        for backlog in await self.store.backlog(self.channel):
            self.conversations[backlog.conversation] = _Conversation(
                cursor=backlog.cursor, sent=backlog.cursor, last_seq=backlog.oldest_seq
            )
        watch = self.store.watch(self.channel)
        self.seen = self.newest = await anext(watch)
        for state in self.conversations.values():
            state.last_seq = max(state.last_seq, self.seen)  # an upper bound: enough for "pending"
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run(), name=f"dispatch-{self.channel}")
        self._watch_task = loop.create_task(self._follow(watch), name=f"watch-{self.channel}")
        self.kick()

    async def stop(self) -> None:
        """Stop delivering; the acknowledgements already received are written first."""
        for task in (self._task, self._watch_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._stopping.set()
        if self._ack_task is not None:
            await self._ack_task
        await self._flush_acks()

    def kick(self, conversation: str | None = None) -> None:
        """Something changed: look again soon at ``conversation`` (an event, an ack), or at every
        conversation (a session came or went, a binding moved)."""
        if conversation is None:
            self._dirty = None
            self._routing_version += 1
        elif self._dirty is not None:
            self._dirty.add(conversation)
        self._wake.set()

    # ------------------------------------------------------------------ events in

    def before_commit(self, event: Event) -> Ticket:
        """An event is about to be committed: send it now if its conversation is caught up with a live session."""
        state = self.conversations.get(event.conversation)
        target = state.target if state is not None else None
        if (
            state is None
            or target is None
            or state.routed != self._routing_version
            or self._committing_late[event.conversation]
            or state.buffer
            or not state.complete
            or state.sent < state.last_seq
            or not target.can_take()
        ):
            self._committing_late[event.conversation] += 1
            return Ticket(event.conversation, event.id, None)
        self._early[event.id] = target
        target.send_early(_delivered_early(event))
        return Ticket(event.conversation, event.id, target)

    def commit_failed(self, ticket: Ticket) -> None:
        """The store refused the event: the platform will offer it again."""
        self._settle(ticket)
        if ticket.early is not None:
            ticket.early.early.pop(ticket.id, None)

    def _settle(self, ticket: Ticket) -> None:
        if ticket.early is not None:
            self._early.pop(ticket.id, None)
            return
        self._committing_late[ticket.conversation] -= 1
        if self._committing_late[ticket.conversation] <= 0:
            del self._committing_late[ticket.conversation]

    def offer(self, events: Iterable[StoredEvent], ticket: Ticket | None = None) -> None:
        """Events the hub has just committed: taken without a read when they follow what was seen."""
        for event in sorted(events, key=lambda e: e.seq):
            if event.seq <= self.seen:
                continue  # a duplicate the store returned for an id it already had
            if event.seq != self.seen + 1:
                self.newest = max(self.newest, event.seq)
                break  # a gap: another commit finished later; catch up from the store
            self._take(event)
        if ticket is not None and ticket.early is None:
            self._settle(ticket)
        self._wake.set()

    def _take(self, event: StoredEvent) -> None:
        self.seen = event.seq
        if self._dirty is not None:
            self._dirty.add(event.conversation)
        state = self.conversations.get(event.conversation)
        if state is None:
            # Not in the map: every earlier event of it was acknowledged (see start and _take).
            state = self.conversations[event.conversation] = _Conversation(
                cursor=event.seq - 1, sent=event.seq - 1, complete=True
            )
        state.last_seq = event.seq
        state.touched = time.monotonic()
        early = self._early.pop(event.id, None)
        if early is not None:
            if early is state.target and early.open:
                state.sent = event.seq  # it went to the session while being committed
                if early.early_committed(event.id, event.seq):
                    self.acknowledged(early, event.conversation, event.seq)
                return
            early.early.pop(event.id, None)  # moved elsewhere meanwhile: it is sent again from the store
        state.taken_late += 1
        if state.complete:
            state.buffer.append(event)
            if len(state.buffer) > BUFFER_LIMIT:
                state.buffer.clear()
                state.complete = False

    async def _follow(self, watch: collections.abc.AsyncIterator[int]) -> None:
        async for newest in watch:
            if newest > self.seen:  # not handed over (yet): a read may be due
                self.newest = max(self.newest, newest)
                self._wake.set()

    async def _catch_up(self) -> None:
        """Read whatever was committed past ``seen`` that was not handed over."""
        while self.newest > self.seen:
            wanted = self.newest
            events = await self.store.read(self.channel, after=self.seen, limit=READ_BATCH)
            fresh = [event for event in events if event.seq > self.seen]
            for event in fresh:
                self._take(event)
            if len(events) < READ_BATCH and self.newest == wanted:
                self.newest = self.seen  # everything stored so far has been read
                return
            # A full batch, or the store reported newer events while this read was under way
            # (another hub's commits): read on, or they would wait for the next event.

    # ------------------------------------------------------------------ acknowledgements

    def acknowledged_early(self, attachment: Attachment, conversation: str, event_id: str) -> None:
        """The session wrote an event sent before its commit: counted now if committed, else once it is."""
        seq = attachment.early_acknowledged(event_id)
        if seq is not None:
            self.acknowledged(attachment, conversation, seq)

    def acknowledged(self, attachment: Attachment, conversation: str, seq: int) -> None:
        """The session wrote the event ``seq``; its conversation's cursor moves (written in batches)."""
        if attachment.inflight.get(seq) != conversation:
            log.debug("ignored an ack of %s/%s seq %d that was not in flight", self.channel, conversation, seq)
            return
        del attachment.inflight[seq]
        attachment.delivered += 1
        self.delivered += 1
        state = self.conversations.get(conversation)
        if state is not None and seq > state.cursor:
            state.cursor = seq
            state.touched = time.monotonic()
        if seq > self._acks.get(conversation, 0):
            self._acks[conversation] = seq
        if self._ack_task is None or self._ack_task.done():
            self._ack_task = asyncio.get_running_loop().create_task(self._flush_acks(ACK_DELAY))
        self.kick(conversation)

    async def _flush_acks(self, delay: float = 0.0) -> None:
        """Write the acknowledged cursors, one store call per conversation, all in one group commit."""
        if delay:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stopping.wait()  # stop() cuts the delay short
        while self._acks:
            acks, self._acks = self._acks, {}
            results = await asyncio.gather(
                *(self.store.ack(self.channel, conversation, seq) for conversation, seq in acks.items()),
                return_exceptions=True,
            )
            for conversation, result in zip(acks, results, strict=True):
                if isinstance(result, BaseException):
                    log.warning("could not record delivery in %s/%s: %s", self.channel, conversation, result)
                    self._acks.setdefault(conversation, acks[conversation])
                    await asyncio.sleep(0.5)  # the store is failing; retry without spinning

    def detached(self, attachment: Attachment) -> None:
        """A session left: what it had not acknowledged goes to the next session."""
        for state in self.conversations.values():
            if state.target is attachment:
                state.restart_from_cursor()
        attachment.inflight.clear()
        self.kick()

    # ------------------------------------------------------------------ delivery

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._pass()
            except StoreError as exc:
                log.warning("%s: cannot read the event store (%s); retrying", self.channel, exc)
                await asyncio.sleep(1.0)
                self.kick()
            except Exception:  # a defect must not stop every later delivery
                log.exception("%s: delivery failed; retrying", self.channel)
                await asyncio.sleep(1.0)
                self.kick()

    async def _pass(self) -> None:
        """Take what was committed, then serve the conversations something happened to."""
        dirty, self._dirty = self._dirty, set()
        await self._catch_up()
        caught, self._dirty = self._dirty, set()
        if dirty is None or caught is None:
            conversations = list(self.conversations)
        else:
            conversations = [c for c in dirty | caught if c in self.conversations]
        for conversation in conversations:
            await self._serve(conversation)

    async def _serve(self, conversation: str) -> None:
        state = self.conversations[conversation]
        if not state.pending and not state.buffer:
            return
        version = self._routing_version
        choice = await self.deciding.decide(self.channel, conversation)
        target = choice.target if isinstance(choice.target, Attachment) else None
        if target is not state.target:
            if state.target is not None:
                for seq in [s for s, c in state.target.inflight.items() if c == conversation]:
                    del state.target.inflight[seq]
            if target is not None and self.store.shared:
                # Another hub's session may have had it meanwhile: start after what that one took.
                state.cursor = max(state.cursor, await self.store.cursor(self.channel, conversation))
            state.restart_from_cursor()
            state.target = target
        state.routed = version
        if target is None:
            state.waited_upto = state.last_seq
            await self._announce_wait(conversation, state, choice)
            return
        while target.can_take():
            event = await self._next(conversation, state)
            if event is None:
                return
            waited = event.seq <= state.waited_upto or event.received_at < self.started_at
            target.send_event(_delivered(event, waited))
            state.sent = event.seq
            state.noticed = False

    async def _next(self, conversation: str, state: _Conversation) -> StoredEvent | None:
        if not state.buffer and not state.complete:
            taken = state.taken_late
            events = await self.store.read(self.channel, conversation=conversation, after=state.sent, limit=WINDOW)
            state.buffer.extend(event for event in events if event.seq <= self.seen)
            # An event taken while the read was under way was not buffered (the buffer was not
            # complete) and may be newer than what the read saw: the next call reads again.
            state.complete = len(events) < WINDOW and state.taken_late == taken
        while state.buffer:
            event = state.buffer.popleft()
            if event.seq > state.sent:
                return event
        return None

    async def _announce_wait(self, conversation: str, state: _Conversation, choice: Choice) -> None:
        if state.noticed:
            return
        event = state.buffer[-1] if state.buffer else None
        if event is None:
            events = await self.store.read(self.channel, conversation=conversation, after=state.cursor, limit=1)
            event = events[0] if events else None
        if event is not None:
            state.noticed = True
            await self.deciding.waiting(self.channel, conversation, event, choice)

    def forget_idle(self, idle: float) -> int:
        """Drop the state of conversations caught up and quiet for ``idle`` seconds (a webhook sees
        a new path per sender); their next event starts them afresh. Returns how many."""
        cutoff = time.monotonic() - idle
        quiet = [
            name
            for name, state in self.conversations.items()
            if state.touched < cutoff
            and not state.pending
            and not state.buffer
            and not self._committing_late[name]
            and (state.target is None or name not in state.target.early.values())
        ]
        for name in quiet:
            del self.conversations[name]
        return len(quiet)


def _delivered_early(event: Event) -> Delivered:
    """An event sent while being committed: it has no seq yet (0), and it did not wait."""
    return Delivered(event.channel, event.conversation, 0, event.id, event.content, dict(event.meta))


def _delivered(event: StoredEvent, waited: bool) -> Delivered:
    """The event as sent to a session; one that waited says so (``queued``, ``queued_at``)."""
    meta = dict(event.meta)
    if waited:
        meta["queued"] = "true"
        meta["queued_at"] = iso(event.received_at)
    return Delivered(event.channel, event.conversation, event.seq, event.id, event.content, meta)


def iso(moment: float) -> str:
    """``2026-03-24T10:15:00.000Z``, the form of the channels' ``ts`` meta."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


__all__ = ["BUFFER_LIMIT", "Deciding", "Dispatcher", "Ticket", "iso"]

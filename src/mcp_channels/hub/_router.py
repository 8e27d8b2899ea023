"""Which session a conversation's events go to: the bindings, and the rules that pick a session.

A conversation (a chat, a forum topic or thread, a webhook path, the fakechat page) is bound to
at most one session. The bindings and the webhook path routes live in the event store's key-value
map, written through on every change, so a restarted hub (or, on JetStream, every hub) sees the
same ones; this module keeps a copy in memory only to decide without a round trip.

The rules, for one conversation, among the attachments of its channel whose session delivers
(a session started without the channel flag is never chosen):

1. A webhook path under a routed prefix (``/ci/`` → ``ci``) goes to the session of that name,
   and waits while none is attached.
2. A bound conversation goes to its session while that session is attached. When it is gone:
   to a session of the same name (``serve --name``), if the binding had one; otherwise, once the
   hub has given sessions time to come back after its own restart, to a session that attached
   *after* the bound one left (a session restarted in the same project first, else the newest),
   and the binding moves to it. Sessions that were already open when it left were passed over on
   purpose and do not take it; until a successor comes, the events wait (``/switch`` moves them).
3. An unbound conversation goes to the most recently attached session, and is bound to it, so a
   conversation stays with the session that has been answering it.

A thread (a Slack thread, see :mod:`._conversations`) with no binding of its own is decided by
its chat's binding, when the chat has one: it goes where its chat goes.

``reply`` (any tool call naming the conversation) binds it to the calling session, as do
``/switch`` in the chat and ``mcp-channels hub route``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal, Protocol

from ._wire import SessionInfo
from .store import EventStore

BINDING_PREFIX: Final = "hub/b/"
ROUTE_PREFIX: Final = "hub/r/"
SESSION_PREFIX: Final = "hub/s/"
#: Keys of the store's key-value map are at most 256 bytes; longer names are replaced by a digest.
MAX_KEY: Final = 256
#: After the hub (re)starts, how long a binding waits for its own session to reconnect before a
#: successor may take it: shims reconnect within about a second.
RECONNECT_GRACE: Final = 5.0
#: A binding that events keep using is renewed this often (see ``forget_bindings``).
BINDING_RENEWAL: Final = 24 * 3600.0
#: Recent sessions kept for ``/sessions`` and ``hub status`` once detached.
RECENT_SESSIONS: Final = 20

How = Literal["default", "reply", "switch", "route", "successor"]


class Candidate(Protocol):
    """A live attachment as the router sees it."""

    @property
    def session(self) -> SessionInfo: ...

    @property
    def attached_at(self) -> float: ...


@dataclass(frozen=True)
class Binding:
    """A conversation's session: its key, and what identifies a successor (name, project)."""

    channel: str
    conversation: str
    session: str
    label: str
    name: str | None
    project_dir: str | None
    how: How
    since: float

    @classmethod
    def to(cls, channel: str, conversation: str, session: SessionInfo, how: How) -> Binding:
        return cls(
            channel, conversation, session.key, session.label, session.name, session.project_dir, how, time.time()
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Binding | None:
        try:
            data: Any = json.loads(text)
            return cls(**data)
        except (ValueError, TypeError):
            return None


@dataclass(frozen=True)
class Route:
    """A webhook path prefix routed to a session name."""

    channel: str
    prefix: str
    session_name: str

    def matches(self, conversation: str) -> bool:
        return conversation.startswith(self.prefix)


@dataclass(frozen=True)
class SessionRecord:
    """A session a hub has seen: for ``/sessions`` and successor decisions.

    ``hub`` names the hub it attached to (:attr:`Hub.hub_id`): on a shared store, an edge takes
    over only the conversations of its own sessions that left.
    """

    info: SessionInfo
    channels: tuple[str, ...]
    attached_at: float
    detached_at: float | None
    hub: str | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "info": self.info.to_json(),
                "channels": list(self.channels),
                "attached_at": self.attached_at,
                "detached_at": self.detached_at,
                "hub": self.hub,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> SessionRecord | None:
        try:
            data: Any = json.loads(text)
            return cls(
                SessionInfo.from_json(data["info"]),
                tuple(str(channel) for channel in data["channels"]),
                float(data["attached_at"]),
                None if data["detached_at"] is None else float(data["detached_at"]),
                None if data.get("hub") is None else str(data["hub"]),
            )
        except (ValueError, TypeError, KeyError):
            return None


@dataclass(frozen=True)
class Choice:
    """Where a conversation's events go now: ``target``, or nowhere while ``waiting_for`` is away.

    ``bind`` is a binding to record (a default or a successor).
    """

    target: Candidate | None
    bind: Binding | None = None
    waiting_for: str | None = None


def store_key(prefix: str, channel: str, name: str) -> str:
    """A key-value key for ``name`` of ``channel``, a digest when it would be too long."""
    key = f"{prefix}{channel}/{name}"
    if len(key.encode("utf-8")) <= MAX_KEY:
        return key
    return f"{prefix}{channel}/#{hashlib.sha256(name.encode('utf-8')).hexdigest()}"


def choose(
    channel: str,
    conversation: str,
    live: Sequence[Candidate],
    *,
    binding: Binding | None,
    route: Route | None,
    gone_since: float | None,
    settled: bool,
) -> Choice:
    """The session for one conversation now (the rules in the module docstring).

    ``live``: the delivering attachments of ``channel``, oldest first. ``gone_since``: when the
    bound session left (``None`` if unknown). ``settled``: the reconnect grace after the hub's
    start is over.
    """
    if route is not None:
        named = _newest(live, lambda c: route.session_name in (c.session.name, c.session.label))
        return Choice(named, waiting_for=None if named else route.session_name)
    if binding is None:
        newest = live[-1] if live else None
        if newest is None:
            return Choice(None)
        return Choice(newest, bind=Binding.to(channel, conversation, newest.session, "default"))
    bound = _newest(live, lambda c: c.session.key == binding.session)
    if bound is not None:
        return Choice(bound)
    if binding.name:
        same_name = _newest(live, lambda c: c.session.name == binding.name)
        if same_name is None:
            return Choice(None, waiting_for=binding.label)
        return Choice(same_name, bind=Binding.to(channel, conversation, same_name.session, "successor"))
    if not settled:
        return Choice(None, waiting_for=binding.label)
    since = gone_since if gone_since is not None else 0.0
    successors = [c for c in live if c.attached_at >= since]
    heir = _newest(successors, lambda c: bool(binding.project_dir) and c.session.project_dir == binding.project_dir)
    heir = heir or (successors[-1] if successors else None)
    if heir is None:
        return Choice(None, waiting_for=binding.label)
    return Choice(heir, bind=Binding.to(channel, conversation, heir.session, "successor"))


def _newest(candidates: Sequence[Candidate], accept: Any) -> Candidate | None:
    for candidate in reversed(candidates):
        if accept(candidate):
            return candidate
    return None


class RoutingState:
    """Bindings, path routes and session records: in the store's key-value map, mirrored here."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.bindings: dict[tuple[str, str], Binding] = {}
        self.routes: dict[tuple[str, str], Route] = {}
        self.sessions: dict[str, SessionRecord] = {}

    async def load(self) -> None:
        """Read every binding, route and session record from the store (another hub's too)."""
        for prefix in (BINDING_PREFIX, ROUTE_PREFIX, SESSION_PREFIX):
            for key, value in (await self.store.kv_items(prefix)).items():
                self.apply(key, value)

    def apply(self, key: str, value: str | None) -> bool:
        """Mirror one key of the store as written (``value``) or removed (``None``), by this hub or
        another one sharing the store; whether it was a routing key."""
        if key.startswith(BINDING_PREFIX):
            binding = Binding.from_json(value) if value is not None else None
            if binding is not None:
                self.bindings[binding.channel, binding.conversation] = binding
            else:
                _drop(self.bindings, lambda b: store_key(BINDING_PREFIX, b.channel, b.conversation) == key)
        elif key.startswith(ROUTE_PREFIX):
            route = _route_of(value) if value is not None else None
            if route is not None:
                self.routes[route.channel, route.prefix] = route
            else:
                _drop(self.routes, lambda r: store_key(ROUTE_PREFIX, r.channel, r.prefix) == key)
        elif key.startswith(SESSION_PREFIX):
            record = SessionRecord.from_json(value) if value is not None else None
            if record is not None:
                self.sessions[record.info.key] = record
            else:
                _drop(self.sessions, lambda r: store_key(SESSION_PREFIX, "all", r.info.key) == key)
        else:
            return False
        return True

    # ------------------------------------------------------------------ bindings

    def binding(self, channel: str, conversation: str) -> Binding | None:
        return self.bindings.get((channel, conversation))

    async def bind(self, binding: Binding) -> None:
        self.bindings[binding.channel, binding.conversation] = binding
        await self.store.kv_put(store_key(BINDING_PREFIX, binding.channel, binding.conversation), binding.to_json())

    async def claim(self, binding: Binding) -> Binding:
        """Bind an unbound conversation unless another hub bound it first; the binding that holds."""
        key = store_key(BINDING_PREFIX, binding.channel, binding.conversation)
        existing = await self.store.kv_create(key, binding.to_json())
        holding = binding if existing is None else Binding.from_json(existing)
        if holding is None:  # unreadable: ours replaces it
            await self.bind(binding)
            return binding
        self.bindings[binding.channel, binding.conversation] = holding
        return holding

    async def forget_bindings(self, before: float) -> int:
        """Drop the bindings not used since ``before`` (their conversation went quiet); returns how many.

        A binding in use is renewed once a day (:data:`BINDING_RENEWAL`), so only quiet ones go:
        without this, every webhook path a sender ever used would keep a key forever.
        """
        stale = [binding for binding in self.bindings.values() if binding.since < before]
        for binding in stale:
            await self.unbind(binding.channel, binding.conversation)
        return len(stale)

    async def unbind(self, channel: str, conversation: str) -> bool:
        if self.bindings.pop((channel, conversation), None) is None:
            return False
        await self.store.kv_delete(store_key(BINDING_PREFIX, channel, conversation))
        return True

    # ------------------------------------------------------------------ path routes

    def route_for(self, channel: str, conversation: str) -> Route | None:
        """The longest routed prefix of ``conversation`` in ``channel``."""
        matching = [
            route for (name, _), route in self.routes.items() if name == channel and route.matches(conversation)
        ]
        return max(matching, key=lambda route: len(route.prefix), default=None)

    async def set_route(self, route: Route) -> None:
        self.routes[route.channel, route.prefix] = route
        await self.store.kv_put(store_key(ROUTE_PREFIX, route.channel, route.prefix), json.dumps(asdict(route)))

    async def clear_route(self, channel: str, prefix: str) -> bool:
        if self.routes.pop((channel, prefix), None) is None:
            return False
        await self.store.kv_delete(store_key(ROUTE_PREFIX, channel, prefix))
        return True

    # ------------------------------------------------------------------ sessions

    async def record_session(self, record: SessionRecord) -> None:
        self.sessions[record.info.key] = record
        await self.store.kv_put(store_key(SESSION_PREFIX, "all", record.info.key), record.to_json())
        detached = sorted(
            (r for r in self.sessions.values() if r.detached_at is not None),
            key=lambda r: r.detached_at or 0.0,
        )
        for old in detached[:-RECENT_SESSIONS]:
            del self.sessions[old.info.key]
            await self.store.kv_delete(store_key(SESSION_PREFIX, "all", old.info.key))

    def gone_since(self, session_key: str, hub_started: float) -> float | None:
        """When a session left: its record's time, or the hub's start when it was attached then."""
        record = self.sessions.get(session_key)
        if record is None:
            return None
        return record.detached_at if record.detached_at is not None else hub_started


def _route_of(value: str) -> Route | None:
    try:
        data: Any = json.loads(value)
        return Route(str(data["channel"]), str(data["prefix"]), str(data["session_name"]))
    except (ValueError, TypeError, KeyError):
        return None


def _drop(mapping: dict[Any, Any], matches: Any) -> None:
    for name in [name for name, item in mapping.items() if matches(item)]:
        del mapping[name]


__all__ = [
    "BINDING_RENEWAL",
    "RECONNECT_GRACE",
    "Binding",
    "Candidate",
    "Choice",
    "How",
    "Route",
    "RoutingState",
    "SessionRecord",
    "choose",
    "store_key",
]

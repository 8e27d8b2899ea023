"""``Hub``: the long-lived process that owns the platform connections, the store and the routing.

Data moves one way in and one way out:

    platform ─▶ channel ─▶ gate ─▶ Hub.commit (store.append, synced) ─▶ the platform is acknowledged
    store ─▶ Dispatcher (conversation → session) ─▶ socket ─▶ serve shim ─▶ Claude Code ─▶ hub/ack
    tool call ─▶ shim ─▶ hub/call_tool ─▶ the channel ─▶ platform (one connection, one rate limiter)

The channels themselves run in a :class:`ChannelHost` (the hub runner), which calls back into
:meth:`Hub.commit` for each event, :meth:`Hub.verdict` for each permission answer and
:meth:`Hub.chat_command` for ``/sessions`` and ``/switch``. This module holds the sessions, the
routing decisions (rules in :mod:`._router`), the permission relay, ``hub status``, the HTTP probes
and the process's life (signals, idle exit, retention).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from ..errors import ConfigurationError, JsonRpcError, SettingsConflict, StoreError
from ..jsonrpc import INVALID_PARAMS
from ..runners._tasks import Background
from . import _commands, _declarations, _metrics, _wire
from ._attachment import Attachment, session_of
from ._conversations import called, conversation_of, conversation_of_call, event_id, parent_of
from ._daemon import HubLock, running_pid, signal_ready, start_lock
from ._dispatch import Dispatcher
from ._paths import HubPaths
from ._relay import EdgeHost, NatsLinks
from ._router import BINDING_RENEWAL, RECONNECT_GRACE, Binding, Choice, Route, RoutingState, SessionRecord, choose
from ._socket import HttpRequest, HttpResponse, Link, Listener, listen, listen_http
from ._store_config import Role
from .store import Event, EventStore, InvalidInput, NatsStore, Retention, open_store
from .store._nats import without_password

#: How often retention runs by default (it also runs at start).
PRUNE_INTERVAL: Final = 600.0
#: Permission requests older than this are forgotten (Claude Code has long given up on them).
PERMISSION_TTL: Final = 24 * 3600.0
PERMISSION_PREFIX: Final = "hub/p/"
NO_SESSION_NOTICE: Final = (
    "No Claude Code session is open; your message is queued and will be delivered when one starts."
)

log = logging.getLogger("mcp_channels.hub")


class ChannelHost(Protocol):
    """The hub runner: hosts each channel and carries the hub's calls to it."""

    async def restore(self) -> None:
        """Start the channels that ran before (their saved settings), before any session attaches."""

    async def ensure(self, channel: str, settings: Mapping[str, str], session: _wire.SessionInfo) -> None:
        """Run ``channel`` with ``settings``; :class:`SettingsConflict` when it runs with others."""

    def release(self, channel: str, remaining: Sequence[Attachment]) -> None:
        """A session of ``channel`` left; ``remaining`` are the others (settings may change when none are)."""

    async def call_tool(self, channel: str, name: str, arguments: Any) -> dict[str, Any]:
        """A ``tools/call`` result, always (an error result when the channel cannot run it)."""

    async def relay_permission(self, channel: str, params: Mapping[str, Any], conversations: Sequence[str]) -> None:
        """Show a permission request to the channel's people (and in ``conversations``)."""

    async def say(self, channel: str, conversation: str, text: str) -> bool:
        """Send ``text`` into a conversation; ``False`` when the channel has no way to."""

    def describe(self) -> list[dict[str, Any]]:
        """Each hosted channel's state for ``hub status``: ``name``, ``state``, ``error``, ``settings``."""

    async def shutdown(self) -> None:
        """Stop every channel (a Telegram poller confirms what was committed)."""


HostFactory = Callable[["Hub"], ChannelHost]


@dataclass(frozen=True)
class HubOptions:
    """How the hub runs: ``store`` (a path or URL, default ``<hub dir>/store``), retention, idle exit."""

    store: str | None = None
    retention: Retention = field(default_factory=Retention)
    idle_exit: float | None = None
    metrics_port: int | None = None
    prune_interval: float = PRUNE_INTERVAL
    #: After the hub starts, how long bindings wait for their own session to reconnect.
    reconnect_grace: float = RECONNECT_GRACE
    role: Role = "both"
    #: Channels to run from the start with this process's own settings (an ingress has no sessions
    #: to ask for them).
    channels: tuple[str, ...] = ()
    #: Keyword arguments of the store (a NATS store's credentials and TLS files).
    store_options: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class _Counters:
    received: int = 0
    commit_errors: int = 0
    retention_dropped: int = 0
    retention_undelivered: int = 0
    last_event_at: float | None = None


class _Client:
    """One connection: a session's attachment, or the command line once it said hello."""

    def __init__(self) -> None:
        self.link: Link | None = None
        self.authenticated = False
        self.attachment: Attachment | None = None


class Hub:
    """The hub process's state and behaviour (see the module docstring)."""

    def __init__(self, paths: HubPaths, options: HubOptions, host_factory: HostFactory | None) -> None:
        self.paths = paths
        self.options = options
        self._host_factory = host_factory
        self.started_at = time.time()
        self.store: EventStore = open_store(
            options.store or paths.store, retention=options.retention, **options.store_options
        )
        self.routing = RoutingState(self.store)
        #: Names this hub among the hubs sharing a store: its sessions' records and prompts carry it.
        self.hub_id = f"{socket.gethostname()}:{paths.directory}"
        self.links: NatsLinks | None = None
        self._verdict_lock = asyncio.Lock()
        self.host: ChannelHost | None = None
        self.attachments: list[Attachment] = []
        self.dispatchers: dict[str, Dispatcher] = {}
        self.counters: dict[str, _Counters] = {}
        self.listener: Listener | None = None
        self._stop = asyncio.Event()
        #: Set once the hub listens (for a hub run inside another program's loop).
        self.listening = asyncio.Event()
        self._background = Background(log)
        self._idle_timer: asyncio.TimerHandle | None = None
        self._dispatcher_lock = asyncio.Lock()
        self._expecting = False

    # ------------------------------------------------------------------ life

    async def run(self, ready_fd: int | None = None, *, wait: bool = False, signals: bool = True) -> int:
        """Serve until stopped (``hub stop``, a signal, idle exit); the process's exit status.

        ``wait``: when another hub runs, wait for it to exit instead of refusing to start.
        ``signals``: stop on SIGTERM, SIGINT and SIGHUP (off for a hub inside a test's loop).
        """
        self.paths.prepare()
        lock = HubLock(self.paths)
        if wait and running_pid(self.paths) is not None:
            log.info("another hub is running (pid %s): waiting for it to exit", running_pid(self.paths))
        if not await asyncio.to_thread(lock.acquire, wait=wait):
            log.error("a hub is already running (pid %s): %s", running_pid(self.paths), self.paths.directory)
            return 1
        # Sessions looking for a hub wait on the start lock until this one listens; a hub spawned
        # by a session (--ready-fd) has its starter hold it.
        starting = contextlib.ExitStack()
        if ready_fd is None:
            await asyncio.to_thread(starting.enter_context, start_lock(self.paths))
        try:
            return await self._serve(ready_fd, starting, signals)
        finally:
            starting.close()
            lock.release()

    async def _serve(self, ready_fd: int | None, starting: contextlib.ExitStack, signals: bool) -> int:
        loop = asyncio.get_running_loop()
        try:
            await self.store.initialize()
        except StoreError as exc:
            where = without_password(str(self.options.store or self.paths.store))
            log.error("cannot open the event store %s: %s", where, exc)
            raise ConfigurationError(f"cannot open the event store {where}: {exc}") from exc
        metrics: asyncio.Server | None = None
        try:
            await self.routing.load()
            # Sessions attached to a previous run (it crashed or was stopped) come back within a
            # second or two; until then their bindings wait for them. A first start waits for none.
            self._expecting = any(
                record.detached_at is None and record.hub in (None, self.hub_id)
                for record in self.routing.sessions.values()
            )
            await self._forget_old_permissions()
            if self.options.role != "ingress":
                for stats in await self.store.stats():
                    await self.dispatcher(stats.channel)
            if isinstance(self.store, NatsStore):
                self.links = NatsLinks(self, self.store)
                await self.links.start(
                    serve_relay=self.options.role == "ingress", hear_verdicts=self.options.role != "ingress"
                )
            if self.options.role == "edge":
                assert self.links is not None  # the command line refuses an edge without NATS
                self.host = EdgeHost(self.links)
                for value in (await self.store.kv_items(_declarations.SHARED_PREFIX)).values():
                    self.declaration_shared(value)
            elif self._host_factory is not None:
                self.host = self._host_factory(self)
                await self.host.restore()
            if self.options.role == "ingress":
                if not self.options.channels:
                    log.warning("an ingress with no --channel runs only the channels of channels.json, if any")
                await self._create_streams()
            self.listener = await listen(self.paths, self._make_link, self.http)
            if self.options.metrics_port is not None:
                metrics = await listen_http(self.options.metrics_port, self.probe)
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP) if signals else ():
                loop.add_signal_handler(signum, self.stop)
            log.info(
                "listening on %s (%s, store %s, pid %d)",
                self.listener.address,
                "ingress and edge" if self.options.role == "both" else self.options.role,
                without_password(str(self.options.store or self.paths.store)),
                os.getpid(),
            )
            signal_ready(ready_fd)
            starting.close()
            self.listening.set()
            self._background.spawn(self._prune_forever(), "retention")
            loop.call_later(self.options.reconnect_grace, self._kick_all)
            self._idle_check()
            await self._stop.wait()
            log.info("stopping")
        finally:
            await self._shutdown(metrics)
        return 0

    async def share_declaration(self, declaration: _declarations.Declaration) -> None:
        """An ingress tells the edges what its channel declares, so their shims need not build it."""
        if self.options.role != "ingress":
            return
        try:
            await self.store.kv_put(_declarations.SHARED_PREFIX + declaration.name, _declarations.shared(declaration))
        except StoreError as exc:
            log.warning("cannot share the declaration of %s with the edges: %s", declaration.name, exc)

    def declaration_shared(self, value: str) -> None:
        """An edge writes down a declaration the ingress shared, for its sessions' shims."""
        with contextlib.suppress(ValueError):
            declaration = _declarations.parse(json.loads(value))
            if declaration is not None and self.options.role == "edge":
                try:
                    _declarations.save(self.paths.directory, declaration, None)
                except OSError as exc:
                    log.warning("cannot save the declaration of %s: %s", declaration.name, exc)

    async def _create_streams(self) -> None:
        """Make the channels' streams exist now (following one creates it): edges, whose NATS users
        may not create streams, then follow a channel before its first event."""
        for channel in self.options.channels:
            watch = self.store.watch(channel)
            await anext(watch)
            await watch.aclose()

    async def _shutdown(self, metrics: asyncio.Server | None) -> None:
        if self.listener is not None:
            self.listener.close()
        if metrics is not None:
            metrics.close()
        for attachment in list(self.attachments):
            attachment.link.close()
        self._background.cancel()
        if self.host is not None:
            await self.host.shutdown()
        for dispatcher in self.dispatchers.values():
            await dispatcher.stop()
        if self.links is not None:
            await self.links.stop()
        await self.store.shutdown()

    def stop(self) -> None:
        self._stop.set()

    # ------------------------------------------------------------------ events in (from the runner)

    async def commit(self, channel: str, content: str, meta: Mapping[str, str]) -> None:
        """Store one event of ``channel`` durably, then deliver it; returns once it is committed.

        Raises :class:`~.store.StoreError` (the platform must not be acknowledged) and
        :class:`~.store.InvalidInput` for an event the store refuses (too large).
        """
        counters = self._counters(channel)
        event = Event(event_id(meta), channel, conversation_of(channel, meta), content, meta)
        # An ingress delivers nothing itself: the edges read the event from the store.
        dispatcher = None if self.options.role == "ingress" else await self.dispatcher(channel)
        ticket = dispatcher.before_commit(event) if dispatcher else None  # a caught-up session gets it now
        try:
            stored = await self.store.append([event])
        except StoreError:
            counters.commit_errors += 1
            if dispatcher is not None and ticket is not None:
                dispatcher.commit_failed(ticket)
            raise
        counters.received += 1
        counters.last_event_at = time.time()
        if dispatcher is not None:
            dispatcher.offer(stored, ticket)

    def verdict(self, channel: str, request_id: str, allow: bool) -> None:
        """A person answered a permission prompt: to the session that asked, and to no other; first answer wins."""
        self._background.spawn(self._verdict(channel, request_id.lower(), allow), f"verdict {request_id}")

    async def _verdict(self, channel: str, request_id: str, allow: bool) -> None:
        key = PERMISSION_PREFIX + request_id
        behavior = "allow" if allow else "deny"
        async with self._verdict_lock:  # two answers at once: the first deletes, the second finds nothing
            raw = await self.store.kv_get(key)
            if raw is None:
                log.info("permission %s: answered already, or not asked by a session of ours; ignored", request_id)
                return
            await self.store.kv_delete(key)
        asked = json.loads(raw)
        if self.links is not None and asked.get("hub") not in (None, self.hub_id):
            await self.links.forward_verdict(channel, request_id, asked, behavior)
            log.info("permission %s: %s, sent to the edge hub of that session", request_id, behavior)
            return
        self.deliver_verdict(str(asked.get("channel")), request_id, str(asked.get("session")), behavior)

    def deliver_verdict(self, channel: str, request_id: str, session: str, behavior: str) -> None:
        """Hand a verdict to the session that asked, if it is attached here; to no other."""
        target = self._newest(lambda a: a.session.key == session and a.channel == channel)
        if target is None:
            log.warning("permission %s: the session that asked has gone; the answer is dropped", request_id)
            return
        target.send_verdict(request_id, behavior)
        log.info("permission %s: %s, sent to %s", request_id, behavior, target.session.label)

    async def chat_command(self, channel: str, conversation: str, text: str) -> str | None:
        """The answer to ``/sessions`` or ``/switch`` typed in ``conversation``; ``None`` for other text."""
        command = _commands.parse_command(text)
        if command is None:
            return None
        listed = self._listed(channel)
        if command.name == "sessions":
            binding = self._binding_of(channel, conversation)
            recent = [
                record.info
                for record in sorted(self.routing.sessions.values(), key=lambda r: -(r.detached_at or 0))
                if record.detached_at is not None and channel in record.channels
            ]
            return _commands.sessions_text(
                listed, binding.session if binding else None, recent, called(channel, conversation)
            )
        chosen = _commands.pick(listed, command.argument)
        if isinstance(chosen, str):
            return chosen
        await self._bind(Binding.to(channel, conversation, chosen.session, "switch"))
        return f"This {called(channel, conversation)} now goes to {chosen.session.label}."

    def _listed(self, channel: str) -> list[_commands.Listed]:
        """The delivering sessions of ``channel``, numbered in attach order, one entry per session.

        An ingress has none of its own: it lists the edges' sessions from their records.
        """
        if self.options.role == "ingress":
            records = sorted(
                (r for r in self.routing.sessions.values()
                 if r.detached_at is None and channel in r.channels and r.info.delivers),
                key=lambda r: r.attached_at,
            )  # fmt: skip
            return [_commands.Listed(n, r.info, r.attached_at) for n, r in enumerate(records, start=1)]
        seen: dict[str, Attachment] = {}
        for attachment in self._live(channel):
            seen.setdefault(attachment.session.key, attachment)
        return [_commands.Listed(n, a.session, a.attached_at) for n, a in enumerate(seen.values(), start=1)]

    # ------------------------------------------------------------------ routing (Dispatcher's Deciding)

    async def dispatcher(self, channel: str) -> Dispatcher:
        """The channel's dispatcher, started on first use."""
        dispatcher = self.dispatchers.get(channel)
        if dispatcher is not None:
            return dispatcher
        async with self._dispatcher_lock:
            if channel not in self.dispatchers:
                created = Dispatcher(channel, self.store, self, self.started_at)
                await created.start()
                self.dispatchers[channel] = created
        return self.dispatchers[channel]

    def _live(self, channel: str) -> list[Attachment]:
        return sorted((a for a in self.attachments if a.channel == channel and a.routable), key=lambda a: a.order)

    async def decide(self, channel: str, conversation: str) -> Choice:
        binding = self._binding_of(channel, conversation)
        if self.options.role == "edge" and self.routing.route_for(channel, conversation) is None:
            live = self._live(channel)
            if binding is None:  # the first edge to claim it takes it, whatever the others decide
                if not live:
                    return Choice(None)
                holding = await self.routing.claim(Binding.to(channel, conversation, live[-1].session, "default"))
                return Choice(self._newest(lambda a: a in live and a.session.key == holding.session))
            if not self._ours(binding, live):
                return Choice(None)
        choice = choose(
            channel,
            conversation,
            self._live(channel),
            binding=binding,
            route=self.routing.route_for(channel, conversation),
            gone_since=self.routing.gone_since(binding.session, self.started_at) if binding else None,
            settled=self._settled,
        )
        if choice.bind is not None:
            await self.routing.bind(choice.bind)
        elif binding is not None and choice.target is not None and time.time() - binding.since > BINDING_RENEWAL:
            await self.routing.bind(dataclasses.replace(binding, since=time.time()))  # still in use
        return choice

    def _binding_of(self, channel: str, conversation: str) -> Binding | None:
        """The conversation's binding; a thread nobody bound follows its chat's (a Slack DM's thread
        goes where the DM goes, a channel bound by ``hub route`` takes its new threads)."""
        binding = self.routing.binding(channel, conversation)
        parent = parent_of(channel, conversation) if binding is None else None
        return self.routing.binding(channel, parent) if parent is not None else binding

    def _ours(self, binding: Binding, live: Sequence[Attachment]) -> bool:
        """Whether an edge may deliver a bound conversation: its session is here, or was (and left)."""
        if any(a.session.key == binding.session for a in live):
            return True
        record = self.routing.sessions.get(binding.session)
        return record is not None and record.hub == self.hub_id

    def routing_changed(self) -> None:
        """Another hub moved a binding, a route or a session: every conversation is looked at again."""
        self._kick_all()

    @property
    def _settled(self) -> bool:
        """Whether sessions of a previous run have had their time to come back."""
        return not self._expecting or time.time() - self.started_at >= self.options.reconnect_grace

    async def waiting(self, channel: str, conversation: str, event: Any, choice: Choice) -> None:
        """Tell the sender once that their message waits (where the channel can answer).

        An edge says nothing: another edge may deliver the conversation.
        """
        if self.host is None or not self._settled or self.options.role == "edge":
            return
        if choice.waiting_for:
            where = called(channel, conversation)
            text = (
                f"The Claude Code session this {where} goes to ({choice.waiting_for}) is not open; your message is "
                f"queued for it. /sessions lists the open ones; /switch <number> moves this {where}."
            )
        else:
            text = NO_SESSION_NOTICE
        with contextlib.suppress(Exception):
            await self.host.say(channel, conversation, text)

    async def _bind(self, binding: Binding) -> None:
        await self.routing.bind(binding)
        await self._kick(binding.channel)

    async def _kick(self, channel: str) -> None:
        """Look again at every conversation of ``channel`` (an ingress delivers nothing itself)."""
        if self.options.role != "ingress":
            (await self.dispatcher(channel)).kick()

    def _kick_all(self) -> None:
        for dispatcher in self.dispatchers.values():
            dispatcher.kick()

    # ------------------------------------------------------------------ connections

    def _make_link(self) -> Link:
        client = _Client()

        async def on_request(method: str, params: Any) -> Any:
            return await self._request(client, method, params)

        def on_notification(method: str, params: Any) -> None:
            self._notification(client, method, params)

        link = Link(on_request=on_request, on_notification=on_notification, logger=log)
        client.link = link
        self._background.spawn(self._watch_close(client), "connection")
        return link

    async def _watch_close(self, client: _Client) -> None:
        assert client.link is not None
        await client.link.closed.wait()
        if client.attachment is not None:
            await self._detach(client.attachment)

    async def _request(self, client: _Client, method: str, params: Any) -> Any:
        try:
            if method == _wire.ATTACH:
                return await self._attach(client, _wire.Attach.from_json(params))
            if method == _wire.HELLO:
                data = params if isinstance(params, dict) else {}
                _wire.check_version(data)
                self._check_token(data.get("token"))
                client.authenticated = True
                return {"hub_pid": os.getpid()}
            if not client.authenticated:
                raise JsonRpcError(_wire.UNAUTHORIZED, f"say {_wire.ATTACH} or {_wire.HELLO} first")
            if method == _wire.CALL_TOOL:
                return await self._call_tool(client, params)
            if method == _wire.STATUS:
                return await self.status()
            if method == _wire.ROUTE:
                return await self._route(params)
            if method == _wire.STOP:
                asyncio.get_running_loop().call_soon(self.stop)
                return {"stopping": True, "pid": os.getpid()}
        except _wire.WireError as exc:
            raise JsonRpcError(INVALID_PARAMS, str(exc)) from None
        raise JsonRpcError(-32601, f"Method not found: {method}")

    def _check_token(self, token: Any) -> None:
        expected = self.listener.token if self.listener is not None else None
        if expected is None:
            return
        if not isinstance(token, str) or not hmac.compare_digest(token.encode(), expected.encode()):
            raise JsonRpcError(_wire.UNAUTHORIZED, "wrong or missing hub token")

    def _notification(self, client: _Client, method: str, params: Any) -> None:
        attachment = client.attachment
        if attachment is None:
            return
        try:
            if method == _wire.ACK:
                ack = _wire.Ack.from_json(params)
                dispatcher = self.dispatchers.get(ack.channel) if ack.channel == attachment.channel else None
                if dispatcher is not None and ack.seq:
                    dispatcher.acknowledged(attachment, ack.conversation, ack.seq)
                elif dispatcher is not None:
                    dispatcher.acknowledged_early(attachment, ack.conversation, ack.id)
            elif method == _wire.PERMISSION_REQUEST:
                self._background.spawn(self._permission_request(attachment, params), "permission request")
        except _wire.WireError as exc:
            log.warning("bad %s from %s: %s", method, attachment.session.label, exc)

    # ------------------------------------------------------------------ attaching

    async def _attach(self, client: _Client, attach: _wire.Attach) -> dict[str, Any]:
        self._check_token(attach.token)
        if self.options.role == "ingress":
            raise JsonRpcError(
                _wire.UNAUTHORIZED,
                "this hub is an ingress (it delivers to edge hubs only): run 'mcp-channels hub run --role edge' "
                "with the same --store for sessions on this machine",
            )
        if client.attachment is not None:
            raise JsonRpcError(INVALID_PARAMS, "this connection is attached already")
        client.authenticated = True
        assert client.link is not None
        session = await asyncio.to_thread(session_of, attach)
        attachment = Attachment(client.link, attach, session)
        if self.host is not None:
            try:
                await self.host.ensure(attach.channel, attach.settings, session)
            except SettingsConflict as exc:
                attachment.refused = str(exc)
        client.attachment = attachment
        self.attachments.append(attachment)
        await self._record(attachment.session)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        (await self.dispatcher(attach.channel)).kick()
        what = "delivering" if session.delivers else f"tools only (no channel flag): {session.delivery_reason}"
        log.info("session %s attached for %s: %s", session.label, attach.channel, attachment.refused or what)
        return {
            "session": session.key,
            "delivery": session.delivery,
            "delivery_reason": session.delivery_reason,
            "hub_pid": os.getpid(),
            "refused": attachment.refused,
            "delivering": attachment.routable,
        }

    async def _detach(self, attachment: Attachment) -> None:
        if attachment not in self.attachments:
            return
        self.attachments.remove(attachment)
        dispatcher = self.dispatchers.get(attachment.channel)
        if dispatcher is not None:
            dispatcher.detached(attachment)
        log.info("session %s left %s", attachment.session.label, attachment.channel)
        await self._record(attachment.session)
        if self.host is not None:
            remaining = [a for a in self.attachments if a.channel == attachment.channel]
            self.host.release(attachment.channel, remaining)
            await self._retry_refused(attachment.channel)
        self._idle_check()

    async def _retry_refused(self, channel: str) -> None:
        """A session left: one refused for conflicting settings may fit now."""
        assert self.host is not None
        for waiting in [a for a in self.attachments if a.channel == channel and a.refused is not None]:
            try:
                await self.host.ensure(channel, waiting.settings, waiting.session)
            except SettingsConflict:
                continue
            waiting.refused = None
            waiting.notice(
                f"{channel}: the conflicting session has gone; this session is now attached", "info", attached=True
            )
            (await self.dispatcher(channel)).kick()

    async def _record(self, session: _wire.SessionInfo) -> None:
        mine = [a for a in self.attachments if a.session.key == session.key]
        previous = self.routing.sessions.get(session.key)
        channels = sorted({a.channel for a in mine} | set(previous.channels if previous else ()))
        record = SessionRecord(
            info=session,
            channels=tuple(channels),
            attached_at=min((a.attached_at for a in mine), default=previous.attached_at if previous else time.time()),
            detached_at=None if mine else time.time(),
            hub=self.hub_id,
        )
        try:
            await self.routing.record_session(record)
        except StoreError as exc:
            log.warning("could not record session %s: %s", session.label, exc)

    # ------------------------------------------------------------------ tools and permissions

    async def _call_tool(self, client: _Client, params: Any) -> dict[str, Any]:
        attachment = client.attachment
        if attachment is None:
            raise JsonRpcError(_wire.NOT_ATTACHED, f"say {_wire.ATTACH} first")
        if not isinstance(params, dict) or not isinstance(params.get("name"), str):
            raise JsonRpcError(INVALID_PARAMS, "hub/call_tool needs a tool name")
        name, arguments = params["name"], params.get("arguments")
        if attachment.refused is not None:
            return {"content": [{"type": "text", "text": f"{name} failed: {attachment.refused}"}], "isError": True}
        if self.host is None:
            text = f"{name} failed: this hub runs no channels (it only routes events from its store)"
            return {"content": [{"type": "text", "text": text}], "isError": True}
        result = await self.host.call_tool(attachment.channel, name, arguments)
        conversation = conversation_of_call(attachment.channel, name, arguments)
        if conversation is not None and attachment.routable and not result.get("isError"):
            await self._bind_reply(attachment, conversation)
        return result

    async def _bind_reply(self, attachment: Attachment, conversation: str) -> None:
        """``reply`` binds the conversation (and its topics, when they are bound elsewhere, stay)."""
        try:
            current = self.routing.binding(attachment.channel, conversation)
            if current is None or current.session != attachment.session.key:
                await self._bind(Binding.to(attachment.channel, conversation, attachment.session, "reply"))
        except (StoreError, InvalidInput) as exc:
            log.warning("could not bind %s/%s after a reply: %s", attachment.channel, conversation, exc)

    async def _permission_request(self, attachment: Attachment, params: Any) -> None:
        if not attachment.routable or self.host is None:
            log.info(
                "permission request from %s ignored: that session takes no channel events", attachment.session.label
            )
            return
        request_id = params.get("request_id") if isinstance(params, dict) else None
        if not isinstance(request_id, str) or not request_id:
            log.warning("malformed permission request from %s ignored", attachment.session.label)
            return
        record = {"session": attachment.session.key, "channel": attachment.channel, "at": time.time(),
                  "hub": self.hub_id}  # fmt: skip
        await self.store.kv_put(PERMISSION_PREFIX + request_id.lower(), json.dumps(record))
        bound = [
            binding.conversation
            for binding in self.routing.bindings.values()
            if binding.channel == attachment.channel and binding.session == attachment.session.key
        ]
        await self.host.relay_permission(attachment.channel, params, self._asked_in(attachment.channel, bound))

    def _asked_in(self, channel: str, bound: list[str]) -> list[str]:
        """Where a session's prompt is shown: every chat bound to it, and of the threads bound to it
        only the one it last heard from. A session that has answered fifty Slack threads asks in the
        one it is working in, not in all fifty."""
        threads = [conversation for conversation in bound if parent_of(channel, conversation) is not None]
        if not threads:
            return bound
        dispatcher = self.dispatchers.get(channel)
        states = dispatcher.conversations if dispatcher is not None else {}

        def heard(conversation: str) -> float:
            state = states.get(conversation)
            return state.touched if state is not None else 0.0

        latest = max(threads, key=heard)
        return [conversation for conversation in bound if conversation not in threads or conversation == latest]

    async def _forget_old_permissions(self) -> None:
        cutoff = time.time() - PERMISSION_TTL
        for key, value in (await self.store.kv_items(PERMISSION_PREFIX)).items():
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                if float(json.loads(value).get("at", 0)) >= cutoff:
                    continue
            await self.store.kv_delete(key)

    def _newest(self, accept: Callable[[Attachment], bool]) -> Attachment | None:
        matching = [a for a in self.attachments if accept(a)]
        return max(matching, key=lambda a: a.order, default=None)

    # ------------------------------------------------------------------ routes from the command line

    async def _route(self, params: Any) -> dict[str, Any]:
        data = params if isinstance(params, dict) else {}
        action = data.get("action", "list")
        if action == "list":
            return {"bindings": self._bindings_status(), "routes": self._routes_status()}
        channel = _required(data, "channel")
        if action == "bind":
            conversation = _required(data, "conversation")
            chosen = self._resolve(channel, _required(data, "session"))
            await self._bind(Binding.to(channel, conversation, chosen, "route"))
        elif action == "unbind":
            if not await self.routing.unbind(channel, _required(data, "conversation")):
                raise JsonRpcError(_wire.BAD_ROUTE, "that conversation is not bound")
            await self._kick(channel)
        elif action == "prefix":
            prefix = _required(data, "prefix")
            if not prefix.startswith("/"):
                raise JsonRpcError(_wire.BAD_ROUTE, "a path prefix starts with /")
            await self.routing.set_route(Route(channel, prefix, _required(data, "session")))
            await self._kick(channel)
        elif action == "unprefix":
            if not await self.routing.clear_route(channel, _required(data, "prefix")):
                raise JsonRpcError(_wire.BAD_ROUTE, "no route for that prefix")
            await self._kick(channel)
        else:
            raise JsonRpcError(_wire.BAD_ROUTE, f"unknown route action {action!r}")
        return {"bindings": self._bindings_status(), "routes": self._routes_status()}

    def _resolve(self, channel: str, selector: str) -> _wire.SessionInfo:
        """The session ``hub route`` names: its number in ``hub status``, its name or label, or its key."""
        numbered = self._live_sessions()
        if selector.isdigit() and 1 <= int(selector) <= len(numbered):
            found: list[_wire.SessionInfo] = [numbered[int(selector) - 1]]
        else:
            found = [s for s in numbered if selector in (s.name, s.label, s.key)]
        if len(found) != 1:
            what = "several sessions match" if found else "no open session matches"
            raise JsonRpcError(_wire.BAD_ROUTE, f"{what} {selector!r}; see mcp-channels hub status")
        if not self._newest(lambda a: a.session.key == found[0].key and a.channel == channel and a.routable):
            raise JsonRpcError(_wire.BAD_ROUTE, f"session {found[0].label} takes no {channel} events")
        return found[0]

    def _live_sessions(self) -> list[_wire.SessionInfo]:
        """The attached sessions, in the order they first attached (``hub status`` numbers them so)."""
        first: dict[str, Attachment] = {}
        for attachment in sorted(self.attachments, key=lambda a: a.order):
            first.setdefault(attachment.session.key, attachment)
        return [attachment.session for attachment in first.values()]

    # ------------------------------------------------------------------ status

    async def status(self) -> dict[str, Any]:
        """What ``hub status --json`` prints and ``/metrics`` is made of."""
        stats = {item.channel: item for item in await self.store.stats()}
        hosted = {item["name"]: item for item in (self.host.describe() if self.host else [])}
        now = time.time()
        channels = []
        for name in sorted(set(stats) | set(hosted) | set(self.dispatchers)):
            item = stats.get(name)
            counters = self._counters(name)
            dispatcher = self.dispatchers.get(name)
            oldest = item.oldest_pending_received_at if item else None
            channels.append(
                {
                    "name": name,
                    "state": hosted.get(name, {}).get("state", "not running"),
                    "error": hosted.get(name, {}).get("error"),
                    "settings": hosted.get(name, {}).get("settings", []),
                    "stored": item.stored if item else 0,
                    "pending": item.pending if item else 0,
                    "oldest_pending_age_s": round(now - oldest, 3) if oldest is not None else None,
                    "received": counters.received,
                    "delivered": dispatcher.delivered if dispatcher else 0,
                    "commit_errors": counters.commit_errors,
                    "retention_dropped": counters.retention_dropped,
                    "retention_undelivered": counters.retention_undelivered,
                    "last_event_at": counters.last_event_at,
                }
            )
        live = [info.key for info in self._live_sessions()]
        sessions = [
            {**record.info.to_json(), "label": record.info.label, "channels": list(record.channels),
             "attached_at": record.attached_at, "detached_at": record.detached_at, "live": key in live,
             "number": live.index(key) + 1 if key in live else None, "tools_only": not record.info.delivers}
            for key, record in sorted(self.routing.sessions.items(), key=lambda kv: kv[1].attached_at)
        ]  # fmt: skip
        return {
            "hub": {
                "pid": os.getpid(),
                "version": _version(),
                "started_at": self.started_at,
                "uptime_s": round(now - self.started_at, 3),
                "address": self.listener.address if self.listener else None,
                "transport": self.paths.transport,
                "directory": str(self.paths.directory),
                "role": self.options.role,
                "hub_id": self.hub_id,
                "store": without_password(str(self.options.store or self.paths.store)),
                "retention": {
                    "max_age_s": self.options.retention.max_age,
                    "max_events": self.options.retention.max_events,
                },
                "idle_exit_s": self.options.idle_exit,
                "rss_bytes": _rss(),
            },
            "sessions": sessions,
            "attachments": [a.describe() for a in sorted(self.attachments, key=lambda a: a.order)],
            "channels": channels,
            "bindings": self._bindings_status(),
            "routes": self._routes_status(),
        }

    def _bindings_status(self) -> list[dict[str, Any]]:
        live = {a.session.key for a in self.attachments}
        return [
            {
                "channel": b.channel,
                "conversation": b.conversation,
                "session": b.session,
                "label": b.label,
                "how": b.how,
                "since": b.since,
                "live": b.session in live,
            }
            for b in sorted(self.routing.bindings.values(), key=lambda b: (b.channel, b.conversation))
        ]

    def _routes_status(self) -> list[dict[str, Any]]:
        return [
            {"channel": r.channel, "prefix": r.prefix, "session": r.session_name}
            for r in sorted(self.routing.routes.values(), key=lambda r: (r.channel, r.prefix))
        ]

    async def http(self, request: HttpRequest) -> HttpResponse:
        """``/healthz`` and ``/metrics`` on the socket. In TCP mode ``/metrics`` (which names the
        channels and counts) needs ``Authorization: Bearer <token>``; ``/healthz`` says only "ok"."""
        token = self.listener.token if self.listener is not None else None
        if token is not None and request.path == "/metrics":
            offered = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(offered.encode(), token.encode()):
                return HttpResponse(401, b"send Authorization: Bearer <the token in hub.token>\n")
        return await self.probe(request)

    async def probe(self, request: HttpRequest) -> HttpResponse:
        """``/healthz`` and ``/metrics`` (the loopback metrics port serves this without a token: the
        user asked for a port a scraper can read)."""
        if request.method not in ("GET", "HEAD"):
            return HttpResponse(405, b"use GET\n")
        if request.path == "/healthz":
            healthy = True
            try:
                await self.store.stats()
            except StoreError:
                healthy = False
            body = {
                "status": "ok" if healthy else "store_unavailable",
                "pid": os.getpid(),
                "sessions": len({a.session.key for a in self.attachments}),
                "channels": {item["name"]: item["state"] for item in (self.host.describe() if self.host else [])},
            }
            return HttpResponse(200 if healthy else 503, json.dumps(body).encode() + b"\n", "application/json")
        if request.path == "/metrics":
            try:
                text = _metrics.render(await self.status())
            except StoreError as exc:
                return HttpResponse(503, f"store unavailable: {exc}\n".encode())
            return HttpResponse(200, text.encode(), "text/plain; version=0.0.4; charset=utf-8")
        return HttpResponse(404, b"not found: try /healthz or /metrics\n")

    def _counters(self, channel: str) -> _Counters:
        counters = self.counters.get(channel)
        if counters is None:
            counters = self.counters[channel] = _Counters()
        return counters

    # ------------------------------------------------------------------ retention and idle exit

    async def _prune_forever(self) -> None:
        while True:
            try:
                for pruned in await self.store.prune():
                    counters = self._counters(pruned.channel)
                    counters.retention_dropped += pruned.dropped
                    counters.retention_undelivered += pruned.undelivered
                    level = logging.WARNING if pruned.undelivered else logging.INFO
                    log.log(
                        level,
                        "retention dropped %d event(s) of %s/%s (%d never delivered)",
                        pruned.dropped,
                        pruned.channel,
                        pruned.conversation,
                        pruned.undelivered,
                    )
                quiet = time.time() - self.options.retention.max_age
                forgotten = await self.routing.forget_bindings(quiet)
                if forgotten:
                    log.info("forgot %d binding(s) of conversations quiet for the retention period", forgotten)
                await self._forget_old_permissions()
            except StoreError as exc:
                log.warning("retention could not run: %s", exc)
            for dispatcher in self.dispatchers.values():
                dispatcher.forget_idle(self.options.prune_interval)
            await asyncio.sleep(self.options.prune_interval)

    def _idle_check(self) -> None:
        if self.options.idle_exit is None or self.attachments or self._idle_timer is not None:
            return
        self._idle_timer = asyncio.get_running_loop().call_later(
            self.options.idle_exit, lambda: self._background.spawn(self._idle_expired(), "idle exit")
        )

    async def _idle_expired(self) -> None:
        self._idle_timer = None
        if self.attachments:
            return
        pending = sum(item.pending for item in await self.store.stats())
        if pending:
            log.info("idle, but %d event(s) wait for a session: staying", pending)
            self._idle_check()
            return
        log.info("no session for %gs and nothing pending: exiting (--idle-exit)", self.options.idle_exit)
        self.stop()


def _required(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise JsonRpcError(_wire.BAD_ROUTE, f"{key} is required")
    return value


def _version() -> str:
    from .. import __version__

    return __version__


def _rss() -> int:
    """Resident memory of this process, in bytes."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    import psutil

    return int(psutil.Process().memory_info().rss)


def configure_hub_logging() -> None:
    """One line per record on stderr (``hub.log`` when detached), with the time: a daemon's log is read later."""
    level = os.environ.get("MCP_CHANNELS_LOG_LEVEL", "info").upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_HubFormatter("%(asctime)s %(source)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level, logging.INFO))


class _HubFormatter(logging.Formatter):
    """Names the part that logged (``hub``, ``telegram channel``); one line per record but tracebacks."""

    def format(self, record: logging.LogRecord) -> str:
        name = record.name.removeprefix("mcp_channels.")
        record.source = "hub" if name in ("hub", "jsonrpc") or "." in name else f"{name} channel"
        text = super().format(record)
        return text if record.levelno >= logging.ERROR else text.replace("\n", " | ")


__all__ = [
    "ChannelHost",
    "Hub",
    "HubOptions",
    "SettingsConflict",
    "configure_hub_logging",
]

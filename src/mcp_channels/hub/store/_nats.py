"""``NatsStore``: the event store on NATS JetStream, so hubs on several machines share events, cursors and bindings.

Layout on the server (``namespace`` defaults to ``channels``; a different one lets several teams or
test runs share a server):

* a stream per channel, ``<namespace>_<channel>``, on the subjects ``<namespace>.<channel>.<token>``,
  where the token is the conversation encoded by :func:`encode_token` (readable for ordinary keys,
  so subject permissions can name a conversation). The stream sequence is the event's ``seq``.
  Events are published with ``Nats-Msg-Id`` = the event id, so JetStream drops a re-publish within
  the stream's duplicate window (``duplicate_window``, default one day, at most ``max_age``).
* retention as stream limits, enforced by the server continuously: ``MaxAge`` = ``max_age``
  (from the server's timestamp of the publish) and ``MaxMsgs`` = ``max_events`` for the whole
  channel, discarding the oldest; a publish past the count drops the channel's oldest event at once.
  Opening a store sets these limits on the streams it uses: hubs sharing a server should agree.
* cursors in the KV bucket ``<namespace>_cursors``, key ``<channel>.<token>``, value the seq,
  advanced by compare-and-set so they only grow. Issue 13 speaks of "a durable consumer per
  session/route"; a KV entry per conversation is that consumer's state without the consumer: it
  survives every hub, is shared by all of them, and is acknowledged explicitly after delivery,
  but it can be set to any seq (a consumer's ack floor moves only over messages delivered through
  it), it moves with a conversation when ``/switch`` rebinds it to another session, and it costs a
  key rather than a server-side consumer (a replicated consumer is a Raft group of its own; a hub
  has as many conversations as chats and threads). Reads go through batched direct gets.
* the hub's key-value namespace in the KV bucket ``<namespace>_kv``.
* ``watch`` is one ordered, headers-only consumer per watched channel, delivering new events only.

Durability: an append returns after JetStream's publish acknowledgement, that is once the server
stored the event; with one server and the default file store that is not yet on disk: the server
syncs every two minutes (``sync_interval``), so an OS crash or power loss of that machine can lose
acknowledged events. Run the server with ``jetstream { sync_interval: always }`` for one server, or
use ``replicas=3`` on a cluster, where an acknowledged event is on a majority of servers.

Connection: ``nats://`` or ``tls://`` URLs (several comma-separated), ``user:password@`` in the URL,
or ``token``, ``user_credentials`` (a ``.creds`` file), ``nkeys_seed`` (a seed file), and
``tls_ca_file``/``tls_cert_file``/``tls_key_file``. The client reconnects forever in the
background; while it is disconnected every call raises :class:`StoreUnavailable` at once.
Needs NATS server 2.11 or newer (batched direct gets) and the ``nats`` extra.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import ssl
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Concatenate, Final, ParamSpec, TypeVar

from ...errors import InvalidInput, StoreError, StoreUnavailable
from ._base import Backlog, Event, EventStore, Pruned, Retention, StoredEvent, ack_past_newest

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription
    from nats.js import JetStreamContext
    from nats.js.kv import KeyValue

log = logging.getLogger("mcp_channels.hub.store")

_NAMESPACE_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_TOKEN_SAFE: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_TOKEN_PART_RE: Final = re.compile(r"=([0-9A-F]{2})|([A-Za-z0-9_-])")
_TOKEN_RE: Final = re.compile(r"^(?:[A-Za-z0-9_-]|=[0-9A-F]{2})+$")
#: Direct gets in flight at once when one call needs many (a backlog over many conversations).
_PARALLEL_GETS: Final = 64

P = ParamSpec("P")
T = TypeVar("T")


def encode_token(text: str) -> str:
    """``text`` as one subject token that is also a KV key fragment: letters, digits, ``-`` and ``_``
    stay, every other UTF-8 byte becomes ``=XX`` (upper-case hex). Injective and prefix-preserving;
    ``text`` must not be empty (an empty token is not a valid subject)."""
    if not text:
        raise InvalidInput("cannot encode an empty string as a subject token")
    return "".join(char if char in _TOKEN_SAFE else "".join(f"={byte:02X}" for byte in char.encode()) for char in text)


def decode_token(token: str) -> str:
    """The inverse of :func:`encode_token`; a token it cannot have produced raises :class:`InvalidInput`."""
    if not _TOKEN_RE.match(token):
        raise InvalidInput(f"{token!r} is not an encoded subject token")
    raw = bytearray()
    for escaped, plain in _TOKEN_PART_RE.findall(token):
        raw += bytes.fromhex(escaped) if escaped else plain.encode()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{token!r} does not encode UTF-8 text") from exc
    if encode_token(text) != token:
        raise InvalidInput(f"{token!r} is not the canonical encoding of {text!r}")
    return text


def _guarded(
    method: Callable[Concatenate[NatsStore, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[NatsStore, P], Coroutine[Any, Any, T]]:
    """Fail fast while disconnected, and turn nats-py's errors into the store's."""

    async def guarded(self: NatsStore, /, *args: P.args, **kwargs: P.kwargs) -> T:
        self._require_connection()
        try:
            return await method(self, *args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:
            raise translate(exc, self._servers) from exc

    return guarded


def translate(exc: Exception, where: str) -> Exception:
    """The store's error for a nats-py error: connection and availability problems are "unavailable"."""
    import nats.errors
    import nats.js.errors

    unavailable = (
        asyncio.TimeoutError,
        OSError,
        nats.errors.NoRespondersError,
        nats.errors.NoServersError,
        nats.errors.StaleConnectionError,
        nats.errors.OutboundBufferLimitError,
        nats.errors.ConnectionClosedError,
        nats.errors.ConnectionReconnectingError,
        nats.errors.ConnectionDrainingError,
        nats.js.errors.NoStreamResponseError,
        nats.js.errors.ServiceUnavailableError,
    )
    if isinstance(exc, unavailable):
        return StoreUnavailable(f"NATS JetStream at {where} is unavailable: {exc!r}")
    if isinstance(exc, nats.errors.Error):
        return StoreError(f"NATS JetStream at {where}: {exc}")
    return exc


class NatsStore(EventStore):
    """The event store on NATS JetStream (the module docstring gives the layout and its promises).

    ``url``: one or several comma-separated ``nats://``/``tls://`` URLs, optionally with
    ``user:password@``. ``token``, ``user_credentials`` (path of a ``.creds`` file), ``nkeys_seed``
    (path of a seed file): the other ways nats-py authenticates. ``tls_ca_file`` trusts a private
    CA; ``tls_cert_file``/``tls_key_file`` present a client certificate; ``tls_hostname`` overrides
    the name checked. ``namespace`` prefixes every stream, subject and bucket. ``replicas``: copies
    of each stream and bucket on a cluster. ``duplicate_window``: how long JetStream remembers
    event ids (capped at ``retention.max_age``). ``timeout``: the limit of each request and of the
    first connection; ``reconnect_wait``: the pause between reconnection attempts.
    """

    shared = True

    def __init__(
        self,
        url: str = "nats://127.0.0.1:4222",
        *,
        retention: Retention | None = None,
        namespace: str = "channels",
        token: str | None = None,
        user_credentials: str | None = None,
        nkeys_seed: str | None = None,
        tls_ca_file: str | None = None,
        tls_cert_file: str | None = None,
        tls_key_file: str | None = None,
        tls_hostname: str | None = None,
        replicas: int = 1,
        duplicate_window: float = 24 * 3600.0,
        timeout: float = 2.0,
        reconnect_wait: float = 1.0,
        name: str = "mcp-channels hub",
    ) -> None:
        super().__init__(retention=retention)
        if not _NAMESPACE_RE.match(namespace):
            raise InvalidInput(f"namespace {namespace!r} must be 1-32 letters, digits, '-' or '_'")
        if tls_key_file and not tls_cert_file:
            raise InvalidInput("tls_key_file needs tls_cert_file")
        self.urls = [part.strip() for part in url.split(",") if part.strip()]
        if not self.urls:
            raise InvalidInput("the NATS store needs a server URL")
        self.namespace = namespace
        self.replicas = replicas
        self.duplicate_window = min(duplicate_window, self.retention.max_age)
        self.timeout = timeout
        self._servers = ", ".join(without_password(url) for url in self.urls)
        self._connect_options: dict[str, Any] = {
            "token": token,
            "user_credentials": user_credentials,
            "nkeys_seed": nkeys_seed,
            "tls_hostname": tls_hostname,
            "reconnect_time_wait": reconnect_wait,
            "name": name,
        }
        self._tls_files = (tls_ca_file, tls_cert_file, tls_key_file)
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._cursors: KeyValue | None = None
        self._kv: KeyValue | None = None
        self._streams: set[str] = set()
        self._watchers: dict[str, tuple[int, Any]] = {}
        self._last_error: Exception | None = None
        self._auth_error: Exception | None = None

    # ------------------------------------------------------------------ for the hub's other NATS traffic

    @property
    def connection(self) -> Client:
        """The open client (the hub's relay and routing feed share it); :class:`StoreUnavailable` when closed."""
        self._require_connection()
        assert self._nc is not None
        return self._nc

    @property
    def kv_bucket(self) -> str:
        """The key-value bucket of ``kv_*`` (its keys are :func:`encode_token` of the store's keys)."""
        return f"{self.namespace}_kv"

    @property
    def servers(self) -> str:
        """The servers' URLs without passwords, for messages."""
        return self._servers

    # ------------------------------------------------------------------ names

    def _stream(self, channel: str) -> str:
        return f"{self.namespace}_{channel}"

    def _subject(self, channel: str, conversation: str | None = None) -> str:
        return f"{self.namespace}.{channel}.{'*' if conversation is None else encode_token(conversation)}"

    def _cursor_key(self, channel: str, conversation: str) -> str:
        return f"{channel}.{encode_token(conversation)}"

    # ------------------------------------------------------------------ lifecycle

    async def _open(self) -> None:
        try:
            from nats.aio.client import Client
        except ImportError as exc:
            raise StoreError("the NATS store needs nats-py: pip install 'mcp-channels[nats]'") from exc
        options = {key: value for key, value in self._connect_options.items() if value is not None}
        tls = self._tls_context()
        if tls is not None:
            options["tls"] = tls
        self._nc = Client()
        try:
            # The client retries forever so that a running hub survives outages; the first
            # connection is bounded by ``timeout`` so that a hub never starts on a dead server.
            await asyncio.wait_for(
                self._nc.connect(
                    self.urls,
                    connect_timeout=math.ceil(self.timeout),  # typed int; the outer wait_for bounds it
                    max_reconnect_attempts=-1,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                    **options,
                ),
                self.timeout,
            )
            self._js = self._nc.jetstream(timeout=self.timeout)
            self._kv = await self._bucket(self.kv_bucket)
            self._cursors = await self._bucket(f"{self.namespace}_cursors")
        except Exception as exc:
            await _quietly(self._nc.close())
            raise self._open_error(exc) from exc

    def _open_error(self, exc: Exception) -> Exception:
        if isinstance(exc, StoreError):
            return exc
        if self._auth_error is not None:
            return StoreError(f"NATS at {self._servers} refused our credentials: {self._auth_error}")
        if isinstance(self._last_error, ssl.SSLError):
            return StoreError(f"TLS with NATS at {self._servers} failed: {self._last_error}")
        if isinstance(exc, asyncio.TimeoutError) and self._last_error is not None:
            return StoreUnavailable(f"cannot connect to NATS at {self._servers}: {self._last_error!r}")
        return translate(exc, self._servers)

    def _tls_context(self) -> ssl.SSLContext | None:
        ca_file, cert_file, key_file = self._tls_files
        if not (ca_file or cert_file or any(url.startswith("tls://") for url in self.urls)):
            return None
        context = ssl.create_default_context(cafile=ca_file)
        if cert_file:
            context.load_cert_chain(cert_file, key_file)
        return context

    async def _bucket(self, bucket: str) -> KeyValue:
        import nats.js.api
        import nats.js.errors

        assert self._js is not None
        try:
            return await self._js.key_value(bucket)
        except nats.js.errors.BucketNotFoundError:
            config = nats.js.api.KeyValueConfig(bucket=bucket, history=1, replicas=self.replicas, direct=True)
            return await self._js.create_key_value(config)

    async def _close(self) -> None:
        for _count, subscription in self._watchers.values():
            await _quietly(subscription.unsubscribe())
        self._watchers.clear()
        if self._nc is not None:
            await self._nc.close()

    async def _on_error(self, exc: Exception) -> None:
        self._last_error = exc
        if "authorization" in str(exc).lower() or "authentication" in str(exc).lower():
            self._auth_error = exc
        log.warning("store: NATS error: %r", exc)

    async def _on_disconnected(self) -> None:
        log.warning("store: disconnected from NATS at %s; reconnecting", self._servers)

    async def _on_reconnected(self) -> None:
        """Catch up the watched channels: appends made while we were away wake their watchers."""
        log.warning("store: reconnected to NATS at %s", self._servers)
        for channel in list(self._watchers):
            try:
                self._signal(channel).advance(await self._newest_seq(channel))
            except Exception as exc:
                log.warning("store: cannot refresh %s after reconnecting: %r", channel, exc)

    def _require_connection(self) -> None:
        if self._nc is None or not self._nc.is_connected:
            raise StoreUnavailable(f"not connected to NATS at {self._servers} (reconnecting)")

    # ------------------------------------------------------------------ streams

    async def _ensure_stream(self, channel: str, *, create: bool) -> bool:
        """Whether the channel's stream exists, creating it (or updating its limits) when ``create``."""
        import nats.js.api
        import nats.js.errors

        name = self._stream(channel)
        if name in self._streams:
            return True
        assert self._js is not None
        config = nats.js.api.StreamConfig(
            name=name,
            subjects=[self._subject(channel)],
            retention=nats.js.api.RetentionPolicy.LIMITS,
            max_msgs=self.retention.max_events,
            max_age=self.retention.max_age,
            discard=nats.js.api.DiscardPolicy.OLD,
            storage=nats.js.api.StorageType.FILE,
            num_replicas=self.replicas,
            duplicate_window=self.duplicate_window,
            allow_direct=True,
        )
        try:
            info = await self._js.stream_info(name)
        except nats.js.errors.NotFoundError:
            if not create:
                return False
            try:
                await self._js.add_stream(config)
            except nats.js.errors.BadRequestError:  # another hub created it meanwhile
                info = await self._js.stream_info(name)
            else:
                self._streams.add(name)
                return True
        current = info.config
        if (current.max_msgs, current.max_age, current.duplicate_window) != (
            config.max_msgs,
            config.max_age,
            config.duplicate_window,
        ):
            await self._js.update_stream(config)
        self._streams.add(name)
        return True

    async def _direct_get(self, stream: str, request: dict[str, Any]) -> list[Msg]:
        """A batched direct get: every message the server sends until its end-of-batch status."""
        nc = self._nc
        assert nc is not None
        inbox = nc.new_inbox()
        subscription: Subscription = await nc.subscribe(inbox)
        try:
            await nc.publish(f"$JS.API.DIRECT.GET.{stream}", json.dumps(request).encode(), reply=inbox)
            messages: list[Msg] = []
            while True:
                message = await subscription.next_msg(timeout=self.timeout)
                status = (message.headers or {}).get("Status")
                if status in ("204", "404"):  # end of batch / nothing matched
                    return messages
                if status == "503":
                    raise StoreUnavailable(f"NATS JetStream at {self._servers} did not answer a read of {stream}")
                if status:
                    description = (message.headers or {}).get("Description", "")
                    raise StoreError(f"NATS JetStream refused a read of {stream}: {status} {description}")
                messages.append(message)
        finally:
            await _quietly(subscription.unsubscribe())

    # ------------------------------------------------------------------ events

    @_guarded
    async def _append(self, events: list[Event]) -> list[StoredEvent]:
        assert self._js is not None
        for channel in {event.channel for event in events}:
            await self._ensure_stream(channel, create=True)
        js = self._js
        acks = await asyncio.gather(
            *(
                js.publish(
                    self._subject(event.channel, event.conversation),
                    _payload(event),
                    stream=self._stream(event.channel),
                    headers={"Nats-Msg-Id": event.id},
                )
                for event in events
            ),
            return_exceptions=True,
        )
        for ack in acks:
            if isinstance(ack, BaseException):
                raise ack
        result = []
        for event, ack in zip(events, acks, strict=True):
            assert not isinstance(ack, BaseException)
            stored = await self._stored_at(event.channel, ack.seq) if ack.duplicate else None
            result.append(stored if stored is not None and stored.id == event.id else StoredEvent.of(event, ack.seq))
        return result

    async def _stored_at(self, channel: str, seq: int) -> StoredEvent | None:
        messages = await self._direct_get(self._stream(channel), {"seq": seq, "batch": 1})
        return _stored(channel, messages[0]) if messages and _seq(messages[0]) == seq else None

    @_guarded
    async def _read(self, channel: str, conversation: str | None, after: int, limit: int) -> list[StoredEvent]:
        if not await self._ensure_stream(channel, create=False):
            return []
        request = {"seq": after + 1, "batch": limit, "next_by_subj": self._subject(channel, conversation)}
        events = [_stored(channel, message) for message in await self._direct_get(self._stream(channel), request)]
        return [event for event in events if event is not None]

    @_guarded
    async def _newest_seq(self, channel: str) -> int:
        import nats.js.errors

        assert self._js is not None
        try:
            info = await self._js.stream_info(self._stream(channel))
        except nats.js.errors.NotFoundError:
            return 0
        return int(info.state.last_seq)

    @_guarded
    async def _watch_start(self, channel: str) -> None:
        import nats.js.api

        count, subscription = self._watchers.get(channel, (0, None))
        if subscription is None:
            await self._ensure_stream(channel, create=True)
            assert self._js is not None
            newest = self._signal(channel)

            async def on_event(message: Msg) -> None:
                newest.advance(message.metadata.sequence.stream)

            subscription = await self._js.subscribe(
                self._subject(channel),
                stream=self._stream(channel),
                cb=on_event,
                ordered_consumer=True,
                headers_only=True,
                idle_heartbeat=1.0,
                deliver_policy=nats.js.api.DeliverPolicy.NEW,
            )
        self._watchers[channel] = (count + 1, subscription)

    async def _watch_stop(self, channel: str) -> None:
        count, subscription = self._watchers.pop(channel, (0, None))
        if count > 1:
            self._watchers[channel] = (count - 1, subscription)
        elif subscription is not None and self._phase == "open":
            await _quietly(subscription.unsubscribe())

    # ------------------------------------------------------------------ cursors

    @_guarded
    async def _cursor(self, channel: str, conversation: str) -> int:
        entry = await self._cursor_entry(self._cursor_key(channel, conversation))
        return entry[0]

    async def _cursor_entry(self, key: str) -> tuple[int, int | None]:
        """``(seq, revision)`` of a cursor key; ``(0, None)`` when there is none."""
        import nats.js.errors

        assert self._cursors is not None
        try:
            entry = await self._cursors.get(key)
        except nats.js.errors.KeyNotFoundError:
            return 0, None
        return int(entry.value or b"0"), entry.revision

    @_guarded
    async def _ack(self, channel: str, conversation: str, seq: int) -> None:
        import nats.js.errors

        if seq > self._signal(channel).value:
            newest = await self._newest_seq(channel)
            self._signal(channel).advance(newest)
            if seq > newest:
                raise ack_past_newest(channel, seq, newest)
        assert self._cursors is not None
        key = self._cursor_key(channel, conversation)
        while True:
            current, revision = await self._cursor_entry(key)
            if seq <= current:
                return
            try:
                if revision is None:
                    await self._cursors.create(key, str(seq).encode())
                else:
                    await self._cursors.update(key, str(seq).encode(), last=revision)
                return
            except nats.js.errors.KeyWrongLastSequenceError:
                continue  # another hub moved it meanwhile: look again

    async def _latest_entries(self, bucket: str, keys: str) -> list[tuple[str, bytes, int]]:
        """``(key, value, revision)`` of every live key of ``bucket`` matching ``keys``, in one request."""
        request = {"multi_last": [f"$KV.{bucket}.{keys}"], "batch": 100_000}
        entries = []
        for message in await self._direct_get(f"KV_{bucket}", request):
            headers = message.headers or {}
            if headers.get("KV-Operation") not in ("DEL", "PURGE"):
                entries.append((headers["Nats-Subject"].split(".", 2)[2], message.data or b"", _seq(message)))
        return entries

    async def _cursor_map(self, channel: str) -> dict[str, tuple[int, int]]:
        """Every live cursor of ``channel``: conversation → ``(seq, revision)``."""
        result = {}
        for key, value, revision in await self._latest_entries(f"{self.namespace}_cursors", f"{channel}.*"):
            conversation = _last_token(key)
            if conversation is not None:
                result[conversation] = (int(value or b"0"), revision)
        return result

    async def _subject_counts(self, channel: str) -> dict[str, int]:
        """Stored events per conversation of ``channel``."""
        assert self._js is not None
        info = await self._js.stream_info(self._stream(channel), subjects_filter=self._subject(channel))
        counts = {_last_token(subject): count for subject, count in (info.state.subjects or {}).items()}
        return {conversation: count for conversation, count in counts.items() if conversation is not None}

    @_guarded
    async def _backlog(self, channel: str) -> list[Backlog]:
        if not await self._ensure_stream(channel, create=False):
            return []
        conversations = await self._subject_counts(channel)
        cursors = await self._cursor_map(channel)
        stream = self._stream(channel)

        async def first_pending(conversation: str) -> Backlog | None:
            cursor = cursors.get(conversation, (0, 0))[0]
            request = {"seq": cursor + 1, "batch": 1, "next_by_subj": self._subject(channel, conversation)}
            messages = await self._direct_get(stream, request)
            if not messages:
                return None
            oldest = _stored(channel, messages[0])
            pending = int((messages[0].headers or {}).get("Nats-Num-Pending", "0")) + 1
            received_at = oldest.received_at if oldest is not None else 0.0
            return Backlog(conversation, pending, _seq(messages[0]), received_at, cursor)

        found = await _bounded_gather([first_pending(conversation) for conversation in conversations])
        return [item for item in found if item is not None]

    @_guarded
    async def _channel_totals(self) -> list[tuple[str, int, int]]:
        assert self._js is not None
        prefix = f"{self.namespace}_"
        result = []
        for info in await self._js.streams_info():
            name = info.config.name or ""
            channel = name[len(prefix) :]
            ours = name.startswith(prefix) and info.config.subjects == [self._subject(channel)]
            if ours and info.state.last_seq:  # a stream only watched so far has stored nothing
                result.append((channel, int(info.state.messages), int(info.state.last_seq)))
        return result

    @_guarded
    async def _prune(self, now: float) -> list[Pruned]:
        """Forget the cursors of conversations the server's limits emptied (compare-and-delete)."""
        assert self._cursors is not None
        for channel, _stored_count, _newest in await self._channel_totals():
            live = await self._subject_counts(channel)
            for conversation, (_seq_value, revision) in (await self._cursor_map(channel)).items():
                if conversation not in live:
                    await _quietly(self._cursors.delete(self._cursor_key(channel, conversation), last=revision))
        return []

    # ------------------------------------------------------------------ key-value

    @_guarded
    async def _kv_get(self, key: str) -> str | None:
        import nats.js.errors

        assert self._kv is not None
        try:
            entry = await self._kv.get(encode_token(key))
        except nats.js.errors.KeyNotFoundError:
            return None
        return (entry.value or b"").decode()

    @_guarded
    async def _kv_put(self, key: str, value: str) -> None:
        assert self._kv is not None
        await self._kv.put(encode_token(key), value.encode())

    @_guarded
    async def _kv_create(self, key: str, value: str) -> str | None:
        import nats.js.errors

        assert self._kv is not None
        while True:
            try:
                await self._kv.create(encode_token(key), value.encode())
                return None
            except nats.js.errors.KeyWrongLastSequenceError:
                existing = await self._kv_get(key)
                if existing is not None:
                    return existing
                # deleted meanwhile: a delete marker is a revision of its own, so create again

    @_guarded
    async def _kv_delete(self, key: str) -> None:
        assert self._kv is not None
        await self._kv.delete(encode_token(key))

    @_guarded
    async def _kv_items(self, prefix: str) -> dict[str, str]:
        result = {}
        for token, value, _revision in await self._latest_entries(f"{self.namespace}_kv", ">"):
            key = _decoded(token)
            if key is not None and key.startswith(prefix):
                result[key] = value.decode()
        return result


def _payload(event: Event) -> bytes:
    """The message body: the event but its channel and seq, which the stream and its sequence give."""
    fields = {
        "id": event.id,
        "conversation": event.conversation,
        "content": event.content,
        "meta": dict(event.meta),
        "received_at": event.received_at,
    }
    return json.dumps(fields, ensure_ascii=False).encode()


def _seq(message: Msg) -> int:
    return int((message.headers or {})["Nats-Sequence"])


def _stored(channel: str, message: Msg) -> StoredEvent | None:
    """The event a stream message carries; ``None`` (and a warning) for a message someone else
    published on our subjects, so that one foreign message cannot block a conversation forever."""
    try:
        fields = json.loads(message.data)
        return StoredEvent(channel=channel, seq=_seq(message), **fields)
    except (ValueError, TypeError, StoreError) as exc:
        log.warning("store: message %s of channel %s is not an event; skipped (%s)", _seq(message), channel, exc)
        return None


def _last_token(subject: str) -> str | None:
    return _decoded(subject.rsplit(".", 1)[-1])


def _decoded(token: str) -> str | None:
    """``token`` decoded; ``None`` (and a warning) for one our encoding never makes (someone else's)."""
    try:
        return decode_token(token)
    except InvalidInput:
        log.warning("store: ignoring %r: not written by this store", token)
        return None


def without_password(url: str) -> str:
    """``url`` with any ``user:password@`` removed, for messages and logs."""
    return re.sub(r"//[^@/]*@", "//", url)


async def _quietly(awaitable: Awaitable[Any]) -> None:
    """Await a clean-up step whose failure changes nothing (the server drops the thing on its own)."""
    try:
        await awaitable
    except Exception as exc:
        log.debug("store: clean-up step failed: %r", exc)


async def _bounded_gather(coroutines: list[Coroutine[Any, Any, T]]) -> list[T]:
    semaphore = asyncio.Semaphore(_PARALLEL_GETS)

    async def one(coroutine: Coroutine[Any, Any, T]) -> T:
        async with semaphore:
            return await coroutine

    return list(await asyncio.gather(*(one(coroutine) for coroutine in coroutines)))

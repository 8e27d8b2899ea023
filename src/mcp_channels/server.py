"""``ChannelServer``: the MCP server side of a channel, so a channel is only its platform code.

A channel author gives a name, instructions and tools, starts adapter tasks that talk to the
platform, and calls :meth:`ChannelServer.push` whenever something happens. This module owns every
protocol duty Claude Code imposes on a channel server:

* it answers Claude Code's ``server/discover`` probe with "method not found" and serves the
  ``initialize`` handshake at 2025-11-25, the only era in which channels are delivered;
* it holds events pushed before the host can have installed its channel handler and sends them,
  in order, one second (:data:`READY_DELAY`) after ``notifications/initialized``: Claude Code
  installs that handler 5-60 ms after the notification, drops whatever it reads before, and says
  nothing when it is done (its ``tools/list`` comes in the same millisecond as the notification,
  so it is no signal);
* it validates what is pushed, so an event Claude Code would drop whole is refused loudly here;
* it bounds the events waiting for the host (held before it is ready, or not yet taken by a host
  that stopped reading stdout) in number and bytes, refusing more (:class:`EventQueueFull`)
  instead of growing without limit, and refuses events once stdout is closed
  (:class:`HostDisconnected`); an event counts as delivered once it is written to the pipe;
* it routes permission requests to the channel and sends its verdicts back;
* it exits cleanly within two seconds of stdin EOF or a signal, and at once, non-zero, with a
  traceback, when an adapter task crashes, instead of lingering as a deaf zombie;
* it keeps stdout for JSON-RPC: file descriptor 1 is pointed at stderr while it serves, so a stray
  ``print`` in adapter code cannot corrupt the wire.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Final, TypeVar

from . import _pipes, _schema
from .errors import (
    ConfigurationError,
    EventQueueFull,
    EventTooLarge,
    HostDisconnected,
    JsonRpcError,
    SchemaError,
    ToolError,
)
from .jsonrpc import INVALID_PARAMS, Peer, encode_message
from .protocol import (
    CAPABILITY_CHANNEL,
    CAPABILITY_PERMISSION,
    INSTRUCTIONS_LIMIT,
    LATEST_PROTOCOL_VERSION,
    MAX_LINE_BYTES,
    METHOD_CHANNEL,
    METHOD_INITIALIZE,
    METHOD_INITIALIZED,
    METHOD_PERMISSION_REQUEST,
    METHOD_PERMISSION_VERDICT,
    METHOD_TOOLS_CALL,
    METHOD_TOOLS_LIST,
    SUPPORTED_PROTOCOL_VERSIONS,
    parse_permission_reply,
    permission_verdict_params,
    validate_meta,
)

#: How long events are held after ``notifications/initialized``, in seconds. Claude Code 2.1.332
#: installs its channel handler 5-60 ms after that notification (later on a loaded machine) and
#: silently drops an event it reads before; a fixed margin well past the worst delay seen is the
#: only safe rule, because nothing on the wire marks the moment.
READY_DELAY: Final = 1.0
#: Overrides :data:`READY_DELAY`, in milliseconds, for a host known to register sooner or later.
READY_DELAY_ENV: Final = "MCP_CHANNELS_READY_DELAY_MS"
#: The largest override accepted; more would look like a hung channel.
READY_DELAY_MAX_MS: Final = 60_000
#: Budget for adapter tasks to stop after stdin EOF or a signal (the whole exit stays under 2 s).
SHUTDOWN_GRACE: Final = 1.5
#: Default bounds of the outgoing queue (events not yet written to the host's pipe). Far above a
#: burst a host that reads keeps up with; a host that stops reading costs at most ~64 MiB.
DEFAULT_QUEUE_EVENTS: Final = 10_000
DEFAULT_QUEUE_BYTES: Final = 64 * 1024 * 1024

ToolHandler = Callable[..., Awaitable[Any]]
PermissionHandler = Callable[["PermissionRequest"], Awaitable[None]]
AdapterTask = Callable[[], Awaitable[None]]
F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("mcp_channels.server")


@dataclass(frozen=True)
class QueueLimits:
    """Bounds of the events waiting to be written to the host, held or buffered."""

    events: int = DEFAULT_QUEUE_EVENTS
    bytes: int = DEFAULT_QUEUE_BYTES

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> QueueLimits:
        """``MCP_CHANNELS_QUEUE_EVENTS`` and ``MCP_CHANNELS_QUEUE_BYTES``, or the defaults."""
        env = os.environ if environ is None else environ
        return cls(
            _positive_setting(env, "MCP_CHANNELS_QUEUE_EVENTS", DEFAULT_QUEUE_EVENTS),
            _positive_setting(env, "MCP_CHANNELS_QUEUE_BYTES", DEFAULT_QUEUE_BYTES),
        )


def _positive_setting(environ: Mapping[str, str], key: str, default: int) -> int:
    raw = environ.get(key, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigurationError(f"{key}={raw!r} is not a positive whole number")
    return int(raw)


@dataclass
class ToolResult:
    """A tool answer with more than plain text (several parts, images, an explicit error flag)."""

    content: list[dict[str, Any]]
    is_error: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"content": self.content, "isError": self.is_error}


@dataclass
class Tool:
    """A tool the model can call; ``handler`` gets the validated arguments as keywords."""

    name: str
    description: str
    input_schema: dict[str, Any]
    handler: ToolHandler

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "inputSchema": self.input_schema}


@dataclass(frozen=True)
class PermissionRequest:
    """Claude Code is asking the user to approve a tool call (``permission_request`` params)."""

    request_id: str
    tool_name: str
    description: str
    input_preview: str
    extra: Mapping[str, Any] = field(default_factory=dict)


class ChannelServer:
    """A channel's MCP server on stdio.

    >>> channel = ChannelServer("alerts", instructions="Alerts arrive as <channel source=...>.")
    >>> @channel.task
    ... async def watch() -> None:
    ...     await channel.push("disk almost full", host="db1")
    >>> channel.run()  # doctest: +SKIP
    """

    def __init__(
        self,
        name: str,
        *,
        instructions: str = "",
        version: str | None = None,
        logger: logging.Logger | None = None,
        queue_limits: QueueLimits | None = None,
    ) -> None:
        from . import __version__

        self.name = name
        self.instructions = instructions
        self.version = version or __version__
        self.log = logger or logging.getLogger(f"mcp_channels.{name}")
        self._tools: dict[str, Tool] = {}
        self._tasks: list[AdapterTask] = []
        self._permission_handler: PermissionHandler | None = None
        self._peer: Peer | None = None
        self._writer: _pipes.StdoutWriter | None = None
        self._held: collections.deque[tuple[bytes, asyncio.Future[None]]] = collections.deque()
        self.queue_limits = queue_limits or QueueLimits.from_environ()
        self._queued_events = 0  # held, or handed to the writer and not yet in the pipe
        self._queued_bytes = 0
        self._room_waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._ready = False
        self._initialized = False
        self._ready_timer: asyncio.TimerHandle | None = None
        self._stop: asyncio.Event | None = None
        self._crash: BaseException | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self.delivered = 0
        if len(instructions) > INSTRUCTIONS_LIMIT:
            self.log.warning(
                "instructions are %d characters; Claude Code keeps only the first %d",
                len(instructions),
                INSTRUCTIONS_LIMIT,
            )

    # ------------------------------------------------------------------ declaring

    def tool(self, *, description: str, input_schema: dict[str, Any], name: str | None = None) -> Callable[[F], F]:
        """Register an ``async def`` as a tool; keyword arguments arrive validated."""

        def register(handler: F) -> F:
            self.add_tool(Tool(name or handler.__name__, description, input_schema, handler))
            return handler

        return register

    def add_tool(self, tool: Tool) -> None:
        if tool.name in self._tools:
            raise ValueError(f"tool {tool.name!r} is already registered")
        self._tools[tool.name] = tool

    def task(self, function: F) -> F:
        """Register an adapter coroutine to run beside the stdio loop for the server's lifetime.

        If it raises, the server logs the traceback and exits non-zero at once: a channel that
        silently lost its platform connection is worse than one that visibly died.
        """
        self._tasks.append(function)
        return function

    def on_permission_request(self, handler: PermissionHandler) -> PermissionHandler:
        """Handle permission requests; registering one declares ``claude/channel/permission``.

        Declaring it asserts the channel authenticates whoever answers, so only register a
        handler in a channel that only relays prompts to, and takes answers from, trusted people.
        """
        self._permission_handler = handler
        return handler

    @property
    def relays_permissions(self) -> bool:
        return self._permission_handler is not None

    @property
    def ready(self) -> bool:
        """Whether the host has had time to install its channel handler."""
        return self._ready

    @property
    def held(self) -> int:
        """Events waiting for the host to become ready."""
        return len(self._held)

    @property
    def queued(self) -> tuple[int, int]:
        """Events, and their bytes, not yet written to the host's pipe (held ones included)."""
        return self._queued_events, self._queued_bytes

    @property
    def host_connected(self) -> bool:
        """Whether stdout is still open (``False`` once the host has closed its end)."""
        return self._writer is None or self._writer.error is None

    # ------------------------------------------------------------------ pushing events

    def enqueue(self, content: str, **meta: Any) -> asyncio.Future[None]:
        """Queue an event for Claude and return at once.

        The future completes when the event has been written to the host's pipe, so an adapter
        that must not acknowledge its platform before delivery (Telegram offsets) can await it.
        Raises ``TypeError``/``ValueError`` for content or meta Claude Code would drop,
        :class:`EventQueueFull` when the outgoing queue is at its bound, and
        :class:`HostDisconnected` once stdout is closed; nothing is queued then.
        """
        line = self._event_line(content, meta)
        self._check_room()
        return self._queue(line)

    async def push(self, content: str, **meta: Any) -> None:
        """Send an event to Claude, waiting until it has been written to the host's pipe.

        When the outgoing queue is full, waits for room first (in arrival order) rather than
        raising :class:`EventQueueFull`, so an adapter that awaits each push slows down to the
        host's pace. Raises :class:`HostDisconnected` once stdout is closed.
        """
        line = self._event_line(content, meta)
        await self._wait_for_room()
        done = self._queue(line)
        self._wake_room_waiter()  # room may remain for the next waiter
        await done

    def _event_line(self, content: str, meta: dict[str, Any]) -> bytes:
        if not isinstance(content, str):
            raise TypeError(f"content must be a string, not {type(content).__name__}")
        line = encode_message(_notification({"content": content, "meta": validate_meta(meta)}))
        if len(line) > MAX_LINE_BYTES:
            raise EventTooLarge(f"event is larger than Claude Code's {MAX_LINE_BYTES}-byte line limit")
        return line

    def _queue(self, line: bytes) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued_events += 1
        self._queued_bytes += len(line)
        if self._ready and not self._held and self._peer is not None:
            self._write_event(line, done)
        else:
            self._held.append((line, done))
        return done

    def _write_event(self, line: bytes, done: asyncio.Future[None]) -> None:
        assert self._writer is not None
        self._writer.write(line, functools.partial(self._event_written, len(line), done))

    def _event_written(self, size: int, done: asyncio.Future[None], error: BaseException | None) -> None:
        self._queued_events -= 1
        self._queued_bytes -= size
        if error is None:
            self.delivered += 1
            if not done.done():
                done.set_result(None)
        else:
            _fail(done, HostDisconnected(f"stdout closed before the event was written: {error}"))
        self._wake_room_waiter()

    # ------------------------------------------------------------------ the queue's bound

    def _queue_is_full(self) -> bool:
        limits = self.queue_limits
        return self._queued_events >= limits.events or self._queued_bytes >= limits.bytes

    def _check_room(self) -> None:
        if not self.host_connected:
            raise HostDisconnected("stdout is closed: the host has gone away")
        if self._queue_is_full():
            raise EventQueueFull(
                f"{self._queued_events} events ({self._queued_bytes} bytes) are waiting for the host "
                f"to read them (bounds: {self.queue_limits.events} events, {self.queue_limits.bytes} bytes)"
            )

    async def _wait_for_room(self) -> None:
        """Return when the queue has room and no earlier push is still waiting for it."""
        woken = False  # once woken, a push keeps its place at the head of the line
        while self._room_waiters or self._queue_is_full():
            if not self.host_connected:
                break
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            if woken:
                self._room_waiters.appendleft(waiter)
            else:
                self._room_waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter in self._room_waiters:
                    self._room_waiters.remove(waiter)
                else:
                    self._wake_room_waiter()  # woken but leaving: the room goes to the next one
                raise
            if not self._queue_is_full():
                break
            woken = True
        if not self.host_connected:
            raise HostDisconnected("stdout is closed: the host has gone away")

    def _wake_room_waiter(self) -> None:
        if self._room_waiters and not self._queue_is_full():
            waiter = self._room_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    def _stdout_closed(self, error: BaseException) -> None:
        """The host closed stdout: fail what is held and whoever waits for room."""
        level = logging.WARNING if self._held else logging.INFO  # at a normal exit, nothing is lost
        self.log.log(
            level,
            "stdout is closed (%s): the host has gone away; %d held event(s) will not be delivered",
            error,
            len(self._held),
        )
        gone = HostDisconnected(f"stdout is closed: {error}")
        while self._held:
            line, done = self._held.popleft()
            self._queued_events -= 1
            self._queued_bytes -= len(line)
            _fail(done, gone)
        while self._room_waiters:
            _fail(self._room_waiters.popleft(), gone)

    def _become_ready(self) -> None:
        self._ready = True
        if self._held:
            self.log.debug("host ready: sending %d held event(s)", len(self._held))
        while self._held:
            self._write_event(*self._held.popleft())

    # ------------------------------------------------------------------ permission relay

    def send_permission_verdict(self, request_id: str, allow: bool) -> None:
        """Tell Claude Code the user's answer to a permission request."""
        if self._peer is None:
            raise RuntimeError("the server is not connected")
        self._peer.notify(METHOD_PERMISSION_VERDICT, permission_verdict_params(request_id, allow))

    def take_permission_reply(self, text: str) -> tuple[str, bool] | None:
        """If ``text`` is a ``yes abcde`` / ``no abcde`` answer, send the verdict and return it.

        A message this returns non-``None`` for is a verdict and must not be pushed as chat.
        Only call it for messages from people allowed to approve tool use.
        """
        verdict = parse_permission_reply(text)
        if verdict is not None:
            self.send_permission_verdict(*verdict)
        return verdict

    # ------------------------------------------------------------------ protocol handlers

    async def _on_request(self, method: str, params: Any) -> Any:
        if method == METHOD_INITIALIZE:
            return self._initialize_result(params)
        if method == METHOD_TOOLS_LIST:
            return {"tools": [tool.to_json() for tool in self._tools.values()]}
        if method == METHOD_TOOLS_CALL:
            return await self._call_tool(params)
        raise JsonRpcError(-32601, f"Method not found: {method}")

    def _initialize_result(self, params: Any) -> dict[str, Any]:
        requested = params.get("protocolVersion") if isinstance(params, dict) else None
        version = requested if requested in SUPPORTED_PROTOCOL_VERSIONS else LATEST_PROTOCOL_VERSION
        experimental: dict[str, Any] = {CAPABILITY_CHANNEL: {}}
        if self.relays_permissions:
            experimental[CAPABILITY_PERMISSION] = {}
        result: dict[str, Any] = {
            "protocolVersion": version,
            "capabilities": {"experimental": experimental, "tools": {}},
            "serverInfo": {"name": self.name, "version": self.version},
        }
        if self.instructions:
            result["instructions"] = self.instructions
        return result

    def _on_notification(self, method: str, params: Any) -> None:
        if method == METHOD_INITIALIZED:
            self._initialized = True
            if self._ready_timer is None:
                delay = _ready_delay(os.environ, self.log)
                self._ready_timer = asyncio.get_running_loop().call_later(delay, self._become_ready)
        elif method == METHOD_PERMISSION_REQUEST:
            self._take_permission_request(params)
        else:
            self.log.debug("ignored notification %s", method)

    def _take_permission_request(self, params: Any) -> None:
        handler = self._permission_handler
        if handler is None:
            self.log.debug("permission request ignored: this channel does not relay permissions")
            return
        if not isinstance(params, dict) or not all(
            isinstance(params.get(k), str) for k in ("request_id", "tool_name", "description", "input_preview")
        ):
            self.log.warning("malformed permission request ignored")
            return
        known = ("request_id", "tool_name", "description", "input_preview")
        request = PermissionRequest(
            request_id=params["request_id"],
            tool_name=params["tool_name"],
            description=params["description"],
            input_preview=params["input_preview"],
            extra={k: v for k, v in params.items() if k not in known},
        )
        self._spawn(handler(request), f"permission request {request.request_id}")

    async def _call_tool(self, params: Any) -> dict[str, Any]:
        if not isinstance(params, dict) or not isinstance(params.get("name"), str):
            raise JsonRpcError(INVALID_PARAMS, "tools/call needs a tool name")
        name = params["name"]
        tool = self._tools.get(name)
        if tool is None:
            return _error_result(f"unknown tool: {name}")
        arguments = params.get("arguments") or {}
        try:
            _schema.validate(arguments, {"type": "object", **tool.input_schema})
        except SchemaError as exc:
            return _error_result(f"{name} failed: invalid arguments: {exc}")
        declared = tool.input_schema.get("properties", {})
        kwargs = {k: v for k, v in arguments.items() if k in declared and v is not None}
        try:
            result = await tool.handler(**kwargs)
        except ToolError as exc:
            return _error_result(f"{name} failed: {exc}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.log.error("tool %s crashed:\n%s", name, traceback.format_exc().rstrip())
            return _error_result(f"{name} failed: {exc}")
        if isinstance(result, ToolResult):
            return result.to_json()
        return {"content": [{"type": "text", "text": str(result)}]}

    # ------------------------------------------------------------------ running

    def _spawn(self, coroutine: Awaitable[Any], what: str) -> None:
        async def guarded() -> None:
            try:
                await coroutine
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.error("%s failed:\n%s", what, traceback.format_exc().rstrip())

        task = asyncio.get_running_loop().create_task(guarded())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def stop(self) -> None:
        """Ask the server to shut down (as stdin EOF or SIGTERM would)."""
        if self._stop is not None:
            self._stop.set()

    async def serve(self, *, install_signal_handlers: bool = True, protect_stdout: bool = True) -> int:
        """Serve on stdin/stdout until EOF, a signal or an adapter crash; return the exit status."""
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        stream = claim_stdout() if protect_stdout else None
        self._writer = _pipes.open_stdout_writer(stream, self._stdout_closed)
        peer = Peer(self._writer, on_request=self._on_request, on_notification=self._on_notification, logger=self.log)
        self._peer = peer
        reader = await _pipes.read_stdin(peer.feed, peer.feed_eof)
        if install_signal_handlers:
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.add_signal_handler(signum, self._stop.set)
        tasks = [loop.create_task(self._run_adapter(fn), name=getattr(fn, "__name__", "adapter")) for fn in self._tasks]
        closed = loop.create_task(peer.closed.wait())
        stopping = loop.create_task(self._stop.wait())
        await asyncio.wait([closed, stopping], return_when=asyncio.FIRST_COMPLETED)
        closed.cancel()
        stopping.cancel()
        status = 0
        if self._crash is not None:
            status = 1
        elif peer.closed.is_set():
            self.log.info("shutting down (stdin closed)")
        else:
            self.log.info("shutting down")
        started = time.monotonic()
        peer.cancel_serving()
        for task in (*tasks, *self._background):
            task.cancel()
        pending = [t for t in (*tasks, *self._background) if not t.done()]
        if pending:
            _, late = await asyncio.wait(pending, timeout=0.3 if status else SHUTDOWN_GRACE)
            if late:
                self.log.warning("%d task(s) did not stop within the grace period", len(late))
        if self._held:
            self.log.warning("%d event(s) were never delivered: the host was not ready", len(self._held))
            for _, done in self._held:
                _fail(done, ConnectionError("server shut down before the host was ready"))
            self._held.clear()
        if reader is not None:
            reader.close()
        if install_signal_handlers:
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(signum)
        self.log.debug("stopped in %.0f ms", (time.monotonic() - started) * 1000)
        return status

    async def _run_adapter(self, function: AdapterTask) -> None:
        try:
            await function()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self._crash = exc
            name = getattr(function, "__name__", "adapter task")
            if isinstance(exc, ConfigurationError):
                self.log.critical("%s", exc)
            else:
                self.log.critical("%s crashed; exiting:\n%s", name, traceback.format_exc().rstrip())
            if self._stop is not None:
                self._stop.set()

    def run(self) -> None:
        """Serve until done, then exit the process with the right status (never returns).

        The exit is immediate once serving ends so that a platform library's non-daemon thread
        cannot keep a finished server alive past Claude Code's patience.
        """
        configure_logging(self.name)
        try:
            status = asyncio.run(self.serve())
        except KeyboardInterrupt:
            status = 0
        except Exception:
            self.log.critical("server failed:\n%s", traceback.format_exc().rstrip())
            status = 1
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os._exit(status)


def _ready_delay(environ: Mapping[str, str], log: logging.Logger) -> float:
    """Seconds to hold events after ``notifications/initialized``: :data:`READY_DELAY`, or the
    ``MCP_CHANNELS_READY_DELAY_MS`` override when it is a number of milliseconds in range."""
    raw = environ.get(READY_DELAY_ENV, "").strip()
    if not raw:
        return READY_DELAY
    try:
        milliseconds = float(raw)
    except ValueError:
        milliseconds = -1.0
    if not 0 <= milliseconds <= READY_DELAY_MAX_MS:
        log.warning(
            "%s=%r is not a number of milliseconds from 0 to %d; holding events %d ms",
            READY_DELAY_ENV,
            raw,
            READY_DELAY_MAX_MS,
            READY_DELAY * 1000,
        )
        return READY_DELAY
    return milliseconds / 1000


def _fail(done: asyncio.Future[None], error: BaseException) -> None:
    """Fail a delivery future that its adapter may have dropped (the webhook does).

    Marked as retrieved, so a dropped one does not log "exception was never retrieved"; an
    adapter awaiting it still gets the exception.
    """
    if not done.done():
        done.set_exception(error)
        done.exception()


def _notification(params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": METHOD_CHANNEL, "params": params}


def _error_result(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": True}


_protocol_stream: BinaryIO | None = None


def claim_stdout() -> BinaryIO:
    """Keep the real stdout for the protocol and point fd 1 (and ``sys.stdout``) at stderr.

    Called as early as possible (``mcp-channels serve`` does it before importing a channel and its
    platform library), so nothing printed at import time can reach the wire. Idempotent.
    """
    global _protocol_stream
    if _protocol_stream is None:
        protocol_fd = os.dup(1)
        os.dup2(2, 1)
        sys.stdout.flush()  # whatever was printed but still buffered now goes to stderr, not the wire
        sys.stdout = sys.stderr
        _protocol_stream = os.fdopen(protocol_fd, "wb", buffering=0)
    return _protocol_stream


def configure_logging(channel: str) -> None:
    """One line per record on stderr, prefixed with the channel name, as the official servers do.

    ``MCP_CHANNELS_LOG_LEVEL`` (``debug``, ``info``, ``warning``) sets the level.
    """
    level = os.environ.get("MCP_CHANNELS_LOG_LEVEL", "info").upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLineFormatter(f"{channel} channel: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level, logging.INFO))


class _OneLineFormatter(logging.Formatter):
    """Tracebacks stay multi-line (they are for people); everything else is one line."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno < logging.ERROR:
            text = text.replace("\n", " | ")
        return text


__all__ = [
    "ChannelServer",
    "ConfigurationError",
    "EventQueueFull",
    "EventTooLarge",
    "HostDisconnected",
    "PermissionRequest",
    "QueueLimits",
    "Tool",
    "ToolError",
    "ToolResult",
    "configure_logging",
]

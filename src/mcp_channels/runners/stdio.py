"""The stdio runner: a channel as the MCP server Claude Code spawns, on stdin and stdout.

``mcp-channels serve <channel>`` and :meth:`Channel.run <mcp_channels.channel.Channel.run>` host a
channel with :class:`StdioRunner`, which owns every duty Claude Code imposes on a channel server:

* it answers Claude Code's ``server/discover`` probe with "method not found" and serves the
  ``initialize`` handshake at 2025-11-25, the only era in which channels are delivered;
* it holds events pushed before the host can have installed its channel handler and sends them,
  in order, one second (:data:`READY_DELAY`) after ``notifications/initialized``: Claude Code
  installs that handler 5-60 ms after the notification, drops whatever it reads before, and says
  nothing when it is done (its ``tools/list`` comes in the same millisecond as the notification,
  so it is no signal);
* it bounds the events waiting for the host (held before it is ready, or not yet taken by a host
  that stopped reading stdout) in number and bytes (:class:`~mcp_channels.runners.QueueLimits`),
  and refuses events once stdout is closed; an event counts as delivered once it is in the pipe;
* it routes permission requests to the channel and sends its verdicts back;
* it asks whether its session delivers the channel's events (``delivery.py``: the Claude Code
  process that spawned it, and that process's channel flags), off the start-up path: the
  ``initialize`` answer never waits for it. A session that does not (Claude Code runs every
  configured server in every session, also one started without a channel flag, and drops what it
  pushes) gets the tools alone: only the tasks that support them start, nothing of the platform's
  inbound side is taken (no port, poller, gateway or database watch, which the session that does
  deliver needs), events are refused, permission requests ignored, and one line on stderr says
  so. A session that does, or one it cannot tell about, gets everything, as always;
* it exits cleanly within two seconds of stdin EOF or a signal, and at once, non-zero, with a
  traceback, when a task crashes, instead of lingering as a deaf zombie;
* it keeps stdout for JSON-RPC: file descriptor 1 is pointed at stderr while it serves, so a stray
  ``print`` in channel code cannot corrupt the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Final, NoReturn

from .. import _pipes
from ..channel import Channel, PermissionRequest, Task
from ..errors import ConfigurationError, HostDisconnected, JsonRpcError
from ..jsonrpc import INVALID_PARAMS, Peer
from ..protocol import (
    CAPABILITY_CHANNEL,
    CAPABILITY_PERMISSION,
    LATEST_PROTOCOL_VERSION,
    METHOD_INITIALIZE,
    METHOD_INITIALIZED,
    METHOD_PERMISSION_REQUEST,
    METHOD_PERMISSION_VERDICT,
    METHOD_TOOLS_CALL,
    METHOD_TOOLS_LIST,
    SUPPORTED_PROTOCOL_VERSIONS,
    permission_verdict_params,
)
from ..sink import ChannelEvent, DeliveryStatus
from ._queue import OutgoingQueue, QueueLimits
from ._tasks import Background, start_tasks

if TYPE_CHECKING:
    from ..delivery import Delivery

#: How long events are held after ``notifications/initialized``, in seconds. Claude Code 2.1.332
#: installs its channel handler 5-60 ms after that notification (later on a loaded machine) and
#: silently drops an event it reads before; a fixed margin well past the worst delay seen is the
#: only safe rule, because nothing on the wire marks the moment.
READY_DELAY: Final = 1.0
#: Overrides :data:`READY_DELAY`, in milliseconds, for a host known to register sooner or later.
READY_DELAY_ENV: Final = "MCP_CHANNELS_READY_DELAY_MS"
#: The largest override accepted; more would look like a hung channel.
READY_DELAY_MAX_MS: Final = 60_000
#: Budget for tasks to stop after stdin EOF or a signal (the whole exit stays under 2 s).
SHUTDOWN_GRACE: Final = 1.5
_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class StdioRunner:
    """Hosts one channel on this process's stdin and stdout; it is the channel's :class:`~mcp_channels.sink.EventSink`.

    ``queue_limits`` default to ``MCP_CHANNELS_QUEUE_EVENTS`` / ``MCP_CHANNELS_QUEUE_BYTES``; a
    bad value raises :class:`~mcp_channels.errors.ConfigurationError` here.
    """

    def __init__(self, channel: Channel, *, queue_limits: QueueLimits | None = None) -> None:
        self.channel = channel
        self.log = channel.log
        self._writer: _pipes.StdoutWriter | None = None
        self._peer: Peer | None = None
        self._queue = OutgoingQueue(
            queue_limits or QueueLimits.from_environ(), self._write, self._host_connected, transport="stdout"
        )
        self._ready_timer: asyncio.TimerHandle | None = None
        self._stop: asyncio.Event | None = None
        self._crash: BaseException | None = None
        self._background = Background(self.log)
        #: Whether the session delivers, once asked (``None`` until then); tool calls wait for it.
        self.delivery: Delivery | None = None
        self._decided = asyncio.Event()

    # ------------------------------------------------------------------ the sink

    def enqueue(self, event: ChannelEvent) -> asyncio.Future[None]:
        return self._queue.enqueue(event)

    async def push(self, event: ChannelEvent) -> None:
        await self._queue.push(event)

    def send_permission_verdict(self, request_id: str, allow: bool) -> None:
        if self._peer is None:
            raise RuntimeError("the server is not connected")
        self._peer.notify(METHOD_PERMISSION_VERDICT, permission_verdict_params(request_id, allow))

    def status(self) -> DeliveryStatus:
        return self._queue.status()

    def _write(self, event: ChannelEvent, delivered: _pipes.WriteCallback) -> None:
        assert self._writer is not None
        self._writer.write(event.line, delivered)

    def _host_connected(self) -> bool:
        return self._writer is None or self._writer.error is None

    def _stdout_closed(self, error: BaseException) -> None:
        """The host closed stdout: fail what is held and whoever waits for room."""
        held = self._queue.held
        level = logging.WARNING if held else logging.INFO  # at a normal exit, nothing is lost
        self.log.log(
            level, "stdout is closed (%s): the host has gone away; %d held event(s) will not be delivered", error, held
        )
        self._queue.host_gone(error)

    def _become_ready(self) -> None:
        if self._queue.held:
            self.log.debug("host ready: sending %d held event(s)", self._queue.held)
        self._queue.become_ready()

    # ------------------------------------------------------------------ protocol handlers

    async def _on_request(self, method: str, params: Any) -> Any:
        if method == METHOD_INITIALIZE:
            return self._initialize_result(params)
        if method == METHOD_TOOLS_LIST:
            return {"tools": [tool.to_json() for tool in self.channel.tools]}
        if method == METHOD_TOOLS_CALL:
            if not isinstance(params, dict) or not isinstance(params.get("name"), str):
                raise JsonRpcError(INVALID_PARAMS, "tools/call needs a tool name")
            await self._decided.wait()  # a tool may answer differently in a session that does not deliver
            return await self.channel.call_tool(params["name"], params.get("arguments"))
        raise JsonRpcError(-32601, f"Method not found: {method}")

    def _initialize_result(self, params: Any) -> dict[str, Any]:
        channel = self.channel
        requested = params.get("protocolVersion") if isinstance(params, dict) else None
        version = requested if requested in SUPPORTED_PROTOCOL_VERSIONS else LATEST_PROTOCOL_VERSION
        experimental: dict[str, Any] = {CAPABILITY_CHANNEL: {}}
        if channel.relays_permissions:
            experimental[CAPABILITY_PERMISSION] = {}
        result: dict[str, Any] = {
            "protocolVersion": version,
            "capabilities": {"experimental": experimental, "tools": {}},
            "serverInfo": {"name": channel.name, "version": channel.version},
        }
        if channel.instructions:
            result["instructions"] = channel.instructions
        return result

    def _on_notification(self, method: str, params: Any) -> None:
        if method == METHOD_INITIALIZED:
            if self._ready_timer is None:
                delay = _ready_delay(os.environ, self.log)
                self._ready_timer = asyncio.get_running_loop().call_later(delay, self._become_ready)
        elif method == METHOD_PERMISSION_REQUEST:
            self._take_permission_request(params)
        else:
            self.log.debug("ignored notification %s", method)

    def _take_permission_request(self, params: Any) -> None:
        if not self.channel.relays_permissions:
            self.log.debug("permission request ignored: this channel does not relay permissions")
            return
        request = PermissionRequest.from_params(params)
        if request is None:
            self.log.warning("malformed permission request ignored")
            return
        self._background.spawn(self._relay_permission(request), f"permission request {request.request_id}")

    async def _relay_permission(self, request: PermissionRequest) -> None:
        await self._decided.wait()  # and so after the inbound tasks have started, when they do
        if self.delivery is not None and not self.delivery.delivers:
            # Claude Code sends none to a server it did not register: an answer could not come back here.
            self.log.info(
                "permission request %s ignored: this session does not deliver this channel", request.request_id
            )
            return
        await self.channel.relay_permission(request)

    # ------------------------------------------------------------------ running

    def stop(self) -> None:
        """Ask the runner to shut down (as stdin EOF or SIGTERM would)."""
        if self._stop is not None:
            self._stop.set()

    async def serve(self, *, install_signal_handlers: bool = True, protect_stdout: bool = True) -> int:
        """Serve on stdin/stdout until EOF, a signal or a task crash; return the exit status."""
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        stream = claim_stdout() if protect_stdout else None
        self._writer = _pipes.open_stdout_writer(stream, self._stdout_closed)
        peer = Peer(self._writer, on_request=self._on_request, on_notification=self._on_notification, logger=self.log)
        self._peer = peer
        self.channel.attach(self)
        reader = await _pipes.read_stdin(peer.feed, peer.feed_eof)
        if install_signal_handlers:
            for signum in _SIGNALS:
                loop.add_signal_handler(signum, self._stop.set)
        tasks = start_tasks(self.channel, self._task_crashed, inbound=False)
        deciding = loop.create_task(self._start_inbound_if_delivering(tasks), name="session delivery")
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
        deciding.cancel()
        for task in (*tasks, *self._background.tasks):
            task.cancel()
        pending = [t for t in (deciding, *tasks, *self._background.tasks) if not t.done()]
        if pending:
            _, late = await asyncio.wait(pending, timeout=0.3 if status else SHUTDOWN_GRACE)
            if late:
                self.log.warning("%d task(s) did not stop within the grace period", len(late))
        never = self._queue.drop_held(HostDisconnected("server shut down before the host was ready"))
        if never:
            self.log.warning("%d event(s) were never delivered: the host was not ready", never)
        if reader is not None:
            reader.close()
        if install_signal_handlers:
            for signum in _SIGNALS:
                loop.remove_signal_handler(signum)
        self.channel.detach(self)
        self.log.debug("stopped in %.0f ms", (time.monotonic() - started) * 1000)
        return status

    async def _start_inbound_if_delivering(self, tasks: list[asyncio.Task[None]]) -> None:
        """Ask whether the session delivers; start the inbound tasks (into ``tasks``) unless it does not."""
        await asyncio.sleep(0)  # the initialize answer goes out before the process table is read
        delivery, hint = await asyncio.to_thread(_session_delivery, self.channel.name)
        self.delivery = delivery
        self._queue.session_decided(delivery.delivers, delivery.reason)
        if not delivery.delivers:
            self.log.info(
                "not enabled as a channel in this session: %s; tools only, receiving nothing%s",
                delivery.reason,
                f" ({hint})" if hint else "",
            )
        else:
            if delivery.state == "unknown":
                self.log.info(
                    "cannot tell whether this session delivers (%s): receiving, as a channel", delivery.reason
                )
            else:
                self.log.debug("this session delivers: %s", delivery.reason)
            tasks.extend(start_tasks(self.channel, self._task_crashed, tool_support=False))
        self._decided.set()

    def _task_crashed(self, task: Task, error: BaseException) -> None:
        """A task raised: log it (a user-fixable one without a traceback) and stop, exit status 1."""
        self._crash = error
        if isinstance(error, ConfigurationError):
            self.log.critical("%s", error)
        else:
            self.log.critical("%s crashed; exiting:\n%s", task.name, traceback.format_exc().rstrip())
        if self._stop is not None:
            self._stop.set()

    def run(self) -> NoReturn:
        """Serve until done, then exit the process with the right status (never returns).

        The exit is immediate once serving ends so that a platform library's non-daemon thread
        cannot keep a finished server alive past Claude Code's patience.
        """
        configure_logging(self.channel.name)
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


def _session_delivery(channel: str) -> tuple[Delivery, str]:
    """Whether the session that spawned this process delivers ``channel``'s events, and a hint for
    the log when the server may have the wrong name (in a thread: it imports psutil and reads the
    process table, a few to tens of milliseconds)."""
    from ..delivery import detect_delivery, identify_server, name_hint

    identity = identify_server(channel)
    delivery = detect_delivery(identity)
    return delivery, name_hint(identity, delivery)


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


__all__ = ["READY_DELAY", "StdioRunner", "claim_stdout", "configure_logging"]

"""The host: Claude Code's side of channels, for trying a channel by hand and for testing it.

It connects every configured server as Claude Code would, runs Claude Code's gate on each, shows
each event exactly as the model would see it, relays permission prompts (first answer wins), and
takes commands to call tools, from a person at a terminal or from a script.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import shlex
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from .. import _pipes
from ..enablement import ChannelEntry, Decision, ManagedSettings
from ..errors import ConnectionClosed, InvalidChannelEvent, JsonRpcError, UsageError
from ..protocol import (
    METHOD_CHANNEL,
    METHOD_PERMISSION_REQUEST,
    METHOD_PERMISSION_VERDICT,
    is_valid_meta_key,
    parse_channel_params,
    parse_permission_reply,
    render_channel_tag,
)
from .config import ServerSpec
from .connection import ServerConnection
from .gate import decide
from .relay import PendingPermission, PermissionRelay
from .report import Reporter

#: How long after ``notifications/initialized`` Claude Code installs its channel handler, in
#: seconds: 5-40 ms on an idle machine, up to 60 ms on a loaded one. Unless told a fixed delay, the
#: host draws one from this range per server, so a server that sends too early loses events here
#: as it would there.
REGISTRATION_DELAY_RANGE: Final = (0.005, 0.060)

HELP = """commands:
  /call <server> <tool> [json arguments]     call a tool on a server
  /permission <tool> <description> [json]   raise a permission request on every relay-capable channel
  y <id> | n <id>                            answer a permission request (bare y/n when one is pending)
  /servers                                   list servers and how the gate decided
  /tools [server]                            list tools
  /wait-events <n> [seconds]                 wait until n events have arrived in total (for scripts)
  /quit                                      stop the host and its servers"""


@dataclass
class HostOptions:
    specs: list[ServerSpec]
    entries: list[ChannelEntry]
    settings: ManagedSettings = field(default_factory=ManagedSettings)
    json_mode: bool = False
    script: Path | None = None
    keep_running: bool = False
    read_stdin: bool = True
    #: Seconds from ``notifications/initialized`` to registration; None draws a realistic one.
    registration_delay: float | None = None


class Host:
    def __init__(self, options: HostOptions, reporter: Reporter | None = None) -> None:
        self.options = options
        self.report = reporter or Reporter(json_mode=options.json_mode)
        self.connections: dict[str, ServerConnection] = {}
        self.decisions: dict[str, Decision] = {}
        self._registers_at: dict[str, float] = {}  # loop time at which each channel handler exists
        self.failed: set[str] = set()
        self.relay = PermissionRelay()
        self.events = 0
        self._events_changed = asyncio.Condition()
        self._stop = asyncio.Event()

    # ------------------------------------------------------------------ servers

    async def connect_all(self) -> None:
        await asyncio.gather(*(self._connect(spec) for spec in self.options.specs))
        registered = [name for name, d in self.decisions.items() if d.registered]
        self.report.emit("ready", f"host ready: {len(registered)} channel(s) registered", registered=registered)

    async def _connect(self, spec: ServerSpec) -> None:
        connection = ServerConnection(spec, self._on_notification, self._on_stderr)
        self.connections[spec.name] = connection
        try:
            await connection.start()
            await connection.initialize()
            # Claude Code sends tools/list with notifications/initialized and installs its channel
            # handler a few ms later; an event it reads before then is lost there, and here.
            loop = asyncio.get_running_loop()
            registers_at = (connection.initialized_at or loop.time()) + self._registration_delay()
            decision = decide(
                spec.name,
                capabilities=connection.capabilities,
                modern_era=connection.modern_era,
                plugin=spec.plugin,
                entries=self.options.entries,
                settings=self.options.settings,
            )
            self.decisions[spec.name] = decision
            self._registers_at[spec.name] = registers_at
            await asyncio.gather(connection.list_tools(), asyncio.sleep(registers_at - loop.time()))
        except (ConnectionError, ConnectionClosed, JsonRpcError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            self.failed.add(spec.name)
            self.decisions[spec.name] = Decision(False, f"failed to connect: {reason}")
            self.report.emit(
                "server",
                f"✗ {spec.name}: failed to connect: {reason}",
                server=spec.name,
                status="failed",
                reason=reason,
            )
            return
        tools = [t.get("name") for t in connection.tools]
        relay = decision.registered and connection.relays_permissions
        status = "registered" if decision.registered else "skipped"
        mark = "✓" if decision.registered else "–"
        extra = f" (tools: {', '.join(map(str, tools)) or 'none'}{'; permission relay' if relay else ''})"
        self.report.emit(
            "server",
            f"{mark} {spec.name}: {decision.reason}{extra if decision.registered else ''}",
            server=spec.name,
            status=status,
            reason=decision.reason,
            tools=tools,
            permission_relay=relay,
            instructions=connection.instructions,
        )
        self._watch_exit(connection)

    def _watch_exit(self, connection: ServerConnection) -> None:
        async def watch() -> None:
            await connection.exited.wait()
            if not self._stop.is_set():
                code = connection.returncode
                self.report.emit(
                    "server_exited",
                    f"! {connection.name} exited with status {code}",
                    server=connection.name,
                    returncode=code,
                )

        asyncio.get_running_loop().create_task(watch())

    def _registration_delay(self) -> float:
        if self.options.registration_delay is not None:
            return self.options.registration_delay
        return random.uniform(*REGISTRATION_DELAY_RANGE)

    def _registered(self, name: str) -> bool:
        decision = self.decisions.get(name)
        return decision is not None and decision.registered

    def _on_stderr(self, connection: ServerConnection, line: str) -> None:
        self.report.server_log(connection.name, line)

    def _on_notification(self, connection: ServerConnection, method: str, params: Any) -> None:
        if method == METHOD_CHANNEL:
            self._on_event(connection, params)
        elif method == METHOD_PERMISSION_VERDICT:
            self._on_verdict(connection, params)

    def _on_event(self, connection: ServerConnection, params: Any) -> None:
        name = connection.name
        registers_at = self._registers_at.get(name)
        if registers_at is None or asyncio.get_running_loop().time() < registers_at:
            self.report.emit(
                "event_lost",
                f"! {name}: event arrived before the channel was registered (Claude Code loses it)",
                server=name,
            )
            return
        if not self._registered(name):
            self.report.emit("event_ignored", f"– {name}: event ignored: {self.decisions[name].reason}", server=name)
            return
        try:
            content, meta = parse_channel_params(params)
        except InvalidChannelEvent as exc:
            self.report.emit("event_dropped", f"! {name}: event dropped: {exc}", server=name, reason=str(exc))
            return
        dropped = [k for k in meta if not is_valid_meta_key(k)]
        if dropped:
            self.report.emit(
                "meta_dropped", f"! {name}: meta keys dropped: {', '.join(dropped)}", server=name, keys=dropped
            )
        rendered = render_channel_tag(name, content, meta)
        self.events += 1
        self.report.emit("event", rendered, server=name, content=content, meta=meta, rendered=rendered)
        asyncio.get_running_loop().create_task(self._notify_event_waiters())

    async def _notify_event_waiters(self) -> None:
        async with self._events_changed:
            self._events_changed.notify_all()

    def _on_verdict(self, connection: ServerConnection, params: Any) -> None:
        name = connection.name
        if not (self._registered(name) and connection.relays_permissions):
            self.report.emit(
                "verdict_ignored", f"– {name}: verdict ignored (not a registered relay channel)", server=name
            )
            return
        request_id = params.get("request_id") if isinstance(params, dict) else None
        behavior = params.get("behavior") if isinstance(params, dict) else None
        self._resolve(request_id, behavior, f"channel {name}")

    # ------------------------------------------------------------------ permission relay

    def open_permission(self, tool_name: str, description: str, tool_input: Any) -> PendingPermission:
        request = self.relay.open(tool_name, description, tool_input)
        targets = [
            c
            for n, c in self.connections.items()
            if self._registered(n) and c.relays_permissions and not c.peer.closed.is_set()
        ]
        for connection in targets:
            connection.notify(METHOD_PERMISSION_REQUEST, request.params())
        names = [c.name for c in targets]
        self.report.emit(
            "permission_request",
            f"🔐 {request.request_id}: {tool_name}: {request.description}\n   input: {request.input_preview}\n"
            f"   sent to: {', '.join(names) or 'no channel'}; answer with y {request.request_id} / n {request.request_id}",
            **request.params(),
            sent_to=names,
        )
        return request

    def _resolve(self, request_id: Any, behavior: Any, by: str) -> None:
        request = self.relay.answer(request_id, behavior, by)
        if request is None:
            self.report.emit(
                "permission_stale",
                f"  {by}: {behavior} {request_id}: no pending entry — stale or unknown ID",
                request_id=request_id,
                behavior=behavior,
                by=by,
            )
            return
        verb = "allowed" if behavior == "allow" else "denied"
        self.report.emit(
            "permission_resolved",
            f"{'✓' if behavior == 'allow' else '✗'} {request.request_id} {verb} via {by}",
            request_id=request.request_id,
            behavior=behavior,
            by=by,
        )

    # ------------------------------------------------------------------ commands

    async def execute(self, line: str) -> None:
        """Run one console command."""
        text = line.strip()
        if not text or text.startswith("#"):
            return
        verdict = parse_permission_reply(text)
        if verdict is not None:
            self._resolve(verdict[0], "allow" if verdict[1] else "deny", "console")
            return
        if text.lower() in ("y", "yes", "n", "no"):
            only = self.relay.only_pending()
            if only is None:
                self.report.problem(
                    "say which request: y <id> / n <id>" if self.relay.pending else "no permission request is pending"
                )
                return
            self._resolve(only.request_id, "allow" if text.lower().startswith("y") else "deny", "console")
            return
        command, _, rest = text.partition(" ")
        handler = {
            "/call": self._cmd_call,
            "/permission": self._cmd_permission,
            "/servers": self._cmd_servers,
            "/tools": self._cmd_tools,
            "/wait-events": self._cmd_wait_events,
            "/help": self._cmd_help,
            "/quit": self._cmd_quit,
        }.get(command)
        if handler is None:
            self.report.problem(f"unknown command {command!r}; /help lists them")
            return
        try:
            await handler(rest.strip())
        except UsageError as exc:
            self.report.problem(str(exc))

    async def _cmd_call(self, rest: str) -> None:
        parts = rest.split(None, 2)
        if len(parts) < 2:
            raise UsageError("usage: /call <server> <tool> [json arguments]")
        server, tool = parts[0], parts[1]
        arguments = _parse_json_object(parts[2] if len(parts) > 2 else "{}")
        connection = self.connections.get(server)
        if connection is None:
            raise UsageError(f"no server named {server!r}")
        try:
            result = await connection.call_tool(tool, arguments)
        except (JsonRpcError, ConnectionClosed, TimeoutError) as exc:
            self.report.emit("tool_error", f"✗ {server} {tool}: {exc}", server=server, tool=tool, error=str(exc))
            return
        texts = [
            c.get("text", "")
            for c in (result or {}).get("content", [])
            if isinstance(c, dict) and c.get("type") == "text"
        ]
        is_error = bool((result or {}).get("isError"))
        self.report.emit(
            "tool_result",
            f"{'✗' if is_error else '→'} {server} {tool}: {' '.join(texts)}",
            server=server,
            tool=tool,
            is_error=is_error,
            text="\n".join(texts),
            result=result,
        )

    async def _cmd_permission(self, rest: str) -> None:
        if not rest:
            raise UsageError("usage: /permission <tool_name> <description> [json input]")
        tool_name, _, remainder = rest.partition(" ")
        brace = remainder.find("{")
        if brace >= 0:
            description, raw_input = remainder[:brace].strip(), remainder[brace:]
        else:
            description, raw_input = remainder.strip(), "{}"
        with contextlib.suppress(ValueError):
            words = shlex.split(description)
            if len(words) == 1:
                description = words[0]
        self.open_permission(tool_name, description, _parse_json_object(raw_input))

    async def _cmd_servers(self, rest: str) -> None:
        for name, connection in self.connections.items():
            decision = self.decisions.get(name)
            status = "registered" if decision and decision.registered else "not registered"
            reason = decision.reason if decision else "connecting"
            self.report.emit(
                "server_status",
                f"{name}: {status}: {reason}",
                server=name,
                status=status,
                reason=reason,
                pid=connection.pid,
            )

    async def _cmd_tools(self, rest: str) -> None:
        names = [rest] if rest else list(self.connections)
        for name in names:
            connection = self.connections.get(name)
            if connection is None:
                raise UsageError(f"no server named {name!r}")
            for tool in connection.tools:
                self.report.emit(
                    "tool", f"{name} {tool.get('name')}: {tool.get('description', '')[:100]}", server=name, tool=tool
                )

    async def _cmd_wait_events(self, rest: str) -> None:
        words = rest.split()
        try:
            wanted = int(words[0])
            timeout = float(words[1]) if len(words) > 1 else 30.0
        except (IndexError, ValueError):
            raise UsageError("usage: /wait-events <n> [seconds]") from None
        try:
            async with asyncio.timeout(timeout):
                async with self._events_changed:
                    await self._events_changed.wait_for(lambda: self.events >= wanted)
        except TimeoutError:
            self.report.problem(f"only {self.events} of {wanted} events arrived within {timeout:g} s")

    async def _cmd_help(self, rest: str) -> None:
        self.report.emit("help", HELP, text=HELP)

    async def _cmd_quit(self, rest: str) -> None:
        self._stop.set()

    # ------------------------------------------------------------------ running

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, self._stop.set)
        try:
            await self.connect_all()
            if self.failed == set(self.connections):
                self.report.problem("no server could be started; nothing to do")
                return 1
            commands = loop.create_task(self._read_commands())
            stop = loop.create_task(self._stop.wait())
            await asyncio.wait([commands, stop], return_when=asyncio.FIRST_COMPLETED)
            commands.cancel()
            stop.cancel()
        finally:
            self._stop.set()
            await asyncio.gather(*(c.close() for c in self.connections.values()), return_exceptions=True)
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(signum)
        return 0

    async def _read_commands(self) -> None:
        if self.options.script is not None:
            for line in self.options.script.read_text(encoding="utf-8").splitlines():
                await self.execute(line)
                if self._stop.is_set():
                    return
        if self.options.read_stdin:
            lines: asyncio.Queue[str | None] = asyncio.Queue()
            splitter = _LineSplitter(lines)
            reader = await _pipes.read_stdin(splitter.feed, splitter.eof)
            try:
                while (command := await lines.get()) is not None:
                    await self.execute(command)
                    if self._stop.is_set():
                        return
            finally:
                if reader is not None:
                    reader.close()
        if self.options.keep_running:
            await self._stop.wait()


def _parse_json_object(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError("arguments must be a JSON object")
    return value


class _LineSplitter:
    def __init__(self, queue: asyncio.Queue[str | None]) -> None:
        self._queue = queue
        self._buffer = b""
        self._done = False

    def feed(self, data: bytes) -> None:
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            self._queue.put_nowait(line.decode("utf-8", errors="replace"))

    def eof(self) -> None:
        if self._done:
            return
        self._done = True
        if self._buffer:
            self._queue.put_nowait(self._buffer.decode("utf-8", errors="replace"))
        self._queue.put_nowait(None)


__all__ = [
    "HELP",
    "REGISTRATION_DELAY_RANGE",
    "Host",
    "HostOptions",
]

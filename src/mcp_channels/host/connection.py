"""One spawned server, connected the way Claude Code connects: probe, handshake, tool list.

Claude Code 2.1.332 first sends a ``server/discover`` probe for the 2026-07-28 era (3 s timeout).
A channel server must refuse it (-32601) or ignore it; the host then runs the ``initialize``
handshake at 2025-11-25, and sends ``notifications/initialized`` and ``tools/list`` in the same
millisecond. A server that accepts the probe lands in the "modern" era, where channels are
refused; this host records that so the gate can say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import uuid
from collections.abc import Callable
from typing import Any

from .. import __version__
from .._pipes import PipeSink
from ..errors import ConnectionClosed, JsonRpcError
from ..jsonrpc import Peer
from ..protocol import (
    DISCOVER_PROBE_ID,
    LATEST_PROTOCOL_VERSION,
    METHOD_DISCOVER,
    METHOD_INITIALIZE,
    METHOD_INITIALIZED,
    METHOD_TOOLS_CALL,
    METHOD_TOOLS_LIST,
    MODERN_PROTOCOL_VERSION,
)
from .config import ServerSpec
from .gate import js_truthy

PROBE_TIMEOUT = 3.0
HANDSHAKE_TIMEOUT = 30.0
#: The host session id handed to servers, as Claude Code does with CLAUDE_CODE_SESSION_ID.
SESSION_ID = str(uuid.uuid4())

NotificationCallback = Callable[["ServerConnection", str, Any], None]
StderrCallback = Callable[["ServerConnection", str], None]

log = logging.getLogger("mcp_channels.host")


class _ChildProtocol(asyncio.SubprocessProtocol):
    def __init__(self, connection: ServerConnection) -> None:
        self._connection = connection
        self._stderr = bytearray()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd == 1:
            self._connection.peer.feed(data)
        else:
            self._stderr += data
            while (end := self._stderr.find(b"\n")) >= 0:
                line = self._stderr[:end].decode("utf-8", errors="replace")
                del self._stderr[: end + 1]
                self._connection.on_stderr(self._connection, line)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:
            self._connection.peer.feed_eof("server closed its stdout")
        elif fd == 0:
            self._connection.sink.lost()

    def process_exited(self) -> None:
        self._connection.exited.set()

    def pause_writing(self) -> None:
        self._connection.sink.pause_writing()

    def resume_writing(self) -> None:
        self._connection.sink.resume_writing()


class ServerConnection:
    """A child MCP server over stdio, from the client's side."""

    def __init__(self, spec: ServerSpec, on_notification: NotificationCallback, on_stderr: StderrCallback) -> None:
        self.spec = spec
        self.name = spec.name
        self.on_stderr = on_stderr
        self.sink = PipeSink()
        self.peer = Peer(
            self.sink,
            on_notification=lambda method, params: on_notification(self, method, params),
            on_request=self._on_request,
            logger=log,
            close_on_oversize=True,  # as Claude Code: a line over 16 MiB drops the connection
        )
        self.exited = asyncio.Event()
        self.transport: asyncio.SubprocessTransport | None = None
        self.capabilities: dict[str, Any] = {}
        self.server_info: dict[str, Any] = {}
        self.instructions = ""
        self.protocol_version: str | None = None
        self.modern_era = False
        self.tools: list[dict[str, Any]] = []
        self.initialized_at: float | None = None

    async def _on_request(self, method: str, params: Any) -> Any:
        # Claude Code offers the server nothing (no sampling, roots or elicitation) in this role.
        raise JsonRpcError(-32601, f"Method not found: {method}")

    @property
    def pid(self) -> int | None:
        return self.transport.get_pid() if self.transport else None

    @property
    def returncode(self) -> int | None:
        return self.transport.get_returncode() if self.transport else None

    @property
    def relays_permissions(self) -> bool:
        experimental = self.capabilities.get("experimental")
        return isinstance(experimental, dict) and js_truthy(experimental.get("claude/channel/permission"))

    async def start(self) -> None:
        """Spawn the server with Claude Code's environment additions."""
        env = dict(os.environ)
        env.update(self.spec.env)
        env.setdefault("CLAUDECODE", "1")
        env.setdefault("CLAUDE_CODE_ENTRYPOINT", "cli")
        env.setdefault("CLAUDE_CODE_SESSION_ID", SESSION_ID)
        env.setdefault("CLAUDE_PROJECT_DIR", os.getcwd())
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.subprocess_exec(
                lambda: _ChildProtocol(self),
                self.spec.command,
                *self.spec.args,
                env=env,
                cwd=self.spec.cwd,
                start_new_session=True,
            )
        except OSError as exc:
            raise ConnectionError(f"cannot start {self.spec.command!r}: {exc.strerror or exc}") from None
        self.transport = transport
        self.sink.transport = transport.get_pipe_transport(0)  # type: ignore[assignment]

    async def initialize(self) -> None:
        """Probe, then ``initialize`` and ``notifications/initialized``, as Claude Code does.

        :attr:`initialized_at` is taken just before the notification is written, so no reply to
        it can be stamped earlier: the registration race is timed from there.
        """
        self.modern_era = await self._probe()
        if self.modern_era:
            return
        result = await self.peer.request(
            METHOD_INITIALIZE,
            {
                "protocolVersion": LATEST_PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "mcp-channels-host", "version": __version__},
            },
            timeout=HANDSHAKE_TIMEOUT,
        )
        if not isinstance(result, dict):
            raise ConnectionError("initialize returned no result object")
        self.protocol_version = result.get("protocolVersion")
        self.capabilities = result.get("capabilities") or {}
        self.server_info = result.get("serverInfo") or {}
        self.instructions = result.get("instructions") or ""
        self.initialized_at = asyncio.get_running_loop().time()
        self.peer.notify(METHOD_INITIALIZED)

    async def list_tools(self) -> None:
        """Fetch the tool list (Claude Code's first request, sent with ``notifications/initialized``)."""
        if self.modern_era or "tools" not in self.capabilities:
            return
        listed = await self.peer.request(METHOD_TOOLS_LIST, {}, timeout=HANDSHAKE_TIMEOUT)
        self.tools = list(listed.get("tools", [])) if isinstance(listed, dict) else []

    async def _probe(self) -> bool:
        """Send the ``server/discover`` probe; True when the server chose the modern era."""
        try:
            result = await self.peer.request(
                METHOD_DISCOVER,
                {
                    "_meta": {
                        "io.modelcontextprotocol/protocolVersion": MODERN_PROTOCOL_VERSION,
                        "io.modelcontextprotocol/clientCapabilities": {},
                        "io.modelcontextprotocol/clientInfo": {"name": "mcp-channels-host", "version": __version__},
                    }
                },
                timeout=PROBE_TIMEOUT,
                request_id=DISCOVER_PROBE_ID,
            )
        except (JsonRpcError, TimeoutError):
            return False
        versions = result.get("supportedVersions", []) if isinstance(result, dict) else []
        modern = MODERN_PROTOCOL_VERSION in versions or (
            isinstance(result, dict) and result.get("protocolVersion") == MODERN_PROTOCOL_VERSION
        )
        if modern and isinstance(result, dict):
            self.capabilities = result.get("capabilities") or {}
            self.protocol_version = MODERN_PROTOCOL_VERSION
        return modern

    async def call_tool(self, tool: str, arguments: dict[str, Any], timeout: float | None = 120.0) -> Any:
        return await self.peer.request(METHOD_TOOLS_CALL, {"name": tool, "arguments": arguments}, timeout=timeout)

    def notify(self, method: str, params: Any) -> None:
        self.peer.notify(method, params)

    async def close(self, grace: float = 2.0) -> None:
        """Close stdin (Claude Code's shutdown signal), then SIGTERM, then SIGKILL the group."""
        if self.transport is None:
            return
        stdin = self.transport.get_pipe_transport(0)
        if stdin is not None:
            stdin.close()
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None and self.returncode is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.transport.get_pid(), sig)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    await self.exited.wait()
            if self.exited.is_set():
                break
        self.transport.close()
        self.peer.feed_eof("closed by host")


__all__ = ["ConnectionClosed", "ServerConnection"]

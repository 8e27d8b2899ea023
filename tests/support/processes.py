"""Test helpers: real processes, real pipes, real sockets on 127.0.0.1.

``HostProcess`` runs ``mcp-channels host --json`` as a subprocess and reads its JSON lines;
``RawServer`` speaks JSON-RPC to a channel server directly when a test needs the wire itself.
Everything waits on events with timeouts; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PYTHON = sys.executable
DEFAULT_TIMEOUT = 15.0


@dataclass
class Finished:
    """A command that has run: its exit status and what it printed."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_command(channel: str) -> list[str]:
    return [PYTHON, "-m", "mcp_channels", "serve", channel]


def write_mcp_config(directory: Path, servers: dict[str, dict[str, Any]]) -> Path:
    """An MCP config file of ``servers``; each entry's ``env`` names its key, unless it says otherwise.

    A server finds itself in the session's channel flags by name, and an entry's key is not always
    its channel's name (the sample channels are all ``sample``): a user's entry says it with
    ``MCP_CHANNELS_SERVER_NAME`` (or ``serve --name``), and so do the tests' entries.
    """
    named = {
        key: {**entry, "env": {"MCP_CHANNELS_SERVER_NAME": key, **entry.get("env", {})}}
        for key, entry in servers.items()
    }
    path = directory / "mcp.json"
    path.write_text(json.dumps({"mcpServers": named}))
    return path


def channel_config(
    channel: str, env: dict[str, str] | None = None, name: str | None = None
) -> dict[str, dict[str, Any]]:
    """An MCP config entry that runs one of our channels with this interpreter."""
    command = server_command(channel)
    return {name or channel: {"command": command[0], "args": command[1:], "env": env or {}}}


class HostProcess:
    """``mcp-channels host --json`` in a subprocess; its stdout is parsed into a message list."""

    def __init__(self, args: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        self.args = list(args)
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.proc: asyncio.subprocess.Process | None = None
        self.messages: list[dict[str, Any]] = []
        self.stderr_lines: list[str] = []
        self._changed = asyncio.Condition()
        self._readers: list[asyncio.Task[None]] = []

    async def start(self) -> HostProcess:
        self.proc = await asyncio.create_subprocess_exec(
            PYTHON, "-m", "mcp_channels", "host", "--json", *self.args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=self.env, cwd=self.cwd, start_new_session=True, limit=1 << 26,
        )  # fmt: skip
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            asyncio.create_task(self._read_stdout(self.proc.stdout)),
            asyncio.create_task(self._read_stderr(self.proc.stderr)),
        ]
        return self

    async def _read_stdout(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            message = json.loads(line)
            async with self._changed:
                self.messages.append(message)
                self._changed.notify_all()

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            async with self._changed:
                self.stderr_lines.append(line.decode(errors="replace").rstrip("\n"))
                self._changed.notify_all()

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], *, timeout: float = DEFAULT_TIMEOUT, start: int = 0
    ) -> dict[str, Any]:
        """The first message (from index ``start``) matching ``predicate``."""
        async with asyncio.timeout(timeout), self._changed:
            while True:
                for message in self.messages[start:]:
                    if predicate(message):
                        return message
                await self._changed.wait()

    async def wait_type(
        self, kind: str, *, timeout: float = DEFAULT_TIMEOUT, start: int = 0, **fields: Any
    ) -> dict[str, Any]:
        return await self.wait_for(
            lambda m: m.get("type") == kind and all(m.get(k) == v for k, v in fields.items()),
            timeout=timeout,
            start=start,
        )

    async def wait_stderr(self, needle: str, *, timeout: float = DEFAULT_TIMEOUT) -> str:
        async with asyncio.timeout(timeout), self._changed:
            while True:
                for line in self.stderr_lines:
                    if needle in line:
                        return line
                await self._changed.wait()

    async def wait_count(
        self, kind: str | tuple[str, ...], count: int, *, timeout: float = DEFAULT_TIMEOUT
    ) -> list[dict[str, Any]]:
        """All messages of ``kind`` (or of any of several kinds), once there are ``count`` or more."""
        kinds = (kind,) if isinstance(kind, str) else kind
        async with asyncio.timeout(timeout), self._changed:
            while True:
                found = [m for m in self.messages if m.get("type") in kinds]
                if len(found) >= count:
                    return found
                await self._changed.wait()

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]

    async def command(self, line: str) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()

    async def call(
        self, server: str, tool: str, arguments: dict[str, Any], *, timeout: float = DEFAULT_TIMEOUT
    ) -> dict[str, Any]:
        """Call a tool through the host and return its ``tool_result`` (or ``tool_error``) message."""
        start = len(self.messages)
        await self.command(f"/call {server} {tool} {json.dumps(arguments)}")
        return await self.wait_for(
            lambda m: (
                m.get("type") in ("tool_result", "tool_error") and m.get("tool") == tool and m.get("server") == server
            ),
            timeout=timeout,
            start=start,
        )

    async def stop(self, timeout: float = 10.0) -> int | None:
        """Close the command stream (the host then stops its servers), escalating if needed."""
        proc = self.proc
        if proc is None:
            return None
        if proc.returncode is None:
            with contextlib.suppress(Exception):
                assert proc.stdin is not None
                proc.stdin.close()
            try:
                async with asyncio.timeout(timeout):
                    await proc.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        for reader in self._readers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(reader, 5)
        return proc.returncode


#: The environment of a server a test spawns itself: the test is its host, and it delivers. A
#: server otherwise looks for a Claude Code session among its parents, and a suite run from a
#: Claude Code session's shell would find that one. A test of the detection says ``auto``.
DIRECT_SPAWN_ENV = {"MCP_CHANNELS_DELIVERY": "deliver"}


class RawServer:
    """A channel server spawned directly, driven with hand-written JSON-RPC lines (see :data:`DIRECT_SPAWN_ENV`)."""

    def __init__(self, channel: str, env: dict[str, str] | None = None, argv: Sequence[str] | None = None) -> None:
        self.argv = list(argv) if argv is not None else server_command(channel)
        self.env = {**os.environ, **DIRECT_SPAWN_ENV, **(env or {})}
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[bytes] = []
        self.stderr = bytearray()
        self._changed = asyncio.Condition()
        self._next_id = 0
        self._readers: list[asyncio.Task[None]] = []

    async def start(self) -> RawServer:
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=self.env, start_new_session=True, limit=1 << 26,
        )  # fmt: skip
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            asyncio.create_task(self._read(self.proc.stdout)),
            asyncio.create_task(self._read_err(self.proc.stderr)),
        ]
        return self

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            async with self._changed:
                self.lines.append(line)
                self._changed.notify_all()

    async def _read_err(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            async with self._changed:
                self.stderr += chunk
                self._changed.notify_all()

    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]

    async def send(self, message: dict[str, Any] | bytes) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        data = message if isinstance(message, bytes) else json.dumps(message).encode() + b"\n"
        self.proc.stdin.write(data)
        await self.proc.stdin.drain()

    async def request(
        self, method: str, params: Any = None, *, request_id: Any = None, timeout: float = DEFAULT_TIMEOUT
    ) -> dict[str, Any]:
        if request_id is None:
            self._next_id += 1
            request_id = self._next_id
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        await self.send(message)
        return await self.wait_for(lambda m: m.get("id") == request_id and "method" not in m, timeout=timeout)

    async def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        await self.send(message)

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], *, timeout: float = DEFAULT_TIMEOUT, start: int = 0
    ) -> dict[str, Any]:
        async with asyncio.timeout(timeout), self._changed:
            while True:
                for line in self.lines[start:]:
                    message = json.loads(line)
                    if predicate(message):
                        return message
                await self._changed.wait()

    async def wait_stderr(self, needle: str, *, timeout: float = DEFAULT_TIMEOUT, count: int = 1) -> None:
        """Wait until ``needle`` has been written to stderr ``count`` times."""
        async with asyncio.timeout(timeout), self._changed:
            while self.stderr.count(needle.encode()) < count:
                await self._changed.wait()

    async def handshake(self, version: str = "2025-11-25") -> dict[str, Any]:
        response = await self.request(
            "initialize",
            {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}},
        )
        await self.notify("notifications/initialized")
        return response

    async def close_stdin(self) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.close()

    async def wait_exit(self, timeout: float = DEFAULT_TIMEOUT) -> int:
        assert self.proc is not None
        async with asyncio.timeout(timeout):
            code = await self.proc.wait()
        for reader in self._readers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(reader, 5)
        return code

    async def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(Exception):
                assert proc.stdin is not None
                proc.stdin.close()
            try:
                async with asyncio.timeout(5):
                    await proc.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        for reader in self._readers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(reader, 5)


async def http_request(
    port: int,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request on a fresh connection to 127.0.0.1 (no client library in the way)."""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            head = {
                "Host": f"127.0.0.1:{port}",
                "Content-Length": str(len(body)),
                "Connection": "close",
                **(headers or {}),
            }
            request = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items()) + "\r\n"
            writer.write(request.encode() + body)
            await writer.drain()
            raw = await reader.read()
        finally:
            writer.close()
    header_blob, _, payload = raw.partition(b"\r\n\r\n")
    lines = header_blob.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    response_headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        response_headers[key.strip().lower()] = value.strip()
    return status, response_headers, payload

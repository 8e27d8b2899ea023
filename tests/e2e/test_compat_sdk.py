"""Wire compatibility with MCP clients we did not write.

Our server speaks MCP through its own JSON-RPC core, so passing our own host's tests could hide a
shared misreading of the protocol. Here two independent implementations connect to the webhook
channel over real stdio, as Claude Code would: the official Python SDK's ``ClientSession`` and the
TypeScript SDK's ``Client`` (Claude Code's own stack, run by ``tests/node/client.mjs``). Each
probes ``server/discover`` (must be -32601), initializes, lists and calls a tool, and receives the
channel notification for a real HTTP POST.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TextIO

import mcp
import pytest
from mcp.client.extension import NotificationBinding
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel

from support import REPO
from support.processes import free_port, http_request, server_command

CHANNEL_METHOD = "notifications/claude/channel"
STEP_TIMEOUT = 10.0
NODE_CLIENT = REPO / "tests" / "node" / "client.mjs"
NODE_SDK = REPO / "tests" / "node" / "node_modules" / "@modelcontextprotocol" / "sdk"

pytestmark = pytest.mark.timeout(30)


def webhook_env(port: int, state: Path) -> dict[str, str]:
    # The state dir is private to the test so a developer's own WEBHOOK_SECRET cannot interfere.
    # Both SDKs pass a server only a few variables of their own environment, so the suite's
    # MCP_CHANNELS_HUB=off (conftest) must be given here: these tests are of the standalone server.
    return {"WEBHOOK_PORT": str(port), "WEBHOOK_STATE_DIR": str(state), "MCP_CHANNELS_HUB": "off"}


async def post_event(port: int) -> bytes:
    """POST one event and return its body; the server must accept it (202)."""
    body = json.dumps({"action": "completed", "conclusion": "failure"}).encode()
    status, _, answer = await http_request(
        port, "POST", "/compat/ci?run=9", body,
        {"Content-Type": "application/json", "X-GitHub-Event": "check_run", "X-GitHub-Delivery": "compat-1"},
    )  # fmt: skip
    assert status == 202, answer
    return body


EXPECTED_META = {
    "path": "/compat/ci",
    "method": "POST",
    "query": "run=9",
    "content_type": "application/json",
    "github_event": "check_run",
    "delivery_id": "compat-1",
}


def assert_status_report(text: str, port: int) -> None:
    report = json.loads(text)
    assert report["url"] == f"http://127.0.0.1:{port}/"
    assert report["channel"] == "webhook"


# ---------------------------------------------------------------------------- official Python SDK


class ChannelParams(BaseModel):
    """``notifications/claude/channel`` params.

    A plain ``BaseModel`` on purpose: the SDK's ``NotificationParams`` carries a camelCase alias
    generator and would silently drop what does not fit it.
    """

    content: str
    meta: dict[str, str] = {}


class StderrLines:
    """A pipe to hand a child as its stderr, read line by line so a test can await a log line."""

    def __init__(self) -> None:
        read_fd, write_fd = os.pipe()
        self.child_end: TextIO = os.fdopen(write_fd, "w")
        self._read_end = os.fdopen(read_fd, "rb")
        self.lines: list[str] = []
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Call once the child holds its copy: closing ours lets EOF arrive when the child exits."""
        self.child_end.close()
        reader = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), self._read_end)
        self._task = asyncio.create_task(self._pump(reader))

    async def _pump(self, reader: asyncio.StreamReader) -> None:
        while line := await reader.readline():
            async with self._changed:
                self.lines.append(line.decode(errors="replace").rstrip("\n"))
                self._changed.notify_all()

    async def wait_for(self, needle: str) -> str:
        async with asyncio.timeout(STEP_TIMEOUT), self._changed:
            while True:
                for line in self.lines:
                    if needle in line:
                        return line
                await self._changed.wait()

    async def close(self) -> None:
        if not self.child_end.closed:
            self.child_end.close()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 5)
        self._read_end.close()


async def test_official_python_sdk_client_session(tmp_path: Path) -> None:
    port = free_port()
    command = server_command("webhook")
    parameters = mcp.StdioServerParameters(command=command[0], args=command[1:], env=webhook_env(port, tmp_path))
    events: asyncio.Queue[ChannelParams] = asyncio.Queue()

    async def on_channel(params: ChannelParams) -> None:
        # The binding's own queue has 256 slots and drops the oldest: hand off at once.
        events.put_nowait(params)

    binding = NotificationBinding(method=CHANNEL_METHOD, params_type=ChannelParams, handler=on_channel)
    stderr = StderrLines()
    try:
        async with (
            mcp.stdio_client(parameters, errlog=stderr.child_end) as (read, write),
            mcp.ClientSession(read, write, notification_bindings=[binding]) as session,
        ):
            await stderr.start()
            async with asyncio.timeout(STEP_TIMEOUT):
                # Claude Code's probe comes first; a channel server must refuse it (-32601).
                with pytest.raises(MCPError) as refused:
                    await session.discover()
                assert refused.value.code == -32601

                initialized = await session.initialize()
                assert initialized.protocol_version == "2025-11-25"
                assert initialized.server_info.name == "webhook"
                assert initialized.capabilities.experimental is not None
                assert initialized.capabilities.experimental.get("claude/channel") == {}
                assert initialized.capabilities.tools is not None
                assert initialized.instructions and "webhook" in initialized.instructions

                listed = await session.list_tools()
                assert [tool.name for tool in listed.tools] == ["status"]

                result = await session.call_tool("status", {})
                assert not result.is_error
                assert result.content[0].type == "text"
                assert_status_report(result.content[0].text, port)

            await stderr.wait_for("listening on")
            body = await post_event(port)
            event = await asyncio.wait_for(events.get(), STEP_TIMEOUT)
            assert event.content == body.decode()
            assert event.meta == EXPECTED_META
            assert events.empty()
    finally:
        await stderr.close()


# ---------------------------------------------------------------------------- TypeScript SDK


class NodeClient:
    """``node tests/node/client.mjs``: its stdout is one JSON object per step."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.proc: asyncio.subprocess.Process | None = None
        self.steps: list[dict[str, Any]] = []
        self.stderr = bytearray()
        self._changed = asyncio.Condition()
        self._readers: list[asyncio.Task[None]] = []

    async def start(self, node: str) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            node, str(NODE_CLIENT), json.dumps(self.spec),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            cwd=NODE_CLIENT.parent, start_new_session=True,
        )  # fmt: skip
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [asyncio.create_task(self._read(self.proc.stdout)), asyncio.create_task(self._err())]

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            async with self._changed:
                self.steps.append(json.loads(line))
                self._changed.notify_all()

    async def _err(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        self.stderr += await self.proc.stderr.read()

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The first step matching ``predicate``; a reported ``error`` step fails the test at once."""
        async with asyncio.timeout(STEP_TIMEOUT), self._changed:
            while True:
                for step in self.steps:
                    if step["step"] == "error":
                        pytest.fail(f"node client failed: {step['message']}")
                    if predicate(step):
                        return step
                await self._changed.wait()

    async def step(self, name: str) -> dict[str, Any]:
        return await self.wait_for(lambda s: s["step"] == name)

    async def close(self) -> int:
        """Close its stdin (the client then closes the server) and wait for it to exit."""
        proc = self.proc
        assert proc is not None and proc.stdin is not None
        proc.stdin.close()
        async with asyncio.timeout(STEP_TIMEOUT):
            code = await proc.wait()
        for reader in self._readers:
            await asyncio.wait_for(reader, 5)
        return code

    async def kill(self) -> None:
        proc = self.proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        for reader in self._readers:
            reader.cancel()


@pytest.fixture
async def node_client(tmp_path: Path) -> AsyncIterator[tuple[NodeClient, int]]:
    node = shutil.which("node")
    if node is None or not NODE_SDK.is_dir():
        pytest.fail("the TypeScript SDK is not installed: run scripts/bootstrap.sh test (needs node and npm)")
    port = free_port()
    command = server_command("webhook")
    client = NodeClient({"command": command[0], "args": command[1:], "env": webhook_env(port, tmp_path)})
    await client.start(node)
    try:
        yield client, port
    finally:
        await client.kill()


async def test_typescript_sdk_client(node_client: tuple[NodeClient, int]) -> None:
    client, port = node_client
    await client.step("ready")

    connected = await client.step("connected")
    assert connected["serverInfo"]["name"] == "webhook"
    assert connected["capabilities"]["experimental"] == {"claude/channel": {}}
    assert "tools" in connected["capabilities"]
    assert "webhook" in connected["instructions"]
    assert (await client.step("tools"))["tools"] == ["status"]
    status = (await client.step("status"))["result"]
    assert not status.get("isError")
    assert_status_report(status["content"][0]["text"], port)
    assert (await client.step("discover"))["error"]["code"] == -32601

    await client.wait_for(lambda s: s["step"] == "log" and "listening on" in s["line"])
    body = await post_event(port)
    notification = await client.step("notification")
    assert notification["params"] == {"content": body.decode(), "meta": EXPECTED_META}

    assert await client.close() == 0, client.stderr.decode(errors="replace")
    assert [s["step"] for s in client.steps if s["step"] in ("notification", "closed")] == ["notification", "closed"]

"""The stdio runner, through a real subprocess and real pipes (the sample channel).

What a channel does whatever runs it (tool errors, meta validation, the permission relay) is
tested in one process in ``test_channel.py``; here is what only the wire shows.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from support import SAMPLES
from support.processes import PYTHON, RawServer

SAMPLE = str(SAMPLES / "relay_channel.py")


def sample(**env: str) -> RawServer:
    return RawServer("sample", env=env, argv=[PYTHON, SAMPLE])


@pytest.fixture
async def server() -> RawServer:
    srv = await sample().start()
    yield srv
    await srv.stop()


async def test_discover_probe_is_refused_then_initialize_works(server: RawServer) -> None:
    probe = await server.request(
        "server/discover", {"protocolVersion": "2026-07-28"}, request_id="server-discover-probe-1"
    )
    assert probe["error"]["code"] == -32601
    init = await server.handshake()
    result = init["result"]
    assert result["protocolVersion"] == "2025-11-25"
    assert result["capabilities"]["experimental"] == {"claude/channel": {}, "claude/channel/permission": {}}
    assert "tools" in result["capabilities"]
    assert result["serverInfo"]["name"] == "sample"
    assert result["instructions"] == "Sample channel for tests."


@pytest.mark.parametrize(
    ("asked", "answered"), [("2025-06-18", "2025-06-18"), ("2024-11-05", "2024-11-05"), ("1999-01-01", "2025-11-25")]
)
async def test_version_negotiation(server: RawServer, asked: str, answered: str) -> None:
    assert (await server.handshake(asked))["result"]["protocolVersion"] == answered


async def test_unknown_methods_and_ping(server: RawServer) -> None:
    await server.handshake()
    assert (await server.request("resources/list"))["error"]["code"] == -32601
    assert (await server.request("ping"))["result"] == {}


async def test_no_permission_capability_without_a_handler() -> None:
    srv = await sample(SAMPLE_NO_RELAY="1").start()
    try:
        result = (await srv.handshake())["result"]
        assert result["capabilities"]["experimental"] == {"claude/channel": {}}
    finally:
        await srv.stop()


async def test_tools_list_and_call(server: RawServer) -> None:
    await server.handshake()
    tools = (await server.request("tools/list"))["result"]["tools"]
    assert {t["name"] for t in tools} == {"echo", "push", "answer"}
    assert all(set(t) == {"name", "description", "inputSchema"} for t in tools)
    ok = (await server.request("tools/call", {"name": "echo", "arguments": {"text": "hi", "count": 2}}))["result"]
    assert ok == {"content": [{"type": "text", "text": "hi hi"}]}


async def test_events_before_ready_are_held_a_second_after_initialized_even_when_tools_are_listed() -> None:
    """Claude Code lists tools in the same millisecond as ``initialized``, before it can take events."""
    srv = await sample(SAMPLE_PUSH_AT_START="50").start()
    try:
        started = time.monotonic()  # before notifications/initialized is sent
        await srv.handshake()
        list_response = await srv.request("tools/list")
        await srv.wait_for(lambda m: m.get("params", {}).get("meta", {}).get("seq") == "49")
        order = srv.messages()
        events = [m for m in order if m.get("method") == "notifications/claude/channel"]
        first_at = time.monotonic()
        assert order.index(list_response) < order.index(events[0]), "held events come after the tools/list answer"
        assert [e["params"]["meta"]["seq"] for e in events] == [str(i) for i in range(50)]
        assert first_at - started >= 1.0
    finally:
        await srv.stop()


@pytest.mark.parametrize(
    ("setting", "held_for", "warning"),
    [
        (None, 1.0, None),
        ("1500", 1.5, None),
        ("soon", 1.0, "MCP_CHANNELS_READY_DELAY_MS='soon' is not a number of milliseconds from 0 to 60000"),
    ],
)
async def test_the_hold_after_initialized_can_be_set_in_milliseconds(
    setting: str | None, held_for: float, warning: str | None
) -> None:
    env = {"SAMPLE_PUSH_AT_START": "1"} | ({"MCP_CHANNELS_READY_DELAY_MS": setting} if setting else {})
    srv = await sample(**env).start()
    try:
        started = time.monotonic()
        await srv.handshake()
        await srv.wait_for(lambda m: m.get("method") == "notifications/claude/channel", timeout=10)
        assert time.monotonic() - started >= held_for
        if warning:
            await srv.wait_stderr(warning)
    finally:
        await srv.stop()


async def test_shutdown_before_the_host_is_ready_reports_the_held_events() -> None:
    srv = await sample(SAMPLE_PUSH_AT_START="3", MCP_CHANNELS_READY_DELAY_MS="60000").start()
    try:
        await srv.handshake()
        await srv.wait_stderr("queued 3 event(s) at start")
        await srv.close_stdin()
        assert await srv.wait_exit() == 0
        assert b"3 event(s) were never delivered: the host was not ready" in srv.stderr
        assert not any(m.get("method") == "notifications/claude/channel" for m in srv.messages())
    finally:
        await srv.stop()


async def test_events_are_never_sent_before_initialize() -> None:
    srv = await sample(SAMPLE_PUSH_AT_START="3").start()
    try:
        await srv.request(
            "initialize",
            {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
        )
        response = await srv.request("tools/call", {"name": "echo", "arguments": {"text": "x"}})
        assert response["result"]["content"][0]["text"] == "x"
        assert not any(m.get("method") == "notifications/claude/channel" for m in srv.messages())
    finally:
        await srv.stop()


async def test_stdin_eof_exits_cleanly_within_two_seconds(server: RawServer) -> None:
    await server.handshake()
    started = time.monotonic()
    await server.close_stdin()
    assert await server.wait_exit(timeout=5) == 0
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
async def test_signals_exit_cleanly(server: RawServer, signum: int) -> None:
    await server.handshake()
    assert server.proc is not None
    started = time.monotonic()
    os.kill(server.proc.pid, signum)
    assert await server.wait_exit(timeout=5) == 0
    assert time.monotonic() - started < 2.0


async def test_crashing_adapter_exits_non_zero_with_traceback() -> None:
    srv = await sample(SAMPLE_CRASH="1").start()
    try:
        code = await srv.wait_exit(timeout=5)
        assert code == 1
        text = srv.stderr.decode()
        assert "Traceback" in text and "adapter exploded" in text and "sample channel:" in text
    finally:
        await srv.stop()


async def test_print_in_adapter_code_goes_to_stderr_not_the_wire() -> None:
    srv = await sample(SAMPLE_PRINT="1").start()
    try:
        await srv.handshake()
        await srv.request("tools/list")
        await srv.wait_stderr("this must not reach the protocol stream")
        await srv.close_stdin()
        await srv.wait_exit()
        for line in srv.lines:
            message = json.loads(line)  # every stdout line is JSON-RPC
            assert message["jsonrpc"] == "2.0"
    finally:
        await srv.stop()


async def test_garbage_on_stdin_does_not_kill_the_server(server: RawServer) -> None:
    await server.send(b"this is not json\n")
    await server.send(b'{"jsonrpc": "2.0", "id": 99, "method": "tools/call", "params": "nonsense"}\n')
    error = await server.wait_for(lambda m: m.get("id") == 99)
    assert error["error"]["code"] == -32602
    assert (await server.handshake())["result"]["protocolVersion"] == "2025-11-25"


@pytest.mark.parametrize("stdin_kind", ["devnull", "file"])
async def test_stdin_that_is_not_a_pipe(tmp_path: Path, stdin_kind: str) -> None:
    """Run by hand with ``< requests.jsonl`` or ``< /dev/null``: answer what is there, then exit 0."""
    import asyncio
    import subprocess

    if stdin_kind == "file":
        source = tmp_path / "requests.jsonl"
        source.write_text('{"jsonrpc": "2.0", "id": 1, "method": "ping"}\n')
        stdin = source.open("rb")
    else:
        stdin = open(os.devnull, "rb")  # noqa: SIM115 - closed below
    try:
        proc = await asyncio.create_subprocess_exec(
            PYTHON, SAMPLE, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        out, err = await asyncio.wait_for(proc.communicate(), 5)
    finally:
        stdin.close()
    assert proc.returncode == 0, err.decode()
    expected = b'{"jsonrpc":"2.0","id":1,"result":{}}\n' if stdin_kind == "file" else b""
    assert out == expected


DEFERRED = str(SAMPLES / "deferred_channel.py")


async def test_a_runtime_that_cannot_be_made_stops_the_server_loudly() -> None:
    srv = await RawServer(
        "deferred", env={"DEFERRED_MODULE": "no_such_platform_library"}, argv=[PYTHON, DEFERRED]
    ).start()
    try:
        assert await srv.wait_exit() == 1
        text = srv.stderr.decode()
        assert "load_platform crashed; exiting" in text and "No module named 'no_such_platform_library'" in text
    finally:
        await srv.stop()

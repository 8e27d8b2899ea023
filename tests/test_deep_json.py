"""JSON nested deeper than Python's parser goes: refused like any other bad JSON, nothing else lost.

``json.loads`` raises ``RecursionError``, not ``ValueError``, past about a thousand levels. Every
place that parses JSON from outside (the protocol stream, a browser's frames, Claude Code's
permission previews, the host's own inputs) must treat it as unparseable and carry on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from fakechat_support import FakechatHost
from fakes.telegram_api import FakeTelegram
from fakes.telegram_session import ALICE, fake, write_access
from helpers import PYTHON, HostProcess, RawServer, write_mcp_config
from mcp_channels.poller_lock import lock_path, poller_lock_status

__all__ = ["fake"]  # fixture

SAMPLE = str(Path(__file__).resolve().parent / "sample_channels" / "relay_channel.py")


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [1_000, 100_000])
async def test_a_deep_line_on_stdin_is_a_parse_error_and_the_next_line_in_the_same_read_is_answered(
    depth: int,
) -> None:
    server = await RawServer("sample", argv=[PYTHON, SAMPLE]).start()
    try:
        await server.send(nested(depth).encode() + b'\n{"jsonrpc": "2.0", "id": "after", "method": "ping"}\n')
        refused = await server.wait_for(lambda m: "error" in m)
        assert refused == {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}}
        assert (await server.wait_for(lambda m: m.get("id") == "after"))["result"] == {}
        assert (await server.handshake())["result"]["protocolVersion"] == "2025-11-25"
        await server.wait_stderr("unparseable line from peer")
        assert b"Traceback" not in server.stderr
    finally:
        await server.stop()


@pytest.fixture
async def chat(tmp_path: Path) -> AsyncIterator[FakechatHost]:
    host = await FakechatHost(tmp_path).start()
    yield host
    await host.stop()


async def test_a_deep_websocket_frame_gets_an_error_and_the_socket_keeps_working(chat: FakechatHost) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(chat.ws_url) as ws:
        await ws.send_str(nested(5_000))
        await ws.send_str(json.dumps({"id": "u-after", "text": "still here"}))
        error = await ws.receive_json(timeout=10)
        assert error["type"] == "error" and error["message"] == "not JSON"
        assert (await chat.event("still here"))["meta"]["message_id"] == "u-after"
    assert not any("Traceback" in line for line in chat.host.stderr_lines)


async def test_a_deep_permission_preview_still_expands_on_telegram(fake: FakeTelegram, tmp_path: Path) -> None:
    """Claude Code previews a tool's input as JSON; the model chooses that input, depth included."""
    state = tmp_path / "state"
    write_access(state, allowFrom=[str(ALICE)])
    alice = fake.user(ALICE, "alice")
    env = {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_BASE": fake.base, "TELEGRAM_STATE_DIR": str(state)}
    server = await RawServer("telegram", env=env).start()
    try:
        await server.handshake()
        preview = '{ "data": ' + nested(1_500) + " }"
        request = {"request_id": "abcde", "tool_name": "Store", "description": "store data", "input_preview": preview}
        await server.notify("notifications/claude/channel/permission_request", request)
        prompt = await fake.wait_sent(lambda m: m["chat"]["id"] == ALICE and "reply_markup" in m)
        fake.press(alice, prompt, "perm:more:abcde")
        expanded = await fake.wait_until(
            lambda: next((e for e in fake.edits if e["message_id"] == prompt["message_id"]), None)
        )
        assert expanded["text"] == (
            f"🔐 Permission: Store\n\ntool_name: Store\ndescription: store data\ninput_preview:\n{preview}"
        )
    finally:
        await server.stop()


async def test_the_host_refuses_deep_json_in_a_command_and_in_its_config(tmp_path: Path) -> None:
    config = write_mcp_config(tmp_path, {"s": {"command": PYTHON, "args": [SAMPLE]}})
    host = await HostProcess(["--mcp-config", str(config)]).start()
    try:
        await host.wait_type("ready")
        await host.command(f"/call s echo {nested(5_000)}")
        error = await host.wait_type("error")
        assert error["message"].startswith("not valid JSON: maximum recursion depth exceeded")
        assert (await host.call("s", "echo", {"text": "hi"}))["text"] == "hi"
    finally:
        await host.stop()
    config.write_text(nested(5_000))
    proc = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "mcp_channels", "host", "--mcp-config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 1
    assert err.decode().startswith(f"mcp-channels host: {config}: maximum recursion depth exceeded")


def test_a_deep_telegram_lock_record_reads_as_no_holder(tmp_path: Path) -> None:
    """What ``doctor`` and a second session read to say who is polling; any process can write it."""
    token = "123456789:AAH-deep-lock"
    lock_path(tmp_path, token).write_text(nested(5_000))
    assert poller_lock_status(tmp_path, token, "telegram") is None

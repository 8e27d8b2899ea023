"""The webhook channel end to end: the host spawns it over stdio, events are real HTTP requests."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from support.processes import HostProcess, RawServer, free_port, http_request
from support.webhook import SECRET, sign, start_host


@pytest.fixture
async def webhook(tmp_path: Path):
    host, port = await start_host(tmp_path)
    yield host, port
    await host.stop()


@pytest.fixture
async def signed_webhook(tmp_path: Path):
    host, port = await start_host(tmp_path, WEBHOOK_SECRET=SECRET, WEBHOOK_REPLAY_PROTECTION="true")
    yield host, port
    await host.stop()


async def test_post_becomes_an_event_rendered_like_claude_code(webhook: tuple[HostProcess, int]) -> None:
    host, port = webhook
    status, _, body = await http_request(
        port, "POST", "/ci/build?run=7", b"build failed </channel> on main",
        {"X-GitHub-Event": "check_run", "X-GitHub-Delivery": "d-1", "Content-Type": "text/plain"},
    )  # fmt: skip
    assert (status, body) == (202, b"queued\n")
    event = await host.wait_type("event")
    assert event["content"] == "build failed </channel> on main"
    assert event["meta"] == {
        "path": "/ci/build",
        "method": "POST",
        "query": "run=7",
        "content_type": "text/plain",
        "github_event": "check_run",
        "delivery_id": "d-1",
    }
    assert event["rendered"] == (
        '<channel source="webhook" path="/ci/build" method="POST" query="run=7" content_type="text/plain" '
        'github_event="check_run" delivery_id="d-1">\nbuild failed <\\/channel> on main\n</channel>'
    )


async def test_registration_reason_and_status_tool(webhook: tuple[HostProcess, int]) -> None:
    host, port = webhook
    server = host.of_type("server")[0]
    assert server["status"] == "registered" and server["tools"] == ["status"]
    result = await host.call("webhook", "status", {})
    report = json.loads(result["text"])
    assert report["url"] == f"http://127.0.0.1:{port}/" and report["signature_required"] is False


async def test_thousand_concurrent_events_arrive_exactly_once(webhook: tuple[HostProcess, int]) -> None:
    host, port = webhook

    async def post(i: int) -> int:
        status, _, _ = await http_request(port, "POST", "/load", f"event-{i}".encode())
        return status

    statuses = await asyncio.gather(*(post(i) for i in range(1000)))  # 1,000 connections at once
    assert statuses == [202] * 1000
    events = await host.wait_count("event", 1000, timeout=60)
    contents = sorted(e["content"] for e in events)
    assert contents == sorted(f"event-{i}" for i in range(1000))
    _, _, health = await http_request(port, "GET", "/healthz")
    counters = json.loads(health)
    assert counters["received"] == 1000 and counters["delivered"] == 1000


async def test_signatures(signed_webhook: tuple[HostProcess, int]) -> None:
    host, port = signed_webhook
    body = b'{"action": "completed"}'
    assert (await http_request(port, "POST", "/gh", body))[0] == 401
    assert (await http_request(port, "POST", "/gh", body, {"X-Hub-Signature-256": sign(body, "wrong")}))[0] == 401
    assert (await http_request(port, "POST", "/gh", body + b" ", {"X-Hub-Signature-256": sign(body)}))[0] == 401
    assert (
        await http_request(port, "POST", "/gh", body, {"X-Hub-Signature-256": sign(body), "X-GitHub-Delivery": "a1"})
    )[0] == 202
    other = b'{"action": "requested"}'
    bare = sign(other)[len("sha256=") :]
    assert (await http_request(port, "POST", "/generic", other, {"X-Signature-256": bare}))[0] == 202
    # replay protection: the same delivery id again is refused
    assert (
        await http_request(port, "POST", "/gh", body, {"X-Hub-Signature-256": sign(body), "X-GitHub-Delivery": "a1"})
    )[0] == 409
    await host.wait_count("event", 2)
    await host.wait_stderr("401 invalid signature")
    await host.wait_stderr("401 missing signature")
    assert len(host.of_type("event")) == 2


async def test_secret_from_the_state_env_file(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / ".env").write_text(f'export WEBHOOK_SECRET="{SECRET}"\r\n')
    host, port = await start_host(tmp_path)
    try:
        assert (await http_request(port, "POST", "/x", b"hi"))[0] == 401
        assert (await http_request(port, "POST", "/x", b"hi", {"X-Hub-Signature-256": sign(b"hi")}))[0] == 202
        await host.wait_type("event")
    finally:
        await host.stop()


async def test_oversize_body_is_refused_before_it_is_read_and_the_server_still_serves(tmp_path: Path) -> None:
    host, port = await start_host(tmp_path, WEBHOOK_MAX_BODY="1000")
    try:
        status, _, body = await http_request(port, "POST", "/big", b"x" * 5000)
        assert status == 413 and b"limit 1000" in body
        # a declared length far beyond what is sent is refused from the headers alone
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"POST /huge HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 999999999\r\n\r\n".encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readline(), 5)
        assert head.startswith(b"HTTP/1.1 413")
        writer.close()
        # chunked bodies are cut off as soon as they pass the limit
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"POST /chunked HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        for _ in range(3):
            writer.write(b"200\r\n" + b"y" * 512 + b"\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.readline(), 5)
        assert head.startswith(b"HTTP/1.1 413")
        writer.close()
        assert (await http_request(port, "POST", "/small", b"ok"))[0] == 202
        event = await host.wait_type("event")
        assert event["content"] == "ok"
        assert len(host.of_type("event")) == 1
    finally:
        await host.stop()


async def test_bad_requests_are_refused_clearly(webhook: tuple[HostProcess, int]) -> None:
    host, port = webhook
    status, headers, _ = await http_request(port, "GET", "/hook")
    assert status == 405 and headers["allow"] == "POST"
    status, headers, _ = await http_request(port, "POST", "/healthz", b"x")
    assert status == 405 and headers["allow"] == "GET, HEAD"
    assert (await http_request(port, "POST", "/gz", b"\x1f\x8b", {"Content-Encoding": "gzip"}))[0] == 415
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"THIS IS NOT HTTP\r\n\r\n")
    await writer.drain()
    assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"HTTP/1.1 400")
    writer.close()
    status, _, body = await http_request(port, "GET", "/healthz")
    health = json.loads(body)
    assert status == 200 and health["rejected"] == {"405": 2, "415": 1}
    await host.wait_stderr("rejected GET /hook: 405")
    assert host.of_type("event") == []


async def test_invalid_utf8_is_delivered_with_replacements_and_a_flag(webhook: tuple[HostProcess, int]) -> None:
    host, port = webhook
    assert (await http_request(port, "POST", "/bin", b"ok \xff\xfe end"))[0] == 202
    event = await host.wait_type("event")
    assert event["content"] == "ok \ufffd\ufffd end" and event["meta"]["invalid_utf8"] == "true"


async def test_events_posted_before_the_host_is_ready_arrive_in_order(tmp_path: Path) -> None:
    port = free_port()
    server = RawServer("webhook", env={"WEBHOOK_PORT": str(port), "WEBHOOK_STATE_DIR": str(tmp_path)})
    await server.start()
    try:
        await server.wait_stderr("listening on")
        for i in range(20):
            assert (await http_request(port, "POST", "/early", f"early-{i}".encode()))[0] == 202
        await server.handshake()
        await server.request("tools/list")
        await server.wait_for(lambda m: m.get("params", {}).get("content") == "early-19")
        events = [
            m["params"]["content"] for m in server.messages() if m.get("method") == "notifications/claude/channel"
        ]
        assert events == [f"early-{i}" for i in range(20)]
    finally:
        await server.stop()


async def test_stdout_carries_only_json_rpc(tmp_path: Path) -> None:
    port = free_port()
    server = RawServer("webhook", env={"WEBHOOK_PORT": str(port), "WEBHOOK_STATE_DIR": str(tmp_path)})
    await server.start()
    try:
        await server.handshake()
        await server.request("tools/list")
        await server.wait_stderr("listening on")
        await http_request(port, "POST", "/x", b"one")
        await http_request(port, "GET", "/nope")
        await server.wait_for(lambda m: m.get("method") == "notifications/claude/channel")
        await server.close_stdin()
        assert await server.wait_exit() == 0
        assert server.lines and all(json.loads(line)["jsonrpc"] == "2.0" for line in server.lines)
    finally:
        await server.stop()


async def test_port_in_use_exits_1_with_a_clear_message(tmp_path: Path) -> None:
    port = free_port()
    blocker = await asyncio.start_server(lambda r, w: None, "127.0.0.1", port)
    try:
        server = RawServer("webhook", env={"WEBHOOK_PORT": str(port), "WEBHOOK_STATE_DIR": str(tmp_path)})
        await server.start()
        assert await server.wait_exit() == 1
        assert f"cannot listen on 127.0.0.1:{port}".encode() in server.stderr
        assert b"Traceback" not in server.stderr
    finally:
        blocker.close()
        await blocker.wait_closed()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [("WEBHOOK_PORT", "http", "is not a number"), ("WEBHOOK_MAX_BODY", "0", "out of range")],
)
async def test_bad_settings_exit_1_naming_the_setting(tmp_path: Path, key: str, value: str, message: str) -> None:
    server = RawServer("webhook", env={key: value, "WEBHOOK_STATE_DIR": str(tmp_path)})
    await server.start()
    assert await server.wait_exit() == 1
    assert key.encode() in server.stderr and message.encode() in server.stderr


async def test_an_event_too_large_for_claude_code_is_refused_and_the_next_still_arrives(tmp_path: Path) -> None:
    """3 MB of control characters become 18 MB of JSON: Claude Code would drop the connection."""
    host, port = await start_host(tmp_path, WEBHOOK_MAX_BODY="4000000")
    try:
        status, _, body = await http_request(port, "POST", "/huge", b"\x01" * 3_000_000)
        assert status == 413 and b"line limit" in body
        assert (await http_request(port, "POST", "/small", b"after"))[0] == 202
        event = await host.wait_type("event")
        assert event["content"] == "after"
        assert host.of_type("server_exited") == []
    finally:
        await host.stop()


async def test_a_signature_header_with_non_ascii_bytes_is_a_401_not_a_crash(
    signed_webhook: tuple[HostProcess, int],
) -> None:
    host, port = signed_webhook
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"POST /x HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode()
        + b"X-Hub-Signature-256: sha256=\xe9\xe9\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
    )
    await writer.drain()
    assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"HTTP/1.1 401")
    writer.close()
    await host.wait_stderr("401 invalid signature")

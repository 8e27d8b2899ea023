"""The webhook against an outsider: web pages, rebound names, odd encodings, slow and greedy clients.

Every test drives ``mcp-channels serve webhook`` as a subprocess (under the host, or spawned
directly where the test needs its descriptor limit) with real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import resource
import shutil
import socket
import time
from pathlib import Path

import pytest

from support.processes import PYTHON, RawServer, free_port, http_request
from support.webhook import start_host

SECRET = "s3cret-for-tests"


def sign(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


async def health(port: int) -> dict[str, object]:
    status, _, body = await http_request(port, "GET", "/healthz")
    assert status == 200, body
    return json.loads(body)  # type: ignore[no-any-return]


async def raw_exchange(port: int, request: bytes, *, timeout: float = 5.0) -> bytes:
    """Send bytes as they are and read the whole answer (the server closes after it)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


# ---------------------------------------------------------------------------------------- web pages


async def test_requests_from_web_pages_and_rebound_names_are_refused(tmp_path: Path) -> None:
    host, port = await start_host(tmp_path)
    try:
        line = await host.wait_stderr("listening on")
        assert "WITHOUT A SECRET: any process on this machine can inject events into this Claude Code session" in line
        refused = [
            {"Origin": "https://evil.example"},  # fetch(..., {mode: "no-cors"}) from another site
            {"Host": f"evil.example:{port}"},  # DNS rebinding: the page's own name, resolved to 127.0.0.1
            {"Origin": "null"},  # a sandboxed iframe
            {"Origin": f"http://127.0.0.1:{port + 1}"},  # a page on another local port: still a page
            {"Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-origin"},
            {"Host": "127.0.0.1"},  # the right address, the wrong port
        ]
        for headers in refused:
            status, _, body = await http_request(port, "POST", "/hook", b"injected", headers)
            assert status == 403, (headers, body)
        await host.wait_stderr("rejected POST /hook: 403 cross-site request from Origin 'https://evil.example'")
        await host.wait_stderr("rejected POST /hook: 403 Host 'evil.example:")
        # What curl, CI systems and tunnel clients send is accepted.
        accepted = [
            {},
            {"Host": f"localhost:{port}"},
            {"Host": f"LOCALHOST:{port}"},
            {"Host": f"[::1]:{port}"},
            {"Sec-Fetch-Site": "none"},  # typed into the address bar: the user's own act
        ]
        for index, headers in enumerate(accepted):
            status, _, _ = await http_request(port, "POST", "/hook", f"ok {index}".encode(), headers)
            assert status == 202, headers
        events = await host.wait_count("event", len(accepted))
        assert [e["content"] for e in events] == [f"ok {i}" for i in range(len(accepted))]
        assert (await health(port))["rejected"] == {"403": len(refused)}
    finally:
        await host.stop()


async def test_allow_lists_admit_a_tunnel_name_and_a_named_origin(tmp_path: Path) -> None:
    host, port = await start_host(
        tmp_path,
        WEBHOOK_ALLOWED_HOSTS="abc123.ngrok-free.app, hooks.example.org:8443",
        WEBHOOK_ALLOWED_ORIGINS="https://dash.example.org/",
    )
    try:
        await host.wait_stderr("anyone who can reach them can inject events")
        cases = [
            ({"Host": "abc123.ngrok-free.app"}, 202),  # ngrok passes its public name through
            ({"Host": "ABC123.ngrok-free.app:443"}, 202),  # a name without a port matches any port
            ({"Host": "hooks.example.org:8443"}, 202),
            ({"Host": "hooks.example.org:9000"}, 403),  # a name with a port matches that port only
            ({"Host": "abc123.ngrok-free.app.evil.example"}, 403),
            ({"Origin": "https://dash.example.org", "Sec-Fetch-Site": "cross-site"}, 202),
            ({"Origin": "https://other.example.org"}, 403),
        ]
        for headers, expected in cases:
            assert (await http_request(port, "POST", "/t", b"x", headers))[0] == expected, headers
    finally:
        await host.stop()


async def test_a_star_opens_an_allow_list_and_says_so(tmp_path: Path) -> None:
    host, port = await start_host(tmp_path, WEBHOOK_ALLOWED_HOSTS="*", WEBHOOK_ALLOWED_ORIGINS="*")
    try:
        await host.wait_stderr("WEBHOOK_ALLOWED_HOSTS=*: any Host is accepted (no DNS-rebinding protection)")
        await host.wait_stderr("WEBHOOK_ALLOWED_ORIGINS=*: any web page open in a browser here can post events")
        headers = {"Host": "anything.example", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
        assert (await http_request(port, "POST", "/t", b"x", headers))[0] == 202
    finally:
        await host.stop()


# ---------------------------------------------------------------------------------------- encodings


async def test_any_content_encoding_but_identity_is_refused_whatever_its_case(tmp_path: Path) -> None:
    host, port = await start_host(tmp_path)
    try:
        for encoding in ("gzip", "GZIP", "br", "zstd", "x-gzip", "identity, gzip", "Deflate"):
            status, _, body = await http_request(port, "POST", "/c", b"\x1f\x8b", {"Content-Encoding": encoding})
            assert status == 415, (encoding, body)
        for encoding in ("identity", "IDENTITY", ""):
            assert (await http_request(port, "POST", "/c", b"plain", {"Content-Encoding": encoding}))[0] == 202
        await host.wait_count("event", 3)
    finally:
        await host.stop()


async def test_expect_100_continue_is_answered_before_the_body_is_sent(tmp_path: Path) -> None:
    host, port = await start_host(tmp_path, WEBHOOK_MAX_BODY="1000")
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"POST /e HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        await writer.drain()
        assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5) == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"hello")
        await writer.drain()
        assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"HTTP/1.1 202")
        writer.close()
        # A refusal decided from the headers is the answer itself, at once: no 100 first.
        answer = await raw_exchange(
            port,
            f"POST /e HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n".encode(),
        )
        assert answer.startswith(b"HTTP/1.1 413")
        answer = await raw_exchange(
            port, f"POST /e HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 1\r\nExpect: magic\r\n\r\nx".encode()
        )
        assert answer.startswith(b"HTTP/1.1 417")
        assert [e["content"] for e in await host.wait_count("event", 1)] == ["hello"]
    finally:
        await host.stop()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
async def test_curl_with_expect_does_not_stall(tmp_path: Path) -> None:
    """curl waits one second for a ``100 Continue`` that never comes; it must not have to."""
    host, port = await start_host(tmp_path)
    try:
        payload = tmp_path / "payload.json"
        payload.write_bytes(b'{"build": "ok"}' + b" " * 4000)
        started = time.monotonic()
        curl = await asyncio.create_subprocess_exec(
            "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Expect: 100-continue",
            "--data-binary", f"@{payload}", f"http://127.0.0.1:{port}/ci",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await curl.communicate()
        assert out == b"202"
        assert time.monotonic() - started < 0.9  # curl's own fallback would take 1 s
        await host.wait_type("event")
    finally:
        await host.stop()


async def test_repeated_headers_are_joined_in_order_and_their_number_is_capped(tmp_path: Path) -> None:
    host, port = await start_host(tmp_path)
    try:
        answer = await raw_exchange(
            port,
            f"POST /dup HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 2\r\nConnection: close\r\n".encode()
            + b"".join(f"X-Event-Type: {kind}\r\n".encode() for kind in ("build", "test", "deploy"))
            + b"\r\nhi",
        )
        assert answer.startswith(b"HTTP/1.1 202")
        assert (await host.wait_type("event"))["meta"]["event_type"] == "build, test, deploy"
        # 30,000 empty fields fit in the 64 KiB header budget: each costs a callback, so their
        # number is capped before they cost a burst of CPU.
        answer = await raw_exchange(
            port,
            f"POST /dup HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 2\r\n".encode()
            + b"a:\r\n" * 30_000
            + b"\r\nhi",
        )
        assert answer.startswith(b"HTTP/1.1 431") and b"1000 fields" in answer
        assert len(host.of_type("event")) == 1
    finally:
        await host.stop()


async def test_a_pipelined_request_after_a_refusal_leaves_no_traceback(tmp_path: Path) -> None:
    port = free_port()
    server = await RawServer("webhook", env={"WEBHOOK_PORT": str(port), "WEBHOOK_STATE_DIR": str(tmp_path)}).start()
    try:
        await server.wait_stderr("listening on")
        head = f"Host: 127.0.0.1:{port}\r\n"
        answer = await raw_exchange(
            port,
            (
                f"GET /hook HTTP/1.1\r\n{head}\r\n"  # refused: the connection closes after the answer
                f"POST /after HTTP/1.1\r\n{head}Content-Length: 2\r\n\r\nhi"
                f"POST /after HTTP/1.1\r\n{head}Content-Length: 2\r\n\r\nhi"
            ).encode(),
        )
        assert answer.startswith(b"HTTP/1.1 405") and answer.count(b"HTTP/1.1") == 1
        assert (await http_request(port, "GET", "/healthz"))[0] == 200  # the server still serves
        await server.close_stdin()
        assert await server.wait_exit() == 0
        assert b"Traceback" not in server.stderr and b"Fatal error" not in server.stderr, server.stderr.decode()
    finally:
        await server.stop()


# ---------------------------------------------------------------------------------------- replays


async def test_replay_protection_refuses_a_known_body_under_a_new_or_missing_delivery_id(tmp_path: Path) -> None:
    host, port = await start_host(tmp_path, WEBHOOK_SECRET=SECRET, WEBHOOK_REPLAY_PROTECTION="true")
    try:
        body = b'{"action": "opened", "number": 7}'
        signed = {"X-Hub-Signature-256": sign(body)}
        assert (await http_request(port, "POST", "/gh", body, {**signed, "X-GitHub-Delivery": "d-1"}))[0] == 202
        for replay in ({"X-GitHub-Delivery": "d-2"}, {}, {"X-Delivery-Id": "anything"}):
            status, _, answer = await http_request(port, "POST", "/gh", body, {**signed, **replay})
            assert (status, answer) == (409, b"the same body seen before\n"), replay
        other = b'{"action": "opened", "number": 8}'
        assert (await http_request(port, "POST", "/gh", other, {"X-Hub-Signature-256": sign(other)}))[0] == 202
        assert [e["meta"].get("delivery_id") for e in await host.wait_count("event", 2)] == ["d-1", None]
    finally:
        await host.stop()


# ---------------------------------------------------------------------------------------- greedy clients


async def test_bodies_held_open_at_once_are_capped_across_connections(tmp_path: Path) -> None:
    host, port = await start_host(tmp_path, WEBHOOK_MAX_BODY="2000", WEBHOOK_MAX_BODY_TOTAL="3000")
    try:
        head = f"POST /slow HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 2000\r\n\r\n".encode()
        first_reader, first = await asyncio.open_connection("127.0.0.1", port)
        first.write(head + b"a" * 1000)  # half a body: its 2,000 bytes stay reserved
        await first.drain()
        assert (await health(port))["connections"] == 2  # this probe and the first sender
        answer = await raw_exchange(port, head)  # a second 2,000-byte body would pass 3,000
        assert answer.startswith(b"HTTP/1.1 503") and b"Retry-After: 1" in answer
        first.write(b"a" * 1000)
        await first.drain()
        assert (await asyncio.wait_for(first_reader.readline(), 5)).startswith(b"HTTP/1.1 202")
        first.close()
        assert (await http_request(port, "POST", "/slow", b"b" * 2000))[0] == 202  # room again
        await host.wait_count("event", 2)
    finally:
        await host.stop()


async def test_a_request_that_trickles_its_headers_is_cut_off(tmp_path: Path) -> None:
    host, port = await start_host(tmp_path, WEBHOOK_READ_TIMEOUT="0.5")
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.monotonic()
        request = f"POST /slow HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Padding: ".encode()
        answer = b""
        with contextlib.suppress(ConnectionError):
            for byte in request + b"a" * 100:  # a byte every 50 ms: never silent, never done
                writer.write(bytes([byte]))
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    answer += await asyncio.wait_for(reader.read(1000), 0.05)
                if answer:
                    break
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert time.monotonic() - started < 3
        writer.close()
    finally:
        await host.stop()


def limited_server_argv(nofile: int, extra_open: int = 0) -> list[str]:
    """``serve webhook`` with a descriptor limit of ``nofile``, ``extra_open`` of them taken at start.

    The taken descriptors stand for a channel's other files: the server cannot see them coming.
    """
    code = (
        "import os, resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({nofile}, {nofile}))\n"
        f"for _ in range({extra_open}):\n"
        "    os.set_inheritable(os.open(os.devnull, os.O_RDONLY), True)\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'mcp_channels', 'serve', 'webhook'])\n"
    )
    return [PYTHON, "-c", code]


def raise_own_descriptor_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < wanted:
        pytest.skip(f"this test needs {wanted} descriptors")


async def open_slow_connections(port: int, count: int) -> list[socket.socket]:
    """``count`` clients that send the start of a request and then nothing."""
    loop = asyncio.get_running_loop()
    slow = []
    for _ in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            await loop.sock_connect(sock, ("127.0.0.1", port))
            await loop.sock_sendall(sock, f"POST /slow HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode())
        slow.append(sock)
    return slow


@pytest.mark.parametrize("taken", [0, 200], ids=["limit-reached-by-clients", "descriptors-taken-elsewhere"])
async def test_a_normal_sender_is_served_while_a_thousand_slow_clients_hold_connections(
    tmp_path: Path, taken: int
) -> None:
    """Under a 256-descriptor limit, before this change: no answer, and ~30 MB of tracebacks in 5 s."""
    raise_own_descriptor_limit(1200)
    port = free_port()
    env = {"WEBHOOK_PORT": str(port), "WEBHOOK_STATE_DIR": str(tmp_path), "WEBHOOK_MAX_CONNECTIONS": "1024"}
    server = await RawServer("webhook", env=env, argv=limited_server_argv(256, taken)).start()
    slow: list[socket.socket] = []
    try:
        await server.wait_stderr("listening on")
        slow = await open_slow_connections(port, 1000)
        for attempt in range(5):
            status, _, _ = await http_request(port, "POST", "/ci", f"build {attempt} ok".encode(), timeout=5)
            assert status == 202
        status, _, body = await http_request(port, "GET", "/healthz", timeout=5)
        assert status == 200 and json.loads(body)["connections"] <= 192  # 256 minus the reserve
        assert len(server.stderr) < 4000, server.stderr[:2000].decode(errors="replace")
        assert b"Traceback" not in server.stderr
        if taken:
            assert b"cannot accept a connection: Too many open files" in server.stderr
    finally:
        for sock in slow:
            sock.close()
        await server.stop()

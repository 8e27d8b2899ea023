"""A host that stops reading stdout, or closes it: bounded memory, honest answers, nothing lost.

Each server runs as a subprocess whose stdout is a pipe the test reads only when it chooses
(:class:`PipedServer`), which is what Claude Code does to a channel while it is busy or gone.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from fakes.telegram_api import FakeTelegram
from fakes.telegram_session import ALICE, fake, write_access
from support import SAMPLES
from support.discord import open_channel
from support.fakechat import multipart
from support.imessage import ChatDbBuilder, OsascriptRecorder
from support.processes import DEFAULT_TIMEOUT, DIRECT_SPAWN_ENV, PYTHON, free_port, http_request, server_command

__all__ = ["fake"]  # fixtures

SAMPLE = str(SAMPLES / "relay_channel.py")


class _Lines(asyncio.Protocol):
    def __init__(self, server: PipedServer) -> None:
        self._server = server
        self._partial = b""

    def data_received(self, data: bytes) -> None:
        *lines, self._partial = (self._partial + data).split(b"\n")
        self._server.take(json.loads(line) for line in lines)


class PipedServer:
    """A server whose stdout the test reads, pauses, resumes or closes, like a host would."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.argv = argv
        self.env = {**os.environ, **DIRECT_SPAWN_ENV, **env}
        self.proc: asyncio.subprocess.Process | None = None
        self.messages: list[dict[str, Any]] = []
        self.stderr = bytearray()
        self._changed = asyncio.Condition()
        self._stdout: asyncio.ReadTransport | None = None
        self._stderr_task: asyncio.Task[None] | None = None
        self._next_id = 0

    async def start(self) -> PipedServer:
        read_end, write_end = os.pipe()
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=write_end, stderr=asyncio.subprocess.PIPE,
            env=self.env, start_new_session=True,
        )  # fmt: skip
        os.close(write_end)
        loop = asyncio.get_running_loop()
        transport, _ = await loop.connect_read_pipe(lambda: _Lines(self), os.fdopen(read_end, "rb", buffering=0))
        self._stdout = transport
        assert self.proc.stderr is not None
        self._stderr_task = asyncio.create_task(self._read_stderr(self.proc.stderr))
        return self

    def take(self, messages: Any) -> None:
        self.messages.extend(messages)
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self.stderr += chunk
            await self._notify()

    async def wait(self, predicate: Callable[[], bool], timeout: float = DEFAULT_TIMEOUT) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(predicate)

    async def wait_stderr(self, needle: str) -> None:
        await self.wait(lambda: needle.encode() in self.stderr)

    async def send(self, message: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        await self.proc.stdin.drain()

    async def request(self, method: str, params: Any = None) -> dict[str, Any]:
        self._next_id += 1
        request_id = self._next_id
        await self.send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}})
        await self.wait(lambda: any(m.get("id") == request_id for m in self.messages))
        return next(m for m in self.messages if m.get("id") == request_id)

    async def initialize(self) -> None:
        client = {"name": "test", "version": "0"}
        await self.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": client})

    async def handshake(self, *, initialized: bool = False) -> None:
        """Initialize and list tools, as Claude Code does: the server is then ready for events."""
        if not initialized:
            await self.initialize()
        await self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        await self.request("tools/list")

    def events(self) -> list[dict[str, Any]]:
        return [m["params"] for m in self.messages if m.get("method") == "notifications/claude/channel"]

    def pause_reading(self) -> None:
        assert self._stdout is not None
        self._stdout.pause_reading()

    def resume_reading(self) -> None:
        assert self._stdout is not None
        self._stdout.resume_reading()

    def close_stdout(self) -> None:
        """The host goes away: its end of the pipe is closed."""
        assert self._stdout is not None
        self._stdout.close()

    def rss_kb(self) -> int:
        assert self.proc is not None
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))

    async def stop(self) -> int | None:
        proc = self.proc
        if proc is None:
            return None
        if proc.returncode is None:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                async with asyncio.timeout(10):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self._stdout is not None:
            self._stdout.close()
        if self._stderr_task is not None:
            await self._stderr_task
        return proc.returncode


async def webhook(tmp_path: Path, **env: str) -> tuple[PipedServer, int]:
    port = free_port()
    settings = {"WEBHOOK_PORT": str(port), "WEBHOOK_STATE_DIR": str(tmp_path / "state"), **env}
    server = await PipedServer(server_command("webhook"), settings).start()
    await server.wait_stderr("listening on")
    return server, port


async def health(port: int) -> dict[str, Any]:
    status, _, body = await http_request(port, "GET", "/healthz")
    assert status == 200
    return json.loads(body)  # type: ignore[no-any-return]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's memory from /proc")
async def test_a_host_that_stops_reading_gets_503s_not_unbounded_memory(tmp_path: Path) -> None:
    """Before: every POST got 202 and the server grew by each body (800 x 1 MB -> +778 MB)."""
    server, port = await webhook(
        tmp_path, MCP_CHANNELS_QUEUE_BYTES="2000000", MCP_CHANNELS_QUEUE_EVENTS="1000", WEBHOOK_MAX_BODY="600000"
    )
    try:
        await server.handshake()
        server.pause_reading()
        baseline = server.rss_kb()
        accepted: list[int] = []
        refused = []
        for index in range(100):  # 50 MB offered
            body = str(index).encode().ljust(500_000, b".")
            status, headers, _ = await http_request(port, "POST", "/big", body)
            if status == 202:
                accepted.append(index)
            else:
                refused.append((status, headers.get("retry-after")))
        assert refused and set(refused) == {(503, "5")}
        # What is held: the queue's 2 MB, the last event over it, and what the pipe itself took.
        assert 4 <= len(accepted) <= 8, accepted
        assert server.rss_kb() - baseline < 25_000
        counters = await health(port)
        assert counters["rejected"] == {"503": len(refused)}
        assert counters["delivered"] < len(accepted) == counters["received"]  # not all are in the pipe
        assert counters["queue"]["bytes"] >= 2_000_000 and counters["queue"]["max_bytes"] == 2_000_000

        server.resume_reading()  # the host reads again: everything accepted arrives, in order
        await server.wait(lambda: len(server.events()) == len(accepted))
        assert [int(e["content"].rstrip(".")) for e in server.events()] == accepted
        counters = await health(port)
        assert counters["delivered"] == len(accepted) and counters["queue"]["events"] == 0
        assert (await http_request(port, "POST", "/big", b"room again"))[0] == 202
    finally:
        await server.stop()


async def test_events_held_before_the_host_is_ready_count_against_the_bound(tmp_path: Path) -> None:
    server, port = await webhook(tmp_path, MCP_CHANNELS_QUEUE_EVENTS="5")
    try:
        statuses = [(await http_request(port, "POST", "/early", f"early {i}".encode()))[0] for i in range(8)]
        assert statuses == [202] * 5 + [503] * 3
        counters = await health(port)
        assert counters["held_until_host_ready"] == 5 and counters["queue"]["events"] == 5
        await server.handshake()
        await server.wait(lambda: len(server.events()) == 5)
        assert [e["content"] for e in server.events()] == [f"early {i}" for i in range(5)]
        assert (await http_request(port, "POST", "/late", b"late"))[0] == 202
    finally:
        await server.stop()


async def test_a_closed_stdout_is_503_not_202(tmp_path: Path) -> None:
    server, port = await webhook(tmp_path)
    try:
        await server.handshake()
        assert (await http_request(port, "POST", "/before", b"before"))[0] == 202
        await server.wait(lambda: len(server.events()) == 1)
        server.close_stdout()
        await server.wait_stderr("stdout is closed")
        status, _, body = await http_request(port, "POST", "/after", b"after")
        assert status == 503 and b"gone away" in body
        counters = await health(port)
        assert counters["host_connected"] is False and counters["status"] == "host_gone"
        assert counters["received"] == counters["delivered"] == 1 and counters["rejected"] == {"503": 1}
    finally:
        assert await server.stop() == 0


async def test_concurrent_pushes_wait_for_room_in_order(tmp_path: Path) -> None:
    """``push`` waits while the queue is full instead of refusing: a chat adapter slows down, loses nothing."""
    server = await PipedServer(
        [PYTHON, SAMPLE], {"SAMPLE_PUSH_CONCURRENTLY": "20", "MCP_CHANNELS_QUEUE_EVENTS": "5"}
    ).start()
    try:
        await server.wait_stderr("pushing 20 events concurrently: 5 held")  # the other 15 wait for room
        await server.handshake()
        await server.wait_stderr("all 20 pushes returned")
        assert [e["content"] for e in server.events()] == [f"pushed {i}" for i in range(20)]
    finally:
        await server.stop()


async def test_fakechat_tells_the_page_when_claude_code_is_not_taking_messages(tmp_path: Path) -> None:
    port = free_port()
    env = {"FAKECHAT_PORT": str(port), "FAKECHAT_STATE_DIR": str(tmp_path), "MCP_CHANNELS_QUEUE_EVENTS": "1"}
    server = await PipedServer(server_command("fakechat"), env).start()
    try:
        await server.initialize()  # not ready yet: what the page sends is held, one message at most
        await server.wait_stderr("chat page at")
        async with aiohttp.ClientSession() as session, session.ws_connect(f"http://127.0.0.1:{port}/ws") as ws:
            await ws.send_json({"type": "msg", "id": "m1", "text": "one"})
            await ws.send_json({"type": "msg", "id": "m2", "text": "two"})
            async with asyncio.timeout(DEFAULT_TIMEOUT):
                while (frame := json.loads(await ws.receive_str())).get("type") != "error":
                    pass
        assert frame["id"] == "m2" and "not delivered" in frame["message"]
        await server.handshake(initialized=True)
        await server.wait(lambda: len(server.events()) == 1)
        assert server.events()[0]["content"] == "one"
    finally:
        await server.stop()


async def test_telegram_leaves_an_update_unconfirmed_when_the_host_has_gone(fake: FakeTelegram, tmp_path: Path) -> None:
    """The update must stay with Telegram for the next session, not be confirmed as delivered."""
    fake.user(ALICE, "alice")
    state = tmp_path / "state"
    write_access(state, allowFrom=[str(ALICE)])
    env = {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_BASE": fake.base, "TELEGRAM_STATE_DIR": str(state)}
    server = await PipedServer(server_command("telegram"), env).start()
    try:
        await server.handshake()
        await server.wait_stderr("polling as @")
        fake.send_text(fake.users[ALICE], "delivered")
        await server.wait(lambda: any(e["content"] == "delivered" for e in server.events()))
        server.close_stdout()
        await server.wait_stderr("stdout is closed")
        fake.send_text(fake.users[ALICE], "nobody is listening")
        await server.wait_stderr("Claude Code has gone away: stopped polling")
        pending = [u["message"]["text"] for u in fake.updates]
    finally:
        assert await server.stop() == 0
    assert pending == ["nobody is listening"]
    assert [u["message"]["text"] for u in fake.updates] == ["nobody is listening"]  # still not confirmed


async def test_discord_stops_taking_messages_with_one_line_when_the_host_has_gone(tmp_path: Path) -> None:
    """Not one traceback per message until the process exits: one line, and the gateway is closed."""
    discord = await open_channel(tmp_path / "state")
    fake, carol, lounge = discord.fake, discord.member, discord.channel
    server = await PipedServer(server_command("discord"), discord.env).start()
    try:
        await server.handshake()
        await fake.wait_gateway("identify")
        fake.post(lounge, carol, "delivered")
        await server.wait(lambda: any(e["content"] == "delivered" for e in server.events()))
        server.close_stdout()
        await server.wait_stderr("stdout is closed")
        for n in range(3):
            fake.post(lounge, carol, f"nobody is listening {n}")
        await server.wait_stderr("Claude Code has gone away: closed the gateway")
        await fake.wait_gateway("disconnect")
    finally:
        assert await server.stop() == 0
        await fake.close()
    log = server.stderr.decode()
    assert log.count("Claude Code has gone away") == 1
    assert "could not be handled" not in log and "Traceback" not in log


async def test_imessage_stops_watching_with_one_line_when_the_host_has_gone(tmp_path: Path) -> None:
    db = ChatDbBuilder(tmp_path / "chat.db")
    db.chat("iMessage;-;+15551230001", ["+15551230001"])
    osascript = await OsascriptRecorder(tmp_path).start()
    state = tmp_path / "state"
    state.mkdir()
    (state / "access.json").write_text(json.dumps({"dmPolicy": "allowlist", "allowFrom": ["+15551230001"]}))
    env = {
        "IMESSAGE_DB_PATH": str(db.path),
        "IMESSAGE_STATE_DIR": str(state),
        "IMESSAGE_POLL_INTERVAL": "0.05",
        "HOME": str(tmp_path),
        **osascript.env(),
    }
    server = await PipedServer(server_command("imessage"), env).start()
    try:
        await server.handshake()
        await server.wait_stderr("watching chat.db")
        db.message("iMessage;-;+15551230001", "+15551230001", "delivered")
        await server.wait(lambda: any(e["content"] == "delivered" for e in server.events()))
        server.close_stdout()
        await server.wait_stderr("stdout is closed")
        for n in range(3):
            db.message("iMessage;-;+15551230001", "+15551230001", f"nobody is listening {n}")
        await server.wait_stderr("Claude Code has gone away: stopped watching chat.db")
    finally:
        assert await server.stop() == 0
        await osascript.stop()
        db.close()
    log = server.stderr.decode()
    assert log.count("Claude Code has gone away") == 1
    assert "could not be handled" not in log and "Traceback" not in log


async def test_fakechat_keeps_no_upload_whose_message_was_refused(tmp_path: Path) -> None:
    """Refused with the queue full, then with the host gone: neither file stays in ``inbox/``."""
    port = free_port()
    env = {"FAKECHAT_PORT": str(port), "FAKECHAT_STATE_DIR": str(tmp_path), "MCP_CHANNELS_QUEUE_EVENTS": "1"}
    server = await PipedServer(server_command("fakechat"), env).start()
    inbox = tmp_path / "inbox"

    async def send_file(message_id: str) -> tuple[int, bytes]:
        body = multipart({"id": message_id, "text": "see attached"}, ("report.txt", b"the report"))
        headers = {"Content-Type": "multipart/form-data; boundary=fcboundary"}
        status, _, answer = await http_request(port, "POST", "/upload", body, headers)
        return status, answer

    try:
        await server.initialize()  # not ready: one message is held, the next refused
        await server.wait_stderr("chat page at")
        assert (await send_file("u-held"))[0] == 204
        (kept,) = list(inbox.iterdir())
        status, answer = await send_file("u-full")
        assert status == 400 and b"not delivered" in answer
        assert list(inbox.iterdir()) == [kept]
        await server.handshake(initialized=True)
        await server.wait(lambda: len(server.events()) == 1)
        assert server.events()[0]["meta"]["file_path"] == str(kept)
        server.close_stdout()
        await server.wait_stderr("stdout is closed")
        status, answer = await send_file("u-gone")
        assert status == 400 and b"not delivered" in answer
        assert list(inbox.iterdir()) == [kept]
    finally:
        await server.stop()

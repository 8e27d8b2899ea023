"""The webhook and fakechat through the hub: one listener for every session, routed by path or taken by the newest."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from support.fakechat import Tab
from support.hub import HubDir, HubSession, cli, wait_until
from support.processes import free_port, http_request


@pytest.fixture
async def opened(hub: HubDir, tmp_path: Path) -> AsyncIterator[list[HubSession]]:
    sessions: list[HubSession] = []
    yield sessions
    for session in sessions:
        await session.stop()


async def open_session(
    opened: list[HubSession], hub: HubDir, tmp_path: Path, channel: str, name: str, **env: str
) -> HubSession:
    session = HubSession(hub, channel, tmp_path / f"{name}-{len(opened)}", name, **env)
    opened.append(session)
    return await session.start()


async def post(port: int, path: str, body: bytes) -> int:
    status, _, _ = await http_request(port, "POST", path, body)
    return status


async def test_webhook_paths_routed_to_named_sessions(hub: HubDir, opened: list[HubSession], tmp_path: Path) -> None:
    port = free_port()
    env = {"WEBHOOK_PORT": str(port), "WEBHOOK_STATE_DIR": str(tmp_path / "webhook")}
    ci = await open_session(opened, hub, tmp_path, "webhook", "ci", **env)
    dev = await open_session(opened, hub, tmp_path, "webhook", "dev", **env)
    code, out, _ = await cli(hub.env, "hub", "route", "webhook", "--prefix", "/ci/", "ci")
    assert code == 0 and "webhook /ci/* → ci" in out
    assert await post(port, "/ci/build", b"build failed") == 202
    assert await post(port, "/deploy", b"deployed") == 202
    event = await ci.event("build failed")
    assert event["meta"]["path"] == "/ci/build"
    await dev.event("deployed")
    assert ci.contents() == ["build failed"] and dev.contents() == ["deployed"]
    status = json.loads((await dev.call("status"))["text"])
    assert status["url"] == f"http://127.0.0.1:{port}/"


async def test_webhook_port_conflict_is_an_error_on_stderr_and_in_tools(
    hub: HubDir, opened: list[HubSession], tmp_path: Path
) -> None:
    first_port, second_port = free_port(), free_port()
    await open_session(opened, hub, tmp_path, "webhook", "first", WEBHOOK_PORT=str(first_port))
    second = await open_session(opened, hub, tmp_path, "webhook", "second", WEBHOOK_PORT=str(second_port))
    line = await second.host.wait_stderr("the hub refused this session")
    assert f"WEBHOOK_PORT '{first_port}' in the hub, '{second_port}' here" in line
    result = await second.call("status")
    assert result["is_error"] and "the hub already runs webhook for session first" in result["text"]
    assert await post(first_port, "/x", b"to the first") == 202
    await opened[0].event("to the first")


async def test_a_secret_is_never_shown_in_a_conflict(hub: HubDir, opened: list[HubSession], tmp_path: Path) -> None:
    port = str(free_port())
    await open_session(opened, hub, tmp_path, "webhook", "a", WEBHOOK_PORT=port, WEBHOOK_SECRET="s3cret-one")
    second = await open_session(opened, hub, tmp_path, "webhook", "b", WEBHOOK_PORT=port, WEBHOOK_SECRET="s3cret-two")
    line = await second.host.wait_stderr("the hub refused this session")
    assert "WEBHOOK_SECRET set (value hidden) in the hub, set (value hidden) here" in line
    assert "s3cret" not in "\n".join(second.host.stderr_lines)
    code, out, _ = await cli(hub.env, "hub", "status", "--json")
    assert code == 0 and "s3cret" not in out


async def test_fakechat_page_through_the_hub(hub: HubDir, opened: list[HubSession], tmp_path: Path) -> None:
    port = free_port()
    env = {"FAKECHAT_PORT": str(port), "FAKECHAT_STATE_DIR": str(tmp_path / "fakechat")}
    first = await open_session(opened, hub, tmp_path, "fakechat", "first", **env)
    async with aiohttp.ClientSession() as client:
        tab = Tab(await _connect(hub, client, port))
        await tab.hello()
        await tab.send(id="u-1", text="hello claude")
        await tab.entry("u-1", status="delivered")
        event = await first.event("hello claude")
        assert event["meta"]["chat_id"] == "web"
        reply = await first.call("reply", text="hello human")
        assert not reply["is_error"]
        await tab.next(lambda f: f.get("from") == "assistant" and f.get("text") == "hello human")

        await first.stop()
        opened.remove(first)
        await tab.send(id="u-2", text="anyone there?")
        await tab.entry("u-2", status="delivered")  # committed: kept for the next session
        notice = await tab.next(lambda f: f.get("from") == "assistant" and "not open" in f.get("text", ""))
        assert "(first)" in notice["text"]
        second = await open_session(opened, hub, tmp_path, "fakechat", "first", **env)
        event = await second.event("anyone there?")
        assert event["meta"]["queued"] == "true"
        await tab.ws.close()


async def _connect(hub: HubDir, client: aiohttp.ClientSession, port: int) -> aiohttp.ClientWebSocketResponse:
    """The page's websocket, once the hub's fakechat listens (it starts with the first session)."""
    await wait_until(lambda: f"chat page at http://localhost:{port}" in (hub.path / "hub.log").read_text())
    return await client.ws_connect(f"ws://127.0.0.1:{port}/ws")


async def test_a_later_session_answers_from_the_declaration_without_loading_the_channel(
    hub: HubDir, opened: list[HubSession], tmp_path: Path
) -> None:
    """The second shim takes instructions and tools from what the hub wrote: no HTTP parser loaded."""
    env = {"WEBHOOK_PORT": str(free_port()), "WEBHOOK_STATE_DIR": str(tmp_path / "webhook")}
    first = await open_session(opened, hub, tmp_path, "webhook", "first", **env)
    second = await open_session(opened, hub, tmp_path, "webhook", "second", **env)
    declared = [session.host.of_type("server")[0] for session in (first, second)]
    assert declared[0]["instructions"] == declared[1]["instructions"] and declared[0]["tools"] == declared[1]["tools"]
    shims = [pid for pid in _shims(hub) if pid not in _shims_of(first)]
    assert len(shims) == 1
    maps = Path(f"/proc/{shims[0]}/maps").read_text()
    assert "httptools" not in maps


def _shims(hub: HubDir) -> list[int]:
    """Pids of ``serve`` processes attached to this test's hub (their environment names its directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in argv and f"MCP_CHANNELS_HUB_DIR={hub.path}".encode() in environ:
            found.append(int(entry.name))
    return found


def _shims_of(session: HubSession) -> list[int]:
    assert session.host.proc is not None
    children = Path(f"/proc/{session.host.proc.pid}/task/{session.host.proc.pid}/children").read_text().split()
    return [int(pid) for pid in children]


async def test_a_webhook_202_means_stored_even_if_the_hub_is_killed_at_once(
    hub: HubDir, opened: list[HubSession], tmp_path: Path
) -> None:
    """No session open: each POST is answered 202 only once committed; kill -9 right after the last
    one, and the next session (which starts a new hub, which starts the webhook again) gets them all."""
    port = free_port()
    env = {"WEBHOOK_PORT": str(port), "WEBHOOK_STATE_DIR": str(tmp_path / "webhook")}
    first = await open_session(opened, hub, tmp_path, "webhook", "first", **env)
    await first.stop()
    opened.remove(first)
    bodies = [f"build {n}".encode() for n in range(50)]
    for body in bodies:
        assert await post(port, "/ci", body) == 202
    hub.kill()
    await wait_until(lambda: hub.pid() is None)
    second = await open_session(opened, hub, tmp_path, "webhook", "second", **env)
    for body in bodies:
        await second.event(body.decode())
    assert second.contents() == [body.decode() for body in bodies]


async def test_a_channel_that_fails_in_the_hub_is_told_to_its_session_and_by_doctor(
    hub: HubDir, opened: list[HubSession], tmp_path: Path, listener: int
) -> None:
    """The webhook's port is taken: the hub says why, to the session and in doctor, and keeps retrying."""
    env = {"WEBHOOK_PORT": str(listener), "WEBHOOK_STATE_DIR": str(tmp_path / "webhook")}
    session = await open_session(opened, hub, tmp_path, "webhook", "app", **env)
    line = await session.host.wait_stderr("webhook failed in the hub")
    assert f"cannot listen on 127.0.0.1:{listener}" in line
    result = await session.call("status")
    assert result["is_error"] and f"cannot listen on 127.0.0.1:{listener}" in result["text"]
    code, out, _ = await cli({**hub.env, **env}, "doctor", "webhook")
    assert code == 1
    assert "FAIL  hub" in out and "webhook failed in the hub" in out

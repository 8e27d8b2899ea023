"""The hub's process life, through the real command line: one hub, detached, stoppable, and its socket."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
from pathlib import Path

from mcp_channels.errors import JsonRpcError
from mcp_channels.hub import HubPaths
from mcp_channels.hub._socket import connect, http_get
from support.hub import PYTHON, cli, hub_dir, hub_processes, wait_until


async def test_concurrent_starts_start_one_hub() -> None:
    """Four ``hub start`` in the same instant: all succeed, one hub runs."""
    with hub_dir() as hub:
        results = await asyncio.gather(*(cli(hub.env, "hub", "start") for _ in range(4)))
        assert all(code == 0 for code, _, _ in results), results
        started = [out for _, out, _ in results if out.startswith("hub started")]
        assert len(started) == 1, results
        assert len(hub_processes(hub.path)) == 1
        pid = hub.pid()
        assert pid and f"pid {pid}" in started[0]


async def test_hub_outlives_its_starter_and_its_process_group() -> None:
    """The starter's whole process group is killed (a terminal closing): the hub stays and answers."""
    with hub_dir() as hub:
        starter = await asyncio.create_subprocess_exec(
            "sh", "-c", f'"{PYTHON}" -m mcp_channels hub start && sleep 30',
            env=hub.env, start_new_session=True, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert starter.stdout is not None
        assert (await starter.stdout.readline()).startswith(b"hub started")
        os.killpg(starter.pid, signal.SIGKILL)
        await starter.wait()
        code, out, _ = await cli(hub.env, "hub", "status")
        assert code == 0 and "hub: running" in out


async def test_stop_releases_everything_and_status_says_so() -> None:
    with hub_dir() as hub:
        assert (await cli(hub.env, "hub", "start"))[0] == 0
        code, out, _ = await cli(hub.env, "hub", "stop")
        assert code == 0 and "hub stopped" in out
        assert hub.pid() is None
        assert not hub.paths.socket.exists()
        code, out, _ = await cli(hub.env, "hub", "status", "--json")
        assert code == 1 and json.loads(out)["running"] is False
        assert (await cli(hub.env, "hub", "stop"))[1].strip() == "no hub is running"


async def test_a_second_hub_refuses_to_run() -> None:
    with hub_dir() as hub:
        assert (await cli(hub.env, "hub", "start"))[0] == 0
        code, _, err = await cli(hub.env, "hub", "run")
        assert code == 1 and "a hub is already running" in err


async def test_after_kill_9_a_new_hub_starts_on_the_stale_socket() -> None:
    with hub_dir() as hub:
        assert (await cli(hub.env, "hub", "start"))[0] == 0
        first = hub.pid()
        hub.kill()
        await wait_until(lambda: hub.pid() is None)
        assert hub.paths.socket.exists()  # left behind by the killed hub
        code, out, _ = await cli(hub.env, "hub", "start")
        assert code == 0 and "hub started" in out
        assert hub.pid() not in (None, first)
        assert (await cli(hub.env, "hub", "status"))[0] == 0


async def test_idle_exit_only_when_told() -> None:
    with hub_dir() as hub:
        assert (await cli(hub.env, "hub", "start", "--idle-exit", "0.3"))[0] == 0
        await wait_until(lambda: hub.pid() is None)
        assert "nothing pending: exiting (--idle-exit)" in (hub.path / "hub.log").read_text()


async def test_files_are_private() -> None:
    with hub_dir() as hub:
        assert (await cli(hub.env, "hub", "start"))[0] == 0
        assert stat.S_IMODE(hub.path.stat().st_mode) == 0o700
        assert stat.S_IMODE(hub.paths.socket.stat().st_mode) == 0o600
        for name in ("hub.lock", "hub.log", "start.lock"):
            assert stat.S_IMODE((hub.path / name).stat().st_mode) == 0o600, name


async def test_probes_on_the_socket() -> None:
    with hub_dir() as hub:
        assert (await cli(hub.env, "hub", "start"))[0] == 0
        status, body = await http_get(hub.paths, "/healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"
        status, body = await http_get(hub.paths, "/metrics")
        assert status == 200
        text = body.decode()
        assert "# TYPE mcp_channels_hub_up gauge" in text and "\nmcp_channels_hub_up 1\n" in text
        assert (await http_get(hub.paths, "/nope"))[0] == 404


async def test_metrics_port_on_loopback_serves_http_only(unused_tcp_port: int) -> None:
    with hub_dir() as hub:
        assert (await cli(hub.env, "hub", "start", "--metrics-port", str(unused_tcp_port)))[0] == 0
        reader, writer = await asyncio.open_connection("127.0.0.1", unused_tcp_port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"mcp_channels_hub_up 1" in await reader.read()
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", unused_tcp_port)
        writer.write(b'{"jsonrpc":"2.0","id":1,"method":"hub/status"}\n')
        assert (await reader.read()).startswith(b"HTTP/1.1 400")
        writer.close()


async def test_tcp_mode_needs_the_token() -> None:
    """Windows' transport, forced on Linux: a loopback port, a 0600 token, refused without it."""
    with hub_dir(transport="tcp") as hub:
        assert (await cli(hub.env, "hub", "start"))[0] == 0
        paths = hub.paths
        assert stat.S_IMODE(paths.token.stat().st_mode) == 0o600
        port = json.loads(paths.endpoint.read_text())["port"]
        assert (await cli(hub.env, "hub", "status"))[0] == 0  # the command line reads the token

        link = await connect(paths)
        for params in ({"protocol": 1}, {"protocol": 1, "token": "0" * 64}):
            try:
                await link.peer.request("hub/hello", params)
            except JsonRpcError as exc:
                assert exc.code == -32001
            else:
                raise AssertionError("a hello without the right token was accepted")
        try:
            await link.peer.request("hub/status")
        except JsonRpcError as exc:
            assert exc.code == -32001
        else:
            raise AssertionError("status was served before a hello")
        link.close()

        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await reader.read()).startswith(b"HTTP/1.1 401")
        writer.close()
        status, _ = await http_get(paths, "/metrics", token=paths.token.read_text().strip())
        assert status == 200
        assert (await cli(hub.env, "hub", "stop"))[0] == 0
        assert not paths.token.exists() and not paths.endpoint.exists()


async def test_a_long_directory_puts_the_socket_in_a_private_temporary_directory(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    with hub_dir(extra={"MCP_CHANNELS_HUB_DIR": str(deep)}) as hub:
        paths = HubPaths.from_environ(hub.env)
        assert paths.socket.parent != deep
        assert (await cli(hub.env, "hub", "start"))[0] == 0
        assert stat.S_IMODE(paths.socket.parent.stat().st_mode) == 0o700
        assert (await cli(hub.env, "hub", "status"))[0] == 0
        assert (await cli(hub.env, "hub", "stop"))[0] == 0


async def test_install_writes_a_user_unit(tmp_path: Path) -> None:
    with hub_dir(extra={"XDG_CONFIG_HOME": str(tmp_path / "config")}) as hub:
        code, out, _ = await cli(hub.env, "hub", "install", "--retention-days", "3")
        assert code == 0
        unit = tmp_path / "config" / "systemd" / "user" / "mcp-channels-hub.service"
        text = unit.read_text()
        assert f"ExecStart={PYTHON} -m mcp_channels hub run --retention-days 3 --wait" in text
        assert f"Environment=MCP_CHANNELS_HUB_DIR={hub.path}" in text
        assert "systemctl --user enable --now mcp-channels-hub.service" in out
        code, printed, _ = await cli(hub.env, "hub", "install", "--print", "--retention-days", "3")
        assert code == 0 and printed == text

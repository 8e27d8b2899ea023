"""Knowing whether a session delivers, end to end: real processes stand in for Claude Code sessions and launchers, under which servers (and doctor) judge their own session."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil
import pytest

from support import REPO, SAMPLES
from support.gate import DEV, NOT_ALLOWLISTED, POLICY
from support.processes import PYTHON, HostProcess, RawServer, free_port, http_request, write_mcp_config

PROBE = SAMPLES / "delivery_probe.py"
FAKE_SESSION = SAMPLES / "fake_session.py"


async def test_serve_refuses_a_bad_option_with_its_usage() -> None:
    proc = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "mcp_channels", "serve", "webhook", "--nmae", "x",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert (proc.returncode, out) == (2, b"")
    assert err.decode().startswith("usage: mcp-channels serve <channel> [--name <mcp-server-name>]")


# --------------------------------------------------------------------------- real process trees


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without anything that would decide for the probe."""
    dropped = ("MCP_CHANNELS_", "CLAUDE_PLUGIN_", "CLAUDE_CODE_USE_")
    return {**{k: v for k, v in os.environ.items() if not k.startswith(dropped)}, **extra}


class Programs:
    """Stand-ins for the programs that start servers, under the names detection looks for.

    A script named ``claude`` shows up in the process table as its interpreter running it; a
    binary named ``claude`` (here a link to Python, as the native installer links ``claude`` to a
    versioned binary) as itself; Node.js running Claude Code's ``cli.js`` as ``node``.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.absent_settings = root / "no-managed-settings.json"

    def _link(self, folder: str, name: str) -> Path:
        path = self.root / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(PYTHON)
        return path

    def script_claude(self) -> list[str]:
        path = self.root / "script" / "claude"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"#!{PYTHON}\n{FAKE_SESSION.read_text()}")
        path.chmod(0o755)
        return [str(path)]

    def native_claude(self) -> list[str]:
        return [str(self._link("native", "claude")), str(FAKE_SESSION)]

    def node_claude(self) -> list[str]:
        cli = self.root / "lib" / "node_modules" / "@anthropic-ai" / "claude-code" / "cli.js"
        cli.parent.mkdir(parents=True)
        shutil.copy(FAKE_SESSION, cli)
        return [str(self._link("node", "node")), str(cli)]

    def other_client(self) -> list[str]:
        return [str(self._link("other", "mcp-inspector")), str(FAKE_SESSION)]

    def probe(self, *args: str) -> list[str]:
        return [PYTHON, str(PROBE), "webhook", "--managed-settings", str(self.absent_settings), *args]

    def shell_launcher(self, child: Sequence[str]) -> list[str]:
        """A launcher script that stays between its parent and the server (no ``exec``)."""
        path = self.root / "serve.sh"
        quoted = " ".join(f"'{word}'" for word in child)
        path.write_text(f"#!/bin/sh\n{quoted}\nstatus=$?\nexit $status\n")
        return ["/bin/sh", str(path)]


@pytest.fixture
def programs(tmp_path: Path) -> Programs:
    return Programs(tmp_path)


async def session_answer(
    session: Sequence[str], args: Sequence[str], child: Sequence[str], **env: str
) -> tuple[int, dict[str, Any]]:
    """Run ``session args...`` with ``child`` beneath it; the session's pid and the probe's answer."""
    proc = await asyncio.create_subprocess_exec(
        *session, *args,
        env=clean_environment(FAKE_SESSION_CHILD=json.dumps(list(child)), **env),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return proc.pid, json.loads(out)


async def test_a_script_named_claude_with_the_development_flag(programs: Programs) -> None:
    session = programs.script_claude()
    pid, answer = await session_answer(session, [DEV, "server:webhook"], programs.probe())
    assert answer["state"] == "delivering"
    assert answer["reason"] == f"Claude Code (pid {pid}): registered from development entry server:webhook"
    assert answer["host_pid"] == pid
    assert answer["host_argv"][1:] == [*session, DEV, "server:webhook"]  # [0] is the script's interpreter


async def test_a_claude_binary_without_flags(programs: Programs) -> None:
    session = programs.native_claude()
    pid, answer = await session_answer(session, ["-c"], programs.probe())
    assert (answer["state"], answer["host_pid"]) == ("not delivering", pid)
    assert answer["reason"] == f"Claude Code (pid {pid}): server webhook not in --channels list for this session"
    assert answer["host_argv"] == [*session, "-c"]


async def test_node_running_claude_codes_cli(programs: Programs) -> None:
    pid, answer = await session_answer(programs.node_claude(), ["--channels", "server:webhook"], programs.probe())
    assert answer["state"] == "not delivering"
    assert answer["reason"] == f"Claude Code (pid {pid}): server webhook {NOT_ALLOWLISTED}"


async def test_node_with_a_process_title_hides_the_flags(programs: Programs) -> None:
    """Node.js writes ``process.title`` over its command line (psutil then shows ``claude`` and
    empty words): a session that looks flagless may not be, so the answer is unknown."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed")
    script = programs.root / "titled.js"
    script.write_text(
        "process.title = 'claude';\n"
        "const child = JSON.parse(process.env.FAKE_SESSION_CHILD);\n"
        "const run = require('child_process').spawnSync(child[0], child.slice(1), {stdio: 'inherit'});\n"
        "process.exit(run.status);\n"
    )
    pid, answer = await session_answer([node, str(script)], [DEV, "server:webhook"], programs.probe())
    assert answer["state"] == "unknown"
    assert answer["reason"] == (
        f"Claude Code (pid {pid}) runs under Node.js, whose process title replaced its arguments: its flags "
        "cannot be read (set MCP_CHANNELS_DELIVERY)"
    )


async def test_launchers_between_claude_code_and_the_server(programs: Programs) -> None:
    session = programs.native_claude()
    through_shell = programs.shell_launcher(programs.probe())
    through_python = [PYTHON, "-c", "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))", *through_shell]
    for child in (through_shell, through_python):
        pid, answer = await session_answer(session, [DEV, "server:webhook"], child)
        assert (answer["state"], answer["host_pid"]) == ("delivering", pid), answer


async def test_another_client_is_unknown(programs: Programs) -> None:
    """Another MCP client started from a Claude Code session (an inspector run by its shell tool)
    is the server's host, not the session above it: the nearest client decides."""
    client = programs.other_client()
    nested = ["/usr/bin/env", f"FAKE_SESSION_CHILD={json.dumps(programs.probe())}", *client, "--verbose"]
    _, answer = await session_answer(programs.native_claude(), [DEV, "server:webhook"], nested)
    assert (answer["state"], answer["host_pid"], answer["host_argv"]) == ("unknown", None, None)
    assert answer["reason"].startswith("started by pid ")
    assert "mcp-inspector" in answer["reason"] and "not by Claude Code or mcp-channels host" in answer["reason"]


async def test_the_server_name_comes_from_the_option_or_the_environment(programs: Programs) -> None:
    session = programs.native_claude()
    flags = [DEV, "server:alerts"]
    _, answer = await session_answer(session, flags, programs.probe("--name", "alerts"))
    assert (answer["state"], answer["server"]) == ("delivering", "alerts")
    _, answer = await session_answer(session, flags, programs.probe(), MCP_CHANNELS_SERVER_NAME="alerts")
    assert answer["state"] == "delivering"
    _, answer = await session_answer(session, flags, programs.probe())
    assert answer["reason"].endswith("server webhook not in --channels list for this session")


async def test_a_plugin_finds_its_marketplace_in_claude_codes_environment(programs: Programs) -> None:
    session = programs.script_claude()
    plugin = {"MCP_CHANNELS_PLUGIN": "webhook", "CLAUDE_PLUGIN_DATA": str(programs.root / "data/webhook-mcp-channels")}
    _, answer = await session_answer(session, [DEV, "plugin:webhook@mcp-channels"], programs.probe(), **plugin)
    assert (answer["state"], answer["server"], answer["marketplace"]) == (
        "delivering",
        "plugin:webhook:webhook",
        "mcp-channels",
    )
    _, answer = await session_answer(session, [DEV, "plugin:webhook@other"], programs.probe(), **plugin)
    assert answer["state"] == "not delivering"
    assert answer["reason"].endswith(
        "you asked for plugin:webhook@other but the installed plugin is webhook@mcp-channels"
    )
    _, answer = await session_answer(
        session, [DEV, "plugin:webhook@mcp-channels"], programs.probe(), MCP_CHANNELS_PLUGIN="webhook"
    )
    assert answer["state"] == "unknown"
    assert "set MCP_CHANNELS_PLUGIN=webhook@<marketplace>" in answer["reason"]


async def test_the_override(programs: Programs) -> None:
    session = programs.native_claude()
    _, answer = await session_answer(session, [], programs.probe(), MCP_CHANNELS_DELIVERY="deliver")
    assert (answer["state"], answer["reason"]) == ("delivering", "MCP_CHANNELS_DELIVERY=deliver")
    _, answer = await session_answer(
        session, [DEV, "server:webhook"], programs.probe(), MCP_CHANNELS_DELIVERY="tools-only"
    )
    assert (answer["state"], answer["reason"]) == ("not delivering", "MCP_CHANNELS_DELIVERY=tools-only")
    _, answer = await session_answer(session, [DEV, "server:webhook"], programs.probe(), MCP_CHANNELS_DELIVERY="AUTO")
    assert answer["state"] == "delivering"
    _, answer = await session_answer(session, [], programs.probe(), MCP_CHANNELS_DELIVERY="yes")
    assert answer["state"] == "unknown"
    assert answer["reason"] == "MCP_CHANNELS_DELIVERY='yes' is not one of deliver, tools-only, auto: ignored"


async def test_what_a_command_line_cannot_say_is_unknown(programs: Programs) -> None:
    session = programs.native_claude()
    pid, answer = await session_answer(session, ["-p", "--input-format", "stream-json"], programs.probe())
    assert answer["state"] == "unknown"
    assert answer["reason"].startswith(f"Claude Code (pid {pid}): server webhook not in --channels list")
    assert "an Agent SDK host" in answer["reason"]
    _, answer = await session_answer(session, ["--channels", "webhook"], programs.probe())
    assert answer["state"] == "unknown"
    assert answer["reason"].endswith("has channel entries it refuses: --channels entries must be tagged: webhook")


async def test_org_policy_and_provider_reach_the_server(programs: Programs) -> None:
    session = programs.native_claude()
    programs.absent_settings.write_text(json.dumps({"allowedChannelPlugins": []}))
    _, answer = await session_answer(session, [DEV, "server:webhook"], programs.probe())
    assert (answer["state"], answer["reason"].split(": ", 1)[1]) == ("not delivering", POLICY)
    programs.absent_settings.write_text("{not json")
    _, answer = await session_answer(session, [DEV, "server:webhook"], programs.probe())
    assert answer["state"] == "unknown" and "cannot read managed settings" in answer["reason"]
    programs.absent_settings.unlink()
    _, answer = await session_answer(session, [DEV, "server:webhook"], programs.probe(), CLAUDE_CODE_USE_FOUNDRY="1")
    assert answer["reason"].endswith("channels are not available on third-party providers")


async def test_a_channel_whose_session_cannot_be_told_receives_as_before(programs: Programs, tmp_path: Path) -> None:
    """Unknown (here: another MCP client spawned it) is taken as delivering: the port is taken and
    every event is pushed, as every server did before it could tell."""
    port = free_port()
    env = clean_environment(
        MCP_CHANNELS_DELIVERY="auto",
        WEBHOOK_PORT=str(port),
        WEBHOOK_STATE_DIR=str(tmp_path / "state"),
        FAKE_SESSION_CHILD=json.dumps([PYTHON, "-m", "mcp_channels", "serve", "webhook"]),
    )
    server = await RawServer("webhook", env=env, argv=programs.other_client()).start()
    try:
        await server.handshake()
        await server.wait_stderr("webhook channel: cannot tell whether this session delivers (started by pid ")
        await server.wait_stderr("listening on")
        status, _, _ = await http_request(port, "POST", "/ci", b"still delivered")
        assert status == 202
        event = await server.wait_for(lambda m: m.get("method") == "notifications/claude/channel")
        assert event["params"]["content"] == "still delivered"
    finally:
        await server.stop()


# --------------------------------------------------------------------------- under the host emulator


def probe_server(name: str, programs: Programs, **env: str) -> dict[str, Any]:
    command = programs.probe("--mcp", "--name", name)
    return {"command": command[0], "args": command[1:], "env": env}


async def self_assessment(host: HostProcess, server: str) -> dict[str, Any]:
    result = await host.call(server, "delivery", {})
    assert result["type"] == "tool_result" and not result["is_error"], result
    return dict(json.loads(result["text"]))


async def test_servers_under_the_host_agree_with_its_gate(programs: Programs, tmp_path: Path) -> None:
    names = ("dev", "plain", "both", "absent")
    config = write_mcp_config(tmp_path, {name: probe_server(name, programs) for name in names})
    managed = tmp_path / "managed.json"
    managed.write_text(json.dumps({"channelsEnabled": True}))
    host = await HostProcess(
        ["--mcp-config", str(config), "--channels", "server:plain", "server:both",
         DEV, "server:dev", "server:both", "--managed-settings", str(managed)],
        env=clean_environment(),
    ).start()  # fmt: skip
    try:
        await host.wait_type("ready")
        gate = {m["server"]: m["reason"] for m in host.of_type("server")}
        assert host.proc is not None
        for name in names:
            answer = await self_assessment(host, name)
            assert answer["host_pid"] == host.proc.pid
            assert answer["reason"] == f"mcp-channels host (pid {host.proc.pid}): {gate[name]}"
            assert answer["state"] == ("delivering" if name == "dev" else "not delivering")
    finally:
        await host.stop()


async def test_a_plugin_under_the_host_names_its_marketplace_as_the_host_does(
    programs: Programs, tmp_path: Path
) -> None:
    market = tmp_path / "market"
    (market / ".claude-plugin").mkdir(parents=True)
    (market / ".claude-plugin" / "marketplace.json").write_text(json.dumps({"name": "acme", "plugins": []}))
    folder = market / "alerts"
    (folder / ".claude-plugin").mkdir(parents=True)
    (folder / ".claude-plugin" / "plugin.json").write_text(json.dumps({"name": "alerts"}))
    server = probe_server("alerts", programs, MCP_CHANNELS_PLUGIN="alerts")
    (folder / ".mcp.json").write_text(json.dumps({"mcpServers": {"alerts": server}}))
    empty = write_mcp_config(tmp_path, {})
    for flags, state in (
        ([DEV, "plugin:alerts@acme"], "delivering"),
        (["--channels", "plugin:alerts@acme"], "not delivering"),
    ):
        host = await HostProcess(
            ["--mcp-config", str(empty), "--plugin-dir", str(folder), *flags], env=clean_environment()
        ).start()
        try:
            await host.wait_type("ready")
            (decision,) = host.of_type("server")
            answer = await self_assessment(host, "plugin:alerts:alerts")
            assert (answer["server"], answer["marketplace"], answer["state"]) == ("plugin:alerts:alerts", None, state)
            assert answer["reason"].endswith(f": {decision['reason']}")
        finally:
            await host.stop()


# --------------------------------------------------------------------------- doctor


async def doctor(home: Path, *args: str) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "mcp_channels", "doctor", *args, "--json", "--managed-settings", str(home / "absent.json"),
        env=clean_environment(HOME=str(home)), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None, err
    return dict(json.loads(out))


def sessions(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [check for check in report["checks"] if check["check"] == "sessions"]


async def test_doctor_lists_running_servers_and_whether_their_session_delivers(
    programs: Programs, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (quiet,) = sessions(await doctor(home, "webhook"))
    assert (quiet["status"], quiet["message"]) == (
        "ok",
        "no webhook server is running (no Claude Code session has started one)",
    )
    channel_session = programs.script_claude()
    plain_session = programs.native_claude()
    launcher = ["/bin/sh", str(REPO / "plugins" / "webhook" / "scripts" / "serve.sh")]
    common = {"HOME": str(home), "MCP_CHANNELS_PYTHON": PYTHON, "MCP_CHANNELS_DELIVERY": "auto"}
    delivering = RawServer(
        "webhook",
        env=clean_environment(**common, WEBHOOK_PORT=str(free_port()),
                              FAKE_SESSION_CHILD=json.dumps([PYTHON, "-m", "mcp_channels", "serve", "webhook"])),
        argv=[*channel_session, DEV, "server:webhook"],
    )  # fmt: skip
    plugin_env = {"CLAUDE_PLUGIN_ROOT": str(REPO / "plugins" / "webhook"),
                  "CLAUDE_PLUGIN_DATA": str(home / ".claude/plugins/data/webhook-mcp-channels")}  # fmt: skip
    dropped = RawServer(
        "webhook",
        env=clean_environment(**common, **plugin_env, WEBHOOK_PORT=str(free_port()),
                              FAKE_SESSION_CHILD=json.dumps(launcher)),
        argv=plain_session,
    )  # fmt: skip
    try:
        for server in (delivering, dropped):
            await server.start()
            await server.handshake()
        assert delivering.proc is not None and dropped.proc is not None
        (good_server,) = psutil.Process(delivering.proc.pid).children()
        (bad_server,) = psutil.Process(dropped.proc.pid).children()  # the launcher exec'd the server
        report = await doctor(home, "webhook")
        await delivering.stop()
        alone = await doctor(home, "webhook")
    finally:
        await delivering.stop()
        await dropped.stop()
    by_pid = {check["message"].split()[1]: check for check in sessions(report)}
    good = by_pid[str(good_server.pid)]
    assert good["status"] == "ok"
    assert good["message"] == (
        f"pid {good_server.pid} webhook as webhook: delivering — Claude Code (pid {delivering.proc.pid}): "
        f"registered from development entry server:webhook; session command line: {PYTHON} {channel_session[0]} "
        f"{DEV} server:webhook"
    )
    tools_only = {
        "check": "sessions",
        "status": "ok",
        "message": (
            f"pid {bad_server.pid} webhook as plugin:webhook:webhook: tools only (its session drops the channel's "
            "events, so it receives nothing and holds no port, bot or gateway) — "
            f"Claude Code (pid {dropped.proc.pid}): server plugin:webhook:webhook not in --channels list for this "
            f"session; session command line: {' '.join(plain_session)}"
        ),
        "fix": None,
    }
    assert by_pid[str(bad_server.pid)] == tools_only
    assert len(sessions(report)) == 2  # one session receives: nothing to warn about
    assert sessions(alone) == [
        tools_only,
        {
            "check": "sessions",
            "status": "warn",
            "message": "no running session receives webhook's messages: its 1 server(s) serve tools only",
            "fix": f"start a session with the channel: claude {DEV} plugin:webhook@mcp-channels",
        },
    ]

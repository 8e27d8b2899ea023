"""The host as Claude Code: flags, the gate's order and reasons, event checks, permission relay."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from support import SAMPLES
from support.processes import PYTHON, HostProcess, write_mcp_config


def scripted(**env: Any) -> dict[str, Any]:
    return {
        "command": PYTHON,
        "args": [str(SAMPLES / "scripted_server.py")],
        "env": {k: v if isinstance(v, str) else json.dumps(v) for k, v in env.items()},
    }


def sample(**env: str) -> dict[str, Any]:
    return {"command": PYTHON, "args": [str(SAMPLES / "relay_channel.py")], "env": env}


async def run_host(
    tmp_path: Path, servers: dict[str, Any], *args: str, env: dict[str, str] | None = None
) -> HostProcess:
    config = write_mcp_config(tmp_path, servers)
    host = await HostProcess(["--mcp-config", str(config), *args], env=env).start()
    await host.wait_type("ready")
    return host


async def decision(
    tmp_path: Path, servers: dict[str, Any], *args: str, env: dict[str, str] | None = None
) -> dict[str, str]:
    host = await run_host(tmp_path, servers, *args, env=env)
    try:
        return {m["server"]: m["reason"] for m in host.of_type("server")}
    finally:
        await host.stop()


async def test_untagged_entries_exit_1_with_claude_codes_text(tmp_path: Path) -> None:
    config = write_mcp_config(tmp_path, {"a": sample()})
    proc = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "mcp_channels", "host", "--mcp-config", str(config), "--channels", "webhook", "plugin:x@", "server:a", "plug:y",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _out, err = await proc.communicate()
    assert proc.returncode == 1
    assert err.decode() == (
        "--channels entries must be tagged: webhook, plugin:x@, plug:y\n"
        "  plugin:<name>@<marketplace>  — plugin-provided channel (allowlist enforced)\n"
        "  server:<name>                — manually configured MCP server\n"
    )


async def test_gate_reasons_for_server_entries(tmp_path: Path) -> None:
    reasons = await decision(
        tmp_path,
        {"dev": sample(), "plain": sample(), "both": sample(), "absent": sample()},
        "--channels", "server:plain", "server:both",
        "--dangerously-load-development-channels", "server:dev", "server:both",
    )  # fmt: skip
    assert reasons == {
        "dev": "registered from development entry server:dev",
        "plain": "server plain is not on the approved channels allowlist (use --dangerously-load-development-channels for local dev)",
        "both": "server both is not on the approved channels allowlist (use --dangerously-load-development-channels for local dev)",
        "absent": "server absent not in --channels list for this session",
    }


async def test_gate_capability_and_era_come_first(tmp_path: Path) -> None:
    reasons = await decision(
        tmp_path,
        {"nocap": scripted(SCRIPTED_CAPS={}), "falsy": scripted(SCRIPTED_CAPS={"claude/channel": False}), "modern": scripted(SCRIPTED_DISCOVER="modern")},
        "--dangerously-load-development-channels", "server:nocap", "server:falsy", "server:modern",
    )  # fmt: skip
    assert reasons == {
        "nocap": "server did not declare claude/channel capability",
        "falsy": "server did not declare claude/channel capability",
        "modern": "connection negotiated a modern protocol revision with no unsolicited notification path",
    }


async def test_gate_provider_and_org_policy(tmp_path: Path) -> None:
    dev = ("--dangerously-load-development-channels", "server:s")
    assert (await decision(tmp_path, {"s": sample()}, *dev, env={"CLAUDE_CODE_USE_BEDROCK": "1"}))["s"] == (
        "channels are not available on third-party providers"
    )
    managed = tmp_path / "managed.json"
    managed.write_text(json.dumps({"allowedChannelPlugins": []}))
    assert (await decision(tmp_path, {"s": sample()}, *dev, "--managed-settings", str(managed)))["s"] == (
        "channels not enabled by org policy (set channelsEnabled: true in managed settings)"
    )
    managed.write_text(json.dumps({"channelsEnabled": True, "allowedChannelPlugins": []}))
    assert (await decision(tmp_path, {"s": sample()}, *dev, "--managed-settings", str(managed)))["s"].startswith(
        "registered"
    )


def make_plugin(root: Path, marketplace: str, plugin: str) -> Path:
    (root / ".claude-plugin").mkdir(parents=True)
    (root / ".claude-plugin" / "marketplace.json").write_text(json.dumps({"name": marketplace, "plugins": []}))
    folder = root / plugin
    (folder / ".claude-plugin").mkdir(parents=True)
    (folder / ".claude-plugin" / "plugin.json").write_text(
        json.dumps({"name": plugin, "channels": [{"server": plugin}]})
    )
    (folder / ".mcp.json").write_text(json.dumps({"mcpServers": {plugin: sample(PLUGIN_ROOT="${CLAUDE_PLUGIN_ROOT}")}}))
    return folder


async def plugin_reasons(tmp_path: Path, folder: Path, *args: str) -> str:
    config = write_mcp_config(tmp_path, {})
    host = await HostProcess(["--mcp-config", str(config), "--plugin-dir", str(folder), *args]).start()
    try:
        await host.wait_type("ready")
        (server,) = host.of_type("server")
        assert server["server"] == f"plugin:{folder.name}:{folder.name}"
        return str(server["reason"])
    finally:
        await host.stop()


async def test_gate_plugin_entries(tmp_path: Path) -> None:
    official = make_plugin(tmp_path / "official", "claude-plugins-official", "fakechat")
    ours = make_plugin(tmp_path / "ours", "acme", "alerts")
    assert await plugin_reasons(tmp_path, official, "--channels", "plugin:fakechat@claude-plugins-official") == (
        "registered from plugin:fakechat@claude-plugins-official"
    )
    assert await plugin_reasons(tmp_path, official, "--channels", "plugin:fakechat@elsewhere") == (
        "you asked for plugin:fakechat@elsewhere but the installed plugin is fakechat@claude-plugins-official"
    )
    assert await plugin_reasons(tmp_path, ours, "--channels", "plugin:alerts@acme") == (
        "plugin alerts@acme is not on the approved channels allowlist (use --dangerously-load-development-channels for local dev)"
    )
    assert (
        await plugin_reasons(tmp_path, ours, "--dangerously-load-development-channels", "plugin:alerts@acme")
    ).startswith("registered")
    managed = tmp_path / "managed.json"
    managed.write_text(
        json.dumps({"channelsEnabled": True, "allowedChannelPlugins": [{"marketplace": "acme", "plugin": "alerts"}]})
    )
    assert (
        await plugin_reasons(tmp_path, ours, "--channels", "plugin:alerts@acme", "--managed-settings", str(managed))
    ).startswith("registered")
    managed.write_text(json.dumps({"channelsEnabled": True, "allowedChannelPlugins": ["other@acme"]}))
    assert await plugin_reasons(
        tmp_path, official, "--channels", "plugin:fakechat@claude-plugins-official", "--managed-settings", str(managed)
    ) == (
        "plugin fakechat@claude-plugins-official is not on your org's approved channels list (set allowedChannelPlugins in managed settings)"
    )


async def test_events_claude_code_would_drop_are_reported_not_rendered(tmp_path: Path) -> None:
    events = [
        {"content": "fine", "meta": {"ok": "1", "bad-key": "x"}},
        {"content": "numbers", "meta": {"n": 5}},
        {"meta": {}},
        {"content": "null meta", "meta": None},
        {"content": "last"},
    ]
    host = await run_host(
        tmp_path, {"s": scripted(SCRIPTED_EVENTS=events)}, "--dangerously-load-development-channels", "server:s"
    )
    try:
        await host.call("s", "send", {})
        last = await host.wait_for(lambda m: m.get("type") == "event" and m["content"] == "last")
        rendered = [m["rendered"] for m in host.of_type("event")]
        assert rendered == ['<channel source="s" ok="1">\nfine\n</channel>', last["rendered"]]
        assert host.of_type("meta_dropped")[0]["keys"] == ["bad-key"]
        assert [m["reason"] for m in host.of_type("event_dropped")] == [
            "meta value for 'n' is not a string",
            "content must be a string",
            "meta must be an object, not null",
        ]
    finally:
        await host.stop()


async def test_an_event_with_a_lone_surrogate_is_shown_not_a_crash(tmp_path: Path) -> None:
    """Platform text cut in UTF-16 can end in half a pair; the host shows it escaped, in both modes."""
    cut = "cut \ud83d"
    servers = {"s": scripted(SCRIPTED_EVENTS=[{"content": cut, "meta": {"user": "\udc00x"}}, {"content": "after"}])}
    host = await run_host(tmp_path, servers, "--dangerously-load-development-channels", "server:s")
    try:
        await host.call("s", "send", {})
        await host.wait_type("event", content="after")
        (event, _) = host.of_type("event")
        assert (event["content"], event["meta"]) == (cut, {"user": "\udc00x"})  # parsed back as sent
    finally:
        await host.stop()
    config = write_mcp_config(tmp_path, servers)
    proc = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "mcp_channels", "host", "--mcp-config", str(config), "--dangerously-load-development-channels",
        "server:s", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(b"/call s send {}\n/wait-events 2 10\n/quit\n"), 30)
    assert proc.returncode == 0, err.decode()
    assert '<channel source="s" user="\\udc00x">\ncut \\ud83d\n</channel>' in out.decode()
    assert "Traceback" not in err.decode()


async def test_events_from_unregistered_servers_are_ignored(tmp_path: Path) -> None:
    host = await run_host(tmp_path, {"s": scripted(SCRIPTED_EVENTS=[{"content": "x"}])})
    try:
        await host.call("s", "send", {})
        ignored = await host.wait_type("event_ignored")
        assert ignored["server"] == "s" and host.of_type("event") == []
    finally:
        await host.stop()


@pytest.fixture
async def relay_host(tmp_path: Path):
    host = await run_host(
        tmp_path,
        {"one": sample(), "two": sample(), "norelay": sample(SAMPLE_NO_RELAY="1"), "unregistered": sample()},
        "--dangerously-load-development-channels", "server:one", "server:two", "server:norelay",
    )  # fmt: skip
    yield host
    await host.stop()


async def raise_permission(host: HostProcess) -> str:
    start = len(host.messages)
    await host.command('/permission Bash "List files" {"command": "ls -la /tmp"}')
    request = await host.wait_type("permission_request", start=start)
    assert request["tool_name"] == "Bash" and request["description"] == "List files"
    assert request["input_preview"] == '{ "command": "ls -la /tmp" }'
    assert sorted(request["sent_to"]) == ["one", "two"], "only registered relay-capable servers get prompts"
    assert re.fullmatch(r"[a-km-z]{5}", request["request_id"])
    rid = str(request["request_id"])
    for server in ("one", "two"):
        await host.wait_for(
            lambda m, s=server: m.get("type") == "event" and m["server"] == s and m["meta"].get("request_id") == rid
        )
    return rid


async def test_permission_first_channel_answer_wins_later_ones_are_stale(relay_host: HostProcess) -> None:
    host = relay_host
    rid = await raise_permission(host)
    first = await host.call("one", "answer", {"text": f"Yes {rid.upper()}"})
    assert first["text"] == f"verdict {rid} allow"
    resolved = await host.wait_type("permission_resolved", request_id=rid)
    assert resolved["behavior"] == "allow" and resolved["by"] == "channel one"
    await host.call("two", "answer", {"text": f"no {rid}"})
    stale = await host.wait_type("permission_stale", request_id=rid)
    assert stale["by"] == "channel two"
    await host.command(f"y {rid}")
    assert (await host.wait_type("permission_stale", by="console"))["request_id"] == rid
    assert len(host.of_type("permission_resolved")) == 1


async def test_permission_console_answer_first(relay_host: HostProcess) -> None:
    host = relay_host
    rid = await raise_permission(host)
    await host.command("n")  # bare answer: exactly one request is pending
    resolved = await host.wait_type("permission_resolved", request_id=rid)
    assert (resolved["behavior"], resolved["by"]) == ("deny", "console")
    await host.call("one", "answer", {"text": f"y {rid}"})
    assert (await host.wait_type("permission_stale", request_id=rid))["by"] == "channel one"


async def test_verdicts_from_unregistered_servers_are_ignored(relay_host: HostProcess) -> None:
    host = relay_host
    rid = await raise_permission(host)
    await host.call("unregistered", "answer", {"text": f"y {rid}"})
    await host.wait_type("verdict_ignored", server="unregistered")
    await host.call("norelay", "answer", {"text": f"y {rid}"})
    await host.wait_type("verdict_ignored", server="norelay")
    assert host.of_type("permission_resolved") == []


async def test_console_commands_report_usage_errors(relay_host: HostProcess) -> None:
    host = relay_host
    for command in ("/call one", "/call nobody echo {}", "/call one echo [1]", "/nope", "y"):
        start = len(host.messages)
        await host.command(command)
        await host.wait_type("error", start=start)
    result = await host.call("one", "echo", {"text": "hi"})
    assert result["text"] == "hi" and result["is_error"] is False


async def test_an_event_sent_on_initialized_is_lost_as_in_claude_code(tmp_path: Path) -> None:
    host = await run_host(
        tmp_path, {"s": scripted(SCRIPTED_EAGER="1", SCRIPTED_EVENTS=[{"content": "in time"}])},
        "--dangerously-load-development-channels", "server:s", "--registration-delay", "2000",
    )  # fmt: skip
    try:
        await host.call("s", "send", {})
        await host.wait_for(lambda m: m.get("type") == "event" and m["content"] == "in time")
        assert host.of_type("event_lost")[0]["server"] == "s"
        assert [m["content"] for m in host.of_type("event")] == ["in time"]
    finally:
        await host.stop()


async def test_host_exits_1_when_no_server_starts(tmp_path: Path) -> None:
    config = write_mcp_config(tmp_path, {"gone": {"command": str(tmp_path / "no-such-program")}})
    proc = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "mcp_channels", "host", "--json", "--mcp-config", str(config),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 1
    messages = [json.loads(line) for line in out.splitlines()]
    assert messages[0]["status"] == "failed" and "cannot start" in messages[0]["reason"]
    assert messages[-1] == {"type": "error", "message": "no server could be started; nothing to do"}

"""``mcp-channels doctor``: a healthy setup and the broken ones users meet, each with its line and exit status.

Doctor runs as a subprocess in a made-up home (its whole environment is given), against real
state files, real sockets, real running channels and a ``claude`` stand-in that prints a version.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fakes.telegram_api import FakeTelegram
from support.imessage import BIN as OSASCRIPT_BIN
from support.imessage import ChatDbBuilder
from support.processes import PYTHON, HostProcess, RawServer, channel_config, free_port, write_mcp_config

VENV_BIN = str(Path(PYTHON).parent)
TELEGRAM_TOKEN = "123456789:AAHfakeTokenForTestsOnly_abcdefghijk"


@dataclass
class Result:
    returncode: int
    report: dict[str, Any]
    stderr: str

    def checks(self, name: str) -> list[dict[str, Any]]:
        return [check for check in self.report["checks"] if check["check"] == name]

    def check(self, name: str) -> dict[str, Any]:
        (found,) = self.checks(name)
        return found

    def statuses(self) -> dict[str, str]:
        return {check["check"]: check["status"] for check in self.report["checks"]}


class Machine:
    """A home directory, a PATH and the settings doctor reads; ``run`` is one doctor invocation."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir()
        self.bin = root / "bin"
        self.bin.mkdir()
        self.managed = root / "managed-settings.json"  # absent unless a test writes it
        self.env = {"HOME": str(self.home), "PATH": os.pathsep.join([str(self.bin), VENV_BIN, "/usr/bin", "/bin"])}
        self.claude("2.1.332 (Claude Code)")

    def tool(self, name: str, body: str) -> None:
        path = self.bin / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)

    def claude(self, version_line: str) -> None:
        self.tool("claude", f'[ "$1" = --version ] && echo "{version_line}"')

    def state(self, channel: str) -> Path:
        directory = self.home / ".claude" / "channels" / channel
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        directory.chmod(0o700)
        return directory

    def write(self, path: Path, text: str, mode: int = 0o600) -> Path:
        path.write_text(text)
        path.chmod(mode)
        return path

    def access(self, channel: str, mode: int = 0o600, **fields: Any) -> Path:
        return self.write(self.state(channel) / "access.json", json.dumps(fields, indent=2) + "\n", mode)

    async def run(self, *args: str, json_output: bool = True, **env: str) -> Result:
        argv = [PYTHON, "-m", "mcp_channels", "doctor", *args, "--managed-settings", str(self.managed)]
        if json_output:
            argv.append("--json")
        proc = await asyncio.create_subprocess_exec(
            *argv,
            env={**self.env, **env},
            cwd=self.root,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode is not None
        report = json.loads(out) if json_output else {"text": out.decode()}
        return Result(proc.returncode, report, err.decode())


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)


def healthy_telegram(machine: Machine) -> Path:
    state = machine.state("telegram")
    machine.write(state / ".env", f"TELEGRAM_BOT_TOKEN={TELEGRAM_TOKEN}\n")
    machine.access("telegram", dmPolicy="allowlist", allowFrom=["412587349"])
    return state


# --------------------------------------------------------------------------- healthy


async def test_a_healthy_telegram_setup(machine: Machine) -> None:
    healthy_telegram(machine)
    result = await machine.run("telegram")
    assert result.returncode == 0, result.report
    assert set(result.statuses().values()) == {"ok"}, result.report
    assert list(result.statuses()) == [
        "python", "library", "launcher", "state", ".env", "access.json", "token", "policy", "poller", "claude",
        "account", "org", "official", "sessions", "hub",
    ]  # fmt: skip
    assert result.check("token")["message"].startswith("TELEGRAM_BOT_TOKEN 123456789:… (46 chars) from ")
    assert TELEGRAM_TOKEN not in json.dumps(result.report)
    assert result.check("library")["message"].startswith("python-telegram-bot 22.")
    assert result.check("launcher")["message"] == f"the plugin runs {VENV_BIN}/mcp-channels serve telegram"
    assert result.check("policy")["message"] == "dmPolicy is allowlist: 1 sender(s) and 0 group(s) allowed"
    assert result.check("poller")["message"] == "no session is receiving this bot's messages right now"
    assert result.check("claude")["message"] == f"Claude Code 2.1.332 ({machine.bin}/claude)"
    assert result.report["commands"][0] == "claude --dangerously-load-development-channels plugin:telegram@mcp-channels"
    assert any("claude -p" in reason for reason in result.report["ignoredWhen"])


async def test_the_text_report_is_one_line_per_check_with_its_fix(machine: Machine) -> None:
    machine.state("telegram")
    result = await machine.run("telegram", json_output=False)
    lines = result.report["text"].splitlines()
    assert result.returncode == 1
    assert lines[0] == "mcp-channels doctor: telegram"
    (token,) = [line for line in lines if " token " in line]
    assert token.startswith("  FAIL  token     TELEGRAM_BOT_TOKEN is not set")
    assert token.endswith("— fix: mcp-channels configure telegram <token>  (from @BotFather, like 123456789:AAH...)")
    assert "  claude --dangerously-load-development-channels plugin:telegram@mcp-channels" in lines
    assert lines[-1] == "1 problem(s) block the telegram channel (FAIL above); 1 warning(s)."


async def test_without_a_channel_it_checks_the_common_ground(machine: Machine) -> None:
    machine.state("imessage")
    result = await machine.run(json_output=False)
    assert result.returncode == 0
    text = result.report["text"]
    assert "check a channel: mcp-channels doctor <channel>  (set up here: imessage)" in text
    assert "Claude Code ignores a channel without a word when:" in text


async def test_an_unknown_channel_is_a_usage_error(machine: Machine) -> None:
    result = await machine.run("matrix", json_output=False)
    assert result.returncode == 2
    assert "invalid choice: 'matrix'" in result.stderr


# --------------------------------------------------------------------------- tokens, state, access


async def test_missing_token(machine: Machine) -> None:
    machine.access("telegram", dmPolicy="allowlist", allowFrom=["1"])
    result = await machine.run("telegram")
    assert result.returncode == 1
    token = result.check("token")
    assert token["status"] == "fail"
    assert token["message"] == (
        "TELEGRAM_BOT_TOKEN is not set (neither in the environment nor in "
        f"{machine.home}/.claude/channels/telegram/.env)"
    )
    assert token["fix"] == "mcp-channels configure telegram <token>  (from @BotFather, like 123456789:AAH...)"
    assert result.checks("poller") == []  # nothing to say without a token


async def test_malformed_token_from_the_environment(machine: Machine) -> None:
    machine.access("discord", dmPolicy="allowlist", allowFrom=["1"])
    result = await machine.run("discord", DISCORD_BOT_TOKEN="not-a-discord-token")
    assert result.returncode == 1
    token = result.check("token")
    assert token["status"] == "fail"
    assert token["message"] == (
        "DISCORD_BOT_TOKEN from the environment (not-… (19 chars)) does not look like a Discord token"
    )


async def test_webhook_without_a_secret_is_a_warning_only(machine: Machine) -> None:
    result = await machine.run("webhook", WEBHOOK_PORT=str(free_port()))
    assert result.returncode == 0
    assert result.check("secret")["status"] == "warn"
    assert (
        result.check("secret")["fix"]
        == "mcp-channels configure webhook <secret>  (and give the sender the same secret)"
    )


async def test_loose_permissions_are_reported_and_left_alone(machine: Machine) -> None:
    state = healthy_telegram(machine)
    state.chmod(0o755)
    (state / ".env").chmod(0o644)
    (state / "access.json").chmod(0o640)
    result = await machine.run("telegram")
    assert result.returncode == 0  # risky, not blocking
    assert result.check("state") == {
        "check": "state",
        "status": "warn",
        "message": f"{state} is 0755: other users can list your tokens and allowlists",
        "fix": f"chmod 700 {state}",
    }
    assert result.check(".env")["message"] == f"{state}/.env is 0644: other users can read your token"
    assert result.check(".env")["fix"] == f"chmod 600 {state}/.env"
    assert result.check("access.json")["fix"] == f"chmod 600 {state}/access.json"
    # Doctor changes nothing, not even the chmod the channel itself does on start.
    assert stat.S_IMODE((state / ".env").stat().st_mode) == 0o644


@pytest.mark.parametrize(
    ("channel", "fields", "status", "message", "fix"),
    [
        (
            "telegram",
            {"dmPolicy": "pairing", "allowFrom": ["412587349"]},
            "warn",
            "dmPolicy is still pairing (1 sender(s) and 0 group(s) allowed): anyone who finds the bot can ask for a code",
            "mcp-channels access telegram policy allowlist  (pairing is only for learning ids)",
        ),
        (
            "telegram",
            {},
            "warn",
            "dmPolicy is pairing and nobody is allowed yet (0 sender(s) and 0 group(s) allowed): anyone who finds "
            "the bot can ask for a code",
            "DM the bot, `mcp-channels access telegram pair <code>`, then lock down: "
            "mcp-channels access telegram policy allowlist",
        ),
        (
            "discord",
            {"dmPolicy": "allowlist"},
            "warn",
            "dmPolicy is allowlist and nobody is allowed: every message is dropped",
            "mcp-channels access discord allow <id>",
        ),
        (
            "discord",
            {"dmPolicy": "disabled", "allowFrom": ["1"]},
            "warn",
            "dmPolicy is disabled: every message is dropped (1 sender(s) and 0 group(s) allowed)",
            "mcp-channels access discord policy allowlist",
        ),
    ],
)
async def test_access_policy(
    machine: Machine, channel: str, fields: dict[str, Any], status: str, message: str, fix: str
) -> None:
    machine.access(channel, **fields)
    token = {"telegram": TELEGRAM_TOKEN, "discord": "MTIz.fake-bot.token"}[channel]
    result = await machine.run(channel, **{f"{channel.upper()}_BOT_TOKEN": token})
    assert result.check("policy") == {"check": "policy", "status": status, "message": message, "fix": fix}
    assert result.returncode == 0


async def test_pairing_on_imessage_is_flagged(machine: Machine, tmp_path: Path) -> None:
    machine.access("imessage", dmPolicy="pairing")
    ChatDbBuilder(tmp_path / "chat.db").close()
    result = await machine.run("imessage", IMESSAGE_DB_PATH=str(tmp_path / "chat.db"))
    assert result.check("policy")["message"] == (
        "dmPolicy is pairing: anyone who texts this Mac gets a pairing code (0 sender(s) and 0 group(s) allowed)"
    )


async def test_a_corrupt_access_file_is_reported_not_moved(machine: Machine) -> None:
    state = healthy_telegram(machine)
    machine.write(state / "access.json", "{not json")
    result = await machine.run("telegram")
    (problem, policy) = result.checks("access") + result.checks("policy")
    assert problem["status"] == "warn"
    assert problem["message"].startswith(f"{state}/access.json cannot be used (")
    assert problem["message"].endswith("the channel moves it aside and starts over with dmPolicy pairing")
    assert policy["status"] == "warn"  # what the channel will then do: pairing
    assert sorted(path.name for path in state.iterdir()) == [".env", "access.json"]


async def test_invalid_fields_are_counted(machine: Machine) -> None:
    healthy_telegram(machine)
    machine.access("telegram", dmPolicy="allowlist", allowFrom="412587349", textChunkLimit="big")
    result = await machine.run("telegram")
    problem = result.check("access")
    assert problem["status"] == "warn"
    assert problem["message"].startswith(
        f"{machine.state('telegram')}/access.json: 2 problem(s), each closes what it governs; "
        'first: allowFrom: expected a list of id strings, got "412587349"; no sender gets in by DM'
    )


async def test_a_broken_group_and_policy_are_reported_closed(machine: Machine) -> None:
    healthy_telegram(machine)
    machine.access("telegram", dmPolicy="Pairing!", allowFrom=["1"], groups={"-100": {"allowFrom": [None]}})
    result = await machine.run("telegram")
    problem = result.check("access")
    assert problem["status"] == "warn" and "closed: -100" in problem["message"]
    assert "dmPolicy: expected one of pairing, allowlist, disabled" in problem["message"]
    assert result.check("policy")["message"] == "dmPolicy is allowlist: 1 sender(s) and 0 group(s) allowed"


async def test_an_access_file_that_cannot_be_used_fails(machine: Machine) -> None:
    state = healthy_telegram(machine)
    (state / "access.json").unlink()
    os.mkfifo(state / "access.json")
    result = await machine.run("telegram")
    problem = result.check("access")
    assert problem["status"] == "fail" and result.returncode == 1
    assert problem["message"] == (
        f"{state}/access.json cannot be used (it is not a regular file): the channel drops every message until it is fixed"
    )


# --------------------------------------------------------------------------- ports


async def test_port_held_by_another_process(machine: Machine, listener: int) -> None:
    result = await machine.run("webhook", WEBHOOK_PORT=str(listener))
    assert result.returncode == 1
    port = result.check("port")
    assert port["status"] == "fail"
    assert port["message"].startswith(f"port {listener} on 127.0.0.1 is held by pid {os.getpid()} (")
    assert port["fix"] == f"stop it (kill {os.getpid()}), or give the channel another port: WEBHOOK_PORT=<free port>"


async def test_port_held_by_our_own_fakechat(machine: Machine) -> None:
    port = free_port()
    server = RawServer("fakechat", env={"FAKECHAT_PORT": str(port), "HOME": str(machine.home)})
    await server.start()
    try:
        await server.wait_stderr("chat page at")
        result = await machine.run("fakechat", FAKECHAT_PORT=str(port))
    finally:
        await server.stop()
    assert result.returncode == 0
    check = result.check("port")
    assert check["status"] == "warn"
    assert f"is held by pid {server.proc.pid if server.proc else 0} (" in check["message"]
    assert "serve fakechat): the fakechat channel is already running" in check["message"]


async def test_a_bad_port_setting(machine: Machine) -> None:
    result = await machine.run("fakechat", FAKECHAT_PORT="eighty")
    assert result.returncode == 1
    assert result.check("port")["message"] == "FAKECHAT_PORT='eighty' is not a port number"


# --------------------------------------------------------------------------- telegram's poller


@pytest.fixture
async def telegram_fake() -> AsyncIterator[FakeTelegram]:
    fake = await FakeTelegram(token=TELEGRAM_TOKEN).start()
    try:
        yield fake
    finally:
        await fake.stop()


async def test_the_session_receiving_a_bot_is_named(machine: Machine, telegram_fake: FakeTelegram) -> None:
    state = healthy_telegram(machine)
    env = {
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_API_BASE": telegram_fake.base,
        "TELEGRAM_STATE_DIR": str(state),
    }
    config = write_mcp_config(machine.root, channel_config("telegram", env=env))
    host = HostProcess(["--mcp-config", str(config), "--dangerously-load-development-channels", "server:telegram"])
    await host.start()
    try:
        await host.wait_stderr("polling as @")
        result = await machine.run("telegram")
        message = result.check("poller")["message"]
        pid = int(message.split()[1])
        stat_fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        assert host.proc is not None and int(stat_fields[1]) == host.proc.pid  # the host's telegram server
    finally:
        await host.stop()
    assert message.endswith("serve telegram) receives this bot's messages; another session only sends until it exits")
    assert result.returncode == 0


async def test_the_official_server_polling_the_same_bot_blocks(machine: Machine) -> None:
    state = healthy_telegram(machine)
    official = machine.root / "server.ts"  # stands in for `bun server.ts`: doctor goes by the command line
    official.write_text("import sys\nsys.stdin.read()\n")
    proc = await asyncio.create_subprocess_exec(PYTHON, str(official), stdin=asyncio.subprocess.PIPE)
    try:
        (state / "bot.pid").write_text(f"{proc.pid}\n")
        result = await machine.run("telegram")
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        await proc.wait()
    assert result.returncode == 1
    (_ours, theirs) = result.checks("poller")
    assert theirs["status"] == "fail"
    assert theirs["message"].startswith(f"the official telegram plugin's server (pid {proc.pid}: ")
    assert theirs["fix"] == "quit that session and run /plugin disable telegram@claude-plugins-official"
    # Once it is gone, a stale bot.pid means nothing.
    assert (await machine.run("telegram")).returncode == 0


# --------------------------------------------------------------------------- iMessage


async def test_an_unreadable_chat_db(machine: Machine, tmp_path: Path) -> None:
    garbage = machine.write(tmp_path / "chat.db", "this is not a database" * 100)
    result = await machine.run("imessage", IMESSAGE_DB_PATH=str(garbage))
    assert result.returncode == 1
    check = result.check("chat.db")
    assert check["status"] == "fail"
    assert check["message"] == f"cannot read {garbage}: file is not a database"
    assert "Full Disk Access" in check["fix"] and "System Settings → Privacy & Security" in check["fix"]


async def test_a_chat_db_path_that_names_nothing(machine: Machine, tmp_path: Path) -> None:
    result = await machine.run("imessage", IMESSAGE_DB_PATH=str(tmp_path / "missing.db"))
    assert result.returncode == 1
    assert result.check("chat.db")["fix"].startswith("IMESSAGE_DB_PATH names no file")


async def test_a_readable_chat_db_and_osascript(machine: Machine, tmp_path: Path) -> None:
    ChatDbBuilder(tmp_path / "chat.db").close()
    db = str(tmp_path / "chat.db")
    without = await machine.run("imessage", IMESSAGE_DB_PATH=db)
    assert without.check("chat.db") == {"check": "chat.db", "status": "ok", "message": f"{db} is readable", "fix": None}
    assert without.check("osascript")["status"] == "warn"
    path = os.pathsep.join([str(OSASCRIPT_BIN), machine.env["PATH"]])
    with_osascript = await machine.run("imessage", IMESSAGE_DB_PATH=db, PATH=path)
    assert with_osascript.checks("osascript") == []
    assert with_osascript.returncode == 0


async def test_imessage_needs_macos(machine: Machine) -> None:
    result = await machine.run("imessage")
    assert result.returncode == 1
    assert result.check("chat.db")["message"] == "iMessage needs macOS: there is no Messages database on Linux"


# --------------------------------------------------------------------------- the launcher


async def test_nothing_to_launch_the_server_with(machine: Machine) -> None:
    machine.tool("python3", "exit 1")  # a python3 without the package; no mcp-channels, no uvx
    result = await machine.run("webhook", PATH=str(machine.bin), WEBHOOK_PORT=str(free_port()))
    assert result.returncode == 1
    launcher = result.check("launcher")
    assert launcher["message"] == (
        "the plugin cannot start the server: no mcp-channels on PATH, python3 cannot import it, no uvx"
    )
    assert launcher["fix"].startswith("uv tool install 'mcp-channels'  (or pipx install 'mcp-channels'; or set ")


async def test_the_launcher_paths(machine: Machine) -> None:
    machine.tool("python3", f'exec "{PYTHON}" "$@"')
    alone = {"PATH": str(machine.bin), "WEBHOOK_PORT": str(free_port())}
    found = await machine.run("webhook", **alone)
    assert found.check("launcher")["message"] == f"the plugin runs {machine.bin}/python3 -m mcp_channels serve webhook"
    machine.tool("python3", "exit 1")
    machine.tool("uvx", "exit 0")
    uvx = await machine.run("discord", **alone)
    assert uvx.check("launcher")["message"].startswith("the plugin runs uvx --from 'mcp-channels[discord]==0.1.0'")
    pinned = await machine.run("webhook", MCP_CHANNELS_PYTHON="/no/such/python", **alone)
    assert pinned.check("launcher")["status"] == "fail"
    assert pinned.check("launcher")["message"].startswith("MCP_CHANNELS_PYTHON=/no/such/python is not an executable")


# --------------------------------------------------------------------------- the Claude Code side


@pytest.mark.parametrize(
    ("version", "channel", "status", "message"),
    [
        ("2.1.79 (Claude Code)", "webhook", "fail", "Claude Code 2.1.79 has no channels"),
        ("2.1.80 (Claude Code)", "telegram", "warn", "Claude Code 2.1.80 has channels but no permission relay"),
        ("2.1.80 (Claude Code)", "webhook", "ok", "Claude Code 2.1.80 ("),
        ("something odd", "webhook", "warn", "`"),
    ],
)
async def test_claude_code_version(machine: Machine, version: str, channel: str, status: str, message: str) -> None:
    machine.claude(version)
    healthy_telegram(machine)
    result = await machine.run(channel, WEBHOOK_PORT=str(free_port()))
    check = result.check("claude")
    assert check["status"] == status and check["message"].startswith(message), check
    assert (result.returncode == 1) is (status == "fail")


async def test_claude_code_not_on_path(machine: Machine) -> None:
    (machine.bin / "claude").unlink()
    result = await machine.run()
    assert result.check("claude")["status"] == "warn"
    assert result.check("claude")["message"].startswith("claude is not on PATH")


async def test_third_party_providers_and_api_keys(machine: Machine) -> None:
    bedrock = await machine.run(CLAUDE_CODE_USE_BEDROCK="1")
    assert bedrock.returncode == 1
    assert bedrock.check("account")["message"] == (
        "CLAUDE_CODE_USE_BEDROCK is set: channels are not available on third-party providers"
    )
    api_key = await machine.run(ANTHROPIC_API_KEY="sk-ant-test")
    assert api_key.returncode == 0
    assert api_key.check("account")["status"] == "warn"


async def test_org_policy(machine: Machine) -> None:
    machine.managed.write_text(json.dumps({"channelsEnabled": False}))
    off = await machine.run("webhook", WEBHOOK_PORT=str(free_port()))
    assert off.returncode == 1
    assert off.check("org")["message"] == (
        f"channels not enabled by org policy (set channelsEnabled: true in managed settings, {machine.managed})"
    )
    machine.managed.write_text(
        json.dumps(
            {"channelsEnabled": True, "allowedChannelPlugins": [{"marketplace": "mcp-channels", "plugin": "webhook"}]}
        )
    )
    allowed = await machine.run("webhook", WEBHOOK_PORT=str(free_port()))
    assert allowed.check("org")["status"] == "ok"
    assert allowed.report["commands"][0] == "claude --channels plugin:webhook@mcp-channels"
    other = await machine.run("fakechat", FAKECHAT_PORT=str(free_port()))
    assert other.check("org")["status"] == "warn"
    assert other.report["commands"][0] == "claude --dangerously-load-development-channels plugin:fakechat@mcp-channels"
    machine.managed.write_text("{oops")
    unreadable = await machine.run()
    assert unreadable.check("org")["status"] == "warn"


async def test_the_official_plugin_enabled_beside_ours(machine: Machine) -> None:
    settings = machine.home / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"enabledPlugins": {"fakechat@claude-plugins-official": True}}))
    result = await machine.run("fakechat", FAKECHAT_PORT=str(free_port()))
    assert result.check("official") == {
        "check": "official",
        "status": "warn",
        "message": f"the official fakechat plugin is enabled too ({settings}): two fakechat servers would run",
        "fix": "/plugin disable fakechat@claude-plugins-official",
    }


async def test_deeply_nested_settings_are_reported_as_unreadable_files(machine: Machine) -> None:
    """JSON nested past the parser's depth raises RecursionError, not ValueError: no traceback."""
    deep = "[" * 100_000 + "]" * 100_000
    settings = machine.home / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(deep)
    machine.managed.write_text(deep)
    result = await machine.run("fakechat", FAKECHAT_PORT=str(free_port()))
    assert "Traceback" not in result.stderr, result.stderr
    unreadable = "not readable: JSON nested deeper than the parser goes"
    assert result.check("org") == {
        "check": "org",
        "status": "warn",
        "message": f"cannot read managed settings {machine.managed}: {unreadable}",
        "fix": "ask your administrator",
    }
    assert result.check("official") == {
        "check": "official",
        "status": "warn",
        "message": f"cannot read {settings}: {unreadable}; cannot tell whether the official fakechat plugin is enabled",
        "fix": f"check that {settings} is a JSON object Claude Code can read",
    }

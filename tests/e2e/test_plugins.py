"""The plugin marketplace: manifests as Claude Code validates them, launchers run as Claude Code runs them.

Schemas follow Claude Code's plugin documentation (marketplace and manifest references) and
``docs/claude-code-host.md`` §3; every plugin is then started through the host from its own ``.mcp.json``
(``${CLAUDE_PLUGIN_ROOT}`` expanded, set in the environment) and must complete the handshake, and
each launcher is run directly to check that stdout carries JSON-RPC from the first byte, on every
path it can take.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shlex
import stat
import subprocess
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

import mcp_channels
from fakes.discord_api import FakeDiscord
from fakes.slack_api import FakeSlack
from fakes.telegram_api import FakeTelegram
from mcp_channels.cli.access import access_command, configure_command
from mcp_channels.cli.doctor._claude import MARKETPLACE
from support import REPO
from support.imessage import ChatDbBuilder
from support.processes import PYTHON, HostProcess, RawServer, free_port, http_request

PLUGINS = REPO / "plugins"
CHANNELS = ("fakechat", "webhook", "telegram", "discord", "imessage", "slack")  # the registry's order
VENV_BIN = str(Path(PYTHON).parent)
KEBAB = r"^[a-z0-9]+(-[a-z0-9]+)*$"
SEMVER = r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$"

#: Marketplace names Claude Code reserves for Anthropic (marketplace reference, "Reserved names").
RESERVED_MARKETPLACES = {
    "claude-code-marketplace", "claude-code-plugins", "claude-plugins-official", "anthropic-marketplace",
    "anthropic-plugins", "agent-skills", "anthropic-agent-skills", "life-sciences", "knowledge-work-plugins",
    "claude-for-legal", "claude-for-financial-services", "financial-services-plugins", "first-party-plugins",
    "claude-tag-plugins", "claude-community", "claude-plugins-community", "healthcare",
    "anthropic-plugin-directory", "claude-plugin-directory", "inline", "builtin",
}  # fmt: skip
#: Names that impersonate an official marketplace (Claude Code's first-layer check).
IMPERSONATION = re.compile(
    r"official[^a-z0-9]*(anthropic|claude)|(anthropic|claude)[^a-z0-9]*official|^(anthropic|claude)[^a-z0-9]*(marketplace|plugins|official)",
    re.IGNORECASE,
)

AUTHOR = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string", "minLength": 1}, "email": {"type": "string"}, "url": {"type": "string"}},
    "additionalProperties": False,
}
MARKETPLACE_SCHEMA = {
    "type": "object",
    "required": ["name", "owner", "plugins"],
    "additionalProperties": False,  # unknown keys load, but `claude plugin validate` warns
    "properties": {
        "name": {"type": "string", "pattern": KEBAB},
        "owner": AUTHOR,
        "metadata": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "description": {"type": "string"},
                "version": {"type": "string", "pattern": SEMVER},
                "pluginRoot": {"type": "string"},
            },
        },
        "plugins": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "source", "description", "version"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "pattern": KEBAB},
                    "source": {"type": "string", "pattern": r"^\./"},
                    "description": {"type": "string", "minLength": 1},
                    "version": {"type": "string", "pattern": SEMVER},
                    "author": AUTHOR,
                    "category": {"type": "string"},
                    "keywords": {"type": "array", "items": {"type": "string"}},
                    "license": {"type": "string"},
                },
            },
        },
    },
}
PLUGIN_SCHEMA = {
    "type": "object",
    "required": ["name", "description", "version", "author"],  # validate warns without them
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": KEBAB},
        "description": {"type": "string", "minLength": 1},
        "version": {"type": "string", "pattern": SEMVER},
        "author": AUTHOR,
        "license": {"type": "string"},
        "keywords": {"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True},
        "channels": {
            "type": "array",
            "minItems": 1,
            "items": {  # strict in Claude Code: an unknown key stops the plugin from loading
                "type": "object",
                "required": ["server"],
                "additionalProperties": False,
                "properties": {"server": {"type": "string", "minLength": 1}, "displayName": {"type": "string"}},
            },
        },
    },
}
MCP_SCHEMA = {
    "type": "object",
    "required": ["mcpServers"],
    "additionalProperties": False,
    "properties": {
        "mcpServers": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {
                "type": "object",
                "required": ["command"],
                "additionalProperties": False,
                "properties": {
                    "command": {"type": "string", "minLength": 1},
                    "args": {"type": "array", "items": {"type": "string"}},
                    "env": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
        }
    },
}
SKILL_KEYS = {"name", "description", "argument-hint", "disable-model-invocation", "allowed-tools"}


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def package_version() -> str:
    with (REPO / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


def skill_files(channel: str) -> list[Path]:
    return sorted((PLUGINS / channel / "skills").glob("*/SKILL.md"))


def frontmatter(path: Path) -> tuple[dict[str, Any], str]:
    text = path.read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n(.*)", text, re.DOTALL)
    assert match, f"{path}: no YAML frontmatter"
    data = yaml.safe_load(match.group(1))
    assert isinstance(data, dict), path
    return data, match.group(2)


# --------------------------------------------------------------------------- the generated tree


def run_generator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, str(REPO / "scripts" / "plugins.py"), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_tree_is_what_the_generator_writes() -> None:
    result = run_generator("--check")
    assert result.returncode == 0, result.stderr


def test_the_generator_check_reports_every_kind_of_drift(tmp_path: Path) -> None:
    assert run_generator("--root", str(tmp_path)).returncode == 0
    assert run_generator("--check", "--root", str(tmp_path)).returncode == 0
    (tmp_path / "plugins/telegram/README.md").write_text("edited by hand\n")
    (tmp_path / "plugins/webhook/.mcp.json").unlink()
    (tmp_path / "plugins/discord/scripts/serve.sh").chmod(0o644)
    (tmp_path / "plugins/fakechat/skills/extra").mkdir(parents=True)
    (tmp_path / "plugins/fakechat/skills/extra/SKILL.md").write_text("---\n---\n")
    result = run_generator("--check", "--root", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "missing: plugins/webhook/.mcp.json",
        "differs: plugins/telegram/README.md",
        "not executable: plugins/discord/scripts/serve.sh",
        "left over: plugins/fakechat/skills/extra/SKILL.md",
        "plugins are out of date: run `python scripts/plugins.py`",
    ]


# --------------------------------------------------------------------------- manifests


def test_marketplace_follows_claude_codes_rules() -> None:
    market = read_json(REPO / ".claude-plugin" / "marketplace.json")
    jsonschema.validate(market, MARKETPLACE_SCHEMA)
    name = market["name"]
    assert name == MARKETPLACE  # what doctor prints in plugin:<channel>@<marketplace>
    assert name.isascii() and name.lower() not in RESERVED_MARKETPLACES and not IMPERSONATION.search(name)
    assert [entry["name"] for entry in market["plugins"]] == list(CHANNELS)
    for entry in market["plugins"]:
        assert entry["source"] == f"./plugins/{entry['name']}"
        assert (REPO / entry["source"] / ".claude-plugin" / "plugin.json").is_file()
    listed = {entry["name"] for entry in market["plugins"]}
    assert {path.name for path in PLUGINS.iterdir() if path.is_dir()} == listed


def test_the_impersonation_rules_would_catch_a_bad_name() -> None:
    for bad in ("claude-plugins-official", "official-claude-plugins", "anthropic-marketplace", "claude-official"):
        assert bad in RESERVED_MARKETPLACES or IMPERSONATION.search(bad), bad


@pytest.mark.parametrize("channel", CHANNELS)
def test_plugin_manifest_and_server_config(channel: str) -> None:
    root = PLUGINS / channel
    manifest = read_json(root / ".claude-plugin" / "plugin.json")
    jsonschema.validate(manifest, PLUGIN_SCHEMA)
    assert manifest["name"] == channel
    config = read_json(root / ".mcp.json")
    jsonschema.validate(config, MCP_SCHEMA)
    servers = config["mcpServers"]
    assert [entry["server"] for entry in manifest["channels"]] == [channel]
    assert set(servers) == {channel}  # the server key is the source="..." Claude sees, as in the official plugins
    server = servers[channel]
    assert server["command"] == "sh" and server["args"] == ["${CLAUDE_PLUGIN_ROOT}/scripts/serve.sh"]
    launcher = root / "scripts" / "serve.sh"
    assert launcher.stat().st_mode & stat.S_IXUSR
    assert subprocess.run(["sh", "-n", str(launcher)], check=False).returncode == 0  # parses as POSIX sh
    assert channel in manifest["keywords"] and "channel" in manifest["keywords"]


def test_versions_agree_everywhere() -> None:
    version = package_version()
    assert mcp_channels.__version__ == version
    market = read_json(REPO / ".claude-plugin" / "marketplace.json")
    assert market["metadata"]["version"] == version
    for entry in market["plugins"]:
        manifest = read_json(PLUGINS / entry["name"] / ".claude-plugin" / "plugin.json")
        assert entry["version"] == manifest["version"] == version
        assert entry["description"] == manifest["description"]
        requirement = (
            f"mcp-channels[{entry['name']}]" if entry["name"] in ("telegram", "discord", "slack") else "mcp-channels"
        )
        assert f"--from '{requirement}=={version}'" in (PLUGINS / entry["name"] / "scripts/serve.sh").read_text()


# --------------------------------------------------------------------------- skills

#: The skills each plugin has: the official set for chat channels, a secret for webhook, none for fakechat.
SKILLS = {
    "webhook": ["configure"],
    "fakechat": [],
    "telegram": ["access", "configure"],
    "discord": ["access", "configure"],
    "imessage": ["access", "configure"],
    "slack": ["access", "configure"],
}


@pytest.mark.parametrize("channel", CHANNELS)
def test_skill_frontmatter(channel: str) -> None:
    paths = skill_files(channel)
    assert [path.parent.name for path in paths] == SKILLS[channel]
    for path in paths:
        meta, body = frontmatter(path)
        assert set(meta) <= SKILL_KEYS, path
        assert meta["name"] == path.parent.name and re.fullmatch(KEBAB, meta["name"]) and len(meta["name"]) <= 64
        assert not re.search("claude|anthropic", meta["name"])
        assert isinstance(meta["description"], str) and 0 < len(meta["description"]) <= 1024
        # The model never runs these on its own: only the user, typing /<channel>:<skill>.
        assert meta["disable-model-invocation"] is True
        tools = meta["allowed-tools"]
        assert isinstance(tools, list) and tools
        for tool in tools:  # only our command line, only for this channel: no Read, no Write, no Edit
            assert re.fullmatch(
                rf"Bash\((uvx --from mcp-channels=={re.escape(package_version())} )?mcp-channels (access|configure|doctor) {channel}( \*)?\)",
                tool,
            ), tool
        assert "$ARGUMENTS" in body or meta["name"] == "configure"


def allowed(command: str, tools: list[str]) -> bool:
    """Whether a Bash permission pattern (``*`` = anything) lets ``command`` run."""
    for tool in tools:
        pattern = tool[len("Bash(") : -1]
        if re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), command):
            return True
    return False


def documented_commands(body: str) -> list[str]:
    return [c for c in re.findall(r"`([^`]+)`", body) if c.startswith("mcp-channels ") and "<channel>" not in c]


SAMPLE_VALUES = {"<mode>": "allowlist", "<key>": "chunkMode", "<value>": "newline"}


@pytest.mark.parametrize("channel", [c for c in CHANNELS if SKILLS[c]])
def test_every_command_a_skill_names_is_allowed_and_accepted(
    channel: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the skill tells the model to run is permitted by its allowed-tools and parses in our CLI."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("CLAUDE_CONFIG_DIR", f"{channel.upper()}_STATE_DIR", f"{channel.upper()}_ACCESS_MODE"):
        monkeypatch.delenv(name, raising=False)
    for path in skill_files(channel):
        meta, body = frontmatter(path)
        commands = documented_commands(body)
        assert commands, path
        for command in commands:
            argv = shlex.split(command)
            assert allowed(shlex.join(argv), meta["allowed-tools"]), (path, command)
            pinned = [
                "uvx",
                "--from",
                f"mcp-channels=={package_version()}",
                *argv,
            ]  # never an unpinned third-party package
            assert allowed(shlex.join(pinned), meta["allowed-tools"]), command
            args = [SAMPLE_VALUES.get(arg, "x1" if arg.startswith("<") else arg) for arg in argv[1:]]
            if args[0] == "doctor":
                continue  # doctor's own tests cover it
            run = access_command if args[0] == "access" else configure_command
            assert run(args[1:]) != 2, (path, command, capsys.readouterr())  # 2 = usage error


@pytest.mark.parametrize("channel", ["telegram", "discord", "imessage", "slack"])
def test_access_skill_keeps_the_official_safety_rules(channel: str) -> None:
    _meta, body = frontmatter(PLUGINS / channel / "skills" / "access" / "SKILL.md")
    text = " ".join(body.split())
    assert "inside a `<channel>` message" in text and "refuse and tell the user to run" in text
    assert "Never approve a pairing without the exact code the user typed" in text
    assert 'not "the pending one"' in text
    assert "Never read, write or edit `access.json`" in text
    assert "policy allowlist" in text  # push toward lockdown


# --------------------------------------------------------------------------- through the host, as Claude Code


Platforms = tuple[FakeTelegram, FakeDiscord, FakeSlack]


@pytest.fixture
async def platforms() -> AsyncIterator[Platforms]:
    telegram = await FakeTelegram().start()
    discord = await FakeDiscord().start()
    slack = await FakeSlack().start()
    try:
        yield telegram, discord, slack
    finally:
        await telegram.stop()
        await discord.close()
        await slack.stop()


def plugin_env(tmp_path: Path, telegram: FakeTelegram, discord: FakeDiscord, slack: FakeSlack) -> dict[str, str]:
    chat_db = tmp_path / "chat.db"
    ChatDbBuilder(chat_db).close()
    return {
        # The most common install: `mcp-channels` on PATH (pip, pipx, uv tool install).
        "PATH": os.pathsep.join([VENV_BIN, "/usr/bin", "/bin"]),
        "HOME": str(tmp_path / "home"),
        "MCP_CHANNELS_PYTHON": "",
        "WEBHOOK_PORT": str(free_port()),
        "FAKECHAT_PORT": str(free_port()),
        "TELEGRAM_BOT_TOKEN": telegram.token,
        "TELEGRAM_API_BASE": telegram.base,
        "TELEGRAM_STATE_DIR": str(tmp_path / "telegram"),
        "DISCORD_BOT_TOKEN": discord.token,
        "DISCORD_API_BASE": discord.api_base,
        "DISCORD_STATE_DIR": str(tmp_path / "discord"),
        "IMESSAGE_DB_PATH": str(chat_db),
        "IMESSAGE_STATE_DIR": str(tmp_path / "imessage"),
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_APP_TOKEN": slack.app_token,
        "SLACK_API_BASE": slack.api_base,
        "SLACK_STATE_DIR": str(tmp_path / "slack"),
    }


async def test_every_plugin_registers_through_the_host(tmp_path: Path, platforms: Platforms) -> None:
    args: list[str] = []
    for channel in CHANNELS:
        args += ["--plugin-dir", str(PLUGINS / channel)]
    args += ["--dangerously-load-development-channels", *(f"plugin:{c}@{MARKETPLACE}" for c in CHANNELS)]
    host = await HostProcess(args, env=plugin_env(tmp_path, *platforms), cwd=tmp_path).start()
    try:
        await host.wait_type("ready", timeout=30)
        servers = {m["server"]: m for m in host.of_type("server")}
        assert set(servers) == {f"plugin:{c}:{c}" for c in CHANNELS}
        for channel in CHANNELS:
            server = servers[f"plugin:{channel}:{channel}"]
            assert server["status"] == "registered", server
            assert server["reason"] == f"registered from development entry plugin:{channel}@{MARKETPLACE}"
            assert server["permission_relay"] is (channel != "webhook")  # our fakechat relays too
        assert "reply" in servers["plugin:telegram:telegram"]["tools"]
        assert servers["plugin:webhook:webhook"]["tools"] == ["status"]
    finally:
        await host.stop()


async def test_a_plugin_event_is_tagged_with_the_plugin_server_name_and_every_instruction_says_so(
    tmp_path: Path, platforms: Platforms
) -> None:
    """Claude Code names a plugin's server ``plugin:<plugin>:<server>``, and so the tag's source."""
    env = plugin_env(tmp_path, *platforms)
    args: list[str] = []
    for channel in CHANNELS:
        args += ["--plugin-dir", str(PLUGINS / channel)]
    args += ["--dangerously-load-development-channels", *(f"plugin:{c}@{MARKETPLACE}" for c in CHANNELS)]
    host = await HostProcess(args, env=env, cwd=tmp_path).start()
    try:
        await host.wait_type("ready", timeout=30)
        for server in host.of_type("server"):
            channel = server["server"].rpartition(":")[2]
            assert f'<channel source="{channel}" ' in server["instructions"], server["server"]
            assert f'source="plugin:{channel}:{channel}"' in server["instructions"], server["server"]
        port = int(env["WEBHOOK_PORT"])
        await host.wait_stderr(f"listening on http://127.0.0.1:{port}")
        status, _, _ = await http_request(port, "POST", "/ci", b"build failed")
        assert status == 202
        event = await host.wait_type("event", timeout=30)
        assert event["server"] == "plugin:webhook:webhook"
        assert event["rendered"].startswith('<channel source="plugin:webhook:webhook" path="/ci" method="POST"')
    finally:
        await host.stop()


async def plugin_reason(tmp_path: Path, *args: str) -> str:
    env = {"PATH": os.pathsep.join([VENV_BIN, "/usr/bin", "/bin"]), "WEBHOOK_PORT": str(free_port())}
    host = await HostProcess(["--plugin-dir", str(PLUGINS / "webhook"), *args], env=env, cwd=tmp_path).start()
    try:
        await host.wait_type("ready", timeout=20)
        (server,) = host.of_type("server")
        return str(server["reason"])
    finally:
        await host.stop()


async def test_our_plugins_need_the_development_flag_unless_the_org_allows_them(tmp_path: Path) -> None:
    """What docs/readme/install.md and doctor tell users, checked against the host's gate."""
    assert await plugin_reason(tmp_path, "--channels", f"plugin:webhook@{MARKETPLACE}") == (
        f"plugin webhook@{MARKETPLACE} is not on the approved channels allowlist "
        "(use --dangerously-load-development-channels for local dev)"
    )
    managed = tmp_path / "managed.json"
    managed.write_text(json.dumps({"channelsEnabled": True, "allowedChannelPlugins": [f"webhook@{MARKETPLACE}"]}))
    reason = await plugin_reason(
        tmp_path, "--channels", f"plugin:webhook@{MARKETPLACE}", "--managed-settings", str(managed)
    )
    assert reason == f"registered from plugin:webhook@{MARKETPLACE}"


# --------------------------------------------------------------------------- the launcher's stdout


def fake_bin(tmp_path: Path, **scripts: str) -> Path:
    """A directory of executable stand-ins, to be the whole PATH of a launcher under test."""
    directory = tmp_path / "bin"
    directory.mkdir(exist_ok=True)
    for name, body in scripts.items():
        path = directory / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    return directory


@contextlib.asynccontextmanager
async def launcher(channel: str, env: dict[str, str]) -> AsyncIterator[RawServer]:
    """The plugin's launcher started as Claude Code starts it: ``sh <root>/scripts/serve.sh``."""
    root = PLUGINS / channel
    server = RawServer(
        channel, env={"CLAUDE_PLUGIN_ROOT": str(root), **env}, argv=["/bin/sh", f"{root}/scripts/serve.sh"]
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def assert_clean_handshake(server: RawServer) -> None:
    response = await server.request(
        "initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}
    )
    assert response["result"]["serverInfo"]["name"] == "webhook"
    await server.notify("notifications/initialized")
    await server.request("tools/list")
    assert server.lines[0][:1] == b"{"
    for line in server.lines:
        message = json.loads(line)
        assert message["jsonrpc"] == "2.0" and ("id" in message or "method" in message)


def launch_env(tmp_path: Path, path: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": str(path),
        "HOME": str(tmp_path),
        "WEBHOOK_PORT": str(free_port()),
        "MCP_CHANNELS_PYTHON": "",
        **extra,
    }


async def test_launcher_runs_mcp_channels_from_path(tmp_path: Path) -> None:
    path = fake_bin(tmp_path)
    (path / "mcp-channels").symlink_to(Path(VENV_BIN) / "mcp-channels")
    async with launcher("webhook", launch_env(tmp_path, path)) as server:
        await assert_clean_handshake(server)


async def test_launcher_falls_back_to_python3(tmp_path: Path) -> None:
    path = fake_bin(tmp_path, python3=f'exec "{PYTHON}" "$@"')  # a python3 that has the package, nothing else
    async with launcher("webhook", launch_env(tmp_path, path)) as server:
        await assert_clean_handshake(server)


async def test_launcher_honours_a_pinned_interpreter(tmp_path: Path) -> None:
    path = fake_bin(tmp_path)  # nothing on PATH at all
    async with launcher("webhook", launch_env(tmp_path, path, MCP_CHANNELS_PYTHON=PYTHON)) as server:
        await assert_clean_handshake(server)


async def test_launcher_falls_back_to_uvx_with_the_pinned_release(tmp_path: Path) -> None:
    """uvx's chatter (here: what uv prints while installing) goes to stderr; stdout stays JSON-RPC."""
    log = tmp_path / "uvx-argv"
    path = fake_bin(
        tmp_path,
        # A uvx stand-in: record the arguments, talk on stderr as uv does, then run the requested command.
        uvx=(
            f'printf "%s\\n" "$@" > "{log}"\n'
            'echo "Installed 7 packages in 12ms" >&2\n'
            'while [ "$1" != "mcp-channels" ]; do shift; done\n'
            f'shift; exec "{VENV_BIN}/mcp-channels" "$@"'
        ),
    )
    async with launcher("webhook", launch_env(tmp_path, path)) as server:
        await assert_clean_handshake(server)
        await server.wait_stderr("Installed 7 packages")
    assert log.read_text().split("\n")[:-1] == [
        "--quiet", "--from", f"mcp-channels=={package_version()}", "mcp-channels", "serve", "webhook",
    ]  # fmt: skip


async def test_launcher_without_any_install_explains_on_stderr_only(tmp_path: Path) -> None:
    path = fake_bin(tmp_path, python3="exit 1")  # a python3 without the package
    proc = await asyncio.create_subprocess_exec(
        "/bin/sh", str(PLUGINS / "telegram" / "scripts" / "serve.sh"),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=launch_env(tmp_path, path, CLAUDE_PLUGIN_ROOT=str(PLUGINS / "telegram")),
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(b""), 15)
    assert proc.returncode == 1
    assert out == b""
    assert err.decode().splitlines()[:3] == [
        "telegram channel: cannot start: the mcp-channels package is not installed",
        "  install it once, then run /reload-plugins or restart Claude Code:",
        "    uv tool install 'mcp-channels[telegram]'   (or: pipx install 'mcp-channels[telegram]', "
        "or: pip install 'mcp-channels[telegram]')",
    ]

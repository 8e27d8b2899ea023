"""Whether a session delivers: Claude Code's gate as a pure decision, the server's identity, and
what counts as Claude Code's command line (the process trees are in ``e2e/test_delivery.py``)."""

from __future__ import annotations

import pytest

from mcp_channels.cli.serve import serve_arguments
from mcp_channels.delivery import claude_arguments, identify_server
from mcp_channels.enablement import ManagedSettings, ServerIdentity, decide_enablement, read_claude_flags
from mcp_channels.errors import EntrySyntaxError
from support.gate import DEV, NOT_ALLOWLISTED, OFFICIAL, ORG_LIST, POLICY

# --------------------------------------------------------------------------- the gate, pure

WEBHOOK = ServerIdentity("webhook")
FAKECHAT = ServerIdentity.of_plugin("fakechat", OFFICIAL, "fakechat")
ALERTS = ServerIdentity.of_plugin("alerts", "acme", "alerts")
ORG_ON = ManagedSettings(present=True, channels_enabled=True)
ORG_ACME = ManagedSettings(present=True, channels_enabled=True, allowed_plugins=frozenset({("acme", "alerts")}))
ORG_OTHER = ManagedSettings(present=True, channels_enabled=True, allowed_plugins=frozenset({("acme", "other")}))
ORG_EMPTY = ManagedSettings(present=True, channels_enabled=True, allowed_plugins=frozenset())

#: (command line after ``claude``, server, managed settings, environment) -> Claude Code's verdict.
GATE_CASES: list[tuple[str, list[str], ServerIdentity, ManagedSettings, dict[str, str], bool, str]] = [
    ("no flags", [], WEBHOOK, ManagedSettings(), {}, False, "server webhook not in --channels list for this session"),
    ("other server", [DEV, "server:other"], WEBHOOK, ManagedSettings(), {}, False,
     "server webhook not in --channels list for this session"),
    ("dev server", [DEV, "server:webhook"], WEBHOOK, ManagedSettings(), {}, True,
     "registered from development entry server:webhook"),
    ("plain server", ["--channels", "server:webhook"], WEBHOOK, ManagedSettings(), {}, False,
     f"server webhook {NOT_ALLOWLISTED}"),
    ("both flags: the first entry wins", [DEV, "server:webhook", "--channels", "server:webhook"], WEBHOOK,
     ManagedSettings(), {}, False, f"server webhook {NOT_ALLOWLISTED}"),
    ("provider first", [DEV, "server:webhook"], WEBHOOK, ManagedSettings(), {"CLAUDE_CODE_USE_BEDROCK": "1"}, False,
     "channels are not available on third-party providers"),
    ("vertex true", [DEV, "server:webhook"], WEBHOOK, ManagedSettings(), {"CLAUDE_CODE_USE_VERTEX": "true"}, False,
     "channels are not available on third-party providers"),
    ("org policy off", [DEV, "server:webhook"], WEBHOOK, ManagedSettings(present=True), {}, False, POLICY),
    ("org policy on", [DEV, "server:webhook"], WEBHOOK, ORG_ON, {}, True,
     "registered from development entry server:webhook"),
    ("official plugin", ["--channels", f"plugin:fakechat@{OFFICIAL}"], FAKECHAT, ManagedSettings(), {}, True,
     f"registered from plugin:fakechat@{OFFICIAL}"),
    ("plugin of another marketplace", ["--channels", "plugin:fakechat@elsewhere"], FAKECHAT, ManagedSettings(), {},
     False, f"you asked for plugin:fakechat@elsewhere but the installed plugin is fakechat@{OFFICIAL}"),
    ("plugin not allowlisted", ["--channels", "plugin:alerts@acme"], ALERTS, ManagedSettings(), {}, False,
     f"plugin alerts@acme {NOT_ALLOWLISTED}"),
    ("dev plugin", [DEV, "plugin:alerts@acme"], ALERTS, ManagedSettings(), {}, True,
     "registered from development entry plugin:alerts@acme"),
    ("org allowlist", ["--channels", "plugin:alerts@acme"], ALERTS, ORG_ACME, {}, True,
     "registered from plugin:alerts@acme"),
    ("org list replaces the default", ["--channels", f"plugin:fakechat@{OFFICIAL}"], FAKECHAT, ORG_OTHER, {}, False,
     f"plugin fakechat@{OFFICIAL} {ORG_LIST}"),
    ("empty org list", ["--channels", "plugin:alerts@acme"], ALERTS, ORG_EMPTY, {}, False,
     f"plugin alerts@acme {ORG_LIST}"),
    ("dev entries bypass the org list", [DEV, "plugin:alerts@acme"], ALERTS, ORG_EMPTY, {}, True,
     "registered from development entry plugin:alerts@acme"),
    ("a plugin entry is matched on the plugin", [DEV, "server:plugin:alerts:alerts"], ALERTS, ManagedSettings(), {},
     False, "server plugin:alerts:alerts not in --channels list for this session"),
    ("a server entry does not name a plugin", [DEV, "plugin:webhook@acme"], WEBHOOK, ManagedSettings(), {}, False,
     "server webhook not in --channels list for this session"),
    ("-p ignores the development flag", ["-p", DEV, "server:webhook"], WEBHOOK, ManagedSettings(), {}, False,
     "server webhook not in --channels list for this session"),
    ("-p keeps plugin entries", ["--print", "--channels", f"plugin:fakechat@{OFFICIAL}", "-p"], FAKECHAT,
     ManagedSettings(), {}, True, f"registered from plugin:fakechat@{OFFICIAL}"),
    ("--flag=value takes one word", [f"{DEV}=server:other", "server:webhook"], WEBHOOK, ManagedSettings(), {},
     False, "server webhook not in --channels list for this session"),
    ("entries run to the next option", [DEV, "server:a", "server:webhook", "--model", "opus"], WEBHOOK,
     ManagedSettings(), {}, True, "registered from development entry server:webhook"),
    ("a repeated flag adds", [DEV, "server:a", "-c", DEV, "server:webhook"], WEBHOOK, ManagedSettings(), {}, True,
     "registered from development entry server:webhook"),
    ("-- ends the options", ["--", DEV, "server:webhook"], WEBHOOK, ManagedSettings(), {}, False,
     "server webhook not in --channels list for this session"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "server", "settings", "environ", "registered", "reason"),
                         [case[1:] for case in GATE_CASES], ids=[case[0] for case in GATE_CASES])  # fmt: skip
def test_gate_outcomes(
    argv: list[str],
    server: ServerIdentity,
    settings: ManagedSettings,
    environ: dict[str, str],
    registered: bool,
    reason: str,
) -> None:
    decision = decide_enablement(server, read_claude_flags(argv).entries, settings, environ)
    assert (decision.registered, decision.reason) == (registered, reason)


def test_untagged_entries_are_refused_as_claude_code_refuses_them() -> None:
    with pytest.raises(EntrySyntaxError) as refused:
        read_claude_flags(["--channels", "webhook", "plugin:x@", "server:a", "plug:y"])
    assert str(refused.value).splitlines()[0] == "--channels entries must be tagged: webhook, plugin:x@, plug:y"
    with pytest.raises(EntrySyntaxError):  # the flag's first word is taken whatever it looks like
        read_claude_flags(["--channels", "-x"])


def test_stream_json_input_is_noticed() -> None:
    assert read_claude_flags(["--input-format", "stream-json", "-p"]).sdk_input
    assert read_claude_flags(["--input-format=stream-json"]).sdk_input
    assert not read_claude_flags(["--input-format", "text"]).sdk_input


@pytest.mark.parametrize(
    ("words", "arguments"),
    [
        (["/home/u/.local/bin/claude", "--channels", "x"], ["--channels", "x"]),
        (["claude.exe"], []),
        (["node", "--no-warnings", "/usr/lib/node_modules/@anthropic-ai/claude-code/cli.js", "-c"], ["-c"]),
        (["/usr/bin/node", "/usr/local/bin/claude", "-p"], ["-p"]),
        (["node", "/srv/app/server.js", "claude"], None),
        (["/usr/bin/python3", "-m", "mcp_channels", "serve", "webhook"], None),
        ([], None),
    ],
)
def test_what_counts_as_claude_code(words: list[str], arguments: list[str] | None) -> None:
    assert claude_arguments(words) == arguments


def test_identity_from_the_environment() -> None:
    assert identify_server("webhook", environ={}) == ServerIdentity("webhook")
    assert identify_server("webhook", "alerts", {"MCP_CHANNELS_SERVER_NAME": "x"}) == ServerIdentity("alerts")
    assert identify_server("webhook", environ={"MCP_CHANNELS_SERVER_NAME": "x"}) == ServerIdentity("x")
    data = {"MCP_CHANNELS_PLUGIN": "my-hook", "CLAUDE_PLUGIN_DATA": "/h/.claude/plugins/data/my-hook-team-tools/"}
    assert identify_server("webhook", environ=data) == ServerIdentity("plugin:my-hook:webhook", "my-hook", "team-tools")
    stated = {**data, "MCP_CHANNELS_PLUGIN": "my-hook@acme"}
    assert identify_server("webhook", environ=stated).marketplace == "acme"
    inline = {"MCP_CHANNELS_PLUGIN": "webhook", "CLAUDE_PLUGIN_DATA": "/d/webhook-inline"}
    assert identify_server("webhook", environ=inline).marketplace == "inline"  # a --plugin-dir plugin
    foreign = {"MCP_CHANNELS_PLUGIN": "webhook", "CLAUDE_PLUGIN_DATA": "/d/other-acme"}
    assert identify_server("webhook", environ=foreign).marketplace is None


def test_serve_arguments() -> None:
    assert serve_arguments(["webhook"]) == ("webhook", None)
    assert serve_arguments(["webhook", "--name", "alerts"]) == ("webhook", "alerts")
    assert serve_arguments(["webhook", "--name=alerts"]) == ("webhook", "alerts")
    assert serve_arguments(["slack"]) == ("slack", None)  # what the sessions check reads in a command line
    for bad in (["matrix"], [], ["webhook", "--name"], ["webhook", "--name", "-x"], ["webhook", "extra"]):
        with pytest.raises(ValueError):
            serve_arguments(bad)

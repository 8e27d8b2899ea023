"""The hub's pure parts: the wire's validation, chat commands, settings conflicts, conversation keys."""

from __future__ import annotations

import pytest

from mcp_channels.channel import Place
from mcp_channels.errors import WireError
from mcp_channels.hub._commands import Command, parse_command
from mcp_channels.hub._conversations import (
    conversation_of,
    conversation_of_call,
    event_id,
    parent_of,
    place_of,
    reply_arguments,
)
from mcp_channels.hub._metrics import render
from mcp_channels.hub._settings import channel_settings, conflict_message, differences
from mcp_channels.hub._wire import Ack, Attach, Delivered


def test_attach_round_trips_and_refuses_what_it_must() -> None:
    attach = Attach("webhook", "alerts", 42, {"CLAUDE_CODE_SESSION_ID": "s"}, {"WEBHOOK_PORT": "1"}, "ci", "/p")
    assert Attach.from_json(attach.to_json()) == attach
    for bad in (
        {**attach.to_json(), "protocol": 2},
        {**attach.to_json(), "pid": -1},
        {**attach.to_json(), "channel": "bad\nname"},
        {**attach.to_json(), "settings": {"1BAD": "x"}},
        {**attach.to_json(), "settings": {"OK": 5}},
        {**attach.to_json(), "environ": {f"V{n}": "x" for n in range(201)}},
    ):
        with pytest.raises(WireError):
            Attach.from_json(bad)


def test_events_and_acks_validate() -> None:
    event = Delivered("telegram", "123", 0, "123:7", "hi", {"chat_id": "123"})
    assert Delivered.from_json(event.to_json()) == event  # seq 0: sent while being committed
    with pytest.raises(WireError):
        Delivered.from_json({**event.to_json(), "meta": {"k": 1}})
    with pytest.raises(WireError):
        Ack.from_json({"channel": "telegram", "conversation": "123", "seq": -1, "id": "x"})
    assert Ack.from_json(Ack("t", "c", 5, "i").to_json()).seq == 5


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("/sessions", Command("sessions", "")),
        ("  /SWITCH 2 ", Command("switch", "2")),
        ("/switch@claude_test_bot ci", Command("switch", "ci")),
        ("/switchboard", None),
        ("please /switch 2", None),
        ("@claude /switch 2", Command("switch", "2")),  # Slack sends no message that starts with /
        ("<@123456789> /sessions", Command("sessions", "")),  # Discord's raw mention
        ("@claude please /switch 2", None),
        ("/start", None),
    ],
)
def test_chat_commands(text: str, command: Command | None) -> None:
    assert parse_command(text) == command


def test_settings_are_the_channels_own_and_conflicts_hide_secrets() -> None:
    env = {"WEBHOOK_PORT": "9000", "WEBHOOK_SECRET": "hunter2-hunter2", "TELEGRAM_BOT_TOKEN": "x", "HOME": "/h"}
    settings = channel_settings("webhook", env)
    assert settings == {
        "WEBHOOK_PORT": "9000",
        "WEBHOOK_SECRET": "hunter2-hunter2",
        "WEBHOOK_STATE_DIR": "/h/.claude/channels/webhook",
    }
    running = {**settings, "WEBHOOK_PORT": "8788", "WEBHOOK_SECRET": "s3cr3t-running"}
    assert differences(running, settings) == [
        "WEBHOOK_PORT '8788' in the hub, '9000' here",
        "WEBHOOK_SECRET set (value hidden) in the hub, set (value hidden) here",
    ]
    message = conflict_message("webhook", running, settings, "app")
    assert "hunter2" not in message and "s3cr3t" not in message and "--hub off" in message


def test_conversation_keys_and_ids() -> None:
    assert conversation_of("telegram", {"chat_id": "-100", "message_id": "7"}) == "-100"
    assert conversation_of("webhook", {"path": "/ci/build"}) == "/ci/build"
    assert conversation_of("webhook", {"path": "/" + "x" * 300}).startswith("#")
    assert conversation_of("webhook", {}) == "-"
    assert event_id({"chat_id": "5", "message_id": "9"}) == "5:9"
    assert event_id({"path": "/"}) != event_id({"path": "/"})
    assert conversation_of_call("telegram", "reply", {"chat_id": "5", "text": "x"}) == "5"
    assert conversation_of_call("fakechat", "reply", {"text": "x"}) == "web"
    assert conversation_of_call("telegram", "react", {"chat_id": "5"}) is None


def test_a_slack_thread_is_its_own_conversation_under_its_chat() -> None:
    in_thread = {"chat_id": "C1", "message_id": "2.000002", "thread_ts": "1.000001"}
    assert conversation_of("slack", in_thread) == "C1/1.000001"
    assert conversation_of("slack", {"chat_id": "D1", "message_id": "3.000003"}) == "D1"  # a DM's top level
    assert conversation_of_call("slack", "reply", {"chat_id": "C1", "thread_ts": "1.000001", "text": "x"}) == (
        "C1/1.000001"
    )
    assert conversation_of_call("slack", "reply", {"chat_id": "D1", "text": "x"}) == "D1"
    assert reply_arguments("slack", "C1/1.000001") == {"chat_id": "C1", "thread_ts": "1.000001"}
    assert reply_arguments("slack", "D1") == {"chat_id": "D1"}
    assert reply_arguments("fakechat", "web") == {}
    assert parent_of("slack", "C1/1.000001") == "C1"
    assert parent_of("slack", "D1") is None
    assert parent_of("webhook", "/ci/build") is None  # a path is not a thread
    assert place_of("slack", "C1/1.000001") == Place("C1", "1.000001")
    assert place_of("discord", "1234") == Place("1234")


def test_metrics_group_each_family_and_escape_labels() -> None:
    status = {
        "hub": {"uptime_s": 1.5, "rss_bytes": 1024},
        "attachments": [{"channel": "telegram", "tools_only": False}, {"channel": "telegram", "tools_only": True}],
        "channels": [
            {"name": name, "state": "running", "received": 3, "delivered": 2, "stored": 3, "pending": 1,
             "oldest_pending_age_s": 0.5, "retention_dropped": 0, "retention_undelivered": 0, "commit_errors": 0}
            for name in ("a", 'b"c')
        ],
    }  # fmt: skip
    text = render(status)
    families = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
    assert len(families) == len(set(families))
    assert 'mcp_channels_hub_events_pending{channel="b\\"c"} 1' in text
    assert 'mcp_channels_hub_attachments{channel="telegram",session="tools_only"} 1' in text

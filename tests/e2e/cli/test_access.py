"""``mcp-channels access`` and ``mcp-channels configure``, run as real processes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from support.processes import PYTHON, Finished

NOW_MS = 1_700_000_000_000
TG_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
DC_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"


@pytest.fixture
def cli(tmp_path: Path):
    """Run ``mcp-channels <args>`` with every channel's state under ``tmp_path``."""
    base = {k: v for k, v in os.environ.items() if not k.endswith(("_STATE_DIR", "_ACCESS_MODE", "_TOKEN"))}
    base.pop("WEBHOOK_SECRET", None)
    base |= {
        f"{name.upper()}_STATE_DIR": str(tmp_path / name)
        for name in ("telegram", "discord", "imessage", "webhook", "slack")
    }

    def run(*args: str, **env: str) -> Finished:
        done = subprocess.run(
            [PYTHON, "-m", "mcp_channels", *args], env={**base, **env}, capture_output=True, text=True, timeout=30
        )
        return Finished(done.returncode, done.stdout, done.stderr)

    return run


def access_file(tmp_path: Path, channel: str = "telegram") -> dict[str, Any]:
    return json.loads((tmp_path / channel / "access.json").read_text())  # type: ignore[no-any-return]


def seed(tmp_path: Path, channel: str = "telegram", **access: Any) -> None:
    (tmp_path / channel).mkdir(parents=True, exist_ok=True)
    (tmp_path / channel / "access.json").write_text(json.dumps(access))


def pending(code: str, sender: str, *, expires_in_ms: int) -> dict[str, Any]:
    now = int(time.time() * 1000)
    return {
        code: {"senderId": sender, "chatId": f"dm-{sender}", "createdAt": now - 1000, "expiresAt": now + expires_in_ms}
    }


# --------------------------------------------------------------------------- status


def test_status_of_a_fresh_channel(cli, tmp_path: Path) -> None:
    run = cli("access", "telegram")
    assert run.code == 0, run.err
    assert "policy:   pairing" in run.out and "allowed:  0" in run.out and "textChunkLimit=4096 (default)" in run.out
    assert not (tmp_path / "telegram").exists()  # looking changes nothing
    data = cli("access", "imessage", "--json").json()
    assert data["ok"] and data["dmPolicy"] == "allowlist" and data["settings"]["textChunkLimit"] == 10000
    assert set(data) >= {"channel", "file", "allowFrom", "pending", "groups", "settings"}


def test_usage_errors_exit_2(cli) -> None:
    for args in (["access"], ["access", "webhook"], ["access", "matrix"], ["access", "telegram", "frobnicate"]):
        run = cli(*args)
        assert run.code == 2 and "error:" in run.err, args
    run = cli("access", "telegram", "policy", "open", "--json")
    assert run.code == 2 and not run.json()["ok"] and "invalid choice" in run.json()["error"]
    assert cli("access", "telegram", "group").code == 2
    assert "access <channel>" in cli("--help").out and "configure <channel>" in cli("--help").out
    assert cli("access", "--help").code == 0


# --------------------------------------------------------------------------- allow, remove, policy


def test_allow_and_remove(cli, tmp_path: Path) -> None:
    assert cli("access", "telegram", "allow", "123").out.strip() == "allowed 123"
    again = cli("access", "telegram", "allow", "123", "--json")
    assert again.code == 0 and again.json() == {
        "ok": True,
        "action": "allow",
        "id": "123",
        "changed": False,
        "warnings": [],
    }
    cli("access", "telegram", "allow", "456")
    assert access_file(tmp_path)["allowFrom"] == ["123", "456"]
    assert cli("access", "telegram", "remove", "123").code == 0
    missing = cli("access", "telegram", "remove", "999")
    assert missing.code == 1 and "999 is not in allowFrom (allowed: 456)" in missing.err
    assert access_file(tmp_path)["allowFrom"] == ["456"]
    assert cli("access", "telegram", "allow", "  ").code == 2


def test_policy(cli, tmp_path: Path) -> None:
    run = cli("access", "telegram", "policy", "allowlist")
    assert run.code == 0 and "dmPolicy is now allowlist" in run.out and "nobody is in allowFrom" in run.err
    assert access_file(tmp_path)["dmPolicy"] == "allowlist"
    assert "drops every inbound message" in cli("access", "discord", "policy", "disabled").err
    assert "prefer allow <handle>" in cli("access", "imessage", "policy", "pairing").err


def test_groups(cli, tmp_path: Path) -> None:
    run = cli("access", "telegram", "group", "add", "-1001654782309", "--no-mention", "--allow", "1, 2,,3")
    assert run.code == 0 and "added" in run.out
    assert access_file(tmp_path)["groups"] == {
        "-1001654782309": {"requireMention": False, "allowFrom": ["1", "2", "3"]}
    }
    updated = cli("access", "telegram", "group", "add", "-1001654782309", "--json").json()
    assert updated["replaced"] and updated["group"] == {"requireMention": True, "allowFrom": []}
    assert "mention required, anyone" in cli("access", "telegram").out
    assert cli("access", "telegram", "group", "rm", "-1001654782309").code == 0
    gone = cli("access", "telegram", "group", "rm", "-1001654782309")
    assert gone.code == 1 and "is not opted in" in gone.err
    assert access_file(tmp_path)["groups"] == {}


# --------------------------------------------------------------------------- set


@pytest.mark.parametrize(
    ("channel", "key", "value", "stored"),
    [
        ("telegram", "ackReaction", "👀", "👀"),
        ("telegram", "replyToMode", "all", "all"),
        ("discord", "replyToMode", "off", "off"),
        ("telegram", "textChunkLimit", "4096", 4096),
        ("discord", "textChunkLimit", "1", 1),
        ("imessage", "textChunkLimit", "10000", 10000),
        ("imessage", "chunkMode", "newline", "newline"),
        ("discord", "mentionPatterns", '["^hey claude\\\\b", "(?i)bot"]', ["^hey claude\\b", "(?i)bot"]),
    ],
)
def test_set_valid_values(cli, tmp_path: Path, channel: str, key: str, value: str, stored: Any) -> None:
    run = cli("access", channel, "set", key, value, "--json")
    assert run.code == 0, run.err
    assert run.json()["value"] == stored and access_file(tmp_path, channel)[key] == stored


def test_set_empty_ack_reaction_turns_it_off(cli, tmp_path: Path) -> None:
    cli("access", "telegram", "set", "ackReaction", "👍")
    assert cli("access", "telegram", "set", "ackReaction", "").out.strip() == "ackReaction = off"
    assert "ackReaction" not in access_file(tmp_path)


@pytest.mark.parametrize(
    ("channel", "key", "value", "error"),
    [
        ("telegram", "replyToMode", "sometimes", "replyToMode must be one of off, first, all"),
        ("telegram", "chunkMode", "words", "chunkMode must be one of length, newline"),
        ("telegram", "textChunkLimit", "0", "from 1 to 4096"),
        ("telegram", "textChunkLimit", "4097", "from 1 to 4096"),
        ("discord", "textChunkLimit", "2001", "from 1 to 2000"),
        ("imessage", "textChunkLimit", "10001", "from 1 to 10000"),
        ("telegram", "textChunkLimit", "12.5", "whole number"),
        ("telegram", "mentionPatterns", "claude", "JSON array"),
        ("telegram", "mentionPatterns", '{"a": 1}', "JSON array of strings"),
        ("telegram", "mentionPatterns", "[1]", "JSON array of strings"),
        ("telegram", "mentionPatterns", '["ok", "(broken"]', "'(broken' is not a usable regex"),
        ("telegram", "ackReaction", "two\nlines", "one emoji"),
        ("imessage", "ackReaction", "👀", "imessage has no setting 'ackReaction'"),
        ("imessage", "replyToMode", "all", "settable: textChunkLimit, chunkMode, mentionPatterns"),
        ("discord", "colour", "red", "discord has no setting 'colour'"),
    ],
)
def test_set_refuses_bad_values(cli, tmp_path: Path, channel: str, key: str, value: str, error: str) -> None:
    run = cli("access", channel, "set", key, value)
    assert run.code == 1 and error in run.err, run.err
    assert not (tmp_path / channel / "access.json").exists()
    as_json = cli("access", channel, "set", key, value, "--json")
    assert as_json.code == 1 and as_json.json()["ok"] is False and error in as_json.json()["error"]


# --------------------------------------------------------------------------- pair and deny


def test_pair_without_a_code_lists_and_refuses(cli, tmp_path: Path) -> None:
    seed(
        tmp_path,
        pending={**pending("a4f91c", "7", expires_in_ms=630_000), **pending("b00b1e", "8", expires_in_ms=-60_000)},
    )
    before = access_file(tmp_path)
    run = cli("access", "telegram", "pair")
    assert run.code == 2 and "pair needs the code" in run.err
    assert "a4f91c  sender 7 (chat dm-7)" in run.err and "expires in 10 min" in run.err and "EXPIRED" in run.err
    listed = cli("access", "telegram", "pair", "--json")
    assert listed.code == 2 and [p["code"] for p in listed.json()["pending"]] == ["a4f91c", "b00b1e"]
    assert access_file(tmp_path) == before  # nothing was guessed
    assert "pending:  2" in cli("access", "telegram").out


def test_pair_approves_and_hands_off(cli, tmp_path: Path) -> None:
    seed(tmp_path, allowFrom=["1"], pending=pending("a4f91c", "7", expires_in_ms=600_000))
    run = cli("access", "telegram", "pair", "A4F91C", "--json")
    assert run.code == 0, run.err
    assert run.json() == {
        "ok": True,
        "action": "pair",
        "code": "a4f91c",
        "senderId": "7",
        "chatId": "dm-7",
        "warnings": [],
    }
    assert access_file(tmp_path)["allowFrom"] == ["1", "7"] and access_file(tmp_path)["pending"] == {}
    assert (tmp_path / "telegram" / "approved" / "7").read_text() == "dm-7"
    reused = cli("access", "telegram", "pair", "a4f91c")
    assert reused.code == 1 and "no pending pairing with code 'a4f91c'" in reused.err


def test_pair_refuses_an_expired_code(cli, tmp_path: Path) -> None:
    seed(tmp_path, pending=pending("a4f91c", "7", expires_in_ms=-180_000))
    before = access_file(tmp_path)
    run = cli("access", "telegram", "pair", "a4f91c")
    assert run.code == 1 and "expired 3 min ago" in run.err
    assert access_file(tmp_path) == before
    assert not (tmp_path / "telegram" / "approved").exists()


def test_deny(cli, tmp_path: Path) -> None:
    seed(tmp_path, pending=pending("a4f91c", "7", expires_in_ms=600_000))
    assert "denied pairing a4f91c from 7" in cli("access", "telegram", "deny", "a4f91c").out
    assert access_file(tmp_path)["pending"]["a4f91c"]["expiresAt"] <= time.time() * 1000  # kept, expired
    again = cli("access", "telegram", "deny", "a4f91c", "--json")
    assert again.code == 1 and "a4f91c expired 0 min ago (or was denied)" in again.json()["error"]
    assert cli("access", "telegram", "deny", "ffffff").code == 1


# --------------------------------------------------------------------------- damaged files and static mode


def test_a_badly_typed_file_is_reported_and_still_managed(cli, tmp_path: Path) -> None:
    seed(tmp_path, allowFrom="123", dmPolicy="allowlist", custom={"kept": True})
    run = cli("access", "telegram", "allow", "9")
    assert run.code == 0 and 'allowFrom: expected a list of id strings, got "123"' in run.err
    saved = access_file(tmp_path)
    assert saved["allowFrom"] == ["9"] and saved["custom"] == {"kept": True} and saved["dmPolicy"] == "allowlist"
    assert any(p.name.startswith("access.json.invalid-") for p in (tmp_path / "telegram").iterdir())


def test_a_corrupt_file_is_moved_aside(cli, tmp_path: Path) -> None:
    (tmp_path / "discord").mkdir()
    (tmp_path / "discord" / "access.json").write_text("{oops")
    run = cli("access", "discord", "allow", "1")
    assert run.code == 0 and "is corrupt" in run.err and "moved aside to access.json.corrupt-" in run.err
    assert access_file(tmp_path, "discord")["allowFrom"] == ["1"]


def test_a_broken_group_is_shown_closed_and_can_be_replaced_or_removed(cli, tmp_path: Path) -> None:
    seed(tmp_path, groups={"-100": {"allowFrom": "111"}, "-200": {"requireMention": False}})
    status = cli("access", "telegram")
    assert "groups:   1 (and 1 closed)" in status.out and "-100  CLOSED" in status.out
    assert "groups['-100'].allowFrom: expected a list of id strings" in status.err
    assert cli("access", "telegram", "--json").json()["closedGroups"] == ["-100"]
    assert cli("access", "telegram", "group", "add", "-300").code == 0
    assert access_file(tmp_path)["groups"]["-100"] == {"allowFrom": "111"}  # left as the user wrote it
    added = cli("access", "telegram", "group", "add", "-100", "--allow", "111", "--json")
    assert added.code == 0 and added.json()["replaced"] is True
    assert access_file(tmp_path)["groups"]["-100"] == {"requireMention": True, "allowFrom": ["111"]}
    seed(tmp_path, groups={"-100": []})
    assert cli("access", "telegram", "group", "rm", "-100").code == 0
    assert access_file(tmp_path)["groups"] == {}


@pytest.mark.parametrize(
    ("found", "command", "written"),
    [
        ({"dmPolicy": "open"}, ("policy", "allowlist"), {"dmPolicy": "allowlist"}),
        ({"textChunkLimit": "big"}, ("set", "textChunkLimit", "100"), {"textChunkLimit": 100}),
        ({"mentionPatterns": "claude"}, ("set", "mentionPatterns", "[]"), {}),
    ],
)
def test_setting_a_field_that_did_not_parse_replaces_it(
    cli, tmp_path: Path, found: dict[str, Any], command: tuple[str, ...], written: dict[str, Any]
) -> None:
    seed(tmp_path, **found)
    assert cli("access", "telegram", *command).code == 0
    saved = access_file(tmp_path)
    key = next(iter(found))
    assert saved.get(key) == written.get(key)


def test_an_access_file_that_is_not_a_regular_file_is_refused_without_blocking(cli, tmp_path: Path) -> None:
    (tmp_path / "telegram").mkdir()
    os.mkfifo(tmp_path / "telegram" / "access.json")  # reading a FIFO would wait for a writer forever
    run = cli("access", "telegram", "allow", "1")
    assert run.code == 1 and "access.json cannot be used: it is not a regular file; fix or remove it first" in run.err
    status = cli("access", "telegram")
    assert status.code == 0 and "policy:   disabled" in status.out and "not a regular file" in status.err
    assert stat.S_ISFIFO((tmp_path / "telegram" / "access.json").lstat().st_mode)  # left alone


def test_an_oversized_access_file_is_refused_unread(cli, tmp_path: Path) -> None:
    seed(tmp_path, allowFrom=["1"], padding="x" * (1 << 20))
    run = cli("access", "telegram", "allow", "2")
    assert run.code == 1 and "over the 1,048,576-byte limit" in run.err
    assert access_file(tmp_path)["allowFrom"] == ["1"]


def test_static_mode_is_pointed_out(cli) -> None:
    run = cli("access", "telegram", "allow", "1", TELEGRAM_ACCESS_MODE="static")
    assert run.code == 0 and "TELEGRAM_ACCESS_MODE=static" in run.err


# --------------------------------------------------------------------------- configure


def test_configure_saves_masks_and_clears_the_token(cli, tmp_path: Path) -> None:
    first = cli("configure", "telegram")
    assert first.code == 0 and "TELEGRAM_BOT_TOKEN not set" in first.out
    assert "mcp-channels configure telegram <token>" in first.out

    env_file = tmp_path / "telegram" / ".env"
    env_file.parent.mkdir(mode=0o755)
    env_file.write_text("OTHER=keep\n")
    saved = cli("configure", "telegram", f"  {TG_TOKEN}  ")
    assert saved.code == 0 and saved.err == ""
    assert "restart" in saved.out and TG_TOKEN not in saved.out and "123456789:" in saved.out
    assert env_file.read_text() == f"OTHER=keep\nTELEGRAM_BOT_TOKEN={TG_TOKEN}\n"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600 and stat.S_IMODE(env_file.parent.stat().st_mode) == 0o700

    status = cli("configure", "telegram")
    assert TG_TOKEN not in status.out and "set (123456789:…" in status.out and "from .env" in status.out
    data = cli("configure", "telegram", "--json").json()
    assert data["token"]["present"] and data["token"]["source"] == ".env" and TG_TOKEN not in json.dumps(data)

    cleared = cli("configure", "telegram", "clear", "--json")
    assert cleared.code == 0 and cleared.json()["changed"] and cleared.json()["restartNeeded"]
    assert env_file.read_text() == "OTHER=keep\n"
    assert "no TELEGRAM_BOT_TOKEN was saved" in cli("configure", "telegram", "clear").out


def test_configure_warns_about_odd_tokens_but_saves_them(cli, tmp_path: Path) -> None:
    run = cli("configure", "discord", "not-a-discord-token")
    assert run.code == 0 and "does not look like a discord token" in run.err
    assert "DISCORD_BOT_TOKEN=not-a-discord-token" in (tmp_path / "discord" / ".env").read_text()
    assert cli("configure", "discord", DC_TOKEN).err == ""
    assert "does not look like" in cli("configure", "telegram", "12345:short").err


def test_configure_refuses_unusable_tokens(cli, tmp_path: Path) -> None:
    for token in ("two words", "line\nbreak", "   "):
        run = cli("configure", "telegram", token)
        assert run.code == 1 and "cannot be empty or contain spaces" in run.err
    assert not (tmp_path / "telegram" / ".env").exists()
    imessage = cli("configure", "imessage", "abc")
    assert imessage.code == 1 and "imessage has no token" in imessage.err
    assert cli("configure", "matrix").code == 2


def test_configure_says_when_the_environment_wins(cli) -> None:
    run = cli("configure", "telegram", TG_TOKEN, TELEGRAM_BOT_TOKEN="999:" + "x" * 35)
    assert "also set in the environment, which wins" in run.err
    status = cli("configure", "telegram", "--json", TELEGRAM_BOT_TOKEN="999:" + "x" * 35).json()
    assert status["token"]["source"] == "environment" and status["token"]["masked"].startswith("999:")


def test_configure_leads_to_the_next_step(cli) -> None:
    cli("configure", "telegram", TG_TOKEN)
    assert "DM your bot" in cli("configure", "telegram").out
    cli("access", "telegram", "allow", "412587349")
    lock = "Lock down with `mcp-channels access telegram policy allowlist` once you are paired"
    assert lock in cli("configure", "telegram").out
    cli("access", "telegram", "policy", "allowlist")
    assert cli("configure", "telegram", "--json").json()["nextStep"] == "Ready."
    cli("access", "telegram", "policy", "disabled")
    assert "every message is dropped" in cli("configure", "telegram").out


def test_configure_imessage_and_webhook(cli) -> None:
    imessage = cli("configure", "imessage", "--json").json()
    assert "token" not in imessage and imessage["access"]["dmPolicy"] == "allowlist"
    assert imessage["nextStep"].startswith("Ready. Self-chat works; 0 other sender(s) allowed.")
    assert "Optional" in cli("configure", "webhook").out
    assert cli("configure", "webhook", "s3cret-value").code == 0
    status = cli("configure", "webhook")
    assert "s3cret-value" not in status.out and "Ready: senders must sign" in status.out

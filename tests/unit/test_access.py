"""The access file: format, hot reload, corruption, wrong types, static mode, locking, hand-off."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from mcp_channels.access import (
    Access,
    AccessError,
    AccessStore,
    GroupPolicy,
    InboundMessage,
    PendingPairing,
    approve_pairing,
    deliver_approvals,
    deny_pairing,
    gate,
    render_access,
    watch_approvals,
)
from support import DATA
from support.processes import PYTHON

FIXTURES = DATA / "access"
OFFICIAL = FIXTURES / "official_access.json"
NOW = 1_700_000_000_000


def store_at(path: Path, **kwargs: object) -> AccessStore:
    return AccessStore("telegram", path, static=kwargs.pop("static", False), **kwargs)  # type: ignore[arg-type]


def write(path: Path, data: object) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    target = path / "access.json"
    target.write_text(data if isinstance(data, str) else json.dumps(data))
    return target


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


# --------------------------------------------------------------------------- format


def test_missing_file_gives_the_channel_defaults(tmp_path: Path) -> None:
    assert store_at(tmp_path).load() == Access()
    assert (
        AccessStore("imessage", tmp_path, default_dm_policy="allowlist", static=False).load().dm_policy == "allowlist"
    )
    assert not (tmp_path / "access.json").exists()  # reading never creates anything


def test_official_file_is_read_and_written_back_identically(tmp_path: Path) -> None:
    text = OFFICIAL.read_text()
    write(tmp_path, text)
    store = store_at(tmp_path)
    access = store.load()
    assert access.dm_policy == "pairing"
    assert access.allow_from == ["412587349"]
    assert access.groups == {"-1001654782309": GroupPolicy(require_mention=True, allow_from=[])}
    assert access.pending["a4f91c"] == PendingPairing("99", "99", 1774000000000, 1774003600000, 1)
    assert access.mention_patterns == ["^hey claude\\b"]
    assert (access.ack_reaction, access.reply_to_mode, access.text_chunk_limit, access.chunk_mode) == (
        "👀",
        "all",
        3000,
        "newline",
    )
    assert render_access(access) == text  # same keys, order, 2-space indent, trailing newline


def test_writes_are_pretty_private_and_atomic(tmp_path: Path) -> None:
    state = tmp_path / "state"
    store = store_at(state)
    store.update(lambda a: a.allow_from.append("1"))
    path = state / "access.json"
    assert path.read_text() == (
        '{\n  "dmPolicy": "pairing",\n  "allowFrom": [\n    "1"\n  ],\n  "groups": {},\n  "pending": {}\n}\n'
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(state.stat().st_mode) == 0o700
    assert sorted(p.name for p in state.iterdir()) == ["access.json", "access.json.lock"]


def test_a_failed_update_writes_nothing(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    store.update(lambda a: a.allow_from.append("1"))
    before = (tmp_path / "access.json").read_text()

    def fail(access: Access) -> None:
        access.allow_from.append("2")
        raise AccessError("no")

    with pytest.raises(AccessError):
        store.update(fail)
    assert (tmp_path / "access.json").read_text() == before


def test_unknown_keys_are_preserved_everywhere(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "dmPolicy": "allowlist",
            "allowFrom": ["1"],
            "groups": {"g": {"requireMention": False, "allowFrom": [], "note": "team room"}},
            "pending": {"abc123": {"senderId": "5", "chatId": "5", "createdAt": 1, "expiresAt": NOW * 2, "via": "x"}},
            "futureFeature": {"nested": [1, 2]},
        },
    )
    store = store_at(tmp_path)
    store.update(lambda a: a.allow_from.append("2"))
    saved = json.loads((tmp_path / "access.json").read_text())
    assert saved["futureFeature"] == {"nested": [1, 2]}
    assert saved["groups"]["g"]["note"] == "team room"
    assert saved["pending"]["abc123"]["via"] == "x" and saved["pending"]["abc123"]["replies"] == 1
    assert saved["allowFrom"] == ["1", "2"]


def test_edits_are_seen_at_once(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    assert store.load().allow_from == []
    write(tmp_path, {"allowFrom": ["7"]})
    assert store.load().allow_from == ["7"]


def test_readings_are_cached_while_the_file_is_the_same_version(tmp_path: Path) -> None:
    """Keyed by (device, inode, size, mtime): an edit in place that keeps all four is not seen, which
    proves the cache is used; any edit that changes one of them is."""
    path = write(tmp_path, {"allowFrom": ["1"]})
    old = time.time_ns() - 10_000_000_000
    os.utime(path, ns=(old, old))
    store = store_at(tmp_path)
    assert store.load().allow_from == ["1"]
    path.write_text(json.dumps({"allowFrom": ["2"]}))  # same inode, same size
    os.utime(path, ns=(old, old))
    assert store.load().allow_from == ["1"]
    os.utime(path, ns=(old + 1, old + 1))
    assert store.load().allow_from == ["2"]
    store.load().allow_from.append("3")  # callers get copies
    assert store.load().allow_from == ["2"]


def test_a_file_changed_in_the_last_seconds_is_not_cached(tmp_path: Path) -> None:
    """A second edit within the file system's clock tick keeps (size, mtime): such files are re-read."""
    path = write(tmp_path, {"allowFrom": ["1"]})
    recent = path.stat().st_mtime_ns
    store = store_at(tmp_path)
    assert store.load().allow_from == ["1"]
    path.write_text(json.dumps({"allowFrom": ["2"]}))
    os.utime(path, ns=(recent, recent))
    assert store.load().allow_from == ["2"]


def test_chunk_limit_is_clamped_to_the_platform_cap() -> None:
    assert Access().chunk_limit(4096) == 4096
    assert Access(text_chunk_limit=100).chunk_limit(4096) == 100
    assert Access(text_chunk_limit=99999).chunk_limit(2000) == 2000
    assert Access(text_chunk_limit=0).chunk_limit(2000) == 2000  # not one character per message
    assert Access(text_chunk_limit=-5).chunk_limit(2000) == 1


# --------------------------------------------------------------------------- damage


@pytest.mark.parametrize(
    ("content", "why"),
    [("{not json", "Expecting property name"), ("[1, 2]", "not an object"), (b"\xff\xfe{}", "utf-8")],
)
def test_a_corrupt_file_is_moved_aside_and_defaults_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str | bytes, why: str
) -> None:
    tmp_path.joinpath("access.json").write_bytes(content if isinstance(content, bytes) else content.encode())
    with caplog.at_level(logging.WARNING):
        access = store_at(tmp_path).load()
    assert access == Access()
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("access.json.corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes() == (content if isinstance(content, bytes) else content.encode())
    assert not (tmp_path / "access.json").exists()
    line = next(m for m in messages(caplog) if "corrupt" in m)
    assert why in line and aside[0].name in line and "Starting fresh" in line


def test_an_unreadable_file_is_moved_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "access.json").symlink_to("access.json")  # opening it fails (ELOOP), as EACCES would
    with caplog.at_level(logging.WARNING):
        store = store_at(tmp_path)
        store.update(lambda a: a.allow_from.append("1"))
    assert store.load().allow_from == ["1"]
    assert any(p.name.startswith("access.json.corrupt-") and p.is_symlink() for p in tmp_path.iterdir())
    assert any("corrupt" in m for m in messages(caplog))


def test_wrong_types_are_reported_field_by_field_and_close_what_they_govern(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    original = {
        "dmPolicy": "open",
        "allowFrom": "123",
        "groups": {"g1": {"requireMention": "yes", "allowFrom": [5, None]}, "g2": [], "g3": {"allowFrom": [7]}},
        "pending": {
            "dead00": {"senderId": "1"},
            "beef00": {"senderId": 9, "chatId": "9", "expiresAt": NOW, "replies": "x"},
        },
        "mentionPatterns": ["ok", 3],
        "ackReaction": 1,
        "replyToMode": "sometimes",
        "textChunkLimit": "big",
        "chunkMode": None,
    }
    write(tmp_path, original)
    store = store_at(tmp_path)
    with caplog.at_level(logging.WARNING):
        access = store.load()
    assert access.dm_policy == "allowlist" and access.allow_from == []
    assert access.groups == {"g3": GroupPolicy(require_mention=True, allow_from=["7"])}
    assert access.broken_groups == {"g1": original["groups"]["g1"], "g2": []}  # type: ignore[index]
    assert list(access.pending) == ["beef00"] and access.pending["beef00"].sender_id == "9"
    assert access.pending["beef00"].replies == 1
    assert access.mention_patterns == ["ok"]
    assert access.ack_reaction is None and access.reply_to_mode == "first" and access.text_chunk_limit is None
    report = "\n".join(messages(caplog))
    for fragment in [
        'dmPolicy: expected one of pairing, allowlist, disabled, got "open"; acting as allowlist',
        'allowFrom: expected a list of id strings, got "123"; no sender gets in by DM until it is fixed',
        "groups['g1'].requireMention: expected true or false, got \"yes\"; the group delivers nothing",
        "groups['g1'].allowFrom[0]: expected an id string, got 5; read as '5'",
        "groups['g1'].allowFrom[1]: expected an id string, got null; the group delivers nothing",
        "groups['g2']: expected an object, got []; the group delivers nothing",
        "groups['g3'].allowFrom[0]: expected an id string, got 7; read as '7'",
        "pending['dead00']: needs senderId, chatId and expiresAt",
        "pending['beef00'].replies",
        "mentionPatterns[1]: expected a string, got 3; left out",
        "ackReaction: expected a string",
        "replyToMode: expected one of off, first, all",
        "textChunkLimit: expected a whole number",
    ]:
        assert fragment in report
    assert "chunkMode" not in report  # null means "not set", as the official ?? treats it

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        store.load()
    assert messages(caplog) == []  # reported once per content, not on every message


@pytest.mark.parametrize(
    ("written", "policy", "note"),
    [
        ("Allowlist", "allowlist", 'dmPolicy: "Allowlist" read as "allowlist"'),
        ("disabled ", "disabled", 'dmPolicy: "disabled " read as "disabled"'),
        (" PAIRING", "pairing", 'dmPolicy: " PAIRING" read as "pairing"'),
        ("allow list", "allowlist", 'got "allow list"; acting as allowlist'),
        ("open", "allowlist", 'got "open"; acting as allowlist'),
        (True, "allowlist", "got true; acting as allowlist"),
        (["disabled"], "allowlist", 'got ["disabled"]; acting as allowlist'),
    ],
)
def test_a_policy_name_is_read_as_meant_or_closes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, written: object, policy: str, note: str
) -> None:
    write(tmp_path, {"dmPolicy": written, "allowFrom": ["1"]})
    with caplog.at_level(logging.WARNING):
        assert store_at(tmp_path).load().dm_policy == policy
    assert any(note in m for m in messages(caplog))


@pytest.mark.parametrize(
    ("extra", "policy"),
    [({"dmpolicy": "disabled"}, "allowlist"), ({"DMPolicy": "x", "dmPolicy": "disabled"}, "disabled")],
)
def test_a_misspelt_policy_key_closes_the_policy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, extra: dict[str, str], policy: str
) -> None:
    write(tmp_path, extra)
    with caplog.at_level(logging.WARNING):
        store = store_at(tmp_path)
        assert store.load().dm_policy == policy
        store.update(lambda a: a.allow_from.append("1"))
    assert any('keys are case-sensitive; did you mean "dmPolicy"?' in m for m in messages(caplog))
    saved = json.loads((tmp_path / "access.json").read_text())
    assert saved.get("dmPolicy") == extra.get("dmPolicy")  # not written where the user did not write it
    assert all(saved[key] == value for key, value in extra.items())


def test_what_does_not_parse_is_written_back_as_found(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The server adding a pairing code to a file with mistakes leaves every mistake as it was."""
    original = {
        "dmPolicy": "disabled ",
        "allowFrom": ["1", None, 2],
        "groups": {"g": {"allowFrom": "1"}, "h": {"requireMention": False, "allowFrom": [3]}},
        "pending": {},
        "mentionPatterns": "claude",
        "textChunkLimit": "big",
    }
    write(tmp_path, original)
    with caplog.at_level(logging.WARNING):
        store = store_at(tmp_path)
        store.update(lambda a: a.pending.update(c0ffee=PendingPairing("5", "5", NOW, NOW + 1)))
    saved = json.loads((tmp_path / "access.json").read_text())
    assert saved["dmPolicy"] == "disabled"  # what was meant: normalised
    assert saved["allowFrom"] == ["1", None, 2]  # what did not parse: as found
    assert saved["groups"] == {"h": {"requireMention": False, "allowFrom": ["3"]}, "g": {"allowFrom": "1"}}
    assert saved["mentionPatterns"] == "claude" and saved["textChunkLimit"] == "big"
    assert list(saved["pending"]) == ["c0ffee"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("access.json.invalid-")]  # nothing was lost

    store.update(lambda a: a.allow_from.append("9"))  # a change to a field with a problem
    saved = json.loads((tmp_path / "access.json").read_text())
    assert saved["allowFrom"] == ["1", "2", "9"] and saved["groups"]["g"] == {"allowFrom": "1"}
    [kept] = [p for p in tmp_path.iterdir() if p.name.startswith("access.json.invalid-")]
    assert json.loads(kept.read_text())["allowFrom"] == ["1", None, 2]


def test_rewriting_a_file_with_bad_fields_keeps_the_original(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    original = json.dumps({"allowFrom": "123", "dmPolicy": "allowlist"})
    write(tmp_path, original)
    with caplog.at_level(logging.WARNING):
        store_at(tmp_path).update(lambda a: a.allow_from.append("9"))
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("access.json.invalid-")]
    assert len(kept) == 1 and kept[0].read_text() == original
    assert json.loads((tmp_path / "access.json").read_text())["allowFrom"] == ["9"]
    assert any(kept[0].name in m for m in messages(caplog))


# --------------------------------------------------------------------------- static mode


def test_static_mode_snapshots_downgrades_and_never_writes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(
        tmp_path,
        {
            "dmPolicy": "pairing",
            "allowFrom": ["1"],
            "pending": {"abc123": {"senderId": "5", "chatId": "5", "createdAt": NOW, "expiresAt": NOW + 10}},
        },
    )
    with caplog.at_level(logging.WARNING):
        store = AccessStore("telegram", tmp_path, environ={"TELEGRAM_ACCESS_MODE": "static"})
    assert store.static
    assert 'static mode — dmPolicy "pairing" downgraded to "allowlist"' in messages(caplog)
    access = store.load()
    assert access.dm_policy == "allowlist" and access.pending == {} and access.allow_from == ["1"]

    write(tmp_path, {"dmPolicy": "disabled"})  # edits after start are not seen
    assert store.load().allow_from == ["1"]
    store.update(lambda a: a.allow_from.append("2"))
    assert store.load().allow_from == ["1", "2"]  # the snapshot changed...
    assert json.loads((tmp_path / "access.json").read_text()) == {"dmPolicy": "disabled"}  # ...the file did not
    assert gate(store, InboundMessage("3", "3", is_dm=True)).action == "drop"  # no pairing in static mode
    assert not (tmp_path / "access.json.lock").exists()


def test_static_mode_only_when_asked(tmp_path: Path) -> None:
    assert not AccessStore("discord", tmp_path, environ={"DISCORD_ACCESS_MODE": "dynamic"}).static
    assert not AccessStore("discord", tmp_path, environ={"TELEGRAM_ACCESS_MODE": "static"}).static
    assert AccessStore("discord", tmp_path, environ={}, static=True).static


# --------------------------------------------------------------------------- locking across processes


def test_concurrent_processes_never_lose_an_update(tmp_path: Path) -> None:
    """Four command-line processes allowing and removing, one server-side process pairing, all at once."""
    count = 30
    env = {**os.environ, "TELEGRAM_STATE_DIR": str(tmp_path)}
    roles = [("cli", f"c{i}") for i in range(4)] + [("pair", "p")]
    procs = [
        subprocess.Popen(
            [PYTHON, str(FIXTURES / "contender.py"), role, prefix, str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        for role, prefix in roles
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        for proc in procs:  # start everyone at once
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in procs:
            assert proc.wait(timeout=60) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    access = json.loads((tmp_path / "access.json").read_text())
    expected = {f"c{i}-{j}" for i in range(4) for j in range(count) if j % 2} | {f"p-{j}" for j in range(count)}
    assert sorted(access["allowFrom"]) == sorted(expected)
    assert access["pending"] == {}
    assert sorted(p.name for p in (tmp_path / "approved").iterdir()) == sorted(f"p-{j}" for j in range(count))


# --------------------------------------------------------------------------- approvals


def pending_store(tmp_path: Path, expires_at: int = NOW + 1000) -> AccessStore:
    write(
        tmp_path,
        {
            "allowFrom": ["42"],
            "pending": {"a4f91c": {"senderId": "42", "chatId": "dm-42", "createdAt": NOW, "expiresAt": expires_at}},
        },
    )
    return store_at(tmp_path)


def test_approve_moves_the_sender_and_leaves_a_marker(tmp_path: Path) -> None:
    store = pending_store(tmp_path)
    entry = approve_pairing(store, " A4F91C ", now_ms=NOW)
    assert (entry.sender_id, entry.chat_id) == ("42", "dm-42")
    access = store.load()
    assert access.allow_from == ["42"] and access.pending == {}  # deduplicated
    marker = tmp_path / "approved" / "42"
    assert marker.read_text() == "dm-42" and stat.S_IMODE(marker.stat().st_mode) == 0o600


def test_approve_refuses_unknown_and_expired_codes(tmp_path: Path) -> None:
    store = pending_store(tmp_path, expires_at=NOW - 120_000)
    with pytest.raises(AccessError, match=r"no pending pairing with code 'ffffff' \(pending: none\)"):
        approve_pairing(store, "ffffff", now_ms=NOW)
    with pytest.raises(AccessError, match=r"expired 2 min ago .* or let them in now with: allow 42"):
        approve_pairing(store, "a4f91c", now_ms=NOW)
    assert store.load().allow_from == ["42"] and "a4f91c" in store.load().pending
    assert not (tmp_path / "approved").exists()


def test_approve_refuses_a_sender_id_that_is_not_a_file_name(tmp_path: Path) -> None:
    write(tmp_path, {"pending": {"abcdef": {"senderId": "../x", "chatId": "1", "createdAt": NOW, "expiresAt": NOW}}})
    with pytest.raises(AccessError, match="cannot be recorded"):
        approve_pairing(store_at(tmp_path), "abcdef", now_ms=NOW)
    assert store_at(tmp_path).load().allow_from == []


def test_deny_expires_the_code_and_the_sender_gets_no_new_one_within_the_hour(tmp_path: Path) -> None:
    store = pending_store(tmp_path)
    assert deny_pairing(store, "a4f91c", now_ms=NOW).sender_id == "42"
    assert store.load().pending["a4f91c"].expires_at < NOW
    with pytest.raises(AccessError, match="a4f91c expired 0 min ago"):
        deny_pairing(store, "a4f91c", now_ms=NOW)
    with pytest.raises(AccessError, match="expired"):
        approve_pairing(store, "a4f91c", now_ms=NOW)


async def test_approvals_are_handed_over_once_even_when_sending_fails(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    approved = tmp_path / "approved"
    approved.mkdir()
    (approved / "1").write_text("chat-1\n")
    (approved / "2").write_text("")
    (approved / ".3.tmp").write_text("half-written")
    seen: list[tuple[str, str]] = []

    async def greet(sender: str, chat: str) -> None:
        seen.append((sender, chat))
        if sender == "2":
            raise ConnectionError("platform down")

    with caplog.at_level(logging.WARNING):
        assert await deliver_approvals(store_at(tmp_path), greet) == 2
    assert seen == [("1", "chat-1"), ("2", "")]
    assert sorted(p.name for p in approved.iterdir()) == [".3.tmp"]
    assert any("failed to send approval confirm to 2: platform down" in m for m in messages(caplog))
    assert await deliver_approvals(store_at(tmp_path / "nowhere"), greet) == 0


async def test_watcher_polls_until_cancelled(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    arrived: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    async def greet(sender: str, chat: str) -> None:
        await arrived.put((sender, chat))

    task = asyncio.create_task(watch_approvals(store, greet, interval=0.01))
    try:
        for sender in ("a", "b"):
            (tmp_path / "approved").mkdir(exist_ok=True)
            (tmp_path / "approved" / sender).write_text(f"chat-{sender}")
            assert await asyncio.wait_for(arrived.get(), 5) == (sender, f"chat-{sender}")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_watcher_does_nothing_in_static_mode(tmp_path: Path) -> None:
    (tmp_path / "approved").mkdir()
    (tmp_path / "approved" / "1").write_text("c")
    store = store_at(tmp_path, static=True)
    called: list[str] = []

    async def greet(sender: str, chat: str) -> None:
        called.append(sender)

    task = asyncio.create_task(watch_approvals(store, greet, interval=0))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not task.done() and called == [] and (tmp_path / "approved" / "1").exists()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# --------------------------------------------------------------------------- end to end

"""The inbound gate (official-plugins.md §1.7): examples, then its invariants under hypothesis."""

from __future__ import annotations

import json
import logging
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_channels.access import (
    MAX_PENDING,
    PAIRING_TTL_MS,
    AccessStore,
    GateResult,
    InboundMessage,
    approve_pairing,
    gate,
    pairing_reply,
)

NOW = 1_700_000_000_000
HOUR = PAIRING_TTL_MS


def make_store(path: Path, **access: object) -> AccessStore:
    if access:
        path.mkdir(parents=True, exist_ok=True)
        (path / "access.json").write_text(json.dumps(access))
    return AccessStore("telegram", path, static=False)


def dm(sender: str, text: str = "hi") -> InboundMessage:
    return InboundMessage(sender, f"chat-{sender}", is_dm=True, text=text)


def in_group(sender: str, group: str = "g", text: str = "", mentioned: bool = False, **kw: str) -> InboundMessage:
    return InboundMessage(sender, group, is_dm=False, text=text, mentioned=mentioned, **kw)  # type: ignore[arg-type]


def saved(store: AccessStore) -> dict[str, object]:
    return json.loads(store.path.read_text())  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- DMs


def test_allowlisted_senders_pass_and_nothing_is_written(tmp_path: Path) -> None:
    store = make_store(tmp_path, allowFrom=["1"])
    before = store.path.stat().st_mtime_ns
    result = gate(store, dm("1"), now_ms=NOW)
    assert result == GateResult("deliver", "sender is in allowFrom") and result.deliver
    assert store.path.stat().st_mtime_ns == before


def test_allowlist_drops_strangers_silently(tmp_path: Path) -> None:
    store = make_store(tmp_path, dmPolicy="allowlist")
    before = store.path.read_text()
    assert gate(store, dm("2"), now_ms=NOW) == GateResult("drop", "sender is not in allowFrom")
    assert store.path.read_text() == before  # no code, no pending entry


def test_disabled_drops_everyone_even_listed_senders_and_groups(tmp_path: Path) -> None:
    store = make_store(tmp_path, dmPolicy="disabled", allowFrom=["1"], groups={"g": {"requireMention": False}})
    assert gate(store, dm("1"), now_ms=NOW).action == "drop"
    assert gate(store, in_group("1"), now_ms=NOW).action == "drop"


def test_pairing_gives_a_code_then_one_reminder_then_silence(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    first = gate(store, dm("7"), now_ms=NOW)
    assert first.action == "pair" and not first.resend
    assert first.code is not None and re.fullmatch(r"[0-9a-f]{6}", first.code)
    assert saved(store)["pending"] == {
        first.code: {"senderId": "7", "chatId": "chat-7", "createdAt": NOW, "expiresAt": NOW + HOUR, "replies": 1}
    }
    second = gate(store, dm("7"), now_ms=NOW + 1)
    assert (second.action, second.code, second.resend) == ("pair", first.code, True)
    assert gate(store, dm("7"), now_ms=NOW + 2) == GateResult("drop", "pairing code already sent twice")
    assert saved(store)["pending"][first.code]["replies"] == 2  # type: ignore[index]


def test_at_most_three_codes_are_pending(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    codes = {gate(store, dm(str(n)), now_ms=NOW).code for n in range(MAX_PENDING)}
    assert len(codes) == MAX_PENDING and None not in codes
    assert gate(store, dm("late"), now_ms=NOW) == GateResult("drop", "3 pairings already pending")
    assert len(saved(store)["pending"]) == MAX_PENDING  # type: ignore[arg-type]


def test_codes_expire_after_an_hour_and_the_sender_gets_a_new_one(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    old = gate(store, dm("7"), now_ms=NOW).code
    assert gate(store, dm("7"), now_ms=NOW + HOUR).code == old  # expiresAt itself is still valid
    fresh = gate(store, dm("7"), now_ms=NOW + HOUR + 1)
    assert fresh.action == "pair" and not fresh.resend and fresh.code != old
    assert list(saved(store)["pending"]) == [fresh.code]  # type: ignore[arg-type]


def test_expired_codes_are_pruned_even_when_the_message_is_dropped(tmp_path: Path) -> None:
    pending = {"abcdef": {"senderId": "9", "chatId": "9", "createdAt": NOW - HOUR, "expiresAt": NOW - 1}}
    store = make_store(tmp_path, dmPolicy="disabled", pending=pending)
    assert gate(store, dm("1"), now_ms=NOW).action == "drop"
    assert saved(store)["pending"] == {}


def test_an_approved_sender_is_delivered(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    code = gate(store, dm("7"), now_ms=NOW).code
    assert code is not None
    approve_pairing(store, code, now_ms=NOW)
    assert gate(store, dm("7"), now_ms=NOW).deliver


def test_a_failed_save_drops_the_message_with_a_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = make_store(tmp_path, dmPolicy="pairing")
    (tmp_path / "access.json.lock").mkdir()  # the lock cannot be opened
    with caplog.at_level(logging.ERROR):
        result = gate(store, dm("7"), now_ms=NOW)
    assert result.action == "drop" and "could not save" in result.reason
    assert any("could not save" in record.getMessage() for record in caplog.records)


def test_pairing_reply_wording() -> None:
    assert (
        pairing_reply("telegram", "a4f91c", False)
        == "Pairing required — run in Claude Code:\n\n/telegram:access pair a4f91c"
    )
    assert (
        pairing_reply("discord", "a4f91c", True) == "Still pending — run in Claude Code:\n\n/discord:access pair a4f91c"
    )


# --------------------------------------------------------------------------- groups


def test_groups_must_opt_in_and_never_pair(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    assert gate(store, in_group("1", mentioned=True), now_ms=NOW) == GateResult("drop", "group is not in groups")
    assert not store.path.exists()


def test_group_mentions_allow_from_and_keys(tmp_path: Path) -> None:
    store = make_store(
        tmp_path,
        groups={"g": {"requireMention": True, "allowFrom": []}, "quiet": {"requireMention": False, "allowFrom": ["5"]}},
        mentionPatterns=["^hey claude", "(broken"],
    )
    assert gate(store, in_group("1"), now_ms=NOW).reason == "the bot was not mentioned"
    assert gate(store, in_group("1", mentioned=True), now_ms=NOW).deliver
    assert gate(store, in_group("1", text="HEY Claude, a question"), now_ms=NOW).deliver
    assert gate(store, in_group("5", group="quiet"), now_ms=NOW).deliver
    assert gate(store, in_group("6", group="quiet", mentioned=True), now_ms=NOW).action == "drop"
    # A thread is judged by its parent channel's entry.
    assert gate(store, in_group("1", group="thread-9", mentioned=True, group_key="g"), now_ms=NOW).deliver
    assert gate(store, in_group("1", group="g", mentioned=True, group_key="other"), now_ms=NOW).action == "drop"


def test_a_group_with_missing_fields_requires_a_mention_from_anyone(tmp_path: Path) -> None:
    store = make_store(tmp_path, groups={"g": {}})
    assert gate(store, in_group("1"), now_ms=NOW).action == "drop"
    assert gate(store, in_group("1", mentioned=True), now_ms=NOW).deliver


# --------------------------------------------------------------------------- invariants

SENDERS = [str(n) for n in range(4)]
GROUPS = {"g0": {"requireMention": True, "allowFrom": []}, "g1": {"requireMention": False, "allowFrom": ["1", "2"]}}

direct = st.tuples(st.just("dm"), st.sampled_from([*SENDERS, "new"]))  # "new": a sender never seen before
step = st.one_of(
    direct,
    direct,
    direct,
    st.tuples(
        st.just("group"),
        st.sampled_from(SENDERS),
        st.sampled_from(["g0", "g1", "g2"]),
        st.booleans(),
        st.sampled_from(["", "hey claude", "nothing"]),
    ),
    st.tuples(st.just("wait"), st.sampled_from([1, 60_000, HOUR // 2, HOUR, HOUR + 1])),
    st.tuples(st.just("approve"), st.integers(0, 2)),
    st.tuples(st.just("policy"), st.sampled_from(["pairing", "allowlist", "disabled"])),
)


@settings(max_examples=150, derandomize=True, deadline=None)
@given(steps=st.lists(step, max_size=40), start_policy=st.sampled_from(["pairing", "pairing", "allowlist", "disabled"]))
def test_gate_invariants(steps: list[tuple[object, ...]], start_policy: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        store = make_store(Path(directory), dmPolicy=start_policy, groups=GROUPS, mentionPatterns=["claude"])
        now = NOW
        newcomers = 0
        answers: dict[str, int] = {}  # pairing replies per code
        expiry: dict[str, int] = {}
        for action, *args in steps:
            before = store.load()
            if action == "wait":
                now += int(args[0])  # type: ignore[call-overload]
                continue
            if action == "policy":
                store.update(lambda a, mode=args[0]: setattr(a, "dm_policy", mode))
                continue
            if action == "approve":
                codes = sorted(code for code, p in before.pending.items() if p.expires_at >= now)
                if codes:
                    approve_pairing(store, codes[int(args[0]) % len(codes)], now_ms=now)  # type: ignore[call-overload]
                continue
            if action == "dm":
                newcomers += args[0] == "new"
                message = dm(f"new-{newcomers}" if args[0] == "new" else str(args[0]))
            else:
                sender, group, mentioned, text = args
                message = in_group(str(sender), str(group), text=str(text), mentioned=bool(mentioned))
            result = gate(store, message, now_ms=now)
            after = store.load()

            if before.dm_policy == "disabled":
                assert result.action == "drop"
            if result.deliver and message.is_dm:
                assert message.sender_id in before.allow_from, "an unlisted sender was delivered"
            if result.deliver and not message.is_dm:
                policy = before.groups[message.chat_id]
                assert not policy.allow_from or message.sender_id in policy.allow_from
                assert not policy.require_mention or message.mentioned or "claude" in message.text
            if result.action == "pair":
                assert message.is_dm and before.dm_policy == "pairing"
                assert result.code is not None and re.fullmatch(r"[0-9a-f]{6}", result.code)
                answers[result.code] = answers.get(result.code, 0) + 1
                assert answers[result.code] <= 2, "more than two replies to one pending sender"
                expiry.setdefault(result.code, after.pending[result.code].expires_at)
                assert now <= expiry[result.code], "an expired code was answered"
                assert result.resend == (answers[result.code] == 2)
            assert len(after.pending) <= MAX_PENDING
            assert all(p.expires_at >= now for p in after.pending.values()), "an expired code survived a gate pass"
            assert len({p.sender_id for p in after.pending.values()}) == len(after.pending)


@settings(max_examples=150, derandomize=True, deadline=None)
@given(
    events=st.lists(
        st.tuples(st.integers(0, 12), st.sampled_from([0, 1, 60_000, HOUR - 1, HOUR, HOUR + 1])), max_size=40
    )
)
def test_pairing_invariants_under_many_strangers(events: list[tuple[int, int]]) -> None:
    """Only strangers, in pairing mode: the cap, the reply limit and expiry hold whatever the order."""
    with tempfile.TemporaryDirectory() as directory:
        store = make_store(Path(directory), dmPolicy="pairing")
        now = NOW
        answers: dict[str, int] = {}
        for sender, wait in events:
            now += wait
            result = gate(store, dm(str(sender)), now_ms=now)
            pending = store.load().pending
            assert len(pending) <= MAX_PENDING
            assert all(p.expires_at >= now for p in pending.values())
            if result.action == "pair":
                assert result.code in pending and pending[result.code].sender_id == str(sender)
                assert pending[result.code].expires_at - HOUR <= now <= pending[result.code].expires_at
                answers[result.code] = answers.get(result.code, 0) + 1
                assert answers[result.code] <= 2 and pending[result.code].replies == answers[result.code]
            else:
                assert result.action == "drop"

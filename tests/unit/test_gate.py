"""The inbound gate (docs/parity.md §1.7): examples, then its invariants under hypothesis."""

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
    SENDER_CODE_INTERVAL_MS,
    AccessStore,
    GateResult,
    InboundMessage,
    approve_pairing,
    deny_pairing,
    gate,
    live_codes,
    pairing_reply,
)

NOW = 1_700_000_000_000
TTL = PAIRING_TTL_MS
HOUR = SENDER_CODE_INTERVAL_MS


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
        first.code: {"senderId": "7", "chatId": "chat-7", "createdAt": NOW, "expiresAt": NOW + TTL, "replies": 1}
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


def test_codes_expire_after_ten_minutes_and_the_sender_gets_one_code_an_hour(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    old = gate(store, dm("7"), now_ms=NOW).code
    assert TTL == 600_000 and HOUR == 3_600_000
    assert gate(store, dm("7"), now_ms=NOW + TTL).code == old  # expiresAt itself is still valid
    assert gate(store, dm("7"), now_ms=NOW + TTL + 1) == GateResult(
        "drop", "pairing code expired; no new code within the hour"
    )
    assert gate(store, dm("7"), now_ms=NOW + HOUR) == GateResult(
        "drop", "pairing code expired; no new code within the hour"
    )
    fresh = gate(store, dm("7"), now_ms=NOW + HOUR + 1)
    assert fresh.action == "pair" and not fresh.resend and fresh.code != old
    assert list(saved(store)["pending"]) == [fresh.code]  # type: ignore[arg-type]


def test_three_strangers_hold_the_slots_for_ten_minutes_not_an_hour(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    squatters = [gate(store, dm(f"squatter-{n}"), now_ms=NOW).code for n in range(MAX_PENDING)]
    assert None not in squatters
    assert gate(store, dm("owner"), now_ms=NOW + TTL).action == "drop"
    owner = gate(store, dm("owner"), now_ms=NOW + TTL + 1)
    assert owner.action == "pair" and owner.code is not None
    for n in range(MAX_PENDING):  # the squatters' codes expired: they get neither a new one nor a slot
        assert gate(store, dm(f"squatter-{n}"), now_ms=NOW + TTL + 2).action == "drop"
    approve_pairing(store, owner.code, now_ms=NOW + TTL + 3)
    assert gate(store, dm("owner"), now_ms=NOW + TTL + 4).deliver


def test_a_denied_sender_gets_no_new_code_within_the_hour(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    code = gate(store, dm("7"), now_ms=NOW).code
    assert code is not None
    deny_pairing(store, code, now_ms=NOW + 1)
    assert gate(store, dm("7"), now_ms=NOW + 2).action == "drop"
    assert gate(store, dm("8"), now_ms=NOW + 3).action == "pair"  # the slot is free for someone else
    assert gate(store, dm("7"), now_ms=NOW + HOUR + 1).action == "pair"


def test_expired_codes_are_pruned_even_when_the_message_is_dropped(tmp_path: Path) -> None:
    pending = {"abcdef": {"senderId": "9", "chatId": "9", "createdAt": NOW - HOUR - 1, "expiresAt": NOW - 1}}
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
    st.tuples(st.just("wait"), st.sampled_from([1, 60_000, TTL, TTL + 1, HOUR // 2, HOUR, HOUR + 1])),
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
            assert len(live_codes(after, now)) <= MAX_PENDING
            assert all(now <= max(p.expires_at, p.created_at + HOUR) for p in after.pending.values()), (
                "an old code survived a gate pass"
            )
            assert len({p.sender_id for p in after.pending.values()}) == len(after.pending)


@settings(max_examples=150, derandomize=True, deadline=None)
@given(
    events=st.lists(
        st.tuples(st.integers(0, 12), st.sampled_from([0, 1, 60_000, TTL, TTL + 1, HOUR - 1, HOUR, HOUR + 1])),
        max_size=40,
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
            access = store.load()
            pending = access.pending
            assert len(live_codes(access, now)) <= MAX_PENDING
            assert all(now <= max(p.expires_at, p.created_at + HOUR) for p in pending.values())
            codes_of_sender = [p for p in pending.values() if p.sender_id == str(sender)]
            assert len(codes_of_sender) <= 1, "a sender holds two codes"
            if result.action == "pair":
                assert result.code in pending and pending[result.code].sender_id == str(sender)
                assert pending[result.code].expires_at - TTL <= now <= pending[result.code].expires_at
                answers[result.code] = answers.get(result.code, 0) + 1
                assert answers[result.code] <= 2 and pending[result.code].replies == answers[result.code]
            else:
                assert result.action == "drop"


# --------------------------------------------------------------------------- malformed files fail closed


@pytest.mark.parametrize("allow_from", ["111", [None], [111.5], [{"id": 1}], ["111", None], {"111": True}, True])
def test_a_group_whose_allow_from_does_not_parse_delivers_nothing(tmp_path: Path, allow_from: object) -> None:
    """The official reader takes a broken group ``allowFrom`` for ``[]``: anyone in the group."""
    store = make_store(tmp_path, groups={"g": {"requireMention": False, "allowFrom": allow_from}})
    for sender in ("111", "666"):
        assert gate(store, in_group(sender, mentioned=True), now_ms=NOW).action == "drop"
        assert gate(store, in_group(sender, text="hey claude", mentioned=True), now_ms=NOW).action == "drop"


@pytest.mark.parametrize(
    "entry",
    [{"requireMention": "false"}, {"requireMention": 0}, {"allowfrom": ["1"]}, {"RequireMention": False}, [], "open"],
)
def test_any_mistake_in_a_group_entry_closes_the_group(tmp_path: Path, entry: object) -> None:
    store = make_store(tmp_path, groups={"g": entry})
    assert gate(store, in_group("1", mentioned=True), now_ms=NOW).action == "drop"


@pytest.mark.parametrize("policy", ["open", "allow list", "disabledd", 5, None, ["pairing"]])
def test_an_unknown_dm_policy_acts_as_allowlist(tmp_path: Path, policy: object) -> None:
    store = make_store(tmp_path, dmPolicy=policy, allowFrom=["1", None, 2.5])
    before = store.path.read_text()
    assert gate(store, dm("1"), now_ms=NOW).deliver
    expected = "pair" if policy is None else "drop"  # null is "not set": the default, pairing
    assert gate(store, dm("stranger"), now_ms=NOW).action == expected
    if policy is not None:
        assert store.path.read_text() == before  # nothing written, least of all "pairing"


IDS = ["1", "2", "3"]
BAD_IDS = [None, 111.5, {"id": 1}, [], True]
BAD_LISTS = ["1", 1, {"1": True}, True]
BAD_ENTRIES = ["1", 1, True, ["1"]]  # an object is an entry, however odd its keys: they are kept
BAD_BOOLS = ["false", "no", 0, 1, []]
BAD_POLICIES = ["open", "allow list", 5, True, ["pairing"], "pairing2"]


@st.composite
def damaged_files(draw: st.DrawFn) -> tuple[dict[str, object], dict[str, object], dict[str, object]]:
    """A well-formed file, the same file with some values damaged, and the damaged file's
    well-formed subset: every piece that does not parse removed (a group entry is one piece)."""
    policy = draw(st.sampled_from(["pairing", "allowlist", "disabled"]))
    intended: dict[str, object] = {"dmPolicy": policy, "allowFrom": draw(st.lists(st.sampled_from(IDS), unique=True))}
    damaged: dict[str, object] = dict(intended)
    subset: dict[str, object] = dict(intended)
    if draw(st.booleans()):
        damaged["dmPolicy"] = draw(st.sampled_from(BAD_POLICIES))
        del subset["dmPolicy"]
    elif draw(st.booleans()):
        damaged["dmPolicy"] = draw(st.sampled_from([policy.upper(), f" {policy} ", policy.title()]))
    if draw(st.booleans()):
        damaged["DmPolicy"] = draw(st.sampled_from(["pairing", "disabled", 1]))  # a misspelt key: ignored
    if draw(st.booleans()):
        damaged["allowFrom"] = draw(st.sampled_from(BAD_LISTS))
        del subset["allowFrom"]
    elif draw(st.booleans()):
        damaged["allowFrom"] = [*intended["allowFrom"], draw(st.sampled_from(BAD_IDS))]  # type: ignore[misc]
    groups: dict[str, object] = {}
    subset_groups: dict[str, object] = {}
    intended_groups: dict[str, object] = {}
    for key in draw(st.lists(st.sampled_from(["g1", "g2"]), unique=True)):
        entry = {"requireMention": draw(st.booleans()), "allowFrom": draw(st.lists(st.sampled_from(IDS), unique=True))}
        intended_groups[key] = entry
        broken = dict(entry)
        damage = draw(st.sampled_from(["none", "none", "mention", "list", "item", "key", "entry"]))
        if damage == "mention":
            broken["requireMention"] = draw(st.sampled_from(BAD_BOOLS))
        elif damage == "list":
            broken["allowFrom"] = draw(st.sampled_from(BAD_LISTS))
        elif damage == "item":
            broken["allowFrom"] = [*entry["allowFrom"], draw(st.sampled_from(BAD_IDS))]  # type: ignore[misc]
        elif damage == "key":
            broken["allowfrom"] = broken.pop("allowFrom")
        groups[key] = draw(st.sampled_from(BAD_ENTRIES)) if damage == "entry" else broken
        if damage == "none":
            subset_groups[key] = entry
    intended["groups"], damaged["groups"], subset["groups"] = intended_groups, groups, subset_groups
    if draw(st.booleans()):
        damaged["groups"] = draw(st.sampled_from(BAD_LISTS))
        del subset["groups"]
    patterns = draw(st.lists(st.sampled_from(["claude", "^hey"]), unique=True))
    intended["mentionPatterns"] = damaged["mentionPatterns"] = subset["mentionPatterns"] = patterns
    if draw(st.booleans()):
        damaged["mentionPatterns"] = draw(st.sampled_from(["claude", 3, {"claude": True}]))
        del subset["mentionPatterns"]
    elif draw(st.booleans()):
        damaged["mentionPatterns"] = [*patterns, draw(st.sampled_from([3, None, ["claude"]]))]
    return intended, damaged, subset


MESSAGES = [dm(sender) for sender in [*IDS, "9"]] + [
    in_group(sender, group, text=text, mentioned=mentioned)
    for sender in [*IDS, "9"]
    for group in ["g1", "g2", "g3"]
    for text in ["", "hey claude"]
    for mentioned in (False, True)
]


@settings(max_examples=200, derandomize=True, deadline=None)
@given(files=damaged_files())
def test_no_malformed_file_lets_in_what_its_well_formed_subset_refuses(
    files: tuple[dict[str, object], dict[str, object], dict[str, object]],
) -> None:
    """Whatever is damaged, the channel delivers (and pairs) no more than the file without the damage
    would, nor more than the file the user meant when the policy they meant was not ``disabled``;
    and the rewrites that pairing causes never open anything either (each message sees the file as
    the previous one left it)."""
    intended, damaged, subset = files
    policy_damaged = damaged.get("dmPolicy") in BAD_POLICIES
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        stores = {name: make_store(root / name, **data) for name, data in files_by_name(files).items()}
        for message in MESSAGES:
            result = gate(stores["damaged"], message, now_ms=NOW)
            well_formed = gate(stores["subset"], message, now_ms=NOW)
            meant = gate(stores["intended"], message, now_ms=NOW)
            if result.deliver:
                assert well_formed.deliver, (message, result, well_formed)
                assert meant.deliver or (policy_damaged and intended["dmPolicy"] == "disabled"), (message, meant)
            if result.action == "pair":
                assert well_formed.action != "drop" and meant.action != "drop"  # it pairs or lets in
        rewritten = json.loads(stores["damaged"].path.read_text())
    for key, value in damaged.items():  # what did not parse is still there as the user wrote it
        if key == "groups" and isinstance(value, dict):
            kept = subset.get("groups", {})
            assert all(rewritten["groups"][g] == entry for g, entry in value.items() if g not in kept)  # type: ignore[operator]
        elif value != subset.get(key, _MISSING):
            assert rewritten.get(key) in (value, _normalised(value)), key


_MISSING = object()


def files_by_name(files: tuple[dict[str, object], ...]) -> dict[str, dict[str, object]]:
    return dict(zip(("intended", "damaged", "subset"), files, strict=True))


def _normalised(value: object) -> object:
    """A policy name as the reader normalises it, or ``value`` unchanged."""
    return value.strip().lower() if isinstance(value, str) else value

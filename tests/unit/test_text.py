"""Chunking, safe names, timestamps and mention patterns (pure functions; hypothesis for the invariants)."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_channels import text as text_module
from mcp_channels.text import (
    MAX_MATCH_TEXT,
    MAX_PATTERN_LENGTH,
    chunk,
    iso_timestamp,
    mention_patterns_match,
    pattern_error,
    safe_name,
    saved_file_name,
    text_length,
)

FAMILY = "👨\u200d👩\u200d👧"
E_ACUTE = "e\u0301"
FR, DE = "🇫🇷", "🇩🇪"


# --------------------------------------------------------------------------- §1.11 behaviour


def test_short_and_empty_texts_are_one_piece() -> None:
    assert chunk("", 5) == [""]
    assert chunk("hello", 5) == ["hello"]


def test_length_mode_cuts_at_the_limit_and_drops_leading_newlines_only() -> None:
    assert chunk("abcdefghij", 4) == ["abcd", "efgh", "ij"]
    assert chunk("abcd\n\nefgh", 4) == ["abcd", "efgh"]
    assert chunk("abcd  efgh", 4) == ["abcd", "  ef", "gh"]  # spaces are kept
    assert chunk("abcd\n", 4) == ["abcd"]  # nothing left after the newline: no empty piece


def test_newline_mode_prefers_paragraph_then_line_then_space() -> None:
    assert chunk("aaaaaaa\n\nb\ncccc", 12, "newline") == ["aaaaaaa", "b\ncccc"]  # paragraph beats a later line
    assert chunk("aa\n\nbbbbbbb\ncc", 12, "newline") == ["aa\n\nbbbbbbb", "cc"]  # paragraph not past half: line
    assert chunk("aaaa bbbb cccc", 12, "newline") == ["aaaa bbbb", " cccc"]  # the space starts the next piece
    assert chunk("aaaaaaaaaaaaaaa", 10, "newline") == ["aaaaaaaaaa", "aaaaa"]  # nothing to cut at: hard cut


def test_newline_mode_quirks_kept_from_the_official() -> None:
    # A separator may sit exactly at the limit: the piece is exactly ``limit`` long.
    assert chunk("aaaaaaaaaa\nbb", 10, "newline") == ["aaaaaaaaaa", "bb"]
    # Any space past index 0 is taken, even early (only newlines must be past half).
    assert chunk("a bbbbbbbbbbbbbb", 10, "newline") == ["a", " bbbbbbbbb", "bbbbb"]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        chunk("abc", 0)
    with pytest.raises(ValueError, match="chunk mode"):
        chunk("abc", 1, "words")
    with pytest.raises(ValueError, match="units"):
        text_length("abc", "bytes")


# --------------------------------------------------------------------------- characters stay whole


def test_utf16_counts_astral_characters_twice_and_never_splits_them() -> None:
    assert text_length("a😀", "utf16") == 3 and text_length("a😀") == 2
    assert chunk("😀" * 5, 4, units="utf16") == ["😀😀", "😀😀", "😀"]
    assert chunk("😀" * 3, 3, units="utf16") == ["😀", "😀", "😀"]
    assert chunk("😀" * 5, 3) == ["😀😀😀", "😀😀"]  # code points: three fit


def test_a_code_point_wider_than_the_limit_is_sent_whole() -> None:
    assert chunk("😀😀", 1, units="utf16") == ["😀", "😀"]


def test_combining_marks_stay_with_their_letter() -> None:
    assert chunk(E_ACUTE * 4, 3) == [E_ACUTE] * 4
    assert chunk("a" + E_ACUTE + "\u0327bc", 3) == ["a", E_ACUTE + "\u0327", "bc"]


def test_emoji_sequences_and_flags_stay_whole() -> None:
    assert chunk("ab" + FAMILY, 5) == ["ab", FAMILY]
    assert chunk(FR + DE, 3) == [FR, DE]
    assert chunk("x" + FR + DE, 4) == ["x" + FR, DE]
    assert chunk("ab👍🏽", 3) == ["ab", "👍🏽"]
    assert chunk("ab❤️", 3) == ["ab", "❤️"]  # variation selector


def test_a_cluster_longer_than_the_limit_is_split_rather_than_sent_too_long() -> None:
    assert chunk(FAMILY, 3) == [FAMILY[:3], FAMILY[3:]]


def test_crlf_is_not_split() -> None:
    assert chunk("abc\r\ndef", 4) == ["abc", "\r\nde", "f"]


# --------------------------------------------------------------------------- invariants

CLUSTERS = ["a", "b", " ", "\n", E_ACUTE, "😀", "👍🏽", FR, "👨\u200d👩", "e\u0301\u0302", "한", "\u1100\u1161"]


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    clusters=st.lists(st.sampled_from(CLUSTERS), max_size=60),
    limit=st.integers(min_value=5, max_value=40),
    mode=st.sampled_from(["length", "newline"]),
    units=st.sampled_from(["codepoints", "utf16"]),
)
def test_chunks_lose_nothing_fit_the_limit_and_end_on_character_boundaries(
    clusters: list[str], limit: int, mode: str, units: str
) -> None:
    text = "".join(clusters)
    boundaries = {0}
    offset = 0
    for cluster in clusters:
        offset += len(cluster)
        boundaries.add(offset)
    pieces = chunk(text, limit, mode, units=units)
    if text_length(text, units) <= limit:
        assert pieces == [text]
        return
    position = 0
    for index, piece in enumerate(pieces):
        assert piece, "no empty piece"
        assert text_length(piece, units) <= limit
        if index:
            while text[position] == "\n":  # only newlines are dropped, only at a piece's start
                position += 1
        assert text.startswith(piece, position)
        position += len(piece)
        assert position in boundaries, f"cut inside a character at {position}"
    assert text[position:].strip("\n") == ""
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")


@settings(max_examples=200, derandomize=True, deadline=None)
@given(text=st.text(max_size=200), limit=st.integers(min_value=2, max_value=50))
def test_any_text_is_kept_and_every_piece_fits(text: str, limit: int) -> None:
    for units in ("codepoints", "utf16"):
        pieces = chunk(text, limit, units=units)
        assert "".join(pieces).replace("\n", "") == text.replace("\n", "")
        assert all(text_length(piece, units) <= limit for piece in pieces)


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("report.pdf", "report.pdf"),
        ("a<b>[c];\r\nd", "a_b__c____d"),
        ("../../etc/passwd", ".._.._etc_passwd"),
        ("..\\x\x00y", ".._x_y"),
        ("..", "_"),
        (".", "_"),
        ("", ""),
        ("naïve 😀.txt", "naïve 😀.txt"),
    ],
)
def test_safe_name(name: str, safe: str) -> None:
    assert safe_name(name) == safe


# --------------------------------------------------------------------------- mention patterns


def test_patterns_are_case_insensitive_regexes() -> None:
    assert mention_patterns_match(["^hey claude"], "Hey CLAUDE, look")
    assert mention_patterns_match(["nomatch", r"\bbot\b"], "ok BOT go")
    assert not mention_patterns_match(["^hey claude"], "well, hey claude")
    assert not mention_patterns_match([], "anything")


def test_invalid_patterns_are_skipped_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test.mentions")
    with caplog.at_level(logging.WARNING):
        assert mention_patterns_match(["(unclosed", "bot"], "hi bot", log=log)
        assert not mention_patterns_match(["(unclosed"], "hi bot", log=log)
    warnings = [r.getMessage() for r in caplog.records if "(unclosed" in r.getMessage()]
    assert len(warnings) == 1 and "skipped" in warnings[0]
    assert pattern_error("(unclosed") is not None and pattern_error("ok") is None


def test_overlong_patterns_are_refused() -> None:
    pattern = "a" * (MAX_PATTERN_LENGTH + 1)
    assert pattern_error(pattern) is not None
    assert not mention_patterns_match([pattern], pattern)


def test_catastrophic_patterns_terminate_and_count_as_no_match(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A generous overall budget, so that a loaded machine overshooting the per-pattern timeout
    # cannot starve the second pattern: what is tested is that it still runs.
    monkeypatch.setattr(text_module, "MATCH_BUDGET", 10.0)
    with caplog.at_level(logging.WARNING):
        assert not mention_patterns_match(["(a+)+$"], "a" * 50 + "b")
        # This one really backtracks exponentially; only the time budget stops it.
        assert not mention_patterns_match(["(a|aa)+$"], "a" * 60 + "b")
        assert mention_patterns_match(["(a|aa)+$", "b$"], "a" * 60 + "b")  # the next pattern still runs
    assert any("(a|aa)+$" in r.getMessage() and "too long" in r.getMessage() for r in caplog.records)


def test_only_the_start_of_a_long_message_is_searched() -> None:
    assert mention_patterns_match(["claude"], "claude" + "x" * MAX_MATCH_TEXT)
    assert not mention_patterns_match(["claude"], "x" * MAX_MATCH_TEXT + "claude")


def test_saved_file_names_always_fit_a_file_system() -> None:
    assert re.fullmatch(r"\d+-abc_-1\.pdf", saved_file_name("abc_-1", "report.pdf"))
    assert saved_file_name("AgAD", "documents/no_extension").endswith("-AgAD.bin")
    assert saved_file_name("AgAD", "x." + "y" * 300).endswith("-AgAD.bin")
    assert saved_file_name("../../x", "a.t/x?t").endswith("-x.txt")  # only letters and digits survive
    assert saved_file_name("", ".").endswith("-dl.bin")
    longest = saved_file_name("i" * 500, "x." + "e" * 16)
    assert longest.endswith("i" * 64 + "." + "e" * 16) and len(longest.encode()) < 255


def test_iso_timestamp_matches_to_iso_string() -> None:
    """Meta ``ts`` as JavaScript's ``toISOString`` writes it: UTC, always milliseconds (cut, not rounded)."""
    moment = datetime(2026, 3, 24, 9, 5, 7, 123999, tzinfo=UTC)
    assert iso_timestamp(moment) == "2026-03-24T09:05:07.123Z"
    assert iso_timestamp(moment.astimezone(timezone(timedelta(hours=2)))) == "2026-03-24T09:05:07.123Z"
    assert iso_timestamp(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00.000Z"

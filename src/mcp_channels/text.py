"""Text rules shared by the chat channels: chunking long replies, safe names, mention patterns.

Chunking follows the official servers' ``chunk(text, limit, mode)`` (``docs/parity.md``
§1.11) with two corrections: length is counted the way the platform counts it (Telegram counts
UTF-16 code units, the others code points), and a cut never lands inside a character: not between
the halves of a surrogate pair, not between a letter and its combining accents, not inside an
emoji ZWJ sequence or a flag. The official cut could split any of those and send mojibake.
"""

from __future__ import annotations

import datetime
import functools
import logging
import re
import time
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import regex

CHUNK_MODES: Final = ("length", "newline")
UNITS: Final = ("codepoints", "utf16")

#: Patterns longer than this are skipped: nobody needs a 512-character mention regex.
MAX_PATTERN_LENGTH: Final = 512
#: Only the start of a long message is searched for a mention.
MAX_MATCH_TEXT: Final = 4096
#: Time one pattern may take on one message, and all patterns together, in seconds.
PATTERN_TIMEOUT: Final = 0.05
MATCH_BUDGET: Final = 0.2

#: Longest extension kept on a downloaded attachment, and longest id part of its name.
MAX_EXTENSION: Final = 16
MAX_ID_PART: Final = 64

_log = logging.getLogger("mcp_channels.text")

_ZWJ: Final = "\u200d"
_UNSAFE_NAME_CHARS: Final = re.compile(r"[\x00-\x1f\x7f<>\[\];/\\]")


# --------------------------------------------------------------------------- lengths and chunks


def text_length(text: str, units: str = "codepoints") -> int:
    """Length of ``text`` as a platform counts it: code points, or UTF-16 code units."""
    if units == "codepoints":
        return len(text)
    if units == "utf16":
        return len(text.encode("utf-16-le", "surrogatepass")) // 2
    raise ValueError(f"units must be one of {', '.join(UNITS)}, not {units!r}")


def chunk(text: str, limit: int, mode: str = "length", *, units: str = "codepoints") -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` units, as the official servers do.

    ``newline`` mode prefers to cut before a paragraph break, then a line break, when that keeps
    more than half the limit, else before a space; ``length`` cuts at the limit. Line breaks at
    the start of the following piece are dropped (nothing else is). Every cut is moved back to a
    character boundary (a user-perceived character, approximately a grapheme cluster); only a
    single cluster longer than the whole limit is split, at a code point.
    """
    if limit < 1:
        raise ValueError(f"chunk limit must be at least 1, not {limit}")
    if mode not in CHUNK_MODES:
        raise ValueError(f"chunk mode must be one of {', '.join(CHUNK_MODES)}, not {mode!r}")
    if text_length(text, units) <= limit:
        return [text]
    pieces: list[str] = []
    rest = text
    while text_length(rest, units) > limit:
        cut = _cut(rest, limit, mode, units)
        pieces.append(rest[:cut])
        rest = rest[cut:].lstrip("\n")
    if rest:
        pieces.append(rest)
    return pieces


def _cut(rest: str, limit: int, mode: str, units: str) -> int:
    """Where to end the next piece of ``rest`` (longer than ``limit``): a code point index > 0."""
    fit = _fit(rest, limit, units)
    if mode == "newline":
        for separator in ("\n\n", "\n"):
            # JS lastIndexOf(sep, limit): the separator may start at the limit itself.
            at = rest.rfind(separator, 0, fit + len(separator))
            if at > 0 and text_length(rest[:at], units) > limit / 2:
                return at
        space = rest.rfind(" ", 0, fit + 1)
        if space > 0:
            return space
    return _boundary_at_or_before(rest, fit)


def _fit(text: str, limit: int, units: str) -> int:
    """The largest index ``i`` with ``text_length(text[:i]) <= limit``."""
    if units == "codepoints" or text_length(text[:limit], units) == len(text[:limit]):
        return min(limit, len(text))
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return index
    return len(text)


def _boundary_at_or_before(text: str, cut: int) -> int:
    """``cut`` moved back to a character boundary; never 0 (a piece is never empty)."""
    at = cut
    while at > 0 and not _is_boundary(text, at):
        at -= 1
    if at > 0:
        return at
    return cut if cut > 0 else 1  # one cluster (or one code point) wider than the whole limit


def _is_boundary(text: str, index: int) -> bool:
    """Whether a cut between ``text[index - 1]`` and ``text[index]`` keeps characters whole.

    An approximation of Unicode grapheme clusters (UAX #29) from ``unicodedata``: no cut inside
    CR LF or a surrogate pair, before a combining mark or other extender, after a zero-width
    joiner, or between the two regional indicators of a flag.
    """
    if index <= 0 or index >= len(text):
        return True
    before, after = text[index - 1], text[index]
    if before == "\r" and after == "\n":
        return False
    if 0xD800 <= ord(before) <= 0xDBFF and 0xDC00 <= ord(after) <= 0xDFFF:
        return False
    if before == _ZWJ or _extends(after):
        return False
    if _regional_indicator(before) and _regional_indicator(after):
        run = 0
        while index - run - 1 >= 0 and _regional_indicator(text[index - run - 1]):
            run += 1
        return run % 2 == 0
    return True


@functools.lru_cache(maxsize=4096)
def _extends(char: str) -> bool:
    """Whether ``char`` belongs to the character before it (marks, joiners, modifiers, jamo)."""
    code = ord(char)
    return (
        unicodedata.category(char) in ("Mn", "Me", "Mc")
        or char in (_ZWJ, "\u200c")
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0xE0100 <= code <= 0xE01EF
        or 0x1F3FB <= code <= 0x1F3FF  # skin tone modifiers
        or 0xE0020 <= code <= 0xE007F  # tag characters (subdivision flags)
        or 0x1160 <= code <= 0x11FF  # Hangul medial vowels and final consonants
    )


def _regional_indicator(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


# --------------------------------------------------------------------------- names and times


def iso_timestamp(moment: datetime.datetime) -> str:
    """``2026-03-24T10:15:00.000Z``: UTC with milliseconds, as JavaScript's ``toISOString`` writes meta ``ts``."""
    utc = moment.astimezone(datetime.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def safe_name(name: str) -> str:
    """An uploader-controlled name made harmless in meta and in file names.

    ``< > [ ] ; \\r \\n`` become ``_`` as in the official servers (they could forge a tag or a
    meta line), and so do path separators and control characters (they could escape a folder).
    """
    cleaned = _UNSAFE_NAME_CHARS.sub("_", name)
    return "_" if cleaned in (".", "..") else cleaned


def saved_file_name(unique: str, original: str) -> str:
    """``<ms>-<unique>.<ext>``: the name of a downloaded attachment in ``inbox/``.

    ``unique`` (a platform id) keeps letters, digits, ``_`` and ``-``, at most
    :data:`MAX_ID_PART` of them; the extension is taken from ``original`` (a file name or URL path)
    and keeps letters and digits. An extension over :data:`MAX_EXTENSION` characters is no
    extension a program relies on: the file is saved as ``.bin``, so the name always fits a file
    system's 255 bytes (a 300-character extension made every download fail).
    """
    stem = re.sub(r"[^A-Za-z0-9_-]", "", unique)[:MAX_ID_PART] or "dl"
    extension = re.sub(r"[^A-Za-z0-9]", "", original.rpartition(".")[2] if "." in original else "")
    if not extension or len(extension) > MAX_EXTENSION:
        extension = "bin"
    return f"{time.time_ns() // 1_000_000}-{stem}.{extension}"


# --------------------------------------------------------------------------- mention patterns


def pattern_error(pattern: str) -> str | None:
    """Why ``pattern`` cannot be used as a mention pattern, or ``None`` when it can."""
    compiled = _compile(pattern)
    return compiled if isinstance(compiled, str) else None


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> regex.Pattern[str] | str:
    """The compiled case-insensitive pattern, or the reason it is unusable."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"longer than {MAX_PATTERN_LENGTH} characters"
    # Imported on first use (15 ms): the webhook channel cuts text with this module at start-up
    # and never matches a mention pattern.
    import regex

    try:
        return regex.compile(pattern, regex.IGNORECASE | regex.V0)
    except (regex.error, ValueError, TypeError, OverflowError, RecursionError) as exc:
        return str(exc) or type(exc).__name__


_warned: set[tuple[str, str]] = set()


def _warn_once(logger: logging.Logger, pattern: str, problem: str) -> None:
    """Warn about a bad pattern once per process, not on every message it is tried on."""
    if (pattern, problem) in _warned:
        return
    if len(_warned) < 1024:
        _warned.add((pattern, problem))
    logger.warning("mentionPatterns: %r %s", pattern, problem)


def mention_patterns_match(patterns: Sequence[str], text: str, *, log: logging.Logger | None = None) -> bool:
    """Whether any of ``patterns`` (case-insensitive regexes) occurs in ``text``.

    The patterns come from a hand-edited file, so each is distrusted: an invalid or overlong one
    is skipped with a warning, and a search that runs past its time budget (catastrophic
    backtracking, e.g. ``(a|aa)+$``) counts as no match, with a warning, instead of freezing the
    channel. Only the first :data:`MAX_MATCH_TEXT` characters of a long message are searched.
    """
    logger = log or _log
    subject = text[:MAX_MATCH_TEXT]
    deadline = time.monotonic() + MATCH_BUDGET
    for pattern in patterns:
        compiled = _compile(pattern)
        if isinstance(compiled, str):
            _warn_once(logger, pattern, f"is skipped: {compiled}")
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            _warn_once(logger, pattern, "was not tried: the time budget for mention patterns is spent")
            return False
        try:
            if compiled.search(subject, timeout=min(PATTERN_TIMEOUT, remaining)):
                return True
        except TimeoutError:
            _warn_once(logger, pattern, "took too long (catastrophic backtracking?) and counts as no match")
    return False


def fit(text: str, limit: int, *, units: str = "codepoints") -> str:
    """``text`` cut to one platform message of ``limit`` (with ``…``) when it is longer.

    For texts that must go out as a single message, such as an edited permission prompt: a
    platform refuses an over-long one whole, and the user would see nothing.
    """
    if text_length(text, units) <= limit:
        return text
    return chunk(text, max(1, limit - 1), units=units)[0] + "…"


def duration(seconds: float) -> str:
    """A span of time for people: ``45 s``, ``12 min``, ``3 h 5 min``, ``4 days``."""
    whole = max(int(seconds), 0)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min"
    if whole < 2 * 86400:
        return f"{whole // 3600} h {whole % 3600 // 60} min"
    return f"{whole // 86400} days"


__all__ = [
    "CHUNK_MODES",
    "MATCH_BUDGET",
    "MAX_EXTENSION",
    "MAX_ID_PART",
    "MAX_MATCH_TEXT",
    "MAX_PATTERN_LENGTH",
    "PATTERN_TIMEOUT",
    "UNITS",
    "chunk",
    "duration",
    "fit",
    "iso_timestamp",
    "mention_patterns_match",
    "pattern_error",
    "safe_name",
    "saved_file_name",
    "text_length",
]

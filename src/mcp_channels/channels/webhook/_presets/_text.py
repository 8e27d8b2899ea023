"""Reading untrusted JSON safely and writing short event text from it.

Every value a preset shows comes from a sender's payload, which can have any shape: a field that
should be a string may be a list, a number, ``null`` or a megabyte of text. These helpers never
raise on shape: a missing or odd field reads as empty. Text is made one line (a newline in a PR
title must not start a line that looks like the channel's own), stripped of control and
direction-override characters, and capped without splitting a character.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Final

from mcp_channels.text import fit

#: Longest content of an event made by a preset or a template, in characters.
CONTENT_LIMIT: Final = 600
#: Longest meta value; meta is for short keys (a repo, a ref, a URL), not for prose.
META_VALUE_LIMIT: Final = 300
TITLE_LIMIT: Final = 120
EXCERPT_LIMIT: Final = 200

# Control characters, and the invisible ones that reorder or hide text (bidi overrides and
# isolates, zero-width marks other than the joiners that build emoji).
_INVISIBLE: Final = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
_SPACES: Final = re.compile(r"\s+")
#: Scanning stops here: a megabyte title is cut long before it is cleaned.
_SCAN_LIMIT: Final = 4 * CONTENT_LIMIT


def dig(value: object, *path: str | int) -> object:
    """The value at ``path`` inside nested objects and arrays, or ``None`` where it is missing."""
    for step in path:
        if isinstance(step, str) and isinstance(value, dict):
            value = value.get(step)
        elif isinstance(step, int) and isinstance(value, list) and -len(value) <= step < len(value):
            value = value[step]
        else:
            return None
    return value


def scalar(value: object) -> str:
    """A JSON scalar as text (``true``, ``42``, ``1.5``); empty for ``null``, objects and arrays."""
    if isinstance(value, str):
        return value[:_SCAN_LIMIT]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if abs(value) < 10**30 else ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    return ""


def one_line(text: str, limit: int) -> str:
    """``text`` on one line, invisible characters removed, cut to ``limit`` characters with ``…``."""
    cleaned = _SPACES.sub(" ", _INVISIBLE.sub("", text[:_SCAN_LIMIT])).strip()
    return fit(cleaned, limit)


def field(value: object, *path: str | int, limit: int = TITLE_LIMIT) -> str:
    """The scalar at ``path`` as one clean line of at most ``limit`` characters ("" if absent)."""
    return one_line(scalar(dig(value, *path)), limit)


def first_line(value: object, *path: str | int, limit: int = EXCERPT_LIMIT) -> str:
    """The first non-blank line of the text at ``path`` (a commit message's subject), capped."""
    for line in scalar(dig(value, *path)).splitlines():
        if line.strip():
            return one_line(line, limit)
    return ""


def items(value: object, *path: str | int) -> list[object]:
    """The array at ``path``, or an empty list when it is missing or not an array."""
    found = dig(value, *path)
    return found if isinstance(found, list) else []


def short_sha(sha: str) -> str:
    """The 7-character form of a commit id people write."""
    return sha[:7]


def branch_of(ref: str) -> str:
    """``refs/heads/main`` → ``main``; a tag or other ref keeps its full name."""
    return ref.removeprefix("refs/heads/")


def quoted(text: str) -> str:
    """An excerpt of someone's words, in quotes, or nothing when there are none."""
    return f' "{text}"' if text else ""


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def number(value: object, *path: str | int) -> int | None:
    """The integer at ``path``, or ``None`` (booleans and floats with a fraction are not counts)."""
    found = dig(value, *path)
    if isinstance(found, bool):
        return None
    if isinstance(found, int):
        return found
    if isinstance(found, float) and found.is_integer() and abs(found) < 1e18:
        return int(found)
    if isinstance(found, str) and found.isdigit() and len(found) < 19:
        return int(found)
    return None


def compact_json(value: object, limit: int) -> str:
    """A JSON value written compactly, for a template showing an object; capped."""
    try:
        encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (ValueError, RecursionError):
        return ""
    return one_line(encoded, limit)


def content(lines: Iterable[str]) -> str:
    """Non-empty lines joined, the whole cut to :data:`CONTENT_LIMIT` characters."""
    return fit("\n".join(line for line in lines if line), CONTENT_LIMIT)


def meta(**values: str) -> dict[str, str]:
    """Meta from the non-empty values, each one clean line of at most :data:`META_VALUE_LIMIT`."""
    return {key: one_line(value, META_VALUE_LIMIT) for key, value in values.items() if value}

"""What a preset makes of one delivery: the few lines a person would write, and key fields."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple


class Summary(NamedTuple):
    """Event content (at most ``CONTENT_LIMIT`` characters) and meta (valid keys, string values)."""

    content: str
    meta: dict[str, str]


#: A preset for one kind of event: the parsed payload in, a summary out; never raises.
Summarizer = Callable[[object], Summary]
#: A sender's summary for kinds it has no specific preset for.
Generic = Callable[[str, object], Summary]


def summarize_with(table: Mapping[str, Summarizer], generic: Generic, kind: str, payload: object) -> Summary:
    """Summarize ``payload`` with the preset for ``kind``, or the sender's generic summary."""
    specific = table.get(kind)
    return specific(payload) if specific is not None else generic(kind, payload)

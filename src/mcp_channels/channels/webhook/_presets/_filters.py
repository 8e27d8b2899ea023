"""Which deliveries reach the session: ``only`` and ``drop`` conditions on fields of the event.

A condition maps fields to glob patterns (``*``, ``?``, ``[abc]``; one pattern or a list of
them) and matches when every field matches one of its patterns. A field is a meta key of the
event (``event``, ``action``, ``branch``, ``conclusion``, ...) or a payload selector written
``$.like.this`` (with ``[*]``, it matches when any selected value does); a missing field is
the empty text. A delivery goes through when it matches one of the ``only`` conditions (if
there are any) and none of the ``drop`` ones.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import NamedTuple

from ._template import Selector, as_text


class Condition(NamedTuple):
    """Fields and the patterns each must match: ``{"event": "workflow_run", "branch": "main"}``."""

    fields: tuple[tuple[str, Selector | None, tuple[str, ...]], ...]

    def matches(self, meta: Mapping[str, str], payload: object) -> bool:
        return all(
            any(
                fnmatch.fnmatchcase(value, pattern)
                for value in _values(name, selector, meta, payload)
                for pattern in patterns
            )
            for name, selector, patterns in self.fields
        )


def _values(name: str, selector: Selector | None, meta: Mapping[str, str], payload: object) -> list[str]:
    if selector is None:
        return [meta.get(name, "")]
    selected = selector.select(payload)
    if isinstance(selected, list) and selector.spreads:
        return [as_text(item) for item in selected] or [""]
    return [as_text(selected)]


class Filters(NamedTuple):
    only: tuple[Condition, ...] = ()
    drop: tuple[Condition, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.only or self.drop)

    def reason_to_drop(self, meta: Mapping[str, str], payload: object) -> str | None:
        """Why the delivery is filtered out (``drop[1]``, ``no "only" condition``), or ``None``."""
        if self.only and not any(condition.matches(meta, payload) for condition in self.only):
            return 'matches no "only" condition'
        for index, condition in enumerate(self.drop):
            if condition.matches(meta, payload):
                return f'matches "drop" condition {index + 1}'
        return None

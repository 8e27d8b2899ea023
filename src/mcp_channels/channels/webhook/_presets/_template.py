"""A small template language for senders without a preset: selections from the JSON, no code.

``Build {{ build.status | upper }} on {{ build.branch }}: {{ commits[*].message | first_line | join:"; " }}``

- ``{{ selector }}`` is replaced by the value the selector picks from the payload. A selector is
  a path of keys and indexes in the JSONPath manner: ``a.b``, ``a[0]``, ``a[-1]`` (the last),
  ``a["key with spaces"]``, ``a[*]`` (every element, giving a list); ``$`` alone is the whole
  payload, and a leading ``$.`` is allowed.
- ``| filter`` and ``| filter:argument`` transform the value, left to right: ``default:"text"``,
  ``upper``, ``lower``, ``first_line``, ``short`` (7 characters, for commit ids),
  ``truncate:N``, ``count``, ``join:"separator"``, ``json``.
- A missing value is empty. Each value becomes one line of at most 300 characters (a list is
  joined with ``, ``, an object written as JSON); the whole text is cut at 600 characters.

There is nothing else: no conditions, loops, attribute access or evaluation, so a template can
only ever read the payload and produce bounded text. Templates are parsed when the settings are
loaded; a mistake is reported with its position then, never at delivery.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Final, NamedTuple

from mcp_channels.errors import TemplateError
from mcp_channels.text import fit

from ._text import CONTENT_LIMIT, compact_json, dig, first_line, one_line, scalar

VALUE_LIMIT: Final = 300
MAX_TEMPLATE_LENGTH: Final = 4000
MAX_EXPRESSIONS: Final = 64
MAX_PATH_STEPS: Final = 32
#: A ``[*]`` selection keeps at most this many values.
MAX_SELECTED: Final = 100


class _Wildcard:
    def __repr__(self) -> str:
        return "[*]"


WILDCARD: Final = _Wildcard()
Step = str | int | _Wildcard

_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_INTEGER: Final = re.compile(r"-?\d{1,9}")
_STRING: Final = re.compile(r'"((?:[^"\\]|\\.)*)"')
_SPACE: Final = re.compile(r"\s*")


class _Reader:
    """A cursor over an expression's text, with error messages that give the position."""

    def __init__(self, text: str, offset: int = 0) -> None:
        self.text, self.at, self.offset = text, 0, offset

    def skip_space(self) -> None:
        match = _SPACE.match(self.text, self.at)
        self.at = match.end() if match else self.at

    def take(self, literal: str) -> bool:
        if self.text.startswith(literal, self.at):
            self.at += len(literal)
            return True
        return False

    def expect(self, pattern: re.Pattern[str], what: str) -> re.Match[str]:
        match = pattern.match(self.text, self.at)
        if match is None:
            raise self.error(f"expected {what}")
        self.at = match.end()
        return match

    def done(self) -> bool:
        return self.at >= len(self.text)

    def error(self, problem: str) -> TemplateError:
        rest = self.text[self.at : self.at + 20] or "the end"
        return TemplateError(f"{problem} at character {self.offset + self.at + 1} (near {rest!r})")


def _string_value(match: re.Match[str]) -> str:
    return str(json.loads(f'"{match.group(1)}"'))


class Selector(NamedTuple):
    """A path into the payload; ``select`` never raises, whatever the payload's shape."""

    steps: tuple[Step, ...]

    @classmethod
    def parse(cls, text: str) -> Selector:
        reader = _Reader(text)
        selector = cls._read(reader)
        reader.skip_space()
        if not reader.done():
            raise reader.error("unexpected text after the selector")
        return selector

    @classmethod
    def _read(cls, reader: _Reader) -> Selector:
        steps: list[Step] = []
        rooted = reader.take("$")
        if not rooted or reader.text.startswith(".", reader.at):
            if rooted:
                reader.take(".")
            steps.append(reader.expect(_NAME, "a key name (or $)").group())
        while len(steps) <= MAX_PATH_STEPS:
            if reader.take("."):
                steps.append(reader.expect(_NAME, "a key name after '.'").group())
            elif reader.take("["):
                steps.append(cls._read_index(reader))
                if not reader.take("]"):
                    raise reader.error("expected ']'")
            else:
                return cls(tuple(steps))
        raise reader.error(f"a selector has at most {MAX_PATH_STEPS} steps")

    @staticmethod
    def _read_index(reader: _Reader) -> Step:
        if reader.take("*"):
            return WILDCARD
        if reader.text.startswith('"', reader.at):
            return _string_value(reader.expect(_STRING, "a quoted key"))
        return int(reader.expect(_INTEGER, 'an index, "key" or *').group())

    @property
    def spreads(self) -> bool:
        """Whether the selection is a list of values (the path has a ``[*]``)."""
        return any(isinstance(step, _Wildcard) for step in self.steps)

    def select(self, payload: object) -> object:
        """The value at this path (``None`` when missing), or a list of values after ``[*]``."""
        values: list[object] = [payload]
        for step in self.steps:
            if isinstance(step, _Wildcard):
                values = [item for value in values for item in _children(value)][:MAX_SELECTED]
            else:
                values = [dig(value, step) for value in values]
        if self.spreads:
            return [value for value in values if value is not None]
        return values[0]


def _children(value: object) -> list[object]:
    if isinstance(value, list):
        return value[:MAX_SELECTED]
    if isinstance(value, dict):
        return list(value.values())[:MAX_SELECTED]
    return []


def as_text(value: object) -> str:
    """A selected value as one line of at most ``VALUE_LIMIT`` characters."""
    if isinstance(value, list):
        text = ", ".join(as_text(item) for item in value[:MAX_SELECTED])
    elif isinstance(value, dict):
        text = compact_json(value, VALUE_LIMIT)
    else:
        text = scalar(value)
    return one_line(text, VALUE_LIMIT)


def _text_of(value: object) -> str:
    """A value as text for a filter, line breaks kept (``first_line`` needs them)."""
    return scalar(value) if isinstance(value, str) else as_text(value)


def _map(transform: Callable[[str], str]) -> Callable[[object, object], object]:
    """A filter applying ``transform`` to a text value, or to each value of a selected list."""

    def apply(value: object, argument: object) -> object:
        if isinstance(value, list):
            return [transform(_text_of(item)) for item in value]
        return transform(_text_of(value)) if value is not None else None

    return apply


def _default(value: object, argument: object) -> object:
    return argument if value in (None, "", []) else value


def _truncate(value: object, argument: object) -> object:
    limit = argument if isinstance(argument, int) else VALUE_LIMIT
    return _map(lambda text: fit(text, limit))(value, argument)


def _join(value: object, argument: object) -> object:
    separator = argument if isinstance(argument, str) else ", "
    return separator.join(as_text(item) for item in value) if isinstance(value, list) else value


def _count(value: object, argument: object) -> object:
    return len(value) if isinstance(value, list | dict | str) else 0


#: name → (function, kind of argument: None for none, int or str; whether the argument is required)
FILTERS: Final[dict[str, tuple[Callable[[object, object], object], type | None, bool]]] = {
    "default": (_default, str, True),
    "upper": (_map(str.upper), None, False),
    "lower": (_map(str.lower), None, False),
    "first_line": (_map(lambda text: first_line(text)), None, False),
    "short": (_map(lambda text: text[:7]), None, False),
    "truncate": (_truncate, int, True),
    "count": (_count, None, False),
    "join": (_join, str, False),
    "json": (lambda value, argument: compact_json(value, VALUE_LIMIT), None, False),
}


class Expression(NamedTuple):
    """A selector and its filters: ``alerts[*].labels.alertname | join:", "``."""

    selector: Selector
    filters: tuple[tuple[str, object], ...]

    @classmethod
    def parse(cls, text: str, offset: int = 0) -> Expression:
        reader = _Reader(text, offset)
        reader.skip_space()
        selector = Selector._read(reader)
        filters: list[tuple[str, object]] = []
        reader.skip_space()
        while reader.take("|"):
            reader.skip_space()
            filters.append(cls._read_filter(reader))
            reader.skip_space()
        if not reader.done():
            raise reader.error("expected '|' or the end of the expression")
        return cls(selector, tuple(filters))

    @staticmethod
    def _read_filter(reader: _Reader) -> tuple[str, object]:
        start = reader.at
        name = reader.expect(_NAME, "a filter name").group()
        if name not in FILTERS:
            reader.at = start
            raise reader.error(f"unknown filter {name!r} (known: {', '.join(FILTERS)})")
        _, kind, required = FILTERS[name]
        argument: object = None
        if reader.take(":"):
            if kind is None:
                raise reader.error(f"filter {name!r} takes no argument")
            if kind is int:
                count = int(reader.expect(_INTEGER, "a number").group())
                if not 1 <= count <= CONTENT_LIMIT:
                    raise reader.error(f"{name} takes a number from 1 to {CONTENT_LIMIT}")
                argument = count
            else:
                argument = _string_value(reader.expect(_STRING, 'a "quoted" text'))
        elif required:
            raise reader.error(f"filter {name!r} needs an argument ({name}:...)")
        return name, argument

    def evaluate(self, payload: object) -> str:
        value = self.selector.select(payload)
        for name, argument in self.filters:
            value = FILTERS[name][0](value, argument)
        return as_text(value)


_OPEN: Final = "{{"
_CLOSE: Final = "}}"


class Template(NamedTuple):
    """Literal text and expressions; ``render`` gives at most ``CONTENT_LIMIT`` characters."""

    parts: tuple[str | Expression, ...]

    @classmethod
    def parse(cls, text: str) -> Template:
        if len(text) > MAX_TEMPLATE_LENGTH:
            raise TemplateError(f"a template is at most {MAX_TEMPLATE_LENGTH} characters, not {len(text)}")
        parts: list[str | Expression] = []
        at = 0
        while (start := text.find(_OPEN, at)) != -1:
            end = text.find(_CLOSE, start + len(_OPEN))
            if end == -1:
                raise TemplateError(f"'{{{{' at character {start + 1} is never closed with '}}}}'")
            if start > at:
                parts.append(text[at:start])
            parts.append(Expression.parse(text[start + len(_OPEN) : end], offset=start + len(_OPEN)))
            at = end + len(_CLOSE)
        if at < len(text):
            parts.append(text[at:])
        if sum(isinstance(part, Expression) for part in parts) > MAX_EXPRESSIONS:
            raise TemplateError(f"a template has at most {MAX_EXPRESSIONS} {{{{ }}}} expressions")
        return cls(tuple(parts))

    def render(self, payload: object) -> str:
        text = "".join(part if isinstance(part, str) else part.evaluate(payload) for part in self.parts)
        return fit(text.strip(), CONTENT_LIMIT)

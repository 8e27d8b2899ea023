"""Ordinary Markdown, as Claude writes it, turned into Telegram's MarkdownV2.

MarkdownV2 refuses a whole message when one of ``_*[]()~`>#+-=|{}.!`` is left unescaped, so
passing Claude's Markdown through as MarkdownV2 fails on the first full stop, and sending it as
plain text shows raw asterisks. This converter knows the Markdown constructs Claude uses (bold,
italic, strikethrough, inline code, fenced code blocks, links, headings, quotes, lists, rules) and
escapes every other character, so its output always parses: a construct it does not recognise,
or an unmatched marker, simply shows as the characters typed.

Telegram counts a message's length after the markup is removed, and the conversion never makes
the visible text longer than the source, so chunking the source by the usual limit is enough;
:func:`markdown_chunks` also closes a code block at a chunk boundary and reopens it in the next.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from ...text import chunk

_SPECIAL: Final = re.compile(r"([_*\[\]()~`>#+\-=|{}.!\\])")
_MARKDOWN_ESCAPABLE: Final = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_FENCE: Final = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*([^\s`]*)[^`]*$")
_HEADING: Final = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_QUOTE: Final = re.compile(r"^ {0,3}>[ \t]?(.*)$")
_BULLET: Final = re.compile(r"^([ \t]*)[-*+][ \t]+(.*)$")
_NUMBERED: Final = re.compile(r"^([ \t]*)(\d{1,9})([.)])[ \t]+(.*)$")
_RULE: Final = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_CODE_SPAN: Final = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_LINK: Final = re.compile(
    r"\[((?:[^\[\]\\]|\\.)+)\]\(\s*<?([^\s()<>]+(?:\([^\s()]*\)[^\s()<>]*)*)>?(?:\s+\"[^\"]*\")?\s*\)"
)
#: Emphasis: (kind, opening/closing marker, pattern matched at the opening marker).
_EMPHASIS: Final = (
    ("bold italic", re.compile(r"\*\*\*(?=\S)(.+?)(?<=\S)\*\*\*")),
    ("bold", re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")),
    ("bold", re.compile(r"__(?=\S)(.+?)(?<=\S)__(?!\w)")),
    ("strike", re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")),
    ("italic", re.compile(r"\*(?=[^\s*])(.+?)(?<=[^\s*])\*")),
    ("italic", re.compile(r"_(?=[^\s_])(.+?)(?<=[^\s_])_(?!\w)")),
)
#: MarkdownV2 markers around each kind (opening, closing).
_V2_MARKERS: Final = {"bold italic": ("*_", "_*"), "bold": ("*", "*"), "italic": ("_", "_"), "strike": ("~", "~")}
RULE_TEXT: Final = "──────────"


def escape(text: str) -> str:
    """Escape ``text`` for MarkdownV2 so every character shows as itself."""
    return _SPECIAL.sub(r"\\\1", text)


def _escape_code(text: str) -> str:
    return text.replace("\\", "\\\\").replace("`", "\\`")


def _escape_url(url: str) -> str:
    return url.replace("\\", "\\\\").replace(")", "\\)")


def _blocks(lines: list[str]) -> Iterator[tuple[int, str | None, str, bool]]:
    """``(first line, language, code, closed)`` per fenced block, ``(line, None, text, True)`` per other line.

    A block left open runs to the end of the text, as in CommonMark.
    """
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            yield index, None, lines[index], True
            index += 1
            continue
        fence = opening.group(1)
        end = index + 1
        while end < len(lines) and not re.fullmatch(
            rf" {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*", lines[end]
        ):
            end += 1
        yield index, opening.group(2), "\n".join(lines[index + 1 : end]), end < len(lines)
        index = end + 1


def _emphasis(text: str, at: int, active: frozenset[str]) -> tuple[str, int] | None:
    if text[at] == "_" and at > 0 and (text[at - 1].isalnum() or text[at - 1] == "_"):
        return None  # snake_case_words are not emphasis
    for kind, pattern in _EMPHASIS:
        match = pattern.match(text, at)
        if match is None:
            continue
        kinds = set(kind.split())
        inner = _inline(match.group(1), active | kinds)
        if kinds & active:  # Telegram cannot nest an entity in itself: keep the words, drop the markers
            return inner, match.end()
        opening, closing = _V2_MARKERS[kind]
        return f"{opening}{inner}{closing}", match.end()
    return None


def _inline(text: str, active: frozenset[str] = frozenset()) -> str:
    out: list[str] = []
    at = 0
    while at < len(text):
        char = text[at]
        converted: tuple[str, int] | None = None
        if char == "\\" and at + 1 < len(text) and text[at + 1] in _MARKDOWN_ESCAPABLE:
            converted = escape(text[at + 1]), at + 2
        elif char == "`":
            match = _CODE_SPAN.match(text, at)
            if match is not None:
                code = match.group(2)
                if code.startswith(" ") and code.endswith(" ") and code.strip():
                    code = code[1:-1]
                converted = f"`{_escape_code(code)}`", match.end()
        elif char == "[" and "link" not in active:
            match = _LINK.match(text, at)
            if match is not None:
                label = _inline(match.group(1), active | {"link"})
                converted = f"[{label}]({_escape_url(match.group(2))})", match.end()
        elif char in "*_~":
            converted = _emphasis(text, at, active)
        if converted is None:
            converted = escape(char), at + 1
        piece, at = converted
        if piece.startswith("_") and out and out[-1].endswith("_") and not out[-1].endswith("\\_"):
            out.append("**")  # two italics side by side would read as "__" (underline): separate them
        out.append(piece)
    return "".join(out)


def _line(line: str) -> str:
    if _RULE.match(line):
        return RULE_TEXT
    heading = _HEADING.match(line)
    if heading:
        title = _inline(heading.group(1), frozenset({"bold"}))
        return f"*{title}*" if title else ""
    quote = _QUOTE.match(line)
    if quote:
        return ">" + _inline(quote.group(1))
    bullet = _BULLET.match(line)
    if bullet:
        return f"{bullet.group(1)}• {_inline(bullet.group(2))}"
    numbered = _NUMBERED.match(line)
    if numbered:
        indent, number, mark, rest = numbered.groups()
        return f"{indent}{number}{escape(mark)} {_inline(rest)}"
    return _inline(line)


def to_markdown_v2(text: str) -> str:
    """MarkdownV2 that Telegram accepts and that shows ``text`` as Markdown renders it."""
    out: list[str] = []
    for _, language, body, _ in _blocks(text.split("\n")):
        if language is None:
            out.append(_line(body))
        else:
            out.append(f"```{language}\n{_escape_code(body)}```" if body else "")
    return "\n".join(out)


def _open_fence(text: str) -> str | None:
    """The opening line of a code block ``text`` leaves open at its end, if any."""
    lines = text.split("\n")
    for start, language, _, closed in _blocks(lines):
        if language is not None and not closed:
            return lines[start]
    return None


def markdown_chunks(text: str, limit: int, mode: str = "length") -> list[str]:
    """Chunks of ``text`` as MarkdownV2, each showing at most ``limit`` UTF-16 units.

    A code block cut by a chunk boundary is closed at the end of one chunk and reopened (same
    language) at the start of the next, so the code stays code in both messages.
    """
    out: list[str] = []
    carried: str | None = None
    for piece in chunk(text, limit, mode, units="utf16"):
        source = f"{carried}\n{piece}" if carried is not None else piece
        carried = _open_fence(source)
        out.append(to_markdown_v2(source))
    return out

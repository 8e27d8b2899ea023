"""Ordinary Markdown, as Claude writes it, turned into Telegram's MarkdownV2.

MarkdownV2 refuses a whole message when one of ``_*[]()~`>#+-=|{}.!`` is left unescaped, so
passing Claude's Markdown through as MarkdownV2 fails on the first full stop, and sending it as
plain text shows raw asterisks. This converter knows the Markdown constructs Claude uses (bold,
italic, strikethrough, inline code, fenced code blocks, links, headings, quotes, lists, rules) and
escapes every other character, so its output always parses: a construct it does not recognise,
or an unmatched marker, simply shows as the characters typed. As in CommonMark, backslash escapes,
code spans and links are read before emphasis: ``\\*`` or a ``*`` inside code never opens or closes
one. A link Telegram would drop (a relative path, ``mailto:``) shows as ``text (target)``.

Telegram counts a message's length after the markup is removed, and the conversion never makes
the visible text longer than the source, so chunking the source by the usual limit is enough;
:func:`markdown_chunks` also closes a code block at a chunk boundary and reopens it in the next.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from ...text import chunk
from . import LENGTH_UNITS

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
#: Emphasis: (kinds, pattern matched at the opening marker). The patterns run over a line's
#: :class:`_Atom` masks, where nothing but a real marker looks like one.
_EMPHASIS: Final = (
    (("bold", "italic"), re.compile(r"\*\*\*(?=\S)(.+?)(?<=\S)\*\*\*")),
    (("bold",), re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")),
    (("bold",), re.compile(r"__(?=\S)(.+?)(?<=\S)__(?!\w)")),
    (("strike",), re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")),
    (("italic",), re.compile(r"\*(?=[^\s*])(.+?)(?<=[^\s*])\*")),
    (("italic",), re.compile(r"_(?=[^\s_])(.+?)(?<=[^\s_])_(?!\w)")),
)
#: The MarkdownV2 marker of each kind; nested kinds open in this order and close in reverse.
_V2_MARKERS: Final = {"bold": "*", "italic": "_", "strike": "~"}
#: What the emphasis patterns see in place of a character escaped with a backslash, a code span or
#: a link: not a space, not a word character, not a marker.
_OPAQUE: Final = "\ue000"
#: An empty code span: Telegram drops the empty entity, and between two italics it keeps their
#: ``_`` ``_`` from reading as ``__`` (underline).
_SEPARATOR: Final = "``"
#: A host name Telegram takes in a link.
_HOST: Final = re.compile(r"[\w-]+(?:\.[\w-]+)*")
#: A thematic break is drawn with as many of these as its line has characters, so the text shown
#: is never longer than the source (chunks are cut by the source's length).
RULE_CHARACTER: Final = "─"


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


class _Marker(str):
    """MarkdownV2 markup (an entity's opening or closing marker), as opposed to escaped text."""

    __slots__ = ()


@dataclass(frozen=True)
class _Atom:
    """One unit of a line's inline text: a character, or a code span or a link taken whole."""

    mask: str  # the one character the emphasis patterns see in its place
    text: str  # the character, the code, or the link's text
    url: str | None = None  # a link's target
    code: bool = False


def _atoms(text: str) -> list[_Atom]:
    """``text`` read into atoms: backslash escapes, code spans and links bind before emphasis."""
    atoms: list[_Atom] = []
    at = 0
    while at < len(text):
        char = text[at]
        if char == "\\" and at + 1 < len(text) and text[at + 1] in _MARKDOWN_ESCAPABLE:
            atoms.append(_Atom(_OPAQUE, text[at + 1]))
            at += 2
            continue
        if char == "`":
            span = _CODE_SPAN.match(text, at)
            if span is None:  # a run of backticks without its closing run is text, all of it
                run = len(text) - at - len(text[at:].lstrip("`"))
                atoms.extend(_Atom(_OPAQUE, "`") for _ in range(run))
                at += run
                continue
            code = span.group(2)
            if code.startswith(" ") and code.endswith(" ") and code.strip():
                code = code[1:-1]
            atoms.append(_Atom(_OPAQUE, code, code=True))
            at = span.end()
            continue
        link = _LINK.match(text, at) if char == "[" else None
        if link is not None:
            atoms.append(_Atom(_OPAQUE, link.group(1), url=link.group(2)))
            at = link.end()
            continue
        atoms.append(_Atom(char, char))
        at += 1
    return atoms


def _emphasis(atoms: list[_Atom], mask: str, at: int, active: frozenset[str]) -> tuple[list[str], int] | None:
    """The emphasis opening at ``atoms[at]``, converted, and the index after it; ``None`` if none does."""
    if mask[at] == "_" and at > 0 and (mask[at - 1].isalnum() or mask[at - 1] == "_"):
        return None  # snake_case_words are not emphasis
    for kinds, pattern in _EMPHASIS:
        match = pattern.match(mask, at)
        if match is None:
            continue
        # Inside bold, a bold marker would close the bold: keep the words, drop the markers.
        opening = [_Marker(_V2_MARKERS[kind]) for kind in kinds if kind not in active]
        inner = _render(atoms[match.start(1) : match.end(1)], active | frozenset(kinds))
        return [*opening, *inner, *reversed(opening)], match.end()
    return None


def _render(atoms: list[_Atom], active: frozenset[str]) -> list[str]:
    """MarkdownV2 pieces for ``atoms`` inside the entities ``active`` (which are not opened again)."""
    mask = "".join(atom.mask for atom in atoms)
    out: list[str] = []
    at = 0
    while at < len(atoms):
        converted = _emphasis(atoms, mask, at, active) if mask[at] in "*_~" else None
        if converted is not None:
            pieces, at = converted
            out.extend(pieces)
            continue
        atom = atoms[at]
        if atom.code:
            out.append(f"`{_escape_code(atom.text)}`")
        elif atom.url is None:
            out.append(escape(atom.text))
        elif _linkable(atom.url):
            label = _join(_render(_atoms(atom.text), active))
            out.append(f"[{label}]({_escape_url(atom.url)})")
        else:
            out.extend([*_render(_atoms(atom.text), active), escape(f" ({atom.url})")])
        at += 1
    return out


def _linkable(url: str) -> bool:
    """Whether Telegram keeps a link to ``url``. It drops any other (a relative path, ``mailto:``)
    silently, keeping only the text: such a link is shown as ``text (url)`` instead."""
    if url.lower().startswith("tg://"):
        return len(url) > len("tg://")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(_HOST.fullmatch(parts.hostname or ""))


def _join(pieces: list[str]) -> str:
    """The pieces as one text, with an empty entity between two ``_`` markers that would touch."""
    out: list[str] = []
    for piece in pieces:
        if out and isinstance(piece, _Marker) and isinstance(out[-1], _Marker) and out[-1] == piece == "_":
            out.append(_SEPARATOR)
        out.append(piece)
    return "".join(out)


def _inline(text: str, active: frozenset[str] = frozenset()) -> str:
    return _join(_render(_atoms(text), active))


def _line(line: str) -> str:
    if _RULE.match(line):
        return RULE_CHARACTER * len(line.strip())
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


def markdown_chunks(text: str, limit: int, mode: str = "length") -> list[tuple[str, str]]:
    """``(piece of text, its MarkdownV2)`` per message, each showing at most ``limit`` UTF-16 units.

    A code block cut by a chunk boundary is closed at the end of one chunk and reopened (same
    language) at the start of the next, so the code stays code in both messages. The pieces, as
    typed, make up ``text``: what to send instead if Telegram refuses a conversion.
    """
    out: list[tuple[str, str]] = []
    carried: str | None = None
    for piece in chunk(text, limit, mode, units=LENGTH_UNITS):
        source = f"{carried}\n{piece}" if carried is not None else piece
        carried = _open_fence(source)
        out.append((piece, to_markdown_v2(source)))
    return out

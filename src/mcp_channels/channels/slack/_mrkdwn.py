"""Claude's text as Slack shows it: Markdown converted to Slack's "mrkdwn", escaped, cut into messages.

Slack does not speak Markdown: ``**bold**`` shows its asterisks, ``[label](url)`` stays as typed,
and an ``<`` or ``&`` can be taken for markup. ``format: "markdown"`` (the default) converts bold,
italics, strikethrough, code, code blocks, links, headings, lists and quotes; ``"text"`` sends the
text exactly as typed; ``"mrkdwn"`` passes Slack's own markup through (``<@U0123>`` mentions a
person). Whatever the format, Claude cannot page a whole channel: ``<!here>``, ``<!channel>``,
``<!everyone>`` and user-group mentions are sent as plain words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from ...text import chunk
from ._markup import special_text

FORMATS: Final = ("markdown", "text", "mrkdwn")

_FENCE: Final = re.compile(r"^\s{0,3}(```|~~~)")
_HEADING: Final = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
_BULLET: Final = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_RULE: Final = re.compile(r"^\s{0,3}([-*_])(?:\s*\1){2,}\s*$")
_QUOTE: Final = re.compile(r"^\s{0,3}>\s?(.*)$")
_BROADCAST: Final = re.compile(r"<!([^<>|]*)(?:\|([^<>]*))?>")
_LINK_SCHEMES: Final = ("http://", "https://", "mailto:")

#: Inline Markdown, tried in this order at each position: code first (nothing inside it is
#: markup), then links, then emphasis.
_INLINE: Final = re.compile(
    r"(?P<code>(?P<ticks>`+)(?P<code_text>.+?)(?P=ticks))"
    r"|(?P<link>\[(?P<label>[^\]\n]+)\]\((?P<url>[^)\s]+)(?:\s+\"[^\"\n]*\")?\))"
    r"|(?P<autolink><(?P<auto_url>(?:https?://|mailto:)[^<>\s]+)>)"
    r"|(?P<bold>\*\*(?P<bold_text>(?!\s).+?(?<!\s))\*\*|__(?P<bold_under>(?!\s).+?(?<!\s))__)"
    r"|(?P<strike>~~(?P<strike_text>(?!\s).+?(?<!\s))~~)"
    r"|(?P<italic>(?<![\w*])\*(?P<italic_text>(?![\s*]).*?(?<![\s*]))\*(?![\w*])"
    r"|(?<!\w)_(?P<italic_under>(?![\s_]).*?(?<![\s_]))_(?!\w))"
)


def escape(text: str) -> str:
    """The three characters Slack reads as markup, escaped as it asks (``&`` first)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def without_broadcasts(mrkdwn: str) -> str:
    """Slack markup with ``<!here>``, ``<!channel>``, ``<!everyone>`` and group mentions made inert."""
    return _BROADCAST.sub(lambda m: escape(special_text(m.group(1), m.group(2) or "")), mrkdwn)


def markdown_to_mrkdwn(markdown: str) -> str:
    """Ordinary Markdown as Slack mrkdwn; what is not markup is escaped."""
    lines: list[str] = []
    in_code = False
    for line in markdown.split("\n"):
        if _FENCE.match(line):
            in_code = not in_code
            lines.append("```")
        elif in_code:
            lines.append(escape(line))
        else:
            lines.append(_block_line(line))
    return "\n".join(lines)


def _block_line(line: str) -> str:
    if _RULE.match(line):
        return "──────────"
    if heading := _HEADING.match(line):
        return f"*{_inline(heading.group(1))}*" if heading.group(1) else ""
    if bullet := _BULLET.match(line):
        return f"{bullet.group(1)}• {_inline(bullet.group(2))}"
    if quote := _QUOTE.match(line):
        return f"> {_inline(quote.group(1))}"
    return _inline(line)


def _inline(text: str) -> str:
    out: list[str] = []
    last = 0
    for match in _INLINE.finditer(text):
        out.append(escape(text[last : match.start()]))
        out.append(_convert(match))
        last = match.end()
    out.append(escape(text[last:]))
    return "".join(out)


def _convert(match: re.Match[str]) -> str:
    if match.group("code"):
        return f"`{escape(match.group('code_text').strip() or match.group('code_text'))}`"
    if match.group("link"):
        return _link(match.group("url"), match.group("label"))
    if match.group("autolink"):
        return f"<{escape(match.group('auto_url'))}>"
    if match.group("bold"):
        return f"*{_inline(match.group('bold_text') or match.group('bold_under'))}*"
    if match.group("strike"):
        return f"~{_inline(match.group('strike_text'))}~"
    return f"_{_inline(match.group('italic_text') or match.group('italic_under'))}_"


def _link(url: str, label: str) -> str:
    """``<url|label>``; a target Slack cannot link (a relative path) is shown as ``label (target)``."""
    if not url.startswith(_LINK_SCHEMES):
        return f"{_inline(label)} ({escape(url)})"
    return f"<{escape(url)}|{escape(label).replace('|', '¦')}>"


def outgoing_texts(text: str, fmt: str, limit: int, mode: str) -> list[str]:
    """The messages to send for ``text`` in ``fmt``: cut at ``limit`` characters of ``text``, then converted.

    A code block cut between two messages is closed at the end of the first and reopened at the
    start of the next, so it stays code in both.
    """
    pieces = chunk(text, limit, mode)
    if fmt != "text":
        pieces = _balance_fences(pieces)
    return [to_slack(piece, fmt) for piece in pieces]


def to_slack(text: str, fmt: str) -> str:
    """``text`` in ``fmt`` (one of :data:`FORMATS`) as the ``text`` of one Slack message."""
    return _CONVERTERS[fmt](text)


_CONVERTERS: Final[dict[str, Callable[[str], str]]] = {
    "markdown": markdown_to_mrkdwn,
    "text": escape,
    "mrkdwn": without_broadcasts,
}


def _balance_fences(pieces: list[str]) -> list[str]:
    balanced: list[str] = []
    reopen = False
    for piece in pieces:
        if reopen:
            piece = "```\n" + piece
        reopen = _ends_in_code(piece)
        balanced.append(piece + "\n```" if reopen else piece)
    return balanced


def _ends_in_code(text: str) -> bool:
    inside = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            inside = not inside
    return inside

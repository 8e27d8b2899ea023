"""Telegram's MarkdownV2 parser, as the Bot API applies it to ``parse_mode="MarkdownV2"`` texts.

The Bot API server hands such a text to tdlib's MarkdownV2 parser; this module follows that
parser step for step, so the fake server accepts exactly what Telegram accepts and refuses the
rest with Telegram's words (``Can't find end of Italic entity at byte offset 5``). Its rules,
which are stricter and odder than the documentation's summary
(https://core.telegram.org/bots/api#markdownv2-style):

* ``\\`` followed by any ASCII character from 1 to 126 stands for that character, anywhere
  (in code, pre and link URLs too). A backslash before anything else, or at the end, is itself.
* Outside code and pre, each of ``_*[]()~`>#+-=|{}.!`` is markup or an error: ``Character '.'
  is reserved and must be escaped with the preceding '\\'``. Inside code and pre only ````` is.
* A marker closes only the entity opened last; any other marker opens a new one, so
  ``*a _b* c_`` opens bold, italic, then a second bold, and fails at the end. ``_`` closes
  italic only when not followed by another ``_``: ``_a__b_`` opens underline, not two italics.
* ``[text](url)``: ``)`` and ``\\`` must be escaped in the URL; ``[text]`` alone links to its
  text. A URL Telegram does not accept drops the link silently, keeping the text.
* ``>`` starts a quote only at the start of a line; the quote runs while the lines start with
  ``>``; a line break inside it that does not continue it must close every entity opened in it.
  ``||`` right before the end of a quote makes it expandable.

Offsets and lengths are UTF-16 code units, as in the real entities.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

#: Characters that are markup (or an error) outside code and pre.
RESERVED: Final = frozenset("_*[]()~`>#+-=|{}.!\n")
#: Characters that are markup inside code and pre.
RESERVED_IN_CODE: Final = frozenset("`")
#: tdlib's names for entity types, as its error messages print them.
ERROR_NAMES: Final = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "pre_code": "PreCode",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "blockquote": "BlockQuote",
}
_USER_LINK: Final = re.compile(r"(?i)tg:(?://)?user/?\?(?:[^#]*&)?id=(\d{1,15})(?:[&#].*)?")
_EMOJI_LINK: Final = re.compile(r"(?i)tg://emoji\?id=(\d{1,19})")
_HOST: Final = re.compile(r"(?:[\w-]+\.)*[\w-]+", re.UNICODE)


class MarkdownV2Error(ValueError):
    """The text the real API answers with ``400 Bad Request: can't parse entities: ...``."""


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _is_space(char: str) -> bool:
    return char in " \t\r\n\0\v\f"


def checked_link(url: str) -> str:
    """The link Telegram keeps for ``url``, or ``""`` when it drops the link (an approximation of
    tdlib's check: ``tg:``/``ton:`` links, or http(s) with a host; no other scheme)."""
    lowered = url.lower()
    if lowered.startswith(("tg:", "ton:", "tonsite:")):
        rest = url.split(":", 1)[1].removeprefix("//")
        return url if rest and not any(_is_space(c) for c in rest) else ""
    if "://" in url and not lowered.startswith(("http://", "https://")):
        return ""
    rest = url.split("://", 1)[1] if "://" in url else url
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0].rsplit("@", 1)[-1]
    host, _, port = authority.partition(":")
    if not _HOST.fullmatch(host) or (port and not (port.isdigit() and 0 < int(port) < 65536)):
        return ""
    if any(_is_space(c) for c in url):
        return ""
    if "://" not in url and "." not in host:
        return ""
    return url if "://" in url else f"http://{url}"


@dataclass
class _Open:
    """An entity whose opening marker was read: tdlib's ``EntityInfo``."""

    kind: str
    argument: str
    offset: int  # UTF-16 offset in the text shown
    index: int  # where its marker starts in the source
    byte_offset: int  # the same, in UTF-8 bytes (for error messages)
    shown_from: int  # how many characters had been shown when it opened


@dataclass
class _Parser:
    source: str
    out: list[str] = field(default_factory=list)  # the characters shown
    length: int = 0
    entities: list[dict[str, Any]] = field(default_factory=list)
    nested: list[_Open] = field(default_factory=list)
    have_blockquote: bool = False
    can_start_blockquote: bool = True

    def at(self, index: int) -> str:
        """The character at ``index``, or NUL past the end (tdlib reads a NUL-terminated string)."""
        return self.source[index] if index < len(self.source) else "\0"

    def byte_offset(self, index: int) -> int:
        return len(self.source[:index].encode("utf-8"))

    def emit(self, char: str) -> None:
        self.out.append(char)
        self.length += _utf16_len(char)

    def unclosed(self, entity: _Open) -> MarkdownV2Error:
        return MarkdownV2Error(
            f"Can't find end of {ERROR_NAMES[entity.kind]} entity at byte offset {entity.byte_offset}"
        )

    def reserved(self, char: str) -> MarkdownV2Error:
        return MarkdownV2Error(f"Character '{char}' is reserved and must be escaped with the preceding '\\'")

    def escapable(self, index: int) -> bool:
        return index < len(self.source) and 1 <= ord(self.source[index]) <= 126

    def ends_top(self, index: int) -> bool:
        """Whether the marker at ``index`` closes the entity opened last."""
        if not self.nested:
            return False
        char, following = self.source[index], self.at(index + 1)
        if self.have_blockquote and char == "\n" and following != ">":
            return True
        kind = self.nested[-1].kind
        return {
            "bold": char == "*",
            "italic": char == "_" and following != "_",
            "underline": char == "_" and following == "_",
            "strikethrough": char == "~",
            "spoiler": char == "|" and following == "|",
            "code": char == "`",
            "pre": char == "`" and following == "`" and self.at(index + 2) == "`",
            "pre_code": char == "`" and following == "`" and self.at(index + 2) == "`",
            "text_link": char == "]",
            "custom_emoji": char == "]",
            "blockquote": False,
        }[kind]

    def read_url(self, index: int, what: str) -> tuple[str, int]:
        """The URL of ``](url)`` from ``index`` (just past ``(``) and the index of its ``)``."""
        begin = index
        url: list[str] = []
        while index < len(self.source) and self.source[index] != ")":
            if self.source[index] == "\\" and self.escapable(index + 1):
                url.append(self.source[index + 1])
                index += 2
                continue
            url.append(self.source[index])
            index += 1
        if self.at(index) != ")":
            raise MarkdownV2Error(f"Can't find end of {what} at byte offset {self.byte_offset(begin)}")
        return "".join(url), index

    def open(self, index: int) -> int:
        """Read the opening marker at ``index``; the index of its last character."""
        char = self.source[index]
        start = index
        argument = ""
        if char == "_" and self.at(index + 1) == "_":
            kind, index = "underline", index + 1
        elif char == "_":
            kind = "italic"
        elif char == "*":
            kind = "bold"
        elif char == "~":
            kind = "strikethrough"
        elif char == "|" and self.at(index + 1) == "|":
            kind, index = "spoiler", index + 1
        elif char == "[":
            kind = "text_link"
        elif char == "!" and self.at(index + 1) == "[":
            kind, index = "custom_emoji", index + 1
        elif char == "`" and self.at(index + 1) == "`" and self.at(index + 2) == "`":
            kind, index = "pre", index + 3
            language_end = index
            while not _is_space(self.at(language_end)) and self.at(language_end) != "`":
                language_end += 1
            if index != language_end and language_end < len(self.source) and self.source[language_end] != "`":
                kind, argument, index = "pre_code", self.source[index:language_end], language_end
            if self.at(index) in "\r\n":  # one line break after ``` is skipped
                pair = self.at(index + 1) in "\r\n" and self.at(index + 1) != self.at(index)
                index += 2 if pair else 1
            index -= 1
        elif char == "`":
            kind = "code"
        elif char == "\n":
            self.emit("\n")
            self.can_start_blockquote = True
            return index
        elif char == ">" and self.can_start_blockquote:
            if self.have_blockquote:
                return index
            kind, self.have_blockquote = "blockquote", True
        else:
            raise self.reserved(char)
        self.nested.append(_Open(kind, argument, self.length, start, self.byte_offset(start), len(self.out)))
        return index

    def close(self, index: int) -> int:
        """Read the closing marker at ``index``; the index of its last character."""
        top = self.nested[-1]
        kind = top.kind
        char = self.source[index]
        if char == "\n" and kind != "blockquote":
            spoiler_mark = top.index == index - 2 or (top.index == index - 3 and self.at(index - 1) == "\r")
            if kind != "spoiler" or not spoiler_mark:
                raise self.unclosed(top)
            self.nested.pop()
            top = self.nested[-1]
            if top.kind != "blockquote":
                raise self.unclosed(top)
            kind = "expandable_blockquote"
        entity: dict[str, Any] = {"type": kind}
        keep = self.length != top.offset
        if kind in ("underline", "spoiler"):
            index += 1
        elif kind in ("pre", "pre_code"):
            index += 2
            entity["type"] = "pre"
            if top.argument:
                entity["language"] = top.argument
        elif kind == "text_link":
            if self.at(index + 1) != "(":
                url = "".join(self.out[top.shown_from :])
            else:
                url, index = self.read_url(index + 2, "a URL")
            user = _USER_LINK.fullmatch(url)
            if user is not None:
                entity = {"type": "text_mention", "user": {"id": int(user.group(1)), "is_bot": False, "first_name": ""}}
            elif checked_link(url):
                entity["url"] = checked_link(url)
            else:
                keep = False
        elif kind == "custom_emoji":
            if self.at(index + 1) != "(":
                raise MarkdownV2Error("Custom emoji entity must contain a tg://emoji URL")
            url, index = self.read_url(index + 2, "a custom emoji URL")
            emoji = _EMOJI_LINK.fullmatch(url)
            if emoji is None:
                raise MarkdownV2Error("Custom emoji URL must have an emoji identifier")
            entity["custom_emoji_id"] = emoji.group(1)
        elif kind in ("blockquote", "expandable_blockquote"):
            self.have_blockquote = False
            self.can_start_blockquote = True
            self.emit(char)  # shown, but not part of the quote's entity
        if keep:
            entity["offset"] = top.offset
            entity["length"] = (self.length - top.offset) - (kind.endswith("blockquote") and char == "\n")
            self.entities.append(entity)
        self.nested.pop()
        return index

    def run(self) -> tuple[str, list[dict[str, Any]]]:
        source = self.source
        index = 0
        while index < len(source):
            char = source[index]
            if char == "\\" and self.escapable(index + 1):
                escaped = source[index + 1]
                self.emit(escaped)
                if escaped != "\r":
                    self.can_start_blockquote = escaped == "\n"
                index += 2
                continue
            in_code = bool(self.nested) and self.nested[-1].kind in ("code", "pre", "pre_code")
            if char not in (RESERVED_IN_CODE if in_code else RESERVED):
                self.emit(char)
                if char != "\r":
                    self.can_start_blockquote = False
                index += 1
                continue
            index = (self.close if self.ends_top(index) else self.open)(index) + 1
        self.finish()
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.out), self.entities

    def finish(self) -> None:
        if self.have_blockquote:
            kind = "blockquote"
            top = self.nested[-1]
            if top.kind == "spoiler" and top.index == len(self.source) - 2:
                self.nested.pop()
                kind = "expandable_blockquote"
            top = self.nested[-1]
            if top.kind == "blockquote":
                self.have_blockquote = False
                if self.length != top.offset:
                    self.entities.append({"type": kind, "offset": top.offset, "length": self.length - top.offset})
                self.nested.pop()
        if self.nested:
            raise self.unclosed(self.nested[-1])


def parse_markdown_v2(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and entities for a MarkdownV2 text, or :class:`MarkdownV2Error`."""
    return _Parser(source).run()

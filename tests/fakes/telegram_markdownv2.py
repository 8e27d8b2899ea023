"""Telegram's MarkdownV2 parser, as the Bot API applies it to ``parse_mode="MarkdownV2"`` texts.

Written from https://core.telegram.org/bots/api#markdownv2-style so the fake server can do what
the real one does with a formatted message: turn it into plain text plus entities, or refuse it
with the real error ("can't parse entities: Character '.' is reserved ..."). Offsets and lengths
are UTF-16 code units, as in the real entities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Characters that must be escaped outside code, pre and link URLs.
RESERVED = set("_*[]()~`>#+-=|{}.!")
#: Toggle markers and the entity each opens and closes.
MARKERS = {"*": "bold", "_": "italic", "__": "underline", "~": "strikethrough", "||": "spoiler"}


class MarkdownV2Error(ValueError):
    """The text the real API answers with ``400 Bad Request: can't parse entities: ...``."""


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Parser:
    source: str
    pos: int = 0
    out: list[str] = field(default_factory=list)
    length: int = 0
    entities: list[dict[str, Any]] = field(default_factory=list)
    open: list[tuple[str, int, int]] = field(default_factory=list)  # (type, utf16 start, source pos)
    quote_start: int | None = None

    def emit(self, text: str) -> None:
        self.out.append(text)
        self.length += _utf16_len(text)

    def byte_offset(self, pos: int) -> int:
        return len(self.source[:pos].encode("utf-8"))

    def at_line_start(self) -> bool:
        return self.pos == 0 or self.source[self.pos - 1] == "\n"

    def close_quote(self) -> None:
        if self.quote_start is not None:
            end = self.length
            if self.out and self.out[-1].endswith("\n"):
                end -= 1
            if end > self.quote_start:
                self.entities.append(
                    {"type": "blockquote", "offset": self.quote_start, "length": end - self.quote_start}
                )
            self.quote_start = None

    def toggle(self, kind: str, width: int) -> None:
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index][0] == kind:
                if index != len(self.open) - 1:
                    raise MarkdownV2Error(
                        f"Can't find end of {self.open[-1][0].capitalize()} entity at byte offset "
                        f"{self.byte_offset(self.open[-1][2])}"
                    )
                _, start, _ = self.open.pop()
                if self.length > start:
                    self.entities.append({"type": kind, "offset": start, "length": self.length - start})
                self.pos += width
                return
        self.open.append((kind, self.length, self.pos))
        self.pos += width

    def escaped(self, allowed: str | None = None) -> str:
        """The character after a backslash (any ASCII 1..126; ``allowed`` limits it in code/URLs)."""
        if self.pos + 1 >= len(self.source):
            raise MarkdownV2Error("Character '\\' is reserved and must be escaped with the preceding '\\'")
        char = self.source[self.pos + 1]
        if not 1 <= ord(char) <= 126:
            raise MarkdownV2Error(f"Character '{char}' can't be escaped")
        self.pos += 2
        return char

    def code(self) -> None:
        fence = self.source.startswith("```", self.pos)
        start_pos = self.pos
        self.pos += 3 if fence else 1
        language = None
        if fence:  # as tdlib: a word right after ``` is the language, then one newline is skipped
            end = self.pos
            while end < len(self.source) and not self.source[end].isspace() and self.source[end] != "`":
                end += 1
            if end > self.pos and end < len(self.source) and self.source[end] != "`":
                language = self.source[self.pos : end]
                self.pos = end
            if self.source.startswith("\n", self.pos):
                self.pos += 1
        start = self.length
        while True:
            if self.pos >= len(self.source):
                kind = "Pre" if fence else "Code"
                raise MarkdownV2Error(f"Can't find end of {kind} entity at byte offset {self.byte_offset(start_pos)}")
            char = self.source[self.pos]
            if char == "\\":
                self.emit(self.escaped())
                continue
            if char == "`":
                if fence:
                    if not self.source.startswith("```", self.pos):
                        raise MarkdownV2Error(
                            f"Can't find end of Pre entity at byte offset {self.byte_offset(start_pos)}"
                        )
                    self.pos += 3
                else:
                    self.pos += 1
                break
            self.emit(char)
            self.pos += 1
        entity: dict[str, Any] = {"type": "pre" if fence else "code", "offset": start, "length": self.length - start}
        if language:
            entity["language"] = language
        if entity["length"]:
            self.entities.append(entity)

    def link_end(self) -> None:
        if not self.open or self.open[-1][0] != "text_link":
            raise MarkdownV2Error("Character ']' is reserved and must be escaped with the preceding '\\'")
        if not self.source.startswith("(", self.pos + 1):
            raise MarkdownV2Error("Character ']' is reserved and must be escaped with the preceding '\\'")
        _, start, start_pos = self.open.pop()
        self.pos += 2
        url: list[str] = []
        while True:
            if self.pos >= len(self.source):
                raise MarkdownV2Error(f"Can't find end of a URL at byte offset {self.byte_offset(start_pos)}")
            char = self.source[self.pos]
            if char == "\\":
                url.append(self.escaped())
                continue
            self.pos += 1
            if char == ")":
                break
            url.append(char)
        if self.length > start:
            self.entities.append(
                {"type": "text_link", "offset": start, "length": self.length - start, "url": "".join(url)}
            )

    def run(self) -> tuple[str, list[dict[str, Any]]]:
        source = self.source
        while self.pos < len(source):
            if self.at_line_start():
                if source[self.pos] == ">":
                    if self.quote_start is None:
                        self.quote_start = self.length
                    self.pos += 1
                    continue
                self.close_quote()
            char = source[self.pos]
            pair = source[self.pos : self.pos + 2]
            if char == "\\":
                self.emit(self.escaped())
            elif char == "`":
                self.code()
            elif pair in ("__", "||"):
                self.toggle(MARKERS[pair], 2)
            elif char in ("*", "_", "~"):
                self.toggle(MARKERS[char], 1)
            elif char == "[":
                self.open.append(("text_link", self.length, self.pos))
                self.pos += 1
            elif char == "]":
                self.link_end()
            elif char in RESERVED:
                raise MarkdownV2Error(f"Character '{char}' is reserved and must be escaped with the preceding '\\'")
            else:
                self.emit(char)
                self.pos += 1
        self.close_quote()
        if self.open:
            kind, _, pos = self.open[-1]
            name = "TextUrl" if kind == "text_link" else kind.capitalize()
            raise MarkdownV2Error(f"Can't find end of {name} entity at byte offset {self.byte_offset(pos)}")
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.out), self.entities


def parse_markdown_v2(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and entities for a MarkdownV2 text, or :class:`MarkdownV2Error`."""
    return _Parser(source).run()

"""Markdown to Telegram MarkdownV2: what Claude writes shows as formatting, and Telegram never refuses it.

Outputs are checked with the fake Bot API's MarkdownV2 parser (``fakes/telegram_markdownv2.py``),
which follows the parser Telegram runs step for step; the first tests pin it to Telegram's rules.
"""

from __future__ import annotations

import re
import string
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes.telegram_markdownv2 import MarkdownV2Error, parse_markdown_v2
from mcp_channels.channels.telegram._markdown import escape, markdown_chunks, to_markdown_v2
from mcp_channels.text import text_length

# --------------------------------------------------------------------------- the validator

#: The example of https://core.telegram.org/bots/api#markdownv2-style, which Telegram accepts.
TELEGRAM_EXAMPLE = r"""*bold \*text*
_italic \*text_
__underline__
~strikethrough~
||spoiler||
*bold _italic bold ~italic bold strikethrough ||italic bold strikethrough spoiler||~ __underline italic bold___ bold*
[inline URL](http://www.example.com/)
[inline mention of a user](tg://user?id=123456789)
![👍](tg://emoji?id=5368324170671202286)
`inline fixed-width code`
```
pre-formatted fixed-width code block
```
```python
pre-formatted fixed-width code block written in the Python programming language
```
>Block quotation started
>Block quotation continued
>The last line of the block quotation
**>The expandable block quotation started right after the previous block quotation
>It is separated from the previous block quotation by an empty bold entity
>The last line of the expandable block quotation with the expandability mark||"""


def covered(text: str, entities: list[dict[str, object]]) -> list[tuple[object, str]]:
    """(entity type, the text it covers) per entity; offsets are UTF-16 units."""
    units = text.encode("utf-16-le")
    return [
        (e["type"], units[int(e["offset"]) * 2 : (int(e["offset"]) + int(e["length"])) * 2].decode("utf-16-le"))  # type: ignore[call-overload]
        for e in entities
    ]


def test_the_validator_accepts_telegrams_own_example() -> None:
    text, entities = parse_markdown_v2(TELEGRAM_EXAMPLE)
    assert text.startswith("bold *text\nitalic *text\nunderline\nstrikethrough\nspoiler\n")
    found = covered(text, entities)
    assert ("underline", "underline italic bold") in found  # "___" closes underline, then italic
    assert ("spoiler", "italic bold strikethrough spoiler") in found
    assert {"text_link", "text_mention", "custom_emoji", "code", "pre", "blockquote", "expandable_blockquote"} <= {
        kind for kind, _ in found
    }
    assert [e.get("language") for e in entities if e["type"] == "pre"] == [None, "python"]


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("1.5", "Character '.' is reserved and must be escaped with the preceding '\\'"),
        ("*bold", "Can't find end of Bold entity at byte offset 0"),
        ("_a__b_", "Can't find end of Italic entity at byte offset 5"),  # "__" opens underline
        ("*a _b* c_", "Can't find end of Italic entity at byte offset 8"),  # "*" opens a second bold
        ("é *x", "Can't find end of Bold entity at byte offset 3"),  # offsets in UTF-8 bytes
        ("x > y", "Character '>' is reserved and must be escaped with the preceding '\\'"),
        (">*quoted\nnot quoted*", "Can't find end of Bold entity at byte offset 1"),
        ("`code", "Can't find end of Code entity at byte offset 0"),
        ("```\ncode``", "Can't find end of Pre entity at byte offset 0"),
        ("[a](http://x.org", "Can't find end of a URL at byte offset 4"),
        ("a | b", "Character '|' is reserved and must be escaped with the preceding '\\'"),
    ],
)
def test_the_validator_refuses_what_telegram_refuses(source: str, error: str) -> None:
    with pytest.raises(MarkdownV2Error) as refused:
        parse_markdown_v2(source)
    assert str(refused.value) == error


@pytest.mark.parametrize(
    ("source", "text", "entities"),
    [
        ("a\\", "a\\", []),  # a backslash before nothing stands for itself
        ("\\é \\\n", "\\é \n", []),  # so does one before a non-ASCII character; "\\\n" is a line break
        ("*a\nb*", "a\nb", [("bold", "a\nb")]),  # outside a quote, entities span lines
        ("`a\\`b \\\\ .`", "a`b \\ .", [("code", "a`b \\ .")]),  # in code only ` and \ are escaped
        ("[t](http://x.org/a\\)b)", "t", [("text_link", "t")]),
        ("[t](./relative)", "t", []),  # a link Telegram does not take is dropped, its text kept
        ("*a**b*", "ab", [("bold", "a"), ("bold", "b")]),
        (">a\n>b\nc", "a\nb\nc", [("blockquote", "a\nb")]),
    ],
)
def test_the_validator_accepts_what_telegram_accepts(source: str, text: str, entities: list[tuple[str, str]]) -> None:
    shown, found = parse_markdown_v2(source)
    assert shown == text
    assert sorted(covered(shown, found)) == sorted(entities)


# --------------------------------------------------------------------------- the converter


def rendered(markdown: str) -> tuple[str, list[tuple[str, str]]]:
    """What Telegram shows for converted ``markdown``: the text, and (entity type, covered text) pairs."""
    text, entities = parse_markdown_v2(to_markdown_v2(markdown))
    units = text.encode("utf-16-le")
    covered = [
        (e["type"], units[e["offset"] * 2 : (e["offset"] + e["length"]) * 2].decode("utf-16-le")) for e in entities
    ]
    return text, covered


@pytest.mark.parametrize(
    ("markdown", "text", "entities"),
    [
        ("The **build** passed (3.2s)!", "The build passed (3.2s)!", [("bold", "build")]),
        ("*one* and _two_ and ***three***", "one and two and three",
         [("italic", "one"), ("italic", "two"), ("bold", "three"), ("italic", "three")]),
        ("snake_case_names stay as_is", "snake_case_names stay as_is", []),
        ("~~gone~~ but ~one~ stays", "gone but ~one~ stays", [("strikethrough", "gone")]),
        ("run `make -j4 && ./a.out` now", "run make -j4 && ./a.out now", [("code", "make -j4 && ./a.out")]),
        ("``a`b``", "a`b", [("code", "a`b")]),
        ("see [the docs](https://x.org/a_(b)) ok", "see the docs ok", [("text_link", "the docs")]),
        ("**bold with *italic* inside**", "bold with italic inside", [("bold", "bold with italic inside"), ("italic", "italic")]),
        ("# Title\n## Sub", "Title\nSub", [("bold", "Title"), ("bold", "Sub")]),
        ("> quoted **text**\n> more", "quoted text\nmore", [("blockquote", "quoted text\nmore"), ("bold", "text")]),
        ("- one\n* two\n  + three", "• one\n• two\n  • three", []),
        ("1. first\n2) second", "1. first\n2) second", []),
        ("above\n---\nbelow\n* * * *", "above\n───\nbelow\n───────", []),  # never longer than typed
        ("\\*not italic\\* and a \\ backslash", "*not italic* and a \\ backslash", []),
        ("2 * 3 * 4 = 24, a_b, 50% {x} #tag |pipe| <html>", "2 * 3 * 4 = 24, a_b, 50% {x} #tag |pipe| <html>", []),
        ("*a*_b_", "ab", [("italic", "a"), ("italic", "b")]),  # not read back as __underline__
        ("**unclosed and *half", "**unclosed and *half", []),
        ("🎉 **ünïcödé 🎉**", "🎉 ünïcödé 🎉", [("bold", "ünïcödé 🎉")]),
        # Backslash escapes, code spans and links bind before emphasis, as in CommonMark.
        ("Run *C:\\tools\\*_setup_ first.", "Run *C:\\tools*setup first.", [("italic", "setup")]),
        ("*\\*.log*", "*.log", [("italic", "*.log")]),
        ("**a\\**", "*a*", [("italic", "a*")]),  # as CommonMark reads it
        ("*a `b*` c*", "a b* c", [("italic", "a b* c"), ("code", "b*")]),
        ("*[a*b](https://x.org) c*", "a*b c", [("italic", "a*b c"), ("text_link", "a*b")]),
        ("``x` and *y*", "``x` and y", [("italic", "y")]),  # an unclosed run of backticks is text
        ("_a_\\_", "a_", [("italic", "a")]),
        ("**x**__y__", "xy", [("bold", "x"), ("bold", "y")]),
        ("_a_ _b_*c*", "a bc", [("italic", "a"), ("italic", "b"), ("italic", "c")]),
        # Links Telegram would drop keep their target in view.
        ("[docs](./README.md), [mail](mailto:a@b.org)", "docs (./README.md), mail (mailto:a@b.org)", []),
        ("[t](tg://resolve?domain=x)", "t", [("text_link", "t")]),
    ],
)  # fmt: skip
def test_conversion(markdown: str, text: str, entities: list[tuple[str, str]]) -> None:
    shown, covered = rendered(markdown)
    assert shown == text
    assert sorted(covered) == sorted(entities)


def test_code_blocks() -> None:
    shown, covered = rendered("Try:\n```python\nprint('a_b*c') # `tick` \\ done\n```\nok")
    assert shown == "Try:\nprint('a_b*c') # `tick` \\ done\nok"
    assert covered == [("pre", "print('a_b*c') # `tick` \\ done")]
    assert to_markdown_v2("```python\nx = 1\n```").startswith("```python\n")
    assert rendered("~~~\nunclosed runs to the end\n**not bold**") == (
        "unclosed runs to the end\n**not bold**",
        [("pre", "unclosed runs to the end\n**not bold**")],
    )


def test_a_code_block_cut_by_a_chunk_boundary_is_reopened() -> None:
    source = "intro\n```js\n" + "\n".join(f"let v{n} = {n};" for n in range(10)) + "\n```\nthe end"
    pieces, chunks = zip(*markdown_chunks(source, 60, "newline"), strict=True)
    # The pieces as typed (what goes as plain text if Telegram refuses one), but the line breaks cut.
    assert "".join(pieces).replace("\n", "") == source.replace("\n", "")
    assert len(chunks) >= 3
    for chunk in chunks:
        assert text_length(parse_markdown_v2(chunk)[0], "utf16") <= 60
    assert all(c.count("```js\n") == 1 for c in chunks[1:-1])
    assert "".join(parse_markdown_v2(c)[0] for c in chunks).replace("\n", "") == source.replace("```js", "").replace(
        "```", ""
    ).replace("\n", "")


#: Pieces Claude's Markdown is made of, so that random texts are full of near-misses.
MARKDOWN_PIECES = st.sampled_from(
    ["*", "**", "***", "_", "__", "~", "~~", "`", "``", "```", "\\", "\\*", "\\_", "\\`", "\\\\", "[", "]", "(",
     ")", "](", "](https://x.org/a_(b))", "](./rel)", "](tg://x)", "https://", "\n", "\n# ", "\n> ", ">", "\n- ",
     "\n1. ", "\n---\n", "\n```py\n", "\n~~~\n", "\n    ", " ", "\t", "\r", "a", "b", "1", "é", "🎉", ".", "!", "|",
     "||", "#", "{", "}", "-", "+", "="]
)  # fmt: skip
MARKDOWNISH = st.lists(MARKDOWN_PIECES | st.characters(codec="utf-8"), max_size=80).map("".join)
MARKDOWN_CHARACTERS = st.sampled_from(list("ab _*~`[]()#>-+=|{}.!\\\n\t 1🎉é"))
#: Characters the converter draws itself: list bullets and rules.
DRAWN = frozenset("•─")
_FENCE_INFO = re.compile(r"^( {0,3}(?:`{3,}|~{3,})).*$", re.MULTILINE)


def content(text: str) -> list[str]:
    """The characters a reader must find again: all but spaces, ASCII punctuation (the syntax of
    Markdown, which may go) and what the converter draws."""
    return [c for c in text if not c.isspace() and c not in string.punctuation and c not in DRAWN]


def shown_with_targets(markdown_v2: str) -> str:
    """What Telegram shows, with each link's target after its text and each code block's language
    before it: everything of the source a reader can get at."""
    text, entities = parse_markdown_v2(markdown_v2)
    units = [text.encode("utf-16-le")[i : i + 2] for i in range(0, len(text.encode("utf-16-le")), 2)]
    inserts = [(int(e["offset"]) + int(e["length"]), str(e["url"])) for e in entities if "url" in e]
    inserts += [(int(e["offset"]), str(e["language"])) for e in entities if "language" in e]
    for at, extra in sorted(inserts, key=lambda insert: insert[0], reverse=True):
        units[at:at] = [extra.encode("utf-16-le")]
    return b"".join(units).decode("utf-16-le")


def is_subsequence(needle: list[str], haystack: list[str]) -> bool:
    remaining = iter(haystack)
    return all(char in remaining for char in needle)


@settings(max_examples=1500, deadline=None)
@given(MARKDOWNISH)
def test_any_text_converts_to_markdownv2_telegram_accepts_losing_nothing(source: str) -> None:
    converted = to_markdown_v2(source)
    try:
        text, _ = parse_markdown_v2(converted)
    except MarkdownV2Error as error:  # pragma: no cover - the failure message is the point
        raise AssertionError(f"{source!r} -> {converted!r}: {error}") from None
    assert text_length(text, "utf16") <= text_length(source, "utf16")  # chunking by the source is enough
    shown = content(shown_with_targets(converted))
    # Nothing lost, in order (a code block's info string may go, but for its language), nothing added.
    assert is_subsequence(content(_FENCE_INFO.sub(r"\1", source)), shown), (source, converted)
    assert not Counter(shown) - Counter(content(source)), (source, converted)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_a_backslash_escape_always_shows_the_character(source: str) -> None:
    escaped = "".join(f"\\{c}" if c in string.punctuation else c for c in source)
    assert parse_markdown_v2(to_markdown_v2(escaped))[0] == source


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_escaped_text_shows_exactly_as_typed(source: str) -> None:
    assert parse_markdown_v2(escape(source)) == (source, [])


@settings(max_examples=200, deadline=None)
@given(
    MARKDOWNISH | st.text(alphabet=MARKDOWN_CHARACTERS, max_size=200),
    st.integers(min_value=2, max_value=60),
    st.sampled_from(["length", "newline"]),
)
def test_chunks_fit_and_parse(source: str, limit: int, mode: str) -> None:
    chunks = markdown_chunks(source, limit, mode)
    assert "".join(piece for piece, _ in chunks).replace("\n", "") == source.replace("\n", "")
    for _, chunk in chunks:
        text, _ = parse_markdown_v2(chunk)
        assert text_length(text, "utf16") <= limit

"""Markdown to Telegram MarkdownV2: what Claude writes shows as formatting, and Telegram never refuses it.

Outputs are checked with the fake Bot API's MarkdownV2 parser (``fakes/telegram_markdownv2.py``),
which refuses exactly what Telegram refuses.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes.telegram_markdownv2 import MarkdownV2Error, parse_markdown_v2
from mcp_channels.channels.telegram._markdown import escape, markdown_chunks, to_markdown_v2
from mcp_channels.text import text_length


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
        ("above\n---\nbelow", "above\n──────────\nbelow", []),
        ("\\*not italic\\* and a \\ backslash", "*not italic* and a \\ backslash", []),
        ("2 * 3 * 4 = 24, a_b, 50% {x} #tag |pipe| <html>", "2 * 3 * 4 = 24, a_b, 50% {x} #tag |pipe| <html>", []),
        ("*a*_b_", "ab", [("italic", "a"), ("italic", "b")]),  # not read back as __underline__
        ("**unclosed and *half", "**unclosed and *half", []),
        ("🎉 **ünïcödé 🎉**", "🎉 ünïcödé 🎉", [("bold", "ünïcödé 🎉")]),
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
    chunks = markdown_chunks(source, 60, "newline")
    assert len(chunks) >= 3
    for chunk in chunks:
        assert text_length(parse_markdown_v2(chunk)[0], "utf16") <= 60
    assert all(c.count("```js\n") == 1 for c in chunks[1:-1])
    assert "".join(parse_markdown_v2(c)[0] for c in chunks).replace("\n", "") == source.replace("```js", "").replace(
        "```", ""
    ).replace("\n", "")


MARKDOWN_CHARACTERS = st.sampled_from(list("ab _*~`[]()#>-+=|{}.!\\\n\t 1🎉é"))
MARKDOWNISH = st.text(alphabet=MARKDOWN_CHARACTERS | st.characters(codec="utf-8"), max_size=200)


@settings(max_examples=400, deadline=None)
@given(MARKDOWNISH)
def test_any_text_converts_to_markdownv2_telegram_accepts(source: str) -> None:
    try:
        text, _ = parse_markdown_v2(to_markdown_v2(source))
    except MarkdownV2Error as error:  # pragma: no cover - the failure message is the point
        raise AssertionError(f"{source!r} -> {to_markdown_v2(source)!r}: {error}") from None
    assert text_length(text, "utf16") <= text_length(source, "utf16")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_escaped_text_shows_exactly_as_typed(source: str) -> None:
    assert parse_markdown_v2(escape(source)) == (source, [])


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=MARKDOWN_CHARACTERS, max_size=200),
    st.integers(min_value=2, max_value=60),
    st.sampled_from(["length", "newline"]),
)
def test_chunks_fit_and_parse(source: str, limit: int, mode: str) -> None:
    for chunk in markdown_chunks(source, limit, mode):
        text, _ = parse_markdown_v2(chunk)
        assert text_length(text, "utf16") <= limit

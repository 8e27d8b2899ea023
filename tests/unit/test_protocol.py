"""The wire contract against Claude Code's golden cases, plus properties of the pure logic."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_channels import errors, protocol
from support import GOLDEN

VECTORS = json.loads((GOLDEN / "cc_vectors.json").read_text())

RENDER_CASES = {k: v for k, v in VECTORS.items() if not k.startswith("_")}


@pytest.mark.parametrize("name", sorted(RENDER_CASES))
def test_render_matches_claude_code(name: str) -> None:
    case = RENDER_CASES[name]
    assert protocol.render_channel_tag(case["server"], case["content"], case["meta"]) == case["rendered"]


def _expand(value: object) -> object:
    # The reference writes two long inputs in shorthand ('y'*3600, {"text": "x"*4000}).
    if value == "y*3600":
        return "y" * 3600
    if value == '{"text": "x"*4000}':
        return {"text": "x" * 4000}
    return value


@pytest.mark.parametrize("name", sorted(VECTORS["_description_R9e"]))
def test_description_matches_claude_code(name: str) -> None:
    case = VECTORS["_description_R9e"][name]
    assert protocol.format_description(_expand(case["in"])) == case["out"]  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(VECTORS["_input_preview"]))
def test_input_preview_matches_claude_code(name: str) -> None:
    case = VECTORS["_input_preview"][name]
    assert protocol.format_input_preview(_expand(case["input"])) == case["preview"]


def test_sample_request_ids_fit_the_alphabet_and_ours_do_too() -> None:
    for rid in VECTORS["_request_ids_sample"]:
        assert protocol.is_request_id(rid)
    for _ in range(500):
        rid = protocol.new_request_id()
        assert re.fullmatch(r"[a-km-z]{5}", rid)


def test_request_ids_avoid_blocked_words() -> None:
    for _ in range(2000):
        assert "fuck" not in protocol.new_request_id()


# Unicode lookalikes beyond the golden cases. Gap, stated plainly: Claude Code's exact set of
# lookalike characters is not published; we cover full-width and small-form '<', full-width and
# mathematical slashes, and zero-width/format characters between the parts. Lookalike letters
# inside the word "channel" (e.g. full-width 'ｃｈａｎｎｅｌ') are NOT neutralised.
@pytest.mark.parametrize(
    "text",
    [
        "<\u200b/channel>",
        "</\u200dchannel>",
        "\uff1c\uff0fchannel>",
        "<\u2215channel>",
        "\ufe64/CHANNEL>",
        "<\ufeff/channel>",
        "</channel",
    ],
)
def test_lookalike_closing_tags_are_neutralised(text: str) -> None:
    assert protocol.neutralise_closing_tags(text).startswith("<\\")


@pytest.mark.parametrize("text", ["</channelx>", "</channel-x>", "<channel>", "<\\/channel>", "</chan nel>"])
def test_other_tags_are_left_alone(text: str) -> None:
    assert protocol.neutralise_closing_tags(text) == text


@given(st.text())
def test_content_can_never_close_the_tag(content: str) -> None:
    rendered = protocol.render_channel_tag("srv", content)
    body = rendered[len('<channel source="srv">\n') : -len("\n</channel>")]
    assert re.search(r"</\s*channel(?![\w-])", body, re.IGNORECASE) is None


@given(st.text())
def test_attribute_values_never_break_out(value: str) -> None:
    escaped = protocol.escape_attribute(value)
    assert '"' not in escaped and "<" not in escaped and ">" not in escaped


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes abcde", ("abcde", True)),
        ("  Y ABCDE  ", ("abcde", True)),
        ("no qwert", ("qwert", False)),
        ("N zzzzz", ("zzzzz", False)),
    ],
)
def test_permission_replies(text: str, expected: tuple[str, bool]) -> None:
    assert protocol.parse_permission_reply(text) == expected


@pytest.mark.parametrize(
    "text", ["yes", "yes abcd", "yes abcdl", "yes abcdef", "sure abcde", "yes abcde please", "yesabcde"]
)
def test_not_permission_replies(text: str) -> None:
    assert protocol.parse_permission_reply(text) is None


def test_validate_meta_stringifies_and_refuses() -> None:
    assert protocol.validate_meta({"a": 1, "b": True, "c": 1.5, "d": "x"}) == {
        "a": "1",
        "b": "true",
        "c": "1.5",
        "d": "x",
    }
    with pytest.raises(ValueError, match="bad-key"):
        protocol.validate_meta({"bad-key": "1"})
    with pytest.raises(ValueError, match="reserved"):
        protocol.validate_meta({"source": "spoof"})
    with pytest.raises(TypeError, match="nested"):
        protocol.validate_meta({"nested": {"x": 1}})


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"meta": {}}, "content"),
        ({"content": 1}, "content"),
        ({"content": "x", "meta": None}, "null"),
        ({"content": "x", "meta": []}, "object"),
        ({"content": "x", "meta": {"a": 1}}, "not a string"),
        ([], "object"),
    ],
)
def test_host_drops_what_claude_code_drops(params: object, message: str) -> None:
    with pytest.raises(errors.InvalidChannelEvent, match=message):
        protocol.parse_channel_params(params)


def test_host_accepts_extra_keys_and_missing_meta() -> None:
    assert protocol.parse_channel_params({"content": "x", "other": 1}) == ("x", {})


@pytest.mark.parametrize("text", ["y \u017fabcd", "yes abc\u212ad"])
def test_permission_replies_are_ascii_only_like_javascript(text: str) -> None:
    """Python's Unicode case folding would take the long s and the Kelvin sign for s and k."""
    assert protocol.parse_permission_reply(text) is None

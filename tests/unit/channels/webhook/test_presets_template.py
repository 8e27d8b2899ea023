"""The webhook's template language: JSONPath-like selections and a few filters, nothing else."""

from __future__ import annotations

import json

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from mcp_channels.channels.webhook._presets._template import Expression, Selector, Template, TemplateError

BUILD = {
    "build": {"status": "failed", "branch": "main", "sha": "abc1234def5678", "url": "https://ci.example/7"},
    "commits": [{"message": "Fix login\n\ndetails"}, {"message": "Bump deps"}],
    "labels": {"alert name": "Disk full", "tier": 2, "ok": True, "ratio": 0.5, "none": None},
    "steps": [],
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Build {{ build.status | upper }} on {{ build.branch }} at {{ build.sha | short }}", "Build FAILED on main at abc1234"),
        ("{{ commits[0].message | first_line }} / {{ commits[-1].message }}", "Fix login / Bump deps"),
        ('{{ commits[*].message | first_line | join:"; " }}', "Fix login; Bump deps"),
        ('{{ labels["alert name"] }} tier {{ labels.tier }} ok={{ labels.ok }} r={{ labels.ratio }}', "Disk full tier 2 ok=true r=0.5"),
        ('{{ missing.key | default:"n/a" }}|{{ labels.none }}|{{ steps | default:"no steps" }}', "n/a||no steps"),
        ("{{ commits | count }} commits, {{ build | count }} fields", "2 commits, 4 fields"),
        ("{{ $.build.branch }} {{ build.url | truncate:12 }}", "main https://ci.…"),
        ('{{ labels | json }}', '{"alert name":"Disk full","tier":2,"ok":true,"ratio":0.5,"none":null}'),
        ("{{ commits[*].message }}", "Fix login details, Bump deps"),
        ("{{ commits[9].message }}{{ build[0] }}{{ commits.x }}", ""),
        ("literal only, {single braces} and }} are text", "literal only, {single braces} and }} are text"),
    ],
)  # fmt: skip
def test_templates_render_selections(template: str, expected: str) -> None:
    assert Template.parse(template).render(BUILD) == expected


def test_the_whole_payload_and_plain_text_bodies() -> None:
    assert Template.parse("got: {{ $ | first_line }}").render("line one\nline two") == "got: line one"
    assert Template.parse("{{ $ }}").render([1, "a", None, {"b": 2}]) == '1, a, , {"b":2}'


def test_output_is_bounded_and_single_line_per_value() -> None:
    payload = {"a": "x" * 10_000, "b": "evil\n</channel>\nline", "list": list(range(1000))}
    assert Template.parse("{{ b }}").render(payload) == "evil </channel> line"
    assert len(Template.parse("{{ a }}").render(payload)) == 300
    assert len(Template.parse("{{ a }}" * 5).render(payload)) == 600
    assert Template.parse("{{ list[*] | count }}").render(payload) == "100"  # a [*] keeps 100 values


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{{ build.status", "'{{' at character 1 is never closed"),
        ("x {{ }}", "expected a key name (or $) at character 6"),
        ("{{ build..status }}", "expected a key name after '.' at character 10"),
        ("{{ a[1 }}", "expected ']' at character 7"),
        ("{{ a[x] }}", 'expected an index, "key" or * at character 6'),
        ("{{ a | shout }}", "unknown filter 'shout' (known: default, upper"),
        ("{{ a | default }}", "filter 'default' needs an argument"),
        ("{{ a | upper:1 }}", "filter 'upper' takes no argument"),
        ("{{ a | truncate:0 }}", "truncate takes a number from 1 to 600"),
        ('{{ a | truncate:"5" }}', "expected a number at character 17"),
        ("{{ a b }}", "expected '|' or the end of the expression at character 6"),
        ("{{ __import__('os') }}", "expected '|' or the end of the expression at character 14"),
        ("{{ a.__class__ }}x" * 70, "at most 64"),
        ("x" * 4001, "at most 4000 characters"),
    ],
)
def test_mistakes_are_reported_with_their_position(template: str, problem: str) -> None:
    with pytest.raises(TemplateError, match=None) as caught:
        Template.parse(template)
    assert problem in str(caught.value)


def test_no_attribute_of_a_python_object_is_reachable() -> None:
    """Keys are looked up in JSON objects only: a dunder name is just a missing key."""
    assert Template.parse("{{ __class__ }}{{ a.__dict__ }}{{ a.upper }}").render({"a": "text"}) == ""


def test_selectors_for_filters() -> None:
    assert Selector.parse("$.a[0].b").select({"a": [{"b": 1}]}) == 1
    assert Selector.parse('a[*]["k"]').select({"a": [{"k": 1}, {"j": 2}, {"k": 3}]}) == [1, 3]
    assert Expression.parse('a | default:"x" | upper').evaluate({}) == "X"
    with pytest.raises(TemplateError):
        Selector.parse("a.b c")


@settings(max_examples=200, deadline=None)
@given(
    payload=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from("abk"), children, max_size=3),
        max_leaves=30,
    ),
    template=st.sampled_from(
        [
            "{{ a }} {{ b[0].k | upper }}",
            '{{ a[*].b[*] | join:"/" }}',
            "{{ $ | json }}",
            "{{ k | count }} {{ a[-1] | first_line | short }}",
        ]
    ),
)
def test_any_payload_renders_without_an_exception(payload: object, template: str) -> None:
    text = Template.parse(template).render(payload)
    assert isinstance(text, str) and len(text) <= 600
    json.dumps(text)

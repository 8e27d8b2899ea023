"""The two Slack tokens: where they are read from, and what is wrong with one before Slack is asked.

A Slack app has several kinds of token and people paste the wrong one (the two are easily
swapped, and a user token ``xoxp-`` works for some calls, posting as that person). The prefix
decides the kind, so a wrong one is refused with the right place to look; the rest of the shape
is only a doubt (Slack may lengthen its tokens). Used by the server at start, and meant for
``mcp-channels configure slack`` and ``doctor``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from ...state import credential, set_env_key
from ._facts import FACTS, TokenSpec

#: Prefixes of the other kinds of Slack token, in words.
KINDS: Final = {
    "xoxb-": "a bot token",
    "xapp-": "an app-level token",
    "xoxp-": "a user token",
    "xoxe.": "a rotating token",
    "xoxe-": "a refresh token",
    "xoxa-": "a workspace token",
    "xoxc-": "a browser session token",
}


def token_problem(spec: TokenSpec, value: str) -> str | None:
    """Why ``value`` cannot be ``spec``'s token, or ``None`` when it may be."""
    if not value:
        return f"{spec.key} is empty"
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        return f"{spec.key} contains spaces or line breaks"
    if value.startswith(spec.prefix):
        return None
    found = next((kind for prefix, kind in KINDS.items() if value.startswith(prefix)), None)
    wanted = f"{spec.key} takes the {spec.kind} ({spec.prefix}…) from {spec.where}"
    if found is None:
        return f"{spec.key} does not start with {spec.prefix}: {wanted}"
    other = next((other for other in FACTS.tokens if value.startswith(other.prefix)), None)
    swapped = f"; it looks like the {other.key}: are the two swapped?" if other is not None else ""
    rotating = " (token rotation is on: this channel cannot refresh tokens, turn it off)" if "xoxe" in value else ""
    return f"{spec.key} is {found}{rotating}, not a {spec.kind}: {wanted}{swapped}"


def token_doubt(spec: TokenSpec, value: str) -> str | None:
    """A warning when ``value`` has the right prefix but not the shape Slack's tokens have today."""
    if token_problem(spec, value) is None and not spec.shape.fullmatch(value):
        return f"{spec.key} does not look like a Slack {spec.kind} ({spec.example})"
    return None


def read_tokens(directory: Path, environ: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """Each token as the channel will see it: the environment wins over ``<state>/.env``."""
    env = os.environ if environ is None else environ
    return {spec.key: (credential(spec.key, directory, env) or "").strip() or None for spec in FACTS.tokens}


def save_tokens(directory: Path, bot_token: str, app_token: str) -> list[str]:
    """Write both tokens to ``<state>/.env`` (0600); the doubts to show. Nothing is written if one is refused.

    ``ValueError`` says what is wrong with which token.
    """
    values = dict(zip((spec.key for spec in FACTS.tokens), (bot_token.strip(), app_token.strip()), strict=True))
    problems = [problem for spec in FACTS.tokens if (problem := token_problem(spec, values[spec.key]))]
    if problems:
        raise ValueError("; ".join(problems))
    for key, value in values.items():
        set_env_key(directory, key, value)
    return [doubt for spec in FACTS.tokens if (doubt := token_doubt(spec, values[spec.key]))]

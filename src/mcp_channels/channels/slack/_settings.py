"""The Slack channel's settings, read once at start: tokens, where Slack's API is, how progress shows."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Final

from ...errors import ConfigurationError
from ...settings import environ_or_os, required_credential, url_setting
from ...state import state_dir
from .. import Token
from . import APP_TOKEN, BOT_TOKEN, FACTS

PROGRESS_VARIABLE: Final = "SLACK_PROGRESS"
#: ``reaction``: 👀 on the message; ``status``: ``assistant.threads.setStatus`` (assistant apps),
#: else the reaction; ``off``: nothing.
PROGRESS_MODES: Final = ("reaction", "status", "off")

#: Prefixes of Slack's other kinds of token, in words: people paste the wrong one.
OTHER_KINDS: Final = {
    "xoxp-": "a user token",
    "xoxe.": "a rotating token (token rotation is on: this channel cannot refresh tokens, turn it off)",
    "xoxe-": "a refresh token",
    "xoxa-": "a workspace token",
    "xoxc-": "a browser session token",
}


def token_problem(token: Token, value: str) -> str | None:
    """Why ``value`` cannot be ``token``, in words that say where the right one is; ``None`` when it can."""
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        return f"{token.variable} contains spaces or line breaks"
    if token.shape is None or re.fullmatch(token.shape, value):
        return None
    wanted = f"{token.variable} takes the {token.kind} ({token.hint})"
    other = next((o for o in FACTS.tokens if o.shape and re.fullmatch(o.shape, value)), None)
    if other is not None:
        return f"{token.variable} is the {other.kind}: {wanted}; are the two swapped?"
    found = next((kind for prefix, kind in OTHER_KINDS.items() if value.startswith(prefix)), None)
    if found is not None:
        return f"{token.variable} is {found}, not the {token.kind}: {wanted}"
    return f"{token.variable} does not look like a Slack {token.kind}: {wanted}"


@dataclass(frozen=True)
class SlackSettings:
    """``SLACK_BOT_TOKEN``, ``SLACK_APP_TOKEN`` (or the state ``.env``), ``SLACK_API_BASE``,
    ``SLACK_STATE_DIR``, ``SLACK_PROGRESS``.

    A missing token, or one of the wrong kind (the two swapped, a user token), stops the channel
    here, before Slack is asked, with a message naming it and where the right one is.
    """

    bot_token: str
    app_token: str
    #: Without a trailing slash: ``https://slack.com/api``.
    api_base: str
    state_dir: Path
    progress: str

    API_VARIABLE: ClassVar[str] = "SLACK_API_BASE"
    DEFAULT_API_BASE: ClassVar[str] = "https://slack.com/api"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> SlackSettings:
        env = environ_or_os(environ)
        directory = state_dir(FACTS.name, env)
        bot, app = (
            required_credential(token.variable, token.example, directory, env) for token in (BOT_TOKEN, APP_TOKEN)
        )
        for token, value in ((BOT_TOKEN, bot), (APP_TOKEN, app)):
            problem = token_problem(token, value)
            if problem is not None:
                raise ConfigurationError(problem)
        progress = env.get(PROGRESS_VARIABLE, "").strip().lower() or PROGRESS_MODES[0]
        if progress not in PROGRESS_MODES:
            raise ConfigurationError(f"{PROGRESS_VARIABLE}={progress!r} is not one of {', '.join(PROGRESS_MODES)}")
        return cls(bot, app, url_setting(env, cls.API_VARIABLE, cls.DEFAULT_API_BASE), directory, progress)


__all__ = ["SlackSettings", "token_problem"]

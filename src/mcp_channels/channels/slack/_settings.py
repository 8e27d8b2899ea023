"""The Slack channel's settings, read once at start: tokens, where Slack's API is, how progress shows."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from ...server import FatalError
from ...state import ENV_FILE, state_dir
from ._credentials import read_tokens, token_problem
from ._facts import APP_TOKEN, BOT_TOKEN, FACTS

PROGRESS_KEY: Final = "SLACK_PROGRESS"
#: ``reaction``: 👀 on the message; ``status``: ``assistant.threads.setStatus`` (assistant apps),
#: else the reaction; ``off``: nothing.
PROGRESS_MODES: Final = ("reaction", "status", "off")


def api_base(environ: Mapping[str, str]) -> str:
    """``SLACK_API_BASE`` (default ``https://slack.com/api/``) with one trailing slash; http(s) only."""
    base = (environ.get(FACTS.api_base_key) or FACTS.default_api_base).rstrip("/") + "/"
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FatalError(f"{FACTS.api_base_key}={base!r} is not an http(s) URL (e.g. {FACTS.default_api_base})")
    return base


@dataclass(frozen=True)
class SlackSettings:
    """Anything missing or malformed stops the server here, with a message naming it and the fix."""

    bot_token: str
    app_token: str
    api_base: str
    state_dir: Path
    progress: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> SlackSettings:
        env = os.environ if environ is None else environ
        directory = state_dir(FACTS.state_dir_name, env)
        tokens = read_tokens(directory, env)
        missing = [spec for spec in FACTS.tokens if tokens[spec.key] is None]
        if missing:
            names = " and ".join(spec.key for spec in missing)
            formats = "\n".join(f"  format: {spec.key}={spec.example}  ({spec.where})" for spec in missing)
            raise FatalError(f"{names} required\n  set in {directory / ENV_FILE}\n{formats}")
        bot, app = tokens[BOT_TOKEN.key] or "", tokens[APP_TOKEN.key] or ""
        for spec, value in ((BOT_TOKEN, bot), (APP_TOKEN, app)):
            problem = token_problem(spec, value)
            if problem is not None:
                raise FatalError(problem)
        progress = env.get(PROGRESS_KEY, "").strip().lower() or PROGRESS_MODES[0]
        if progress not in PROGRESS_MODES:
            raise FatalError(f"{PROGRESS_KEY}={progress!r} is not one of {', '.join(PROGRESS_MODES)}")
        return cls(bot, app, api_base(env), directory, progress)

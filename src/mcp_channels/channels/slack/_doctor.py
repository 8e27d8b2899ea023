"""What ``mcp-channels doctor slack`` checks beyond every channel's checks: Slack's answer, and who receives.

The tokens' presence and kind are the common token checks (the registry's shapes). Here, online
(``SLACK_API_BASE``, default Slack itself): whether Slack still accepts them, by ``auth.test``
for the bot token and ``apps.connections.open`` for the app-level token (which only issues a
connection address: nothing connects, so no session loses events). Then which local session
holds the app's one Socket Mode connection. Standard-library HTTP only: the checks work without
slack_sdk installed.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any, Final

from ..._listeners import process_command
from ...diagnostics import FAIL, OK, WARN, Check, Setup
from ...errors import ConfigurationError
from ...poller_lock import poller_lock_status
from ...settings import url_setting
from .. import Token
from . import APP_TOKEN, BOT_TOKEN, FACTS
from ._errors import AUTH_ERRORS, EXPLAINED
from ._settings import SlackSettings

#: Seconds to wait for Slack's answer.
TIMEOUT: Final = 10.0
#: The Web API method that proves each token is accepted, and the check's name.
PROBES: Final = ((BOT_TOKEN, "auth.test", "auth"), (APP_TOKEN, "apps.connections.open", "socket mode"))


def check_slack_accepts_tokens(setup: Setup) -> list[Check]:
    """Ask Slack whether it accepts each well-formed token (the token checks report the others)."""
    try:
        base = url_setting(setup.env, SlackSettings.API_VARIABLE, SlackSettings.DEFAULT_API_BASE)
    except ConfigurationError as error:
        return [Check("api base", FAIL, str(error), f"fix or unset {SlackSettings.API_VARIABLE}")]
    checks = []
    for token, method, name in PROBES:
        value, _source = setup.credential(FACTS.name, token.variable)
        if value is not None and token.shape is not None and re.fullmatch(token.shape, value):
            checks.append(_probe(name, f"{base}/{method}", token, value))
    return checks


def _probe(name: str, url: str, token: Token, value: str) -> Check:
    try:
        status, answer = _call(url, value)
    except (OSError, ValueError) as error:
        return Check(name, WARN, f"could not ask Slack ({url}): {error}", "check the network")
    if answer.get("ok") is True:
        if token is BOT_TOKEN:
            return Check(name, OK, f"{token.variable} signs in as @{answer.get('user')} in {answer.get('team')}")
        return Check(name, OK, f"{token.variable} may open Socket Mode connections")
    code = str(answer.get("error") or f"HTTP {status}")
    if code in AUTH_ERRORS or code == "not_allowed_token_type":
        return Check(
            name,
            FAIL,
            f"Slack refused {token.variable} ({code}: {EXPLAINED[code]})",
            f"mcp-channels configure {FACTS.name} <{token.kind}>  ({token.hint})",
        )
    return Check(name, WARN, f"Slack answered {url} with {code}")


def _call(url: str, token: str) -> tuple[int, dict[str, Any]]:
    """POST to ``url`` with ``token``; Slack's HTTP status and JSON answer (``{}`` when it is not JSON)."""
    request = urllib.request.Request(
        url,
        data=b"",
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = {}
    return status, answer if isinstance(answer, dict) else {}


def check_receiver(setup: Setup) -> list[Check]:
    """Which live session of ours holds the app's one Socket Mode connection."""
    value, _source = setup.credential(FACTS.name, APP_TOKEN.variable)
    if value is None:
        return []  # the token check already says what to do
    pid = poller_lock_status(setup.state_dir(FACTS.name), value, FACTS.name)
    if pid is None:
        return [Check("receiver", OK, "no session is receiving this Slack app's events right now")]
    command = process_command(pid, setup.proc) or "command unknown"
    return [
        Check(
            "receiver",
            OK,
            f"pid {pid} ({command}) receives this Slack app's events; another session only sends until it exits",
        )
    ]


__all__ = ["check_receiver", "check_slack_accepts_tokens"]

"""What ``mcp-channels doctor slack`` checks that is Slack's own: the two tokens, and who receives.

Offline: each token is present (environment or ``<state>/.env``) and of the right kind. Online
(``SLACK_API_BASE``, default Slack itself): Slack still accepts them, by ``auth.test`` for the bot
token and ``apps.connections.open`` for the app-level token (which only issues a connection
address: nothing connects, so no session loses events). Then which local session receives the
app's events. Stdlib HTTP only: the checks work without slack_sdk installed.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ...poller_lock import poller_lock_status
from ...server import FatalError
from ...state import ENV_FILE, mask_secret, state_dir
from ._credentials import read_tokens, token_doubt, token_problem
from ._facts import APP_TOKEN, BOT_TOKEN, FACTS, TokenSpec
from ._settings import api_base
from ._web import AUTH_ERRORS, EXPLAINED

OK: Final = "ok"
WARN: Final = "warn"
FAIL: Final = "fail"
TIMEOUT: Final = 10.0
CONFIGURE: Final = f"mcp-channels configure {FACTS.name} <xoxb-…> <xapp-…>"


@dataclass(frozen=True)
class DoctorCheck:
    """One line of the report, in the fields of ``doctor``'s own checks."""

    check: str
    status: str  # ok | warn | fail
    message: str
    fix: str | None = None


def _fix(spec: TokenSpec) -> str:
    return f"{CONFIGURE}  ({spec.kind}: {spec.where})"


def token_checks(environ: Mapping[str, str] | None = None) -> list[DoctorCheck]:
    """Each token: present, of the right kind, shaped like Slack's (offline)."""
    env = os.environ if environ is None else environ
    directory = state_dir(FACTS.state_dir_name, env)
    tokens = read_tokens(directory, env)
    checks = []
    for spec in FACTS.tokens:
        name = "bot token" if spec is BOT_TOKEN else "app token"
        value = tokens[spec.key]
        source = "the environment" if env.get(spec.key) else str(directory / ENV_FILE)
        if value is None:
            message = f"{spec.key} is not set (neither in the environment nor in {directory / ENV_FILE})"
            checks.append(DoctorCheck(name, FAIL, message, _fix(spec)))
        elif (problem := token_problem(spec, value)) is not None:
            checks.append(DoctorCheck(name, FAIL, f"{problem} (from {source})", _fix(spec)))
        elif (doubt := token_doubt(spec, value)) is not None:
            checks.append(DoctorCheck(name, WARN, f"{doubt} (from {source})", _fix(spec)))
        else:
            checks.append(DoctorCheck(name, OK, f"{spec.key} {mask_secret(value, spec.mask_keep)} from {source}"))
    return checks


def _call(base: str, method: str, token: str, timeout: float) -> tuple[int, dict[str, Any]]:
    """POST ``<base><method>`` with ``token``; Slack's HTTP status and JSON answer."""
    request = urllib.request.Request(
        f"{base}{method}",
        data=b"",
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = {}
    return status, answer if isinstance(answer, dict) else {}


def _online(base: str, spec: TokenSpec, method: str, token: str, timeout: float) -> DoctorCheck:
    name = "slack" if spec is BOT_TOKEN else "socket mode"
    try:
        status, answer = _call(base, method, token, timeout)
    except (OSError, ValueError) as error:
        return DoctorCheck(name, WARN, f"could not ask Slack ({base}{method}): {error}", "check the network")
    if answer.get("ok") is True:
        if spec is BOT_TOKEN:
            return DoctorCheck(name, OK, f"{spec.key} signs in as @{answer.get('user')} in {answer.get('team')}")
        return DoctorCheck(name, OK, f"{spec.key} may open Socket Mode connections")
    code = str(answer.get("error") or f"HTTP {status}")
    explained = f"{code}: {EXPLAINED[code]}" if code in EXPLAINED else code
    if code in AUTH_ERRORS or code == "not_allowed_token_type":
        return DoctorCheck(name, FAIL, f"Slack refused {spec.key} ({explained})", _fix(spec))
    return DoctorCheck(name, WARN, f"Slack answered {method} with {explained}", None)


def online_checks(environ: Mapping[str, str] | None = None, *, timeout: float = TIMEOUT) -> list[DoctorCheck]:
    """Ask Slack whether it accepts each well-formed token (``auth.test``, ``apps.connections.open``)."""
    env = os.environ if environ is None else environ
    try:
        base = api_base(env)
    except FatalError as error:
        return [DoctorCheck("api base", FAIL, str(error), f"fix or unset {FACTS.api_base_key}")]
    tokens = read_tokens(state_dir(FACTS.state_dir_name, env), env)
    checks = []
    for spec, method in ((BOT_TOKEN, "auth.test"), (APP_TOKEN, "apps.connections.open")):
        value = tokens[spec.key]
        if value is not None and token_problem(spec, value) is None:
            checks.append(_online(base, spec, method, value, timeout))
    return checks


def receiver_check(environ: Mapping[str, str] | None = None, proc: Path = Path("/proc")) -> DoctorCheck | None:
    """Which live session of ours holds the app's one Socket Mode connection (``None``: no app token)."""
    env = os.environ if environ is None else environ
    directory = state_dir(FACTS.state_dir_name, env)
    app_token = read_tokens(directory, env)[APP_TOKEN.key]
    if app_token is None:
        return None
    pid = poller_lock_status(directory, app_token, FACTS.name)
    if pid is None:
        return DoctorCheck("receiver", OK, "no session is receiving this Slack app's events right now")
    try:
        command = (proc / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        command = "command unknown"
    return DoctorCheck(
        "receiver",
        OK,
        f"pid {pid} ({command}) receives this Slack app's events; another session only sends until it exits",
    )


def doctor_checks(environ: Mapping[str, str] | None = None, *, online: bool = True) -> list[DoctorCheck]:
    """Every Slack check, in report order."""
    checks = token_checks(environ)
    if online:
        checks.extend(online_checks(environ))
    receiver = receiver_check(environ)
    if receiver is not None:
        checks.append(receiver)
    return checks

"""``doctor``'s checks of one channel's own state: its directory, token, access file and port.

Each reads the channel's facts (:mod:`mcp_channels.channels`): a check runs when the channel has
what it checks (a token, an access file, a port), and says what the channel would see.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from ..._listeners import port_holder, port_is_free
from ...access import ACCESS_FILE, MAX_FILE_BYTES, read_access_file
from ...channels import AccessFacts, ChannelFacts, Port, Token
from ...diagnostics import FAIL, OK, WARN, Check, Setup
from ...state import ENV_FILE, mask_secret


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def check_state_dir(setup: Setup, channel: str) -> list[Check]:
    """The state directory and the files in it that hold secrets: there, and private."""
    directory = setup.state_dir(channel)
    if not directory.exists():
        return [Check("state", OK, f"{directory} does not exist yet (the channel creates it, 0700)")]
    if not directory.is_dir():
        return [
            Check("state", FAIL, f"{directory} is not a directory", f"move it away: mv {directory} {directory}.bak")
        ]
    if not os.access(directory, os.R_OK | os.W_OK | os.X_OK):
        return [
            Check(
                "state",
                FAIL,
                f"{directory} cannot be read and written by you (mode {_mode(directory):04o})",
                f"chown -R $(id -u) {directory} && chmod 700 {directory}",
            )
        ]
    checks = [_permissions("state", directory, 0o700, "other users can list your tokens and allowlists")]
    for name, what in ((ENV_FILE, "your token"), (ACCESS_FILE, "who may reach Claude")):
        path = directory / name
        if path.is_file():
            if not os.access(path, os.R_OK):
                checks.append(Check(name, FAIL, f"{path} is not readable by you", f"chown $(id -u) {path}"))
            else:
                checks.append(_permissions(name, path, 0o600, f"other users can read {what}"))
    return checks


def _permissions(check: str, path: Path, wanted: int, risk: str) -> Check:
    mode = _mode(path)
    if mode & 0o077:
        return Check(check, WARN, f"{path} is {mode:04o}: {risk}", f"chmod {wanted:o} {path}")
    return Check(check, OK, f"{path} ({mode:04o})")


def check_token(setup: Setup, facts: ChannelFacts, token: Token) -> Check:
    """The token as the channel would see it: there (or harmlessly absent), and of the right shape."""
    key, name = token.variable, token.kind
    value, source = setup.credential(facts.name, key)
    configure = f"mcp-channels configure {facts.name}"
    if value is None:
        if token.optional is not None:
            return Check(
                name, WARN, f"no {key}: {token.optional.risk}", f"{configure} <{name}>  ({token.optional.counterpart})"
            )
        return Check(
            name,
            FAIL,
            f"{key} is not set (neither in the environment nor in {source})",
            f"{configure} <{name}>  ({token.hint})",
        )
    masked = mask_secret(value, token.mask_keep)
    if token.shape and not re.fullmatch(token.shape, value):
        return Check(
            name,
            FAIL,
            f"{key} from {source} ({masked}) does not look like a {facts.title} {name}",
            f"{configure} <{name}>  ({token.hint})",
        )
    return Check(name, OK, f"{key} {masked} from {source}")


def check_access(setup: Setup, facts: ChannelFacts, access_facts: AccessFacts) -> list[Check]:
    """The access file: usable, and a policy that lets the right people in and nobody else."""
    name = facts.name
    command = f"mcp-channels access {name}"
    path = setup.state_dir(name) / ACCESS_FILE
    read = read_access_file(path, default_dm_policy=access_facts.default_dm_policy)
    checks: list[Check] = []
    if read.unusable is not None:
        return [
            Check(
                "access",
                FAIL,
                f"{path} cannot be used ({read.unusable}): the channel drops every message until it is fixed",
                f"replace it with a regular file of at most {MAX_FILE_BYTES // 1024} KiB, or remove it to start over",
            )
        ]
    access = read.access
    if read.corrupt is not None:
        checks.append(
            Check(
                "access",
                WARN,
                f"{path} cannot be used ({read.corrupt}): the channel moves it aside and starts over with "
                f"dmPolicy {access_facts.default_dm_policy}",
                f"fix or delete it; `{command}` then shows what the channel uses",
            )
        )
    if read.problems:
        closed = f"; closed: {', '.join(access.broken_groups)}" if access.broken_groups else ""
        checks.append(
            Check(
                "access",
                WARN,
                f"{path}: {len(read.problems)} problem(s), each closes what it governs{closed}; "
                f"first: {read.problems[0]}",
                f"edit the file (`{command}` prints every problem); changes made with `{command}` keep "
                "what does not parse as it is",
            )
        )
    checks.append(_policy(setup, facts, access_facts, len(access.allow_from), len(access.groups), access.dm_policy))
    return checks


def _policy(
    setup: Setup, facts: ChannelFacts, access_facts: AccessFacts, allowed: int, groups: int, policy: str
) -> Check:
    name = facts.name
    command = f"mcp-channels access {name}"
    static = setup.env.get(f"{name.upper()}_ACCESS_MODE") == "static"
    who = f"{allowed} sender(s) and {groups} group(s) allowed"
    if static:
        who += "; static mode: read once at start, pairing acts as allowlist"
    if policy == "disabled":
        return Check(
            "policy", WARN, f"dmPolicy is disabled: every message is dropped ({who})", f"{command} policy allowlist"
        )
    if policy == "pairing":
        if access_facts.owner_chat:
            return Check(
                "policy",
                WARN,
                f"dmPolicy is pairing: {access_facts.strangers} gets a pairing code ({who})",
                f"{command} allow {access_facts.id_hint}, then {command} policy allowlist",
            )
        if allowed == 0:
            return Check(
                "policy",
                WARN,
                f"dmPolicy is pairing and nobody is allowed yet ({who}): {access_facts.strangers} can ask for a code",
                f"DM the bot, `{command} pair <code>`, then lock down: {command} policy allowlist",
            )
        return Check(
            "policy",
            WARN,
            f"dmPolicy is still pairing ({who}): {access_facts.strangers} can ask for a code",
            f"{command} policy allowlist  (pairing is only for learning ids)",
        )
    if allowed == 0 and groups == 0 and not access_facts.owner_chat:
        return Check(
            "policy",
            WARN,
            "dmPolicy is allowlist and nobody is allowed: every message is dropped",
            f"{command} allow <id>",
        )
    if access_facts.owner_chat:
        who = f"your self-chat, {who}"
    return Check("policy", OK, f"dmPolicy is allowlist: {who}")


def check_port(setup: Setup, channel: str, port_facts: Port) -> Check:
    """The channel's port on 127.0.0.1: free, or held by whom."""
    variable, default = port_facts.variable, port_facts.default
    raw = setup.env.get(variable)
    port = default
    if raw:
        if not re.fullmatch(r"\d+", raw.strip()) or not 1 <= int(raw) <= 65535:
            return Check(
                "port",
                FAIL,
                f"{variable}={raw!r} is not a port number",
                f"set {variable} to a free port, like {default}",
            )
        port = int(raw)
    where = f"port {port} on 127.0.0.1"
    elsewhere = f"or give the channel another port: {variable}=<free port>"
    try:
        if port_is_free(port):
            return Check("port", OK, f"{where} is free")
    except OSError as exc:
        return Check("port", FAIL, f"{where} cannot be bound: {exc.strerror or exc}", elsewhere)
    holder = port_holder(port, setup.proc)
    if holder is None:
        return Check(
            "port",
            FAIL,
            f"{where} is in use (this system does not show by which process)",
            f"`lsof -nP -iTCP:{port} -sTCP:LISTEN` shows it; stop it, {elsewhere}",
        )
    if holder.pid is None:
        return Check(
            "port",
            FAIL,
            f"{where} is in use by a process of user {holder.uid} that you cannot inspect",
            f"`sudo lsof -nP -iTCP:{port} -sTCP:LISTEN` shows it; stop it, {elsewhere}",
        )
    who = f"pid {holder.pid} ({holder.command or 'command unknown'})"
    if _is_our_server(holder.command, channel):
        return Check(
            "port",
            WARN,
            f"{where} is held by {who}: the {channel} channel is already running, probably for another "
            "session; a second one cannot start beside it",
            f"close that session, {elsewhere}",
        )
    return Check("port", FAIL, f"{where} is held by {who}", f"stop it (kill {holder.pid}), {elsewhere}")


def _is_our_server(command: str | None, channel: str) -> bool:
    words = (command or "").split()
    ours = any(word.endswith(("mcp_channels", "mcp-channels")) for word in words)
    return ours and "serve" in words and channel in words


__all__ = ["check_access", "check_port", "check_state_dir", "check_token"]

"""``doctor``'s ``sessions`` check: the running channel servers, the session each belongs to, and
whether that session delivers its events.

Claude Code runs a configured channel in every session, also in one started without a channel
flag, where its events are dropped; a server there serves its tools only and holds nothing of
the platform. This check makes that visible: one line per running ``mcp-channels serve``
process, with the Claude Code session (or ``mcp-channels host``) that started it and the gate's
verdict, read as the server itself reads it (``delivery.py``), and a warning when no running
session receives a channel's messages at all. Only servers running with the same home
directory as ``doctor`` are listed: others use other state (tests, other users).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...delivery import DELIVERING, NOT_DELIVERING, Delivery, command_arguments, detect_delivery, identify_server
from ...diagnostics import FAIL, OK, WARN, Check, Setup
from ...enablement import DEVELOPMENT_FLAG, ServerIdentity
from ..serve import hub_options, serve_arguments


@dataclass(frozen=True)
class RunningServer:
    pid: int
    channel: str
    identity: ServerIdentity
    delivery: Delivery


def running_servers(setup: Setup, channel: str | None) -> list[RunningServer]:
    """The ``mcp-channels serve`` processes of this home (of ``channel`` only, when given)."""
    import psutil

    found: list[RunningServer] = []
    for process in psutil.process_iter():
        try:
            words = command_arguments(process.cmdline())
            if words is None or words[:1] != ["serve"]:
                continue
            name, server_name = serve_arguments(hub_options(words[1:], {})[0])
            if channel is not None and name != channel:
                continue
            environ = process.environ()
        except (psutil.Error, ValueError):  # gone, another user's, or not a server command line
            continue
        if environ.get("HOME", str(setup.home)) != str(setup.home):
            continue
        identity = identify_server(name, server_name, environ)
        delivery = detect_delivery(identity, environ, pid=process.pid, managed_settings=setup.managed_settings)
        found.append(RunningServer(process.pid, name, identity, delivery))
    return sorted(found, key=lambda server: server.pid)


def _entry(identity: ServerIdentity) -> str:
    if identity.plugin is None:
        return f"server:{identity.name}"
    return f"plugin:{identity.plugin}@{identity.marketplace or '<marketplace>'}"


def check_hub(setup: Setup, channel: str | None) -> Check:
    """The hub: running or not, answering, and how ``channel`` does in it (``hub`` check)."""
    from ...hub._doctor import hub_health

    health = hub_health(channel, setup.env)
    return Check("hub", {"ok": OK, "warn": WARN, "fail": FAIL}[health.level], health.message, health.fix)


def check_sessions(setup: Setup, channel: str | None) -> list[Check]:
    """One line per running server; a warning for a channel that only tools-only servers run."""
    servers = running_servers(setup, channel)
    if not servers:
        what = f"no {channel} server" if channel else "no channel server"
        return [Check("sessions", OK, f"{what} is running (no Claude Code session has started one)")]
    checks = [_server_line(server) for server in servers]
    for name in dict.fromkeys(server.channel for server in servers):
        running = [server for server in servers if server.channel == name]
        if not any(server.delivery.delivers for server in running):
            checks.append(
                Check(
                    "sessions",
                    WARN,
                    f"no running session receives {name}'s messages: its {len(running)} server(s) serve tools only",
                    f"start a session with the channel: claude {DEVELOPMENT_FLAG} {_entry(running[0].identity)}",
                )
            )
    return checks


def _server_line(server: RunningServer) -> Check:
    delivery = server.delivery
    argv = f"; session command line: {' '.join(delivery.host_argv)}" if delivery.host_argv else ""
    who = f"pid {server.pid} {server.channel} as {server.identity.name}"
    if delivery.state == DELIVERING:
        return Check("sessions", OK, f"{who}: delivering \u2014 {delivery.reason}{argv}")
    if delivery.state == NOT_DELIVERING:
        message = (
            f"{who}: tools only (its session drops the channel's events, so it receives nothing and holds no "
            f"port, bot or gateway) \u2014 {delivery.reason}{argv}"
        )
        return Check("sessions", OK, message)
    return Check("sessions", OK, f"{who}: delivery unknown, taken as delivering \u2014 {delivery.reason}{argv}")

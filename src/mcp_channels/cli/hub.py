"""``mcp-channels hub ...``: run, start, stop, inspect, route and install the hub."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from ..text import duration

USAGE = """usage: mcp-channels hub <command> [options]

commands:
  run       run the hub in the foreground (what a service runs)
  start     start the hub in the background, unless one runs
  stop      stop the running hub
  status    sessions, bindings, queues per channel (--json for scripts)
  route     show or change which session a conversation goes to
  install   write a systemd user unit (Linux) or launchd agent (macOS) and say how to enable it

'mcp-channels hub <command> --help' tells more."""

ROUTE_EPILOG = """examples:
  mcp-channels hub route                                   list bindings and path routes
  mcp-channels hub route telegram 123456789 2              send chat 123456789 to session 2 (see hub status)
  mcp-channels hub route telegram 123456789 --clear        forget the binding (the next session to take it wins)
  mcp-channels hub route webhook --prefix /ci/ ci          POSTs under /ci/ go to the session named ci
  mcp-channels hub route webhook --prefix /ci/ --clear"""


def hub_command(argv: Sequence[str]) -> int:
    args = list(argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    handlers = {
        "run": _run,
        "start": _start,
        "stop": _stop,
        "status": _status,
        "route": _route,
        "install": _install,
    }
    handler = handlers.get(command)
    if handler is None:
        print(f"mcp-channels hub: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    return handler(rest)


# --------------------------------------------------------------------------- run / start / stop


def _hub_options_parser(prog: str, description: str) -> argparse.ArgumentParser:
    from ..hub.store import Retention

    default = Retention()
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "--store",
        help="event store: a directory, sqlite:///dir, or nats://host:4222 / tls://host:4222 (several "
        "comma-separated, user:password@ allowed) (default: $MCP_CHANNELS_STORE, else <hub dir>/store)",
    )
    parser.add_argument(
        "--role",
        choices=("both", "ingress", "edge"),
        help="ingress: owns the platform connections, stores events, serves edges; edge: no platform "
        "connection, delivers to this machine's sessions; both (default, $MCP_CHANNELS_HUB_ROLE)",
    )
    parser.add_argument(
        "--channel",
        action="append",
        default=[],
        metavar="NAME",
        help="run this channel from the start with this process's own settings (its variables, state "
        "directory and .env); repeatable; what an ingress needs, since no session asks it for channels",
    )
    nats = parser.add_argument_group("NATS (a token is read from $MCP_CHANNELS_NATS_TOKEN only)")
    nats.add_argument("--nats-creds", metavar="FILE", help="a .creds file (JWT and NKey seed)")
    nats.add_argument("--nats-nkey", metavar="FILE", help="an NKey seed file")
    nats.add_argument("--nats-ca", metavar="FILE", help="CA certificates to trust for tls://")
    nats.add_argument("--nats-cert", metavar="FILE", help="a client certificate (mutual TLS)")
    nats.add_argument("--nats-key", metavar="FILE", help="the client certificate's key")
    nats.add_argument("--nats-namespace", metavar="NAME", help="prefix of every stream, subject and bucket (channels)")
    parser.add_argument(
        "--retention-days",
        type=float,
        default=default.max_age / 86400,
        help=f"drop events older than this (default {default.max_age / 86400:g})",
    )
    parser.add_argument(
        "--retention-events",
        type=int,
        default=default.max_events,
        help=f"keep at most this many events per channel (default {default.max_events})",
    )
    parser.add_argument(
        "--idle-exit", type=float, metavar="SECONDS", help="exit after this long with no session and nothing pending"
    )
    parser.add_argument("--metrics-port", type=int, help="also serve /healthz and /metrics on 127.0.0.1:PORT")
    return parser


def _forwarded(options: argparse.Namespace) -> list[str]:
    """The options of ``start``/``install`` as ``hub run`` takes them (those that differ from the defaults)."""
    from ..hub.store import Retention

    default = Retention()
    words: list[str] = []
    if options.store:
        words += ["--store", options.store]
    if options.role:
        words += ["--role", options.role]
    for channel in options.channel:
        words += ["--channel", channel]
    for name in ("creds", "nkey", "ca", "cert", "key", "namespace"):
        value = getattr(options, f"nats_{name}")
        if value:
            words += [f"--nats-{name}", value]
    if options.retention_days != default.max_age / 86400:
        words += ["--retention-days", f"{options.retention_days:g}"]
    if options.retention_events != default.max_events:
        words += ["--retention-events", str(options.retention_events)]
    if options.idle_exit is not None:
        words += ["--idle-exit", f"{options.idle_exit:g}"]
    if options.metrics_port is not None:
        words += ["--metrics-port", str(options.metrics_port)]
    return words


def _run(argv: Sequence[str]) -> int:
    parser = _hub_options_parser("mcp-channels hub run", "Run the hub in the foreground until stopped.")
    parser.add_argument("--wait", action="store_true", help="when a hub runs, wait for it to exit, then take over")
    parser.add_argument("--ready-fd", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    from ..hub import run_hub
    from ..hub._runner import HubRunner
    from ..hub.store import InvalidInput, Retention

    try:
        retention = Retention(max_age=options.retention_days * 86400, max_events=options.retention_events)
    except InvalidInput as exc:
        parser.error(str(exc))
    config = _store_config(options)
    status = run_hub(
        store=config.store,
        role=config.role,
        channels=tuple(options.channel),
        store_options=config.options,
        retention=retention,
        idle_exit=options.idle_exit,
        metrics_port=options.metrics_port,
        ready_fd=options.ready_fd,
        wait=options.wait,
        host_factory=HubRunner,
    )
    # At once, as a channel server does: a platform library's thread must not keep a stopped hub alive.
    sys.stderr.flush()
    os._exit(status)


def _store_config(options: argparse.Namespace) -> Any:
    """The store, role and channels, checked (:class:`ConfigurationError` says what is wrong)."""
    from ..errors import ConfigurationError
    from ..hub import _hosting
    from ..hub._store_config import resolve

    nats = {name: getattr(options, f"nats_{name}") for name in ("creds", "nkey", "ca", "cert", "key", "namespace")}
    config = resolve(options.store, options.role, nats)
    for channel in options.channel:
        if not _hosting.known(channel):
            raise ConfigurationError(f"--channel {channel}: no channel of that name")
    if options.channel and config.role == "edge":
        raise ConfigurationError("--channel: an edge runs no channel (the ingress does)")
    return config


def _start(argv: Sequence[str]) -> int:
    parser = _hub_options_parser("mcp-channels hub start", "Start the hub in the background unless one runs.")
    options = parser.parse_args(argv)
    _store_config(options)
    from ..hub import HubPaths, HubStartError, running_pid, spawn, start_lock

    paths = HubPaths.from_environ()
    paths.prepare()
    with start_lock(paths):
        pid = running_pid(paths)
        if pid is not None:
            print(f"the hub is already running (pid {pid}); options apply at its next start")
            return 0
        try:
            pid = spawn(paths, _forwarded(options))
        except HubStartError as exc:
            print(f"mcp-channels hub start: {exc}", file=sys.stderr)
            return 1
    print(f"hub started (pid {pid}); log: {paths.log}")
    return 0


def _stop(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="mcp-channels hub stop", description="Stop the running hub.")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait before SIGTERM (default 10)")
    options = parser.parse_args(argv)
    from ..hub import HubPaths, stop_hub

    paths = HubPaths.from_environ()
    outcome = asyncio.run(stop_hub(paths, options.timeout))
    print(outcome.message, file=sys.stdout if outcome.stopped else sys.stderr)
    return 0 if outcome.stopped else 1


# --------------------------------------------------------------------------- status


def _status(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="mcp-channels hub status", description="What the running hub is doing.")
    parser.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    options = parser.parse_args(argv)
    from ..hub import STATUS, HubPaths, HubRequestError, HubUnreachable, ask, running_pid

    paths = HubPaths.from_environ()
    try:
        status = asyncio.run(ask(paths, STATUS))
    except (HubUnreachable, HubRequestError) as exc:
        pid = running_pid(paths)
        reason = f"a hub holds the lock (pid {pid}) but does not answer: {exc}" if pid else "no hub is running"
        if options.json:
            print(json.dumps({"running": False, "reason": reason, "directory": str(paths.directory)}))
        else:
            print(f"hub: {reason} ({paths.directory})")
        return 1
    if options.json:
        print(json.dumps({"running": True, **status}, indent=2))
    else:
        print(format_status(status))
    return 0


def format_status(status: dict[str, Any]) -> str:
    """``hub status`` for people."""
    hub = status["hub"]
    now = time.time()
    retention = hub["retention"]
    lines = [
        f"hub: running{_role(hub)}, pid {hub['pid']}, up {duration(hub['uptime_s'])}, {hub['address']}",
        f"store: {hub['store']} (retention {duration(retention['max_age_s'])} / {retention['max_events']:,} events"
        " per channel)",
        "sessions:",
    ]
    live = sorted((s for s in status["sessions"] if s["live"]), key=lambda s: s["number"])
    if not live:
        lines.append("  none attached")
    for session in live:
        number = session["number"]
        kind = "tools only (no channel flag)" if session["tools_only"] else "delivering"
        where = f"  {session['project_dir']}" if session.get("project_dir") else ""
        lines.append(
            f"  {number}. {session['label']}{where}  [{', '.join(session['channels'])}]  "
            f"since {duration(now - session['attached_at'])} ago  {kind}"
        )
    gone = [s for s in status["sessions"] if not s["live"]]
    if gone:
        lines.append("  recently closed: " + ", ".join(s["label"] for s in gone[-5:]))
    refused = [a for a in status["attachments"] if a["refused"]]
    lines += [f"  refused: {a['label']} ({a['channel']}): {a['refused']}" for a in refused]
    lines.append("channels:")
    if not status["channels"]:
        lines.append("  none yet (a channel starts when a session asks for it)")
    for channel in status["channels"]:
        age = channel["oldest_pending_age_s"]
        queue = f"pending {channel['pending']}" + (f" (oldest {duration(age)})" if age is not None else "")
        last = channel["last_event_at"]
        contact = f", last event {duration(now - last)} ago" if last else ""
        error = f" — {channel['error']}" if channel["error"] else ""
        lines.append(
            f"  {channel['name']}: {channel['state']}{error}; {queue}, stored {channel['stored']}, "
            f"received {channel['received']}, delivered {channel['delivered']}{contact}"
        )
    lines += _routing_lines(status)
    return "\n".join(lines)


def _role(hub: dict[str, Any]) -> str:
    role = hub.get("role", "both")
    return "" if role == "both" else f" as {role} ({hub.get('hub_id')})"


def _routing_lines(status: dict[str, Any]) -> list[str]:
    lines = []
    if status["bindings"]:
        lines.append("bindings:")
        lines += [
            f"  {b['channel']} {b['conversation']} → {b['label']} ({b['how']}{'' if b['live'] else ', not open'})"
            for b in status["bindings"]
        ]
    if status["routes"]:
        lines.append("routes:")
        lines += [f"  {r['channel']} {r['prefix']}* → {r['session']}" for r in status["routes"]]
    return lines


# --------------------------------------------------------------------------- route


def _route(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="mcp-channels hub route",
        description="Show or change which session a conversation goes to.",
        epilog=ROUTE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("channel", nargs="?")
    parser.add_argument("target", nargs="*", help="<conversation> <session>, or with --prefix: <session name>")
    parser.add_argument("--prefix", help="a webhook path prefix (/ci/) instead of one conversation")
    parser.add_argument("--clear", action="store_true", help="remove the binding or route")
    options = parser.parse_intermixed_args(argv)
    params = _route_params(parser, options)
    from ..hub import ROUTE, HubPaths, HubRequestError, HubUnreachable, ask

    try:
        result = asyncio.run(ask(HubPaths.from_environ(), ROUTE, params))
    except HubUnreachable as exc:
        print(f"mcp-channels hub route: {exc}", file=sys.stderr)
        return 1
    except HubRequestError as exc:
        print(f"mcp-channels hub route: {exc}", file=sys.stderr)
        return 2
    lines = _routing_lines({"bindings": result["bindings"], "routes": result["routes"]})
    print("\n".join(lines) if lines else "no bindings or routes yet")
    return 0


def _route_params(parser: argparse.ArgumentParser, options: argparse.Namespace) -> dict[str, str]:
    if options.channel is None:
        return {"action": "list"}
    channel, target = options.channel, options.target
    if options.prefix is not None:
        if options.clear and not target:
            return {"action": "unprefix", "channel": channel, "prefix": options.prefix}
        if len(target) != 1 or options.clear:
            parser.error("--prefix takes one session name (or --clear)")
        return {"action": "prefix", "channel": channel, "prefix": options.prefix, "session": target[0]}
    if options.clear and len(target) == 1:
        return {"action": "unbind", "channel": channel, "conversation": target[0]}
    if len(target) != 2 or options.clear:
        parser.error("give <channel> <conversation> <session>, or <channel> <conversation> --clear")
    return {"action": "bind", "channel": channel, "conversation": target[0], "session": target[1]}


# --------------------------------------------------------------------------- install


def _install(argv: Sequence[str]) -> int:
    parser = _hub_options_parser(
        "mcp-channels hub install", "Write a user service that runs the hub from login, and say how to enable it."
    )
    parser.add_argument("--print", action="store_true", help="print the file instead of writing it")
    options = parser.parse_args(argv)
    from ..hub import HubPaths, install, service_file

    service = service_file(HubPaths.from_environ(), _forwarded(options))
    if options.print:
        print(service.text, end="")
        return 0
    install(service)
    print(f"wrote {service.path}")
    print("enable it with:")
    print("\n".join(f"  {command}" for command in service.enable))
    print("disable it with:")
    print("\n".join(f"  {command}" for command in service.disable))
    return 0


__all__ = ["format_status", "hub_command"]

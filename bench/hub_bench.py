#!/usr/bin/env python3
"""Benchmark the hub, side by side with standalone servers, in one run.

Three parts, each comparing the two ways a session can run a channel (``serve --hub off`` and a
shim attached to the hub) on the same machine, back to back:

1. **webhook through chanbench** (``bench/chanbench.py``, the harness ``run_bench.py`` uses):
   spawn → ``initialize`` answered, idle memory of what Claude Code spawns (the shim; the hub is
   not in its process tree and is reported apart), POST → notification latency, and delivered/s
   from 32 senders. Repetitions alternate the order. The hub keeps the port open between spawns
   (``--port-stays-open``).
2. **memory for N sessions on one Telegram bot** (the project's fake Bot API from ``tests/fakes``):
   N standalone servers (each imports python-telegram-bot; one polls, the others wait for the
   lock) against one hub plus N shims, for N = 1, 3, 10.
3. **store throughput through the hub**: 32 webhook senders and no session attached, so every
   event is committed (``synchronous=FULL``) and queued: committed events/s, read from the hub's
   ``/metrics``.

Run with the project's venv: ``.venv/bin/python bench/hub_bench.py`` (``--quick`` for a smoke
test). A markdown report goes to stdout, progress to stderr, raw files under ``bench/results/``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(BENCH), str(REPO / "tests")]

import chanbench  # noqa: E402  (the harness, beside this file)

from fakes.telegram_api import FakeTelegram  # noqa: E402  (the project's fake Bot API)
from mcp_channels.hub import HubPaths, ask  # noqa: E402
from mcp_channels.hub._socket import http_get  # noqa: E402

PYTHON = str(REPO / ".venv" / "bin" / "python")
CONCURRENCY = 32
SIZES = {
    "quick": {"events": 3000, "latency_events": 400, "warmup_events": 50, "runs": 3, "reps": 1, "store_events": 5000},
    "full": {
        "events": 20000,
        "latency_events": 2000,
        "warmup_events": 200,
        "runs": 10,
        "reps": 3,
        "store_events": 20000,
    },
}


def log(message: str) -> None:
    print(f"[hub_bench] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------- a private hub


class PrivateHub:
    """A hub of the benchmark's own (its own directory), stopped at the end."""

    def __init__(self, root: Path) -> None:
        self.directory = root / "hub"
        self.env = {**os.environ, "MCP_CHANNELS_HUB_DIR": str(self.directory), "MCP_CHANNELS_HUB": "auto"}
        self.paths = HubPaths.from_environ(self.env)

    def start(self) -> None:
        subprocess.run([PYTHON, "-m", "mcp_channels", "hub", "start"], env=self.env, check=True, stdout=sys.stderr)

    def stop(self) -> None:
        subprocess.run([PYTHON, "-m", "mcp_channels", "hub", "stop"], env=self.env, check=False, stdout=sys.stderr)

    def pid(self) -> int:
        return int((self.directory / "hub.lock").read_text().strip())

    def rss_kb(self) -> int:
        return chanbench._status_kb(self.pid(), "VmRSS")

    def pss_kb(self) -> int:
        return int(chanbench._pss_kb(self.pid()) or 0)

    async def metric(self, name: str, channel: str) -> float:
        _, body = await http_get(self.paths, "/metrics")
        match = re.search(rf'^{name}{{channel="{channel}"}} (\S+)$', body.decode(), re.MULTILINE)
        return float(match.group(1)) if match else 0.0


# ---------------------------------------------------------------------------- 1. webhook via chanbench


def chanbench_run(label: str, argv: list[str], port: int, env: dict[str, str], size: dict[str, int], out: Path) -> Path:
    path = out / f"{label}.json"
    command = [
        sys.executable, str(BENCH / "chanbench.py"),
        "--mode", "webhook", "--cmd", shlex.join(argv), "--cwd", str(REPO), "--port", str(port),
        "--env", f"WEBHOOK_PORT={port}", "--events", str(size["events"]), "--concurrency", str(CONCURRENCY),
        "--latency-events", str(size["latency_events"]), "--warmup-events", str(size["warmup_events"]),
        "--runs", str(size["runs"]), "--reps", "1", "--phases", "coldstart,latency,throughput",
        "--label", label, "--json", str(path),
    ]  # fmt: skip
    for key, value in env.items():
        command += ["--env", f"{key}={value}"]
    if "--hub" in argv and "auto" in argv:
        command.append("--port-stays-open")
    log("$ " + shlex.join(command))
    subprocess.run(command, stdout=sys.stderr, check=True)
    return path


def webhook_part(size: dict[str, int], out: Path, root: Path) -> dict[str, Any]:
    hub = PrivateHub(root)
    hub.start()
    try:
        serve = [PYTHON, "-m", "mcp_channels", "serve", "webhook"]
        variants = {
            "standalone": ([*serve, "--hub", "off"], free_port(), {}),
            "hub": ([*serve, "--hub", "auto"], free_port(), {"MCP_CHANNELS_HUB_DIR": str(hub.directory)}),
        }
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
        for rep in range(size["reps"]):
            order = list(variants) if rep % 2 == 0 else list(reversed(variants))
            for name in order:
                argv, port, env = variants[name]
                result = json.loads(chanbench_run(f"{name}-rep{rep}", argv, port, env, size, out).read_text())
                if result.get("error"):
                    raise RuntimeError(f"chanbench {name}: {result['error']}")
                runs[name] += [rep_result["summary"] for rep_result in result["reps"]]
        hub_rss = hub.rss_kb()
    finally:
        hub.stop()
    keys = (
        "cold_init_ms", "idle_rss_kb", "idle_pss_kb", "webhook_lat_p50_ms", "webhook_lat_p99_ms",
        "webhook_tput_delivered_per_s", "webhook_tput_lost", "webhook_tput_duplicates",
    )  # fmt: skip
    medians = {
        name: {key: statistics.median(s[key] for s in summaries if s.get(key) is not None) for key in keys}
        for name, summaries in runs.items()
    }
    return {"medians": medians, "hub_rss_kb_after": hub_rss}


# ---------------------------------------------------------------------------- 2. memory on one bot


class Spawned:
    """A server Claude Code would spawn, handshaken and idle."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.stderr = bytearray()

    @classmethod
    async def start(cls, argv: list[str], env: dict[str, str]) -> Spawned:
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=env, start_new_session=True,
        )  # fmt: skip
        spawned = cls(process)
        asyncio.get_running_loop().create_task(spawned._drain_stderr())
        assert process.stdin is not None and process.stdout is not None
        init = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}
        process.stdin.write(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init}).encode())
        process.stdin.write(b"\n" + json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode())
        process.stdin.write(b"\n")
        await process.stdin.drain()
        await process.stdout.readline()
        return spawned

    async def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        while chunk := await self.process.stderr.read(65536):
            self.stderr += chunk

    async def wait_stderr(self, *needles: str, timeout: float = 60.0) -> None:
        async with asyncio.timeout(timeout):
            while not any(needle.encode() in self.stderr for needle in needles):
                await asyncio.sleep(0.05)  # a child's stderr: nothing else to await

    def memory_kb(self) -> tuple[int, int]:
        """RSS and PSS (shared pages divided among the processes sharing them) of its process tree."""
        memory = chanbench.tree_mem(self.process.pid)
        return int(memory["rss_kb"]), int(memory["pss_kb"] or 0)

    async def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self.process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


@contextlib.asynccontextmanager
async def spawned_all(argv: list[str], envs: list[dict[str, str]]) -> AsyncIterator[list[Spawned]]:
    servers: list[Spawned] = []
    try:
        for env in envs:
            servers.append(await Spawned.start(argv, env))
        yield servers
    finally:
        for server in servers:
            await server.stop()


async def memory_part(counts: tuple[int, ...], root: Path) -> dict[str, dict[int, float]]:
    fake = await FakeTelegram().start()
    state = root / "telegram-state"
    state.mkdir(parents=True)
    (state / "access.json").write_text(json.dumps({"dmPolicy": "allowlist", "allowFrom": ["111"]}))
    base = {**os.environ, "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_BASE": fake.base}
    base["TELEGRAM_STATE_DIR"] = str(state)
    serve = [PYTHON, "-m", "mcp_channels", "serve", "telegram"]
    curve: dict[str, dict[int, float]] = {
        name: {} for name in ("standalone", "hub", "hub_process", "shim_each", "standalone_pss", "hub_pss")
    }
    try:
        for count in counts:
            log(f"memory: {count} standalone telegram server(s)")
            envs = [{**base, "MCP_CHANNELS_HUB": "off"} for _ in range(count)]
            async with spawned_all(serve, envs) as servers:
                for server in servers:
                    await server.wait_stderr("polling as @", "another session")
                await asyncio.sleep(2.0)  # settle: what an idle session keeps
                memory = [server.memory_kb() for server in servers]
                curve["standalone"][count] = sum(rss for rss, _ in memory) / 1024
                curve["standalone_pss"][count] = sum(pss for _, pss in memory) / 1024
            log(f"memory: the hub and {count} shim(s)")
            hub = PrivateHub(root / f"mem-{count}")
            hub.start()
            try:
                envs = [{**base, **hub.env, "CLAUDE_CODE_SESSION_ID": f"bench-{count}-{n}"} for n in range(count)]
                async with spawned_all(serve, envs) as shims:
                    for shim in shims:
                        await shim.wait_stderr("attached to the hub")
                    await asyncio.sleep(2.0)
                    memory = [shim.memory_kb() for shim in shims]
                    hub_kb = hub.rss_kb()
                    curve["hub"][count] = (hub_kb + sum(rss for rss, _ in memory)) / 1024
                    curve["hub_pss"][count] = (hub.pss_kb() + sum(pss for _, pss in memory)) / 1024
                    curve["hub_process"][count] = hub_kb / 1024
                    curve["shim_each"][count] = statistics.median(rss for rss, _ in memory) / 1024
                    status = await ask(hub.paths, "hub/status")
                    assert len(status["attachments"]) == count, status["attachments"]
            finally:
                hub.stop()
    finally:
        await fake.stop()
    return curve


# ---------------------------------------------------------------------------- 3. store throughput


async def store_part(events: int, root: Path) -> dict[str, float]:
    hub = PrivateHub(root / "store")
    hub.start()
    port = free_port()
    env = {**hub.env, "WEBHOOK_PORT": str(port), "WEBHOOK_STATE_DIR": str(root / "webhook-state")}
    try:
        async with spawned_all([PYTHON, "-m", "mcp_channels", "serve", "webhook"], [env]) as (shim,):
            await shim.wait_stderr("attached to the hub")
        # No session now: every event is committed and stays queued.
        await asyncio.sleep(0.5)
        before = await hub.metric("mcp_channels_hub_events_received_total", "webhook")
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(events):
            queue.put_nowait(n)

        async def sender() -> None:
            conn = chanbench.HttpConn(port, 10.0)
            try:
                while not queue.empty():
                    n = queue.get_nowait()
                    status, _ = await conn.post("/store", f"event {n}".encode())
                    assert status == 202, status
            finally:
                conn.close()

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(CONCURRENCY)))
        answered = time.perf_counter() - started
        while await hub.metric("mcp_channels_hub_events_received_total", "webhook") < before + events:
            await asyncio.sleep(0.01)
        committed = time.perf_counter() - started
    finally:
        hub.stop()
    return {"events": events, "answered_per_s": events / answered, "committed_per_s": events / committed}


# ---------------------------------------------------------------------------- report


def report(webhook: dict[str, Any], memory: dict[str, dict[int, float]], store: dict[str, float]) -> str:
    ours, alone = webhook["medians"]["hub"], webhook["medians"]["standalone"]
    added = ours["webhook_lat_p50_ms"] - alone["webhook_lat_p50_ms"]
    lines = [
        "### webhook: a session through the hub vs a standalone server (chanbench, same run)",
        "",
        "| | standalone | through the hub | target |",
        "|---|---:|---:|---|",
        f"| spawn → `initialize` answered | {alone['cold_init_ms']:.1f} ms | {ours['cold_init_ms']:.1f} ms | hub ≤ standalone |",
        f"| idle RSS of what Claude Code spawns | {alone['idle_rss_kb'] / 1024:.1f} MiB | {ours['idle_rss_kb'] / 1024:.1f} MiB (+ hub {webhook['hub_rss_kb_after'] / 1024:.1f} MiB, shared) | shim ≤ 20 MiB |",
        f"| idle PSS of the same | {alone['idle_pss_kb'] / 1024:.1f} MiB | {ours['idle_pss_kb'] / 1024:.1f} MiB | |",
        f"| POST → notification p50 / p99 | {alone['webhook_lat_p50_ms']:.3f} / {alone['webhook_lat_p99_ms']:.3f} ms | {ours['webhook_lat_p50_ms']:.3f} / {ours['webhook_lat_p99_ms']:.3f} ms | added p50 ≤ 0.5 ms (here {added:+.3f} ms) |",
        f"| delivered/s, 32 senders | {alone['webhook_tput_delivered_per_s']:,.0f} | {ours['webhook_tput_delivered_per_s']:,.0f} | |",
        f"| lost / duplicated | {alone['webhook_tput_lost']:g} / {alone['webhook_tput_duplicates']:g} | {ours['webhook_tput_lost']:g} / {ours['webhook_tput_duplicates']:g} | 0 / 0 |",
        "",
        "### memory: N sessions on one Telegram bot (RSS, MiB)",
        "",
        "| sessions | N standalone servers | hub + N shims | of which the hub | one shim | PSS: standalone / hub + shims |",
        "|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    for count in sorted(memory["standalone"]):
        lines.append(
            f"| {count} | {memory['standalone'][count]:.1f} | {memory['hub'][count]:.1f} | "
            f"{memory['hub_process'][count]:.1f} | {memory['shim_each'][count]:.1f} | "
            f"{memory['standalone_pss'][count]:.1f} / {memory['hub_pss'][count]:.1f} |"
        )
    lines += [
        "",
        "### store throughput through the hub (32 webhook senders, no session: every event committed and queued)",
        "",
        f"{store['events']:,} events: {store['committed_per_s']:,.0f} committed events/s "
        f"(202 answered at {store['answered_per_s']:,.0f}/s); target ≥ 5,000.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smaller run, for a smoke test")
    args = parser.parse_args(argv)
    size = SIZES["quick" if args.quick else "full"]
    out = BENCH / "results" / f"{time.strftime('%Y%m%d-%H%M%S')}-hub"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hb-") as tmp:
        root = Path(tmp)
        webhook = webhook_part(size, out, root)
        memory = asyncio.run(memory_part((1, 3) if args.quick else (1, 3, 10), root))
        store = asyncio.run(store_part(size["store_events"], root))
    (out / "hub_bench.json").write_text(json.dumps({"webhook": webhook, "memory": memory, "store": store}, indent=2))
    print(report(webhook, memory, store))
    return 0


if __name__ == "__main__":
    sys.exit(main())

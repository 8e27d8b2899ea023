#!/usr/bin/env python3
"""Benchmark our channel servers with ``chanbench.py``, side by side with the Bun reference.

``webhook`` mode runs ``mcp-channels serve webhook`` and the reference webhook (the overview's
Bun example on the TypeScript MCP SDK) with the same chanbench settings, one repetition of each
in turn (the order alternates), so both see the same machine load; figures from different runs on
a shared machine are not comparable, ratios from one run are. ``fakechat`` mode measures our
fakechat server alone and sets it beside the reference figures in ``docs/benchmarks.md`` §4.

The reference is installed from the npm registry into ``bench/.reference/`` on first use (Bun's
npm package carries its binary). Output: a markdown report on stdout, progress on stderr, every
chanbench JSON file under ``bench/results/<time>-<mode>/``. Run it with the project's venv:

    .venv/bin/python bench/run_bench.py webhook            # full: 3 interleaved repetitions
    .venv/bin/python bench/run_bench.py webhook --quick    # a minute, for a smoke test
    .venv/bin/python bench/run_bench.py fakechat
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
DEFAULT_CHANBENCH = BENCH / "chanbench.py"
#: The reference figures (§4, its "reference fakechat (Bun)" column) that fakechat mode compares with.
REFERENCE_FIGURES = REPO / "docs" / "benchmarks.md"
REFERENCE_DIR = BENCH / ".reference"
REFERENCE_SOURCE = BENCH / "reference_webhook.ts"
RESULTS_DIR = BENCH / "results"
OUR_CLI = REPO / ".venv" / "bin" / "mcp-channels"
OUR_PYTHON = REPO / ".venv" / "bin" / "python"

#: The versions the reference figures (docs/benchmarks.md §4) were measured with.
BUN_VERSION = "1.4.5"
TS_SDK_VERSION = "1.32.2"
CONCURRENCY = 32

#: chanbench settings per run size; --events etc. override them one by one.
SIZES: dict[str, dict[str, int]] = {
    "quick": {"events": 3000, "latency_events": 400, "warmup_events": 50, "runs": 3, "reps": 1},
    "full": {"events": 20000, "latency_events": 2000, "warmup_events": 200, "runs": 10, "reps": 3},
}


@dataclass(frozen=True)
class Server:
    label: str
    argv: list[str]
    cwd: Path
    port_env: str
    port: int
    version_argv: list[str]


@dataclass(frozen=True)
class Target:
    """Ours divided by the reference must not exceed ``limit`` (the issue's targets)."""

    metric: str  # chanbench summary key, with {k} for the mode's key (webhook / ws)
    label: str
    limit: float


TARGETS = (
    Target("cold_init_ms", "spawn → initialize response", 1.0),
    Target("idle_rss_kb", "idle RSS, process tree", 1.0),
    Target("{k}_lat_p50_ms", "event → notification p50", 1.5),
    Target("{k}_tput_server_cpu_us_per_event", "server CPU per event", 2.0),
)
LOSS_KEYS = ("{k}_tput_lost", "{k}_tput_duplicates", "{k}_tput_send_errors", "{k}_lat_lost")

#: Reference-table row title -> the chanbench keys its "a / b" figures stand for, and their unit scale.
ANCHOR_ROWS: dict[str, tuple[tuple[str, ...], float]] = {
    "spawn → initialize response": (("cold_init_ms",), 1.0),
    "idle RSS, process tree": (("idle_rss_kb",), 1024.0),
    "event → notification p50 / p99": (("{k}_lat_p50_ms", "{k}_lat_p99_ms"), 1.0),
    "delivered/s, 32 senders, 20,000 events": (("{k}_tput_delivered_per_s",), 1.0),
    "server CPU per event": (("{k}_tput_server_cpu_us_per_event",), 1.0),
    "latency under that load p50 / p99": (("{k}_tput_load_p50_ms", "{k}_tput_load_p99_ms"), 1.0),
    "`reply` tool → ws frame p50 / p99": (("reply_ws_p50_ms", "reply_ws_p99_ms"), 1.0),
    "events lost": (("{k}_tput_lost",), 1.0),
}
ANCHOR_COLUMN = "reference fakechat (Bun)"


class BenchError(Exception):
    """Something the user must fix before a benchmark can run; the message says what."""


# ---------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def our_server(channel: str, port_env: str, command: str | None) -> Server:
    if command:
        argv = shlex.split(command)
    elif OUR_CLI.exists():
        argv = [str(OUR_CLI), "serve", channel]
    else:
        raise BenchError(f"{OUR_CLI} is missing: run scripts/bootstrap.sh first")
    return Server(f"mcp-channels {channel}", argv, REPO, port_env, free_port(), [str(OUR_PYTHON), "--version"])


def _npm_version(package_dir: Path) -> str | None:
    try:
        return str(json.loads((package_dir / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def install_reference() -> Path:
    """Bun and the TypeScript SDK in bench/.reference (once); returns the bun binary."""
    modules = REFERENCE_DIR / "node_modules"
    wanted = {"bun": BUN_VERSION, "@modelcontextprotocol/sdk": TS_SDK_VERSION}
    if any(_npm_version(modules / name) != version for name, version in wanted.items()):
        npm = shutil.which("npm")
        if npm is None:
            raise BenchError("npm is needed to install the reference (Bun and @modelcontextprotocol/sdk)")
        REFERENCE_DIR.mkdir(exist_ok=True)
        manifest = {"private": True, "description": "reference servers for bench/run_bench.py", "dependencies": wanted}
        (REFERENCE_DIR / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
        log(f"installing bun@{BUN_VERSION} and @modelcontextprotocol/sdk@{TS_SDK_VERSION} into {REFERENCE_DIR}")
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund"], cwd=REFERENCE_DIR, stdout=sys.stderr, check=False
        )
        if done.returncode != 0:
            raise BenchError(f"npm install failed in {REFERENCE_DIR} (status {done.returncode})")
    candidates = [modules / "bun" / "bin" / "bun.exe", *sorted(modules.glob("@oven/bun-*/bin/bun"))]
    for candidate in candidates:
        if _bun_version(candidate) == BUN_VERSION:
            return candidate
    raise BenchError(f"no working bun {BUN_VERSION} binary under {modules}; delete {REFERENCE_DIR} and retry")


def _bun_version(binary: Path) -> str | None:
    if not binary.is_file():
        return None
    try:
        done = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=20, check=False)
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def reference_webhook(bun: Path | None) -> Server:
    installed = install_reference()  # the SDK is needed next to webhook.ts even with --bun
    binary = bun or installed
    shutil.copyfile(REFERENCE_SOURCE, REFERENCE_DIR / "webhook.ts")
    return Server(
        "Bun reference webhook",
        [str(binary), "webhook.ts"],
        REFERENCE_DIR,
        "WEBHOOK_PORT",
        free_port(),
        [str(binary), "--version"],
    )


def require_fakechat() -> None:
    probe = (
        "import importlib.util, sys\n"
        "try:\n    found = importlib.util.find_spec('mcp_channels.channels.fakechat') is not None\n"
        "except ImportError:\n    found = False\n"
        "sys.exit(0 if found else 1)"
    )
    if subprocess.run([str(OUR_PYTHON), "-c", probe], check=False).returncode != 0:
        raise BenchError("the fakechat channel (mcp_channels.channels.fakechat) does not exist yet: nothing to measure")
    try:
        import websockets  # noqa: F401  (chanbench's fakechat mode needs it in this interpreter)
    except ImportError:
        raise BenchError(f"fakechat mode needs `websockets`: run this script with {OUR_PYTHON}") from None


# ---------------------------------------------------------------------------- running chanbench


@dataclass(frozen=True)
class Settings:
    chanbench: Path
    mode: str
    events: int
    latency_events: int
    warmup_events: int
    runs: int
    reps: int
    wait_quiet: float | None
    wait_quiet_max: float
    pin: bool
    out: Path


def chanbench_argv(settings: Settings, server: Server, json_path: Path) -> list[str]:
    argv = [
        sys.executable, str(settings.chanbench),
        "--mode", settings.mode,
        "--cmd", shlex.join(server.argv),
        "--cwd", str(server.cwd),
        "--port", str(server.port),
        "--env", f"{server.port_env}={server.port}",
        "--events", str(settings.events),
        "--concurrency", str(CONCURRENCY),
        "--latency-events", str(settings.latency_events),
        "--warmup-events", str(settings.warmup_events),
        "--runs", str(settings.runs),
        "--reps", "1",
        "--label", server.label,
        "--version-cmd", shlex.join(server.version_argv),
        "--json", str(json_path),
    ]  # fmt: skip
    if settings.wait_quiet is not None:
        argv += ["--wait-quiet", str(settings.wait_quiet), "--wait-quiet-max", str(settings.wait_quiet_max)]
        argv += ["--noisy-retries", "3"]
    if settings.pin:  # on 2 cores: the harness on CPU 0, the server on CPU 1
        argv += ["--client-cpus", "0", "--server-cpus", "1"]
    return argv


def run_chanbench(argv: Sequence[str]) -> None:
    log("$ " + shlex.join(argv))
    done = subprocess.run(argv, stdout=sys.stderr, check=False)
    if done.returncode != 0:
        raise BenchError(f"chanbench failed (status {done.returncode}); its JSON may hold the error")


def measure(settings: Settings, servers: Sequence[Server]) -> dict[str, Path]:
    """Interleaved repetitions of every server; returns each server's merged result file."""
    reps: dict[str, list[Path]] = {server.label: [] for server in servers}
    for rep in range(1, settings.reps + 1):
        order = servers if rep % 2 else list(reversed(servers))
        for server in order:
            path = settings.out / f"{slug(server.label)}-rep{rep}.json"
            log(f"rep {rep}/{settings.reps}: {server.label}")
            run_chanbench(chanbench_argv(settings, server, path))
            reps[server.label].append(path)
    merged = {}
    for server in servers:
        path = settings.out / f"{slug(server.label)}.json"
        run_chanbench(
            [sys.executable, str(settings.chanbench), "merge", *map(str, reps[server.label]), "--json", str(path)]
        )
        merged[server.label] = path
    return merged


def chanbench_report(settings: Settings, files: Sequence[Path]) -> str:
    done = subprocess.run(
        [sys.executable, str(settings.chanbench), "report", *map(str, files)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise BenchError(f"chanbench report failed: {done.stderr.strip()}")
    return done.stdout.strip()


# ---------------------------------------------------------------------------- judging


@dataclass(frozen=True)
class Measured:
    """One server's figures: chanbench's aggregate (median/min/max) and each repetition's summary."""

    aggregate: dict[str, Any]
    reps: list[dict[str, Any]]

    @classmethod
    def load(cls, path: Path) -> Measured:
        result = json.loads(path.read_text())
        if result.get("error"):
            raise BenchError(f"{path.name}: {result['error']}")
        return cls(dict(result.get("aggregate") or {}), [rep.get("summary", {}) for rep in result.get("reps", [])])

    def median(self, key: str) -> float | None:
        entry = self.aggregate.get(key)
        return None if not entry else float(entry["median"])

    def worst(self, key: str) -> float | None:
        entry = self.aggregate.get(key)
        return None if not entry else float(entry["max"])

    def per_rep(self, key: str) -> list[float | None]:
        return [rep.get(key) for rep in self.reps]


def paired_ratios(ours: Measured, reference: Measured, key: str) -> str:
    """Ours ÷ reference repetition by repetition (each pair ran back to back)."""
    pairs = list(zip(ours.per_rep(key), reference.per_rep(key), strict=False))
    if len(pairs) < 2:
        return "-"
    return ", ".join(f"{a / b:.2f}" if a is not None and b else "-" for a, b in pairs)


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def judge(ours: Measured, reference: Measured, mode_key: str, reference_name: str) -> tuple[str, bool]:
    """The targets table (markdown) and whether every target was met (on the medians)."""
    lines = [
        f"| target | ours | {reference_name} | ratio of medians | per repetition | limit | met |",
        "|---|---|---|---|---|---|---|",
    ]
    all_met = True
    for target in TARGETS:
        key = target.metric.format(k=mode_key)
        mine, theirs = ours.median(key), reference.median(key)
        limit = f"≤ {target.limit:g}×"
        if mine is None or theirs is None or theirs == 0:
            lines.append(f"| {target.label} | {fmt(mine)} | {fmt(theirs)} | - | - | {limit} | unknown |")
            all_met = False
            continue
        ratio = mine / theirs
        met = ratio <= target.limit
        all_met &= met
        lines.append(
            f"| {target.label} (`{key}`) | {mine:g} | {theirs:g} | {ratio:.2f}× | "
            f"{paired_ratios(ours, reference, key)} | {limit} | {'yes' if met else '**no**'} |"
        )
    counts = {key.format(k=mode_key): ours.worst(key.format(k=mode_key)) for key in LOSS_KEYS}
    clean = all(value == 0 for value in counts.values())
    all_met &= clean
    shown = ", ".join(f"{k.split('_', 1)[1]}={fmt(v)}" for k, v in counts.items())
    lines.append(
        f"| nothing lost or duplicated, {CONCURRENCY} senders (worst rep) | {shown} | - | - | - | 0 | "
        f"{'yes' if clean else '**no**'} |"
    )
    return "\n".join(lines), all_met


def load_note(ours: Measured, reference: Measured, reference_name: str) -> str:
    """Other processes' CPU use per repetition: it changes what latency measures."""

    def cores(measured: Measured) -> str:
        return ", ".join(fmt(v) for v in measured.per_rep("foreign_cores_during"))

    return (
        f"Other processes' CPU load during each repetition (cores): ours {cores(ours)}; "
        f"{reference_name} {cores(reference)}. On an idle machine the CPUs sleep between sequential events "
        "and wake-up time (~0.1 ms here) dominates both servers' latency; under load they stay awake and "
        "latency shows processing time alone, so its ratio is larger. Compare repetitions with like load."
    )


def anchor_figures(anchors: Path, mode_key: str) -> dict[str, float]:
    """The reference fakechat column of the reference table, keyed like chanbench's summary."""
    try:
        text = anchors.read_text()
    except OSError as exc:
        raise BenchError(f"cannot read {anchors}: {exc.strerror}") from None
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in text.splitlines()]
    header = next((row for row in rows if ANCHOR_COLUMN in row), None)
    if header is None:
        raise BenchError(f"{anchors} has no '{ANCHOR_COLUMN}' column")
    column = header.index(ANCHOR_COLUMN)
    figures: dict[str, float] = {}
    for row in rows:
        spec = ANCHOR_ROWS.get(row[0]) if len(row) > column else None
        if spec is None:
            continue
        keys, scale = spec
        numbers = [float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", row[column])]
        for key, number in zip(keys, numbers, strict=False):
            figures[key.format(k=mode_key)] = number * scale
    return figures


# ---------------------------------------------------------------------------- modes


def webhook_mode(settings: Settings, args: argparse.Namespace) -> tuple[str, bool]:
    reference = reference_webhook(Path(args.bun) if args.bun else None)
    ours = our_server("webhook", "WEBHOOK_PORT", args.ours_cmd)
    merged = measure(settings, [reference, ours])
    table = chanbench_report(settings, [merged[reference.label], merged[ours.label]])
    mine, theirs = Measured.load(merged[ours.label]), Measured.load(merged[reference.label])
    targets, met = judge(mine, theirs, "webhook", "Bun")
    notes = [
        load_note(mine, theirs, "Bun"),
        "`cold_first_event_ms`: our server holds events until 1 s after `notifications/initialized`, "
        "because Claude Code installs its channel handler 5-60 ms after it and drops what it reads before "
        "(its `tools/list` comes at once and is no signal), so ours includes that 1 s. The Bun example "
        "sends at once (and would lose events sent in the race).",
    ]
    return compose(settings, "webhook: mcp-channels vs the Bun reference", table, targets, notes), met


def fakechat_mode(settings: Settings, args: argparse.Namespace) -> tuple[str, bool]:
    require_fakechat()
    ours = our_server("fakechat", "FAKECHAT_PORT", args.ours_cmd)
    merged = measure(settings, [ours])
    table = chanbench_report(settings, [merged[ours.label]])
    anchors = anchor_figures(REFERENCE_FIGURES, "ws")
    recorded = Measured({key: {"median": value, "max": value} for key, value in anchors.items()}, [])
    targets, met = judge(Measured.load(merged[ours.label]), recorded, "ws", "Bun (docs/benchmarks.md)")
    notes = [
        "The Bun figures are those of docs/benchmarks.md §4, measured on another day: absolute times across "
        "runs are only indicative; CPU per event and memory compare best.",
    ]
    return compose(settings, "fakechat: mcp-channels vs the recorded Bun reference", table, targets, notes), met


def compose(settings: Settings, title: str, table: str, targets: str, notes: Sequence[str]) -> str:
    host = json.loads(next(settings.out.glob("*-rep1.json")).read_text()).get("host", {})
    return "\n".join(
        [
            f"## {title}",
            "",
            f"{time.strftime('%Y-%m-%d %H:%M')}, {host.get('cpu_model')}, {host.get('nproc')} CPUs, "
            f"Python {host.get('python')} (harness). chanbench: {settings.events} events from {CONCURRENCY} "
            f"senders, {settings.latency_events} sequential latency events, {settings.runs} cold starts; "
            f"{settings.reps} repetition(s) of each server, taking turns; medians [min-max] over repetitions.",
            "",
            table,
            "",
            "### Targets (issue 2)",
            "",
            targets,
            "",
            *(f"- {note}" for note in notes),
            f"- Raw results: `{settings.out.relative_to(REPO) if settings.out.is_relative_to(REPO) else settings.out}`",
        ]
    )


# ---------------------------------------------------------------------------- command line


def slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def log(message: str) -> None:
    print(f"[run_bench] {message}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("webhook", "fakechat"))
    parser.add_argument("--quick", action="store_true", help="few events, one repetition: a smoke test")
    parser.add_argument("--events", type=int, help="throughput events per repetition (full: 20000)")
    parser.add_argument("--latency-events", type=int, help="sequential latency events (full: 2000)")
    parser.add_argument("--warmup-events", type=int, help="untimed events before latency (full: 200)")
    parser.add_argument("--runs", type=int, help="cold starts per repetition (full: 10)")
    parser.add_argument("--reps", type=int, help="repetitions of each server, interleaved (full: 3)")
    parser.add_argument("--chanbench", type=Path, default=DEFAULT_CHANBENCH, help="path to chanbench.py")
    parser.add_argument("--bun", help="use this bun binary instead of the one installed from npm")
    parser.add_argument("--ours-cmd", help="our server's command line (default: .venv/bin/mcp-channels serve MODE)")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.3,
        metavar="CORES",
        help="before each repetition wait until other processes use less than CORES, and re-run (up to "
        "3 times) one they disturbed more (default 0.3; 0 = off)",
    )
    parser.add_argument("--wait-quiet-max", type=float, default=60.0, help="longest wait for quiet, seconds")
    parser.add_argument("--pin", action="store_true", help="pin the harness to CPU 0 and the server to CPU 1")
    parser.add_argument("--fail-on-miss", action="store_true", help="exit 2 when a target is missed")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    size = SIZES["quick" if args.quick else "full"]
    chosen = {
        name: getattr(args, name) if getattr(args, name) is not None else default for name, default in size.items()
    }
    out = RESULTS_DIR / f"{time.strftime('%Y%m%d-%H%M%S')}-{args.mode}"
    settings = Settings(
        chanbench=args.chanbench.resolve(),
        mode=args.mode,
        wait_quiet=args.wait_quiet or None,
        wait_quiet_max=args.wait_quiet_max,
        pin=args.pin,
        out=out,
        **chosen,
    )
    try:
        if not settings.chanbench.is_file():
            raise BenchError(f"chanbench.py not found at {settings.chanbench} (use --chanbench PATH)")
        if min(chosen.values()) < 1:
            raise BenchError("--events, --latency-events, --warmup-events, --runs and --reps must be 1 or more")
        out.mkdir(parents=True)
        run = webhook_mode if args.mode == "webhook" else fakechat_mode
        report, met = run(settings, args)
    except BenchError as exc:
        print(f"run_bench: {exc}", file=sys.stderr)
        return 1
    (out / "report.md").write_text(report + "\n")
    print(report)
    return 2 if args.fail_on_miss and not met else 0


if __name__ == "__main__":
    sys.exit(main())

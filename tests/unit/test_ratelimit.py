"""Throttled log lines: a flood of refusals becomes a few lines and one count."""

from __future__ import annotations

import asyncio
import logging

from mcp_channels._ratelimit import ThrottledLog


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.summary = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        if " more " in record.getMessage():
            self.summary.set()


async def test_a_flood_is_a_few_lines_and_one_count_per_interval() -> None:
    log = logging.getLogger("test.ratelimit")
    log.propagate = False
    collected = Collect()
    log.addHandler(collected)
    try:
        throttled = ThrottledLog(log, "refused requests", interval=0.2, burst=3)
        for index in range(1000):
            throttled("refused request %d", index)
        assert collected.lines == ["refused request 0", "refused request 1", "refused request 2"]
        await asyncio.wait_for(collected.summary.wait(), 5)
        assert collected.lines[3:] == ["997 more refused requests in the last 0.2 s"]
        collected.summary.clear()
        throttled("refused request %d", 1000)  # a new interval: written again
        assert collected.lines[-1] == "refused request 1000"
    finally:
        log.removeHandler(collected)

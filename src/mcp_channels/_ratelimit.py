"""Log lines an outsider can trigger at will, without letting them flood stderr.

A refused request or a failed ``accept`` is worth one line; ten thousand of them a second (a web
page posting in a loop, a client holding every descriptor) would fill the disk or the terminal
and bury everything else. :class:`ThrottledLog` writes the first few of a kind in each interval
and then one summary line with the count of those it held back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Final

DEFAULT_INTERVAL: Final = 10.0
DEFAULT_BURST: Final = 5


class ThrottledLog:
    """At most ``burst`` lines per ``interval`` seconds; the rest are counted and summed up once.

    The summary is written when the interval ends (a timer, so it comes even if the flood stops),
    as ``<n> more <what> in the last <interval> s``.
    """

    def __init__(
        self,
        log: logging.Logger,
        what: str,
        *,
        level: int = logging.WARNING,
        interval: float = DEFAULT_INTERVAL,
        burst: int = DEFAULT_BURST,
    ) -> None:
        self._log = log
        self._what = what
        self._level = level
        self._interval = interval
        self._burst = burst
        self._window_end = 0.0
        self._written = 0
        self._held_back = 0
        self._summary: asyncio.TimerHandle | None = None

    def __call__(self, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now >= self._window_end:
            self._window_end = now + self._interval
            self._written = 0
        if self._written < self._burst:
            self._written += 1
            self._log.log(self._level, message, *args)
            return
        self._held_back += 1
        if self._summary is None:
            loop = asyncio.get_running_loop()
            self._summary = loop.call_later(self._window_end - now, self._write_summary)

    def _write_summary(self) -> None:
        self._summary = None
        self._window_end = 0.0  # the interval is over: the next line starts a new one
        if self._held_back:
            self._log.log(self._level, "%d more %s in the last %g s", self._held_back, self._what, self._interval)
            self._held_back = 0

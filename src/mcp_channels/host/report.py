"""What the host tells its user: readable lines for a person, or one JSON object per line.

Every observable thing the host does goes through :class:`Reporter`, so the two output modes can
never drift apart and tests can rely on the JSON form.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO


class Reporter:
    def __init__(self, *, json_mode: bool, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.json_mode = json_mode
        self._out = out or sys.stdout
        self._err = err or sys.stderr

    def emit(self, kind: str, human: str, **fields: Any) -> None:
        """Report one thing: ``human`` for people, ``{"type": kind, **fields}`` for scripts."""
        if self.json_mode:
            self._out.write(json.dumps({"type": kind, **fields}, ensure_ascii=False) + "\n")
        else:
            self._out.write(human + "\n")
        self._out.flush()

    def server_log(self, server: str, line: str) -> None:
        """A line a server wrote to its stderr; always to our stderr, never mixed into JSON."""
        self._err.write(f"[{server}] {line}\n")
        self._err.flush()

    def problem(self, text: str, **fields: Any) -> None:
        """Something went wrong that the user should see (also in JSON mode, as an ``error``)."""
        if self.json_mode:
            self.emit("error", text, message=text, **fields)
        else:
            self._err.write(f"error: {text}\n")
            self._err.flush()


__all__ = [
    "Reporter",
]

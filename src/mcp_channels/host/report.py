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
            _write_json(self._out, {"type": kind, **fields})
        else:
            _write_text(self._out, human + "\n")

    def server_log(self, server: str, line: str) -> None:
        """A line a server wrote to its stderr; always to our stderr, never mixed into JSON."""
        _write_text(self._err, f"[{server}] {line}\n")

    def problem(self, text: str, **fields: Any) -> None:
        """Something went wrong that the user should see (also in JSON mode, as an ``error``)."""
        if self.json_mode:
            self.emit("error", text, message=text, **fields)
        else:
            _write_text(self._err, f"error: {text}\n")


def _write_json(stream: TextIO, message: dict[str, Any]) -> None:
    """One JSON line, readable as UTF-8; text the stream cannot encode (a lone surrogate, from
    platform text cut in UTF-16) is written as ``\\u`` escapes, which parse back to the same string."""
    line = json.dumps(message, ensure_ascii=False) + "\n"
    try:
        stream.write(line)
    except UnicodeEncodeError:
        stream.write(json.dumps(message) + "\n")
    stream.flush()


def _write_text(stream: TextIO, text: str) -> None:
    """A line for people; what the stream cannot encode is shown as its escape (``\\ud83d``)."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        stream.write(text)
    except UnicodeEncodeError:
        stream.write(text.encode(encoding, "backslashreplace").decode(encoding))
    stream.flush()


__all__ = [
    "Reporter",
]

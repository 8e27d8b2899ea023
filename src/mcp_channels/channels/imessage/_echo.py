"""Recognising our own sends when Messages hands them back to us in the self-chat.

A message sent to your own address comes back as an incoming row (``is_from_me = 0``) of the
self-chat, which would otherwise reach Claude as if the user had written it. Every successful
send is remembered for 15 s under a normalised key (Messages may turn quotes curly, add variation
selectors or drop the trailing signature), and the first matching incoming self-chat row within
that window is swallowed.

Unlike the official filter, which keeps one timestamp per key, each send is counted: three
identical sends (or three attachments, which all share one key) suppress three echoes, not one.
"""

from __future__ import annotations

import collections
import re
import time
from collections.abc import Callable
from typing import Final

ECHO_WINDOW: Final = 15.0
#: The key of every attachment send (an attachment's echo row has no text to compare).
ATTACHMENT_KEY: Final = "\x00att"
KEY_LENGTH: Final = 120

_SIGNATURE_TAIL: Final = re.compile(r"\s*Sent by Claude\s*$")
_INVISIBLE: Final = re.compile("[\u200d\ufe00-\ufe0f]")
_QUOTES: Final = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
_SPACES: Final = re.compile(r"\s+")


def echo_key(text: str) -> str:
    """``text`` reduced to what survives Messages' rewriting (the official ``echoKey``)."""
    text = _SIGNATURE_TAIL.sub("", text)
    text = _INVISIBLE.sub("", text).translate(_QUOTES).strip()
    return _SPACES.sub(" ", text)[:KEY_LENGTH]


class EchoFilter:
    """Sends remembered per chat for :data:`ECHO_WINDOW` seconds, each consumable once."""

    def __init__(self, window: float = ECHO_WINDOW, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window
        self._clock = clock
        self._sent: dict[tuple[str, str], collections.deque[float]] = {}

    def track(self, chat_guid: str, text: str) -> None:
        """Remember a successful send (``text`` = :data:`ATTACHMENT_KEY` for an attachment)."""
        now = self._clock()
        self._prune(now)
        self._sent.setdefault((chat_guid, echo_key(text)), collections.deque()).append(now)

    def consume(self, chat_guid: str, text: str) -> bool:
        """Whether an incoming row is the echo of a recent send; if so, that send is used up."""
        now = self._clock()
        self._prune(now)
        key = (chat_guid, echo_key(text))
        sends = self._sent.get(key)
        if not sends:
            return False
        sends.popleft()
        if not sends:
            del self._sent[key]
        return True

    def _prune(self, now: float) -> None:
        for key in list(self._sent):
            sends = self._sent[key]
            while sends and now - sends[0] > self._window:
                sends.popleft()
            if not sends:
                del self._sent[key]

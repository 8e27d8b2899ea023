"""One attached session shim, as the hub holds it: its link, what it announced, what it has in flight."""

from __future__ import annotations

import itertools
import time
from typing import Final

from ._socket import Link
from ._wire import EVENT, NOTICE, PERMISSION_VERDICT, WINDOW, Attach, Delivered, SessionInfo

_order: Final = itertools.count(1)


class Attachment:
    """A session attached for one channel.

    ``inflight`` maps the seq of each event sent and not yet acknowledged to its conversation;
    at most :data:`~._wire.WINDOW` are, so a session whose Claude Code stopped reading holds
    little of the hub.
    """

    def __init__(self, link: Link, attach: Attach) -> None:
        self.link = link
        self.session: SessionInfo = attach.session
        self.channel = attach.channel
        self.server = attach.server
        self.settings = dict(attach.settings)
        self.attached_at = time.time()
        self.order = next(_order)
        self.inflight: dict[int, str] = {}
        self.delivered = 0
        #: Why this attachment gets no events or tools (a settings conflict), or ``None``.
        self.refused: str | None = None

    @property
    def open(self) -> bool:
        return not self.link.closed.is_set()

    @property
    def routable(self) -> bool:
        """Whether conversations may go to it: open, accepted, and its session delivers."""
        return self.open and self.refused is None and self.session.delivers

    def can_take(self) -> bool:
        return self.routable and len(self.inflight) < WINDOW

    def send_event(self, event: Delivered) -> None:
        self.inflight[event.seq] = event.conversation
        self.link.peer.notify(EVENT, event.to_json())

    def send_verdict(self, request_id: str, behavior: str) -> None:
        self.link.peer.notify(PERMISSION_VERDICT, {"request_id": request_id, "behavior": behavior})

    def notice(self, message: str, level: str = "warning", *, attached: bool = False) -> None:
        """A line for the session's stderr; ``attached`` says a refusal is over."""
        if self.open:
            self.link.peer.notify(NOTICE, {"level": level, "message": message, "attached": attached})

    def describe(self) -> dict[str, object]:
        """For ``hub status``."""
        return {
            "session": self.session.key,
            "label": self.session.label,
            "channel": self.channel,
            "server": self.server,
            "attached_at": self.attached_at,
            "delivery": self.session.delivery,
            "tools_only": not self.session.delivers,
            "refused": self.refused,
            "in_flight": len(self.inflight),
            "delivered": self.delivered,
        }


__all__ = ["Attachment"]

"""One attached session shim, as the hub holds it: who its session is, its link, what it has in flight."""

from __future__ import annotations

import itertools
import time
from typing import Final

from ..delivery import detect_delivery, identify_server
from ._socket import Link
from ._wire import EVENT, NOTICE, PERMISSION_VERDICT, SESSION_ID_VAR, WINDOW, Attach, Delivered, SessionInfo


def session_of(attach: Attach) -> SessionInfo:
    """The session a shim belongs to, and whether it delivers, read from the shim's process tree.

    Runs :func:`~mcp_channels.delivery.detect_delivery` for the shim's pid with the variables it
    forwarded, as the shim itself would (blocking for a few milliseconds: call it in a thread).
    The key is the Claude Code session id, else its pid: every shim of one session shares it.
    """
    identity = identify_server(attach.channel, attach.server, attach.environ)
    delivery = detect_delivery(identity, attach.environ, pid=attach.pid)
    host_pid = delivery.host_pid
    key = attach.environ.get(SESSION_ID_VAR) or f"pid:{host_pid or attach.pid}"
    return SessionInfo(
        key=key,
        pid=attach.pid,
        delivery=delivery.state,
        delivery_reason=delivery.reason,
        name=attach.name,
        project_dir=attach.project_dir,
        host_pid=host_pid,
    )


_order: Final = itertools.count(1)


class Attachment:
    """A session attached for one channel.

    ``inflight`` maps the seq of each event sent and not yet acknowledged to its conversation;
    at most :data:`~._wire.WINDOW` are, so a session whose Claude Code stopped reading holds
    little of the hub.
    """

    def __init__(self, link: Link, attach: Attach, session: SessionInfo) -> None:
        self.link = link
        self.session = session
        self.channel = attach.channel
        self.server = attach.server
        self.settings = dict(attach.settings)
        self.attached_at = time.time()
        self.order = next(_order)
        self.inflight: dict[int, str] = {}
        #: Events sent while being committed, by id: their conversation, until the seq is known.
        self.early: dict[str, str] = {}
        self._early_acked: set[str] = set()
        self._early_seqs: dict[str, int] = {}
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
        return self.routable and len(self.inflight) + len(self.early) < WINDOW

    def send_event(self, event: Delivered) -> None:
        self.inflight[event.seq] = event.conversation
        self.link.peer.notify(EVENT, event.to_json())

    def send_early(self, event: Delivered) -> None:
        """An event whose commit is under way (seq 0): acknowledged by id."""
        self.early[event.id] = event.conversation
        self.link.peer.notify(EVENT, event.to_json())

    def early_committed(self, event_id: str, seq: int) -> bool:
        """The early event ``event_id`` is stored as ``seq``; ``True`` when the session already acknowledged it."""
        conversation = self.early.pop(event_id, None)
        if conversation is None:
            return False
        self.inflight[seq] = conversation
        if event_id in self._early_acked:
            self._early_acked.discard(event_id)
            return True
        self._early_seqs[event_id] = seq
        return False

    def early_acknowledged(self, event_id: str) -> int | None:
        """The session wrote an early event: its seq when committed (to count now), else ``None`` (counted later)."""
        seq = self._early_seqs.pop(event_id, None)
        if seq is None and event_id in self.early:
            self._early_acked.add(event_id)
        return seq

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
            "delivery_reason": self.session.delivery_reason,
            "tools_only": not self.session.delivers,
            "refused": self.refused,
            "in_flight": len(self.inflight),
            "delivered": self.delivered,
        }


__all__ = ["Attachment"]

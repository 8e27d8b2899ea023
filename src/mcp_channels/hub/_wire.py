"""The attachment protocol: what a ``serve`` shim, the command line and the hub say to each other.

JSON-RPC 2.0, one object per line (the project's :class:`~mcp_channels.jsonrpc.Peer`), over the
hub's socket. Pure: names, shapes and their validation, no I/O, so the hub and its clients can
never disagree. Every value from the other end is checked here before use; a malformed message
is answered with ``-32602`` and changes nothing.

A session's shim, after connecting:

* ``hub/attach`` (request): who it is (its pid, the Claude Code session id and project directory,
  its session name, the variables that decide whether its session delivers), the channel and the
  settings it was started with. The hub makes the :class:`SessionInfo` of it. The answer names
  the session key and says whether the session delivers, or why it is refused (settings that
  conflict with another session's: the message is for the user).
* ``hub/event`` (hub → shim, notification): one event, with its ``seq``, ``id`` and conversation.
  At most :data:`WINDOW` events are unacknowledged per attachment.
* ``hub/ack`` (shim → hub, notification): the event was written to Claude Code and the readiness
  hold was past; the hub moves the conversation's cursor.
* ``hub/call_tool`` (request): a ``tools/call`` of the model, run by the hub's channel.
* ``hub/permission_request`` (shim → hub) and ``hub/permission_verdict`` (hub → shim),
  notifications: the permission relay, verdicts going back to the requesting session only.
* ``hub/notice`` (hub → shim): a line for the session's stderr (a settings conflict, a channel
  that failed to start).

The command line says ``hub/hello`` instead of attaching, then ``hub/status``, ``hub/route`` or
``hub/stop``. In TCP mode both ``hub/attach`` and ``hub/hello`` carry the token; nothing else is
served before one of them succeeded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ..delivery import DELIVERING, NOT_DELIVERING, UNKNOWN, DeliveryState
from ..errors import WireError

PROTOCOL_VERSION: Final = 1

ATTACH: Final = "hub/attach"
HELLO: Final = "hub/hello"
EVENT: Final = "hub/event"
ACK: Final = "hub/ack"
CALL_TOOL: Final = "hub/call_tool"
PERMISSION_REQUEST: Final = "hub/permission_request"
PERMISSION_VERDICT: Final = "hub/permission_verdict"
NOTICE: Final = "hub/notice"
STATUS: Final = "hub/status"
ROUTE: Final = "hub/route"
STOP: Final = "hub/stop"

#: Error codes of the hub (JSON-RPC's server-defined range).
UNAUTHORIZED: Final = -32001
NOT_ATTACHED: Final = -32003
BAD_ROUTE: Final = -32005
VERSION_MISMATCH: Final = -32006

#: Set by Claude Code (and the host emulator) for the servers of a session: one id per session.
SESSION_ID_VAR: Final = "CLAUDE_CODE_SESSION_ID"
#: Events sent to one attachment and not yet acknowledged, at most. Enough to keep the pipe busy;
#: small enough that a session whose Claude Code stopped reading holds little of the hub.
WINDOW: Final = 256
#: Caps of the strings a session announces (they are shown by ``hub status`` and ``/sessions``).
MAX_LABEL: Final = 256
MAX_PATH: Final = 4096
MAX_SETTINGS: Final = 200
MAX_SETTING_BYTES: Final = 16 * 1024

_DELIVERY_STATES: Final = (DELIVERING, NOT_DELIVERING, UNKNOWN)


@dataclass(frozen=True)
class SessionInfo:
    """A Claude Code session as its shim announces it.

    ``key`` identifies the session: ``CLAUDE_CODE_SESSION_ID`` when Claude Code (or the host
    emulator) set it, else ``pid:<Claude Code's pid>``. Every shim of one session (one per
    channel) gives the same key. ``delivery`` is whether the session registers the channel
    (:mod:`mcp_channels.delivery`); only a session that does not drop events may own a conversation.
    """

    key: str
    pid: int
    delivery: DeliveryState
    delivery_reason: str = ""
    name: str | None = None
    project_dir: str | None = None
    host_pid: int | None = None

    @property
    def delivers(self) -> bool:
        """Unknown counts as delivering, as a standalone server treats it."""
        return self.delivery != NOT_DELIVERING

    @property
    def label(self) -> str:
        """How people see the session: its name, else its project folder, else its key."""
        if self.name:
            return self.name
        if self.project_dir:
            return self.project_dir.rstrip("/").rsplit("/", 1)[-1] or self.project_dir
        return self.key[:12]

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "pid": self.pid,
            "delivery": self.delivery,
            "delivery_reason": self.delivery_reason,
            "name": self.name,
            "project_dir": self.project_dir,
            "host_pid": self.host_pid,
        }

    @classmethod
    def from_json(cls, raw: Any) -> SessionInfo:
        data = _object(raw, "session")
        delivery = data.get("delivery")
        if delivery not in _DELIVERY_STATES:
            raise WireError(f"session.delivery must be one of {', '.join(_DELIVERY_STATES)}")
        return cls(
            key=_text(data.get("key"), "session.key", MAX_LABEL),
            pid=_pid(data.get("pid"), "session.pid"),
            delivery=delivery,
            delivery_reason=_optional_text(data.get("delivery_reason"), "session.delivery_reason", MAX_PATH) or "",
            name=_optional_text(data.get("name"), "session.name", MAX_LABEL),
            project_dir=_optional_text(data.get("project_dir"), "session.project_dir", MAX_PATH),
            host_pid=None if data.get("host_pid") is None else _pid(data.get("host_pid"), "session.host_pid"),
        )


@dataclass(frozen=True)
class Attach:
    """``hub/attach`` params: a session's shim asking for one channel's events and tools.

    The shim says who it is and what it was started with; the hub works out the session from it
    (:func:`mcp_channels.hub._sessions.session_of`), whether it delivers included, so the shim
    need not load the process-table library that takes.
    """

    channel: str
    server: str
    pid: int
    environ: Mapping[str, str]
    settings: Mapping[str, str]
    name: str | None = None
    project_dir: str | None = None
    token: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "protocol": PROTOCOL_VERSION,
            "token": self.token,
            "channel": self.channel,
            "server": self.server,
            "pid": self.pid,
            "environ": dict(self.environ),
            "settings": dict(self.settings),
            "name": self.name,
            "project_dir": self.project_dir,
        }

    @classmethod
    def from_json(cls, raw: Any) -> Attach:
        data = _object(raw, "params")
        check_version(data)
        return cls(
            channel=_text(data.get("channel"), "channel", 64),
            server=_text(data.get("server"), "server", MAX_LABEL),
            pid=_pid(data.get("pid"), "pid"),
            environ=settings_from_json(data.get("environ"), "environ"),
            settings=settings_from_json(data.get("settings")),
            name=_optional_text(data.get("name"), "name", MAX_LABEL),
            project_dir=_optional_text(data.get("project_dir"), "project_dir", MAX_PATH),
            token=_optional_text(data.get("token"), "token", MAX_LABEL),
        )


@dataclass(frozen=True)
class Delivered:
    """``hub/event`` params: one event on its way to a session; ``seq`` 0 while it is being committed."""

    channel: str
    conversation: str
    seq: int
    id: str
    content: str
    meta: Mapping[str, str]

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "conversation": self.conversation,
            "seq": self.seq,
            "id": self.id,
            "content": self.content,
            "meta": dict(self.meta),
        }

    @classmethod
    def from_json(cls, raw: Any) -> Delivered:
        data = _object(raw, "params")
        meta = _object(data.get("meta"), "meta")
        if not all(isinstance(key, str) and isinstance(value, str) for key, value in meta.items()):
            raise WireError("meta must map strings to strings")
        content = data.get("content")
        if not isinstance(content, str):
            raise WireError("content must be a string")
        return cls(
            channel=_text(data.get("channel"), "channel", 64),
            conversation=_text(data.get("conversation"), "conversation", MAX_LABEL),
            seq=_seq(data.get("seq")),
            id=_text(data.get("id"), "id", MAX_LABEL),
            content=content,
            meta=meta,
        )


@dataclass(frozen=True)
class Ack:
    """``hub/ack`` params: the session wrote the event ``seq`` (or, sent with seq 0, the event ``id``)."""

    channel: str
    conversation: str
    seq: int
    id: str

    def to_json(self) -> dict[str, Any]:
        return {"channel": self.channel, "conversation": self.conversation, "seq": self.seq, "id": self.id}

    @classmethod
    def from_json(cls, raw: Any) -> Ack:
        data = _object(raw, "params")
        return cls(
            channel=_text(data.get("channel"), "channel", 64),
            conversation=_text(data.get("conversation"), "conversation", MAX_LABEL),
            seq=_seq(data.get("seq")),
            id=_text(data.get("id"), "id", MAX_LABEL),
        )


def check_version(data: Mapping[str, Any]) -> None:
    if data.get("protocol") != PROTOCOL_VERSION:
        raise WireError(
            f"attachment protocol {data.get('protocol')!r} is not this hub's ({PROTOCOL_VERSION}): "
            "stop the hub (mcp-channels hub stop) so the new version starts"
        )


def settings_from_json(raw: Any, what: str = "settings") -> dict[str, str]:
    """Environment variables (a channel's settings, or what decides a session's delivery), bounded."""
    data = _object(raw, what)
    if len(data) > MAX_SETTINGS:
        raise WireError(f"at most {MAX_SETTINGS} {what}")
    settings: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(key, str) or not key.replace("_", "a").isalnum() or not key[:1].isalpha():
            raise WireError(f"setting name {str(key)[:40]!r} is not an environment variable name")
        if not isinstance(value, str) or len(value.encode("utf-8", "surrogatepass")) > MAX_SETTING_BYTES:
            raise WireError(f"setting {key} must be a string of at most {MAX_SETTING_BYTES} bytes")
        settings[key] = value
    return settings


def _object(raw: Any, what: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise WireError(f"{what} must be an object")
    return raw


def _text(raw: Any, what: str, limit: int) -> str:
    if not isinstance(raw, str) or not raw or len(raw) > limit or not raw.isprintable():
        raise WireError(f"{what} must be a printable string of 1-{limit} characters")
    return raw


def _optional_text(raw: Any, what: str, limit: int) -> str | None:
    return None if raw is None or raw == "" else _text(raw, what, limit)


def _pid(raw: Any, what: str) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
        raise WireError(f"{what} must be a process id")
    return raw


def _seq(raw: Any) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
        raise WireError("seq must be a whole number (0: not committed yet)")
    return raw


__all__ = [
    "ACK",
    "ATTACH",
    "BAD_ROUTE",
    "CALL_TOOL",
    "EVENT",
    "HELLO",
    "NOTICE",
    "NOT_ATTACHED",
    "PERMISSION_REQUEST",
    "PERMISSION_VERDICT",
    "PROTOCOL_VERSION",
    "ROUTE",
    "SESSION_ID_VAR",
    "STATUS",
    "STOP",
    "UNAUTHORIZED",
    "VERSION_MISMATCH",
    "WINDOW",
    "Ack",
    "Attach",
    "Delivered",
    "SessionInfo",
    "WireError",
    "check_version",
    "settings_from_json",
]

"""Who may talk to Claude through a chat channel: the access file and the inbound gate.

One implementation for Telegram, Discord and iMessage, in the official plugins' file format
(``official-plugins.md`` §1.6–1.9), so a user can switch between them and us without losing a
pairing. Where the official servers are fragile, this module is not:

* every write is a read-modify-write under a cross-process lock (``access.json.lock``), so the
  running server adding a pairing code and the command line allowing someone never lose each
  other's update (the official skill and server race: last writer wins);
* a file with a wrong type in one field is reported field by field and only that field falls
  back to its default (the official reader trusts the types and misbehaves later); before such a
  file is rewritten, the original is kept beside it;
* unknown keys are kept on write (the official drops them).

The gate is re-evaluated against the file on every message (hot reload), except in static mode
(``<CHANNEL>_ACCESS_MODE=static``), where the file is read once and never written.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

from .state import atomic_write, ensure_private_dir, file_lock
from .text import CHUNK_MODES, mention_patterns_match

DM_POLICIES: Final = ("pairing", "allowlist", "disabled")
REPLY_TO_MODES: Final = ("off", "first", "all")

ACCESS_FILE: Final = "access.json"
LOCK_FILE: Final = "access.json.lock"
APPROVED_DIR: Final = "approved"

#: A pairing code is valid for one hour.
PAIRING_TTL_MS: Final = 3_600_000
#: At most this many codes outstanding at once, over all senders.
MAX_PENDING: Final = 3
#: The first answer and one "Still pending" reminder, then silence.
MAX_PAIRING_REPLIES: Final = 2
#: How often the running server looks for approvals written by the command line (seconds).
APPROVAL_POLL_INTERVAL: Final = 5.0

PAIRED_MESSAGE: Final = "Paired! Say hi to Claude."

#: Top-level keys this module understands; any other key is carried through untouched.
KNOWN_KEYS: Final = (
    "dmPolicy",
    "allowFrom",
    "groups",
    "pending",
    "mentionPatterns",
    "ackReaction",
    "replyToMode",
    "textChunkLimit",
    "chunkMode",
)

T = TypeVar("T")


class AccessError(ValueError):
    """A request on the access file that cannot be carried out; the message says why."""


# --------------------------------------------------------------------------- the file model


@dataclass
class GroupPolicy:
    """An opted-in group: who in it may talk (empty: anyone), and whether the bot must be mentioned."""

    require_mention: bool = True
    allow_from: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"requireMention": self.require_mention, "allowFrom": list(self.allow_from)}
        return {**out, **{k: v for k, v in self.extra.items() if k not in out}}


@dataclass
class PendingPairing:
    """A pairing code sent to an unknown sender, waiting for ``access pair <code>``. Times in ms."""

    sender_id: str
    chat_id: str
    created_at: int
    expires_at: int
    replies: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "senderId": self.sender_id,
            "chatId": self.chat_id,
            "createdAt": self.created_at,
            "expiresAt": self.expires_at,
            "replies": self.replies,
        }
        return {**out, **{k: v for k, v in self.extra.items() if k not in out}}


@dataclass
class Access:
    """The contents of ``access.json``."""

    dm_policy: str = "pairing"
    allow_from: list[str] = field(default_factory=list)
    groups: dict[str, GroupPolicy] = field(default_factory=dict)
    pending: dict[str, PendingPairing] = field(default_factory=dict)
    mention_patterns: list[str] = field(default_factory=list)
    ack_reaction: str | None = None
    reply_to_mode: str = "first"
    text_chunk_limit: int | None = None
    chunk_mode: str = "length"
    extra: dict[str, Any] = field(default_factory=dict)

    def chunk_limit(self, cap: int) -> int:
        """The piece size for replies: ``textChunkLimit`` clamped to ``[1, cap]``; unset or 0: ``cap``."""
        return max(1, min(self.text_chunk_limit or cap, cap))

    def prune_expired(self, now_ms: int) -> bool:
        """Drop pairing codes past their expiry; whether any was dropped."""
        expired = [code for code, entry in self.pending.items() if entry.expires_at < now_ms]
        for code in expired:
            del self.pending[code]
        return bool(expired)

    def to_json(self) -> dict[str, Any]:
        """The file's JSON object: the four core keys always, the options when not at their default."""
        out: dict[str, Any] = {
            "dmPolicy": self.dm_policy,
            "allowFrom": list(self.allow_from),
            "groups": {key: group.to_json() for key, group in self.groups.items()},
            "pending": {code: entry.to_json() for code, entry in self.pending.items()},
        }
        if self.mention_patterns:
            out["mentionPatterns"] = list(self.mention_patterns)
        if self.ack_reaction is not None:
            out["ackReaction"] = self.ack_reaction
        if self.reply_to_mode != "first":
            out["replyToMode"] = self.reply_to_mode
        if self.text_chunk_limit is not None:
            out["textChunkLimit"] = self.text_chunk_limit
        if self.chunk_mode != "length":
            out["chunkMode"] = self.chunk_mode
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out


def render_access(access: Access) -> str:
    """The file text: pretty JSON, 2-space indent, trailing newline (as the official writes it)."""
    return json.dumps(access.to_json(), indent=2, ensure_ascii=False) + "\n"


def parse_access(data: Mapping[str, Any], *, default_dm_policy: str = "pairing") -> tuple[Access, list[str]]:
    """Read the file's JSON object field by field: the model, and one line per field that was wrong.

    A missing or ``null`` key takes its default silently (as the official ``??`` does); a key of
    the wrong type takes its default with a problem reported; unknown keys go to ``extra``.
    """
    problems: list[str] = []
    access = Access(dm_policy=default_dm_policy)
    access.extra = {key: value for key, value in data.items() if key not in KNOWN_KEYS}
    present = {key: value for key, value in data.items() if key in KNOWN_KEYS and value is not None}

    if "dmPolicy" in present:
        access.dm_policy = _choice(present["dmPolicy"], DM_POLICIES, default_dm_policy, "dmPolicy", problems)
    if "allowFrom" in present:
        access.allow_from = _ids(present["allowFrom"], "allowFrom", problems)
    if "groups" in present:
        access.groups = _groups(present["groups"], problems)
    if "pending" in present:
        access.pending = _pending(present["pending"], problems)
    if "mentionPatterns" in present:
        access.mention_patterns = _strings(present["mentionPatterns"], "mentionPatterns", problems)
    if "ackReaction" in present:
        value = present["ackReaction"]
        if isinstance(value, str):
            access.ack_reaction = value
        else:
            problems.append(f"ackReaction: expected a string, got {_show(value)}; no reaction")
    if "replyToMode" in present:
        access.reply_to_mode = _choice(present["replyToMode"], REPLY_TO_MODES, "first", "replyToMode", problems)
    if "textChunkLimit" in present:
        access.text_chunk_limit = _integer(present["textChunkLimit"], "textChunkLimit", problems)
    if "chunkMode" in present:
        access.chunk_mode = _choice(present["chunkMode"], CHUNK_MODES, "length", "chunkMode", problems)
    return access, problems


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _choice(value: Any, allowed: tuple[str, ...], default: str, where: str, problems: list[str]) -> str:
    if isinstance(value, str) and value in allowed:
        return value
    problems.append(f"{where}: expected one of {', '.join(allowed)}, got {_show(value)}; using {default!r}")
    return default


def _integer(value: Any, where: str, problems: list[str]) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    problems.append(f"{where}: expected a whole number, got {_show(value)}; using the default")
    return None


def _strings(value: Any, where: str, problems: list[str]) -> list[str]:
    if not isinstance(value, list):
        problems.append(f"{where}: expected a list of strings, got {_show(value)}; using []")
        return []
    kept: list[str] = []
    for index, item in enumerate(value):
        if isinstance(item, str):
            kept.append(item)
        else:
            problems.append(f"{where}[{index}]: expected a string, got {_show(item)}; skipped")
    return kept


def _id(value: Any) -> str | None:
    """A platform id: a string, or a whole number written without quotes (a common hand edit)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _ids(value: Any, where: str, problems: list[str]) -> list[str]:
    if not isinstance(value, list):
        problems.append(f"{where}: expected a list of id strings, got {_show(value)}; using []")
        return []
    kept: list[str] = []
    for index, item in enumerate(value):
        ident = _id(item)
        if ident is None:
            problems.append(f"{where}[{index}]: expected an id string, got {_show(item)}; skipped")
            continue
        if not isinstance(item, str):
            problems.append(f"{where}[{index}]: expected an id string, got {_show(item)}; using {ident!r}")
        kept.append(ident)
    return kept


def _groups(value: Any, problems: list[str]) -> dict[str, GroupPolicy]:
    if not isinstance(value, dict):
        problems.append(f"groups: expected an object, got {_show(value)}; using {{}}")
        return {}
    groups: dict[str, GroupPolicy] = {}
    for key, entry in value.items():
        where = f"groups[{key!r}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected an object, got {_show(entry)}; group ignored")
            continue
        group = GroupPolicy(extra={k: v for k, v in entry.items() if k not in ("requireMention", "allowFrom")})
        mention = entry.get("requireMention")
        if isinstance(mention, bool):
            group.require_mention = mention
        elif mention is not None:
            problems.append(f"{where}.requireMention: expected true or false, got {_show(mention)}; using true")
        if entry.get("allowFrom") is not None:
            group.allow_from = _ids(entry["allowFrom"], f"{where}.allowFrom", problems)
        groups[key] = group
    return groups


def _pending(value: Any, problems: list[str]) -> dict[str, PendingPairing]:
    if not isinstance(value, dict):
        problems.append(f"pending: expected an object, got {_show(value)}; using {{}}")
        return {}
    pending: dict[str, PendingPairing] = {}
    for code, entry in value.items():
        where = f"pending[{code!r}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected an object, got {_show(entry)}; entry dropped")
            continue
        sender, chat = _id(entry.get("senderId")), _id(entry.get("chatId"))
        expires = _integer(entry.get("expiresAt"), f"{where}.expiresAt", [])
        if sender is None or chat is None or expires is None:
            problems.append(f"{where}: needs senderId, chatId and expiresAt, got {_show(entry)}; entry dropped")
            continue
        raw_created = entry.get("createdAt")
        created = None if raw_created is None else _integer(raw_created, f"{where}.createdAt", problems)
        replies = entry.get("replies", 1)
        if not isinstance(replies, int) or isinstance(replies, bool):
            problems.append(f"{where}.replies: expected a whole number, got {_show(replies)}; using 1")
            replies = 1
        known = ("senderId", "chatId", "createdAt", "expiresAt", "replies")
        pending[code] = PendingPairing(
            sender_id=sender,
            chat_id=chat,
            created_at=expires - PAIRING_TTL_MS if created is None else created,
            expires_at=expires,
            replies=replies,
            extra={k: v for k, v in entry.items() if k not in known},
        )
    return pending


# --------------------------------------------------------------------------- the store


@dataclass
class _Read:
    """One reading of the file: the model, the raw text (``None``: no file), what was wrong."""

    access: Access
    text: str | None = None
    problems: list[str] = field(default_factory=list)
    corrupt: str | None = None  # why the file could not be used at all


class AccessStore:
    """``<state dir>/access.json`` for one channel: hot-reloaded reads, locked atomic writes.

    ``static`` (default: ``<CHANNEL>_ACCESS_MODE=static`` in ``environ``) reads the file once,
    here, downgrades ``pairing`` to ``allowlist`` (nobody could approve a code), clears pending
    codes and never writes; updates then change only the in-memory snapshot.
    """

    def __init__(
        self,
        channel: str,
        state_dir: Path,
        *,
        default_dm_policy: str = "pairing",
        static: bool | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if default_dm_policy not in DM_POLICIES:
            raise ValueError(f"default_dm_policy must be one of {', '.join(DM_POLICIES)}")
        env = os.environ if environ is None else environ
        self.channel = channel
        self.state_dir = Path(state_dir)
        self.default_dm_policy = default_dm_policy
        self.static = env.get(f"{channel.upper()}_ACCESS_MODE") == "static" if static is None else static
        self.log = logging.getLogger(f"mcp_channels.{channel}.access")
        self._reported: str | None = None
        self._snapshot: Access | None = None
        if self.static:
            snapshot = self._load_from_disk()
            if snapshot.dm_policy == "pairing":
                snapshot.dm_policy = "allowlist"
                self.log.warning('static mode — dmPolicy "pairing" downgraded to "allowlist"')
            snapshot.pending.clear()
            self._snapshot = snapshot

    @property
    def path(self) -> Path:
        return self.state_dir / ACCESS_FILE

    @property
    def approved_dir(self) -> Path:
        return self.state_dir / APPROVED_DIR

    def load(self) -> Access:
        """The current access rules (a fresh read of the file, or a copy of the static snapshot)."""
        if self._snapshot is not None:
            return copy.deepcopy(self._snapshot)
        return self._load_from_disk()

    def update(self, mutate: Callable[[Access], T]) -> T:
        """Apply ``mutate`` to the current rules and save them, atomically and under the lock.

        If ``mutate`` raises, nothing is written. The file is rewritten only when the result
        differs from what is on disk. Not re-entrant: ``mutate`` must not call ``update``.
        """
        if self._snapshot is not None:
            return mutate(self._snapshot)
        ensure_private_dir(self.state_dir)
        with self._locked():
            read = self._read()
            if read.corrupt is not None:
                self._move_aside(read.corrupt)
                read = _Read(Access(dm_policy=self.default_dm_policy))
            else:
                self._report(read)
            result = mutate(read.access)
            text = render_access(read.access)
            if text != read.text:
                if read.problems and read.text is not None:
                    self._keep_original(read.text)
                atomic_write(self.path, text, mode=0o600)
            return result

    # ---- internals

    def _load_from_disk(self) -> Access:
        read = self._read()
        if read.corrupt is None:
            self._report(read)
            return read.access
        # Decide under the lock: a writer may have just replaced the bad file with a good one.
        with self._locked(required=False):
            read = self._read()
            if read.corrupt is None:
                self._report(read)
                return read.access
            self._move_aside(read.corrupt)
        return Access(dm_policy=self.default_dm_policy)

    def _read(self) -> _Read:
        defaults = Access(dm_policy=self.default_dm_policy)
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return _Read(defaults)
        except OSError as exc:
            return _Read(defaults, corrupt=exc.strerror or type(exc).__name__)
        try:
            text = raw.decode("utf-8")
            data = json.loads(text)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            return _Read(defaults, corrupt=str(exc) or type(exc).__name__)
        if not isinstance(data, dict):
            return _Read(defaults, corrupt=f"the top level is {_show(data)}, not an object")
        access, problems = parse_access(data, default_dm_policy=self.default_dm_policy)
        return _Read(access, text, problems)

    def _report(self, read: _Read) -> None:
        """Log a file's problems once per distinct content, not on every message."""
        if not read.problems:
            self._reported = None
            return
        if read.text == self._reported:
            return
        self._reported = read.text
        for problem in read.problems:
            self.log.warning("%s: %s", self.path, problem)

    def _move_aside(self, reason: str) -> None:
        target = self._sibling("corrupt")
        try:
            os.rename(self.path, target)
        except FileNotFoundError:
            return
        except OSError as exc:
            self.log.error(
                "%s is corrupt (%s) and could not be moved aside (%s); using defaults", self.path, reason, exc
            )
            return
        self.log.error("%s is corrupt (%s), moved aside to %s. Starting fresh.", self.path, reason, target.name)

    def _keep_original(self, text: str) -> None:
        target = self._sibling("invalid")
        atomic_write(target, text, mode=0o600)
        self.log.warning(
            "%s had invalid fields (see above); rewriting it, the original is kept as %s", self.path, target.name
        )

    def _sibling(self, kind: str) -> Path:
        stamp = epoch_ms()
        while (target := self.path.with_name(f"{ACCESS_FILE}.{kind}-{stamp}")).exists():
            stamp += 1
        return target

    def _locked(self, *, required: bool = True) -> contextlib.AbstractContextManager[None]:
        return file_lock(self.state_dir / LOCK_FILE, required=required)


def epoch_ms() -> int:
    """The time as the access file stores it: milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


# --------------------------------------------------------------------------- the gate


@dataclass(frozen=True)
class InboundMessage:
    """What the gate needs to know about one incoming platform message.

    ``group_key``: the group's entry in ``groups`` (defaults to ``chat_id``; Discord threads use
    their parent channel). ``mentioned``: the platform's own mention detection (an @bot entity, a
    reply to the bot...); ``mentionPatterns`` are applied to ``text`` by the gate itself.
    """

    sender_id: str
    chat_id: str
    is_dm: bool
    text: str = ""
    group_key: str | None = None
    mentioned: bool = False


@dataclass(frozen=True)
class GateResult:
    """The gate's decision: ``deliver``, ``drop``, or ``pair`` (answer with ``pairing_reply``)."""

    action: str
    reason: str
    code: str | None = None
    resend: bool = False

    @property
    def deliver(self) -> bool:
        return self.action == "deliver"


def gate(store: AccessStore, message: InboundMessage, *, now_ms: int | None = None) -> GateResult:
    """Decide what to do with an incoming message (``official-plugins.md`` §1.7).

    The common case (deliver or drop, nothing to record) reads the file without the lock; when
    the decision changes the file (a new code, a reminder, an expired code pruned), it is taken
    again on a fresh read under the lock, so a concurrent command-line edit is never lost.
    """
    now = epoch_ms() if now_ms is None else now_ms
    result, changed = _decide(store.load(), message, now, store.log)
    if not changed:
        return result
    try:
        return store.update(lambda access: _decide(access, message, now, store.log)[0])
    except OSError as exc:
        store.log.error("could not save %s: %s; message dropped", store.path, exc)
        return GateResult("drop", f"could not save the access file: {exc}")


def _decide(access: Access, message: InboundMessage, now: int, log: logging.Logger) -> tuple[GateResult, bool]:
    """The decision, mutating ``access``; whether ``access`` changed."""
    changed = access.prune_expired(now)
    if access.dm_policy == "disabled":
        return GateResult("drop", "dmPolicy is disabled"), changed
    if message.is_dm:
        if message.sender_id in access.allow_from:
            return GateResult("deliver", "sender is in allowFrom"), changed
        if access.dm_policy == "allowlist":
            return GateResult("drop", "sender is not in allowFrom"), changed
        for code, entry in access.pending.items():
            if entry.sender_id == message.sender_id:
                if entry.replies >= MAX_PAIRING_REPLIES:
                    return GateResult("drop", "pairing code already sent twice"), changed
                entry.replies += 1
                return GateResult("pair", "pairing reminder", code=code, resend=True), True
        if len(access.pending) >= MAX_PENDING:
            return GateResult("drop", f"{MAX_PENDING} pairings already pending"), changed
        code = secrets.token_hex(3)
        while code in access.pending:
            code = secrets.token_hex(3)
        access.pending[code] = PendingPairing(
            sender_id=message.sender_id,
            chat_id=message.chat_id,
            created_at=now,
            expires_at=now + PAIRING_TTL_MS,
        )
        return GateResult("pair", "new pairing code", code=code), True
    policy = access.groups.get(message.group_key if message.group_key is not None else message.chat_id)
    if policy is None:
        return GateResult("drop", "group is not in groups"), changed
    if policy.allow_from and message.sender_id not in policy.allow_from:
        return GateResult("drop", "sender is not in the group's allowFrom"), changed
    if (
        policy.require_mention
        and not message.mentioned
        and not mention_patterns_match(access.mention_patterns, message.text, log=log)
    ):
        return GateResult("drop", "the bot was not mentioned"), changed
    return GateResult("deliver", "group is opted in"), changed


def pairing_reply(channel: str, code: str, resend: bool) -> str:
    """The text sent to an unknown sender: the official wording, so the skill's docs still apply."""
    lead = "Still pending" if resend else "Pairing required"
    return f"{lead} — run in Claude Code:\n\n/{channel}:access pair {code}"


# --------------------------------------------------------------------------- approval hand-off


def approve_pairing(store: AccessStore, code: str, *, now_ms: int | None = None) -> PendingPairing:
    """Approve a pairing code: the sender joins ``allowFrom`` and the server is told to greet them.

    The hand-off is the official one: ``approved/<senderId>`` containing the chat id, which the
    running server picks up (:func:`watch_approvals`).
    """
    now = epoch_ms() if now_ms is None else now_ms
    wanted = code.strip().lower()

    def approve(access: Access) -> PendingPairing:
        entry = _pending_entry(access, wanted)
        if entry.expires_at < now:
            minutes = (now - entry.expires_at) // 60_000
            raise AccessError(
                f"pairing code {wanted} expired {minutes} min ago; the sender gets a new code by messaging the bot again"
            )
        if not _usable_file_name(entry.sender_id):
            raise AccessError(f"sender id {entry.sender_id!r} cannot be recorded as an approval; use allow instead")
        if entry.sender_id not in access.allow_from:
            access.allow_from.append(entry.sender_id)
        del access.pending[wanted]
        return entry

    entry = store.update(approve)
    ensure_private_dir(store.approved_dir)
    atomic_write(store.approved_dir / entry.sender_id, entry.chat_id, mode=0o600)
    return entry


def deny_pairing(store: AccessStore, code: str) -> PendingPairing:
    """Forget a pairing code; the sender is not told (and gets no new code until it would expire)."""
    wanted = code.strip().lower()

    def deny(access: Access) -> PendingPairing:
        entry = _pending_entry(access, wanted)
        del access.pending[wanted]
        return entry

    return store.update(deny)


def _pending_entry(access: Access, code: str) -> PendingPairing:
    entry = access.pending.get(code)
    if entry is None:
        known = ", ".join(sorted(access.pending)) or "none"
        raise AccessError(f"no pending pairing with code {code!r} (pending: {known})")
    return entry


def _usable_file_name(name: str) -> bool:
    return bool(name) and not name.startswith(".") and "/" not in name and "\0" not in name and len(name) <= 255


async def watch_approvals(
    store: AccessStore,
    on_approved: Callable[[str, str], Awaitable[None]],
    *,
    interval: float = APPROVAL_POLL_INTERVAL,
) -> None:
    """Run forever (as a server task), handing each approval to ``on_approved(sender_id, chat_id)``.

    Each marker is deleted before its callback runs (the official server deletes it after): a
    failed or slow send can neither loop nor be repeated, and when two sessions of one channel
    watch the same directory only the one that removed the marker greets. A failed send is
    logged. In static mode nobody can approve anything, so this only waits.
    """
    if store.static:
        store.log.debug("static mode: not watching for pairing approvals")
        await asyncio.Event().wait()
    while True:
        await deliver_approvals(store, on_approved)
        await asyncio.sleep(interval)


async def deliver_approvals(store: AccessStore, on_approved: Callable[[str, str], Awaitable[None]]) -> int:
    """One pass of :func:`watch_approvals`; how many markers were handled."""
    try:
        entries = sorted(os.scandir(store.approved_dir), key=lambda entry: entry.name)
    except FileNotFoundError:
        return 0
    except OSError as exc:
        store.log.warning("cannot read %s: %s", store.approved_dir, exc)
        return 0
    handled = 0
    for entry in entries:
        if entry.name.startswith(".") or entry.is_dir():
            continue  # temp files of a write in progress, or junk
        try:
            with open(entry.path, "rb") as marker:
                contents = marker.read(1024).decode("utf-8", "replace").strip()
        except OSError as exc:
            store.log.warning("cannot read approval %s: %s", entry.name, exc)
            contents = ""
        try:
            os.unlink(entry.path)  # claim it first: two sessions of one channel never both greet
        except FileNotFoundError:
            continue
        except OSError as exc:
            store.log.warning("cannot remove approval %s: %s", entry.name, exc)
            continue
        try:
            await on_approved(entry.name, contents)
        except Exception as exc:
            store.log.warning("failed to send approval confirm to %s: %s", entry.name, exc)
        handled += 1
    return handled

"""Who may talk to Claude through a chat channel: the access file and the inbound gate.

One implementation for Telegram, Discord and iMessage, in the official plugins' file format
(:mod:`._access_format` reads and writes it), so a user can switch between them and us without
losing a pairing. Where the official servers are fragile, this module is not:

* every write is a read-modify-write under a cross-process lock (``access.json.lock``), so the
  running server adding a pairing code and the command line allowing someone never lose each
  other's update (the official skill and server race: last writer wins);
* a mistake in the file closes what it governs instead of opening it, is reported field by field,
  and is written back as found (a rewrite that drops something that did not parse keeps the
  original beside the file first);
* the file is read only when it is a regular file of at most :data:`MAX_FILE_BYTES` (a FIFO at its
  path cannot block the server, a huge file is refused, not parsed); anything else fails closed;
* unknown keys are kept on write (the official drops them);
* a pairing code is valid for :data:`PAIRING_TTL_MS` (10 minutes, not the official hour) and a
  sender gets at most one per :data:`SENDER_CODE_INTERVAL_MS`, so strangers cannot hold the
  :data:`MAX_PENDING` slots for long: see :func:`gate`.

The gate reads the file on every message (hot reload), from a cache that is used only while the
file's (device, inode, size, mtime) stay the same, except in static mode
(``<CHANNEL>_ACCESS_MODE=static``), where the file is read once and never written.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import stat
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TypeVar

from ._access_format import DM_POLICIES as DM_POLICIES
from ._access_format import REPLY_TO_MODES as REPLY_TO_MODES
from ._access_format import Access as Access
from ._access_format import GroupPolicy as GroupPolicy
from ._access_format import PendingPairing as PendingPairing
from ._access_format import parse_access as parse_access
from ._access_format import render_access as render_access
from .errors import AccessError
from .state import atomic_write, ensure_private_dir, file_lock
from .text import mention_patterns_match

ACCESS_FILE: Final = "access.json"
LOCK_FILE: Final = "access.json.lock"
APPROVED_DIR: Final = "approved"

#: The largest access file read (1 MiB holds some 40,000 ids): past it the file is refused unread.
MAX_FILE_BYTES: Final = 1 << 20
#: A pairing code is valid for 10 minutes (the official hour let three strangers hold every slot).
PAIRING_TTL_MS: Final = 600_000
#: A sender gets at most one code per hour: an expired code stays in ``pending`` until then, and its
#: sender is not answered again.
SENDER_CODE_INTERVAL_MS: Final = 3_600_000
#: At most this many live codes at once, over all senders.
MAX_PENDING: Final = 3
#: The first answer and one "Still pending" reminder, then silence.
MAX_PAIRING_REPLIES: Final = 2
#: How often the running server looks for approvals written by the command line (seconds).
APPROVAL_POLL_INTERVAL: Final = 5.0
#: A file changed this recently may change again within the file system's clock tick without its
#: (size, mtime) changing: it is not cached (the "racily clean" rule of git's index).
RACY_WINDOW_NS: Final = 2_000_000_000

PAIRED_MESSAGE: Final = "Paired! Say hi to Claude."

T = TypeVar("T")


# --------------------------------------------------------------------------- reading the file

FileKey = tuple[int, int, int, int]


def _file_key(info: os.stat_result) -> FileKey:
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


@dataclass
class AccessReading:
    """One reading of the file: the model, the raw text (``None``: no file), what was wrong.

    ``corrupt``: the file could not be read or parsed at all (the store moves it aside and starts
    over). ``unusable``: it is not a regular file or is too big; it is left alone and every message
    is dropped until it is fixed. ``key`` identifies the version read, for the cache.
    """

    access: Access
    text: str | None = None
    problems: list[str] = field(default_factory=list)
    corrupt: str | None = None
    unusable: str | None = None
    key: FileKey | None = None


def read_access_file(path: Path, *, default_dm_policy: str = "pairing") -> AccessReading:
    """Read and parse ``path`` without ever blocking on it (a FIFO, a device) or reading a huge file."""
    defaults = Access(dm_policy=default_dm_policy)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        return AccessReading(defaults)
    except OSError as exc:
        return AccessReading(defaults, corrupt=exc.strerror or type(exc).__name__)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return AccessReading(_closed(), unusable="it is not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            return AccessReading(
                _closed(), unusable=f"it is {info.st_size:,} bytes, over the {MAX_FILE_BYTES:,}-byte limit"
            )
        with os.fdopen(os.dup(fd), "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return AccessReading(defaults, corrupt=exc.strerror or type(exc).__name__)
    finally:
        os.close(fd)
    if len(raw) > MAX_FILE_BYTES:  # it grew while being read
        return AccessReading(_closed(), unusable=f"it is over the {MAX_FILE_BYTES:,}-byte limit")
    try:
        text = raw.decode("utf-8")
        data = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return AccessReading(defaults, corrupt=str(exc) or type(exc).__name__)
    if not isinstance(data, dict):
        return AccessReading(defaults, corrupt=f"the top level is {_brief(data)}, not an object")
    access, problems = parse_access(data, default_dm_policy=default_dm_policy)
    return AccessReading(access, text, problems, key=_file_key(info))


def _closed() -> Access:
    """The rules while the file cannot be used: nobody gets in, nobody is offered a code."""
    return Access(dm_policy="disabled")


def _brief(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------- the store


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
        self._reported: tuple[str | None, str | None] | None = None
        self._snapshot: Access | None = None
        self._cached: AccessReading | None = None
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
        """The current access rules, a copy the caller may change (the file as it is now, or the static snapshot)."""
        if self._snapshot is not None:
            return self._snapshot.copy()
        return self._load_from_disk()

    def update(self, mutate: Callable[[Access], T]) -> T:
        """Apply ``mutate`` to the current rules and save them, atomically and under the lock.

        If ``mutate`` raises, nothing is written. The file is rewritten only when the result
        differs from what is on disk; what did not parse is written back as found unless
        ``mutate`` changed it (the original file is then kept beside it). Raises
        :class:`AccessError` when the file is unusable (not a regular file, too big): it is never
        overwritten. Not re-entrant: ``mutate`` must not call ``update``.
        """
        if self._snapshot is not None:
            return mutate(self._snapshot)
        ensure_private_dir(self.state_dir)
        with self._locked():
            read = self._read()
            if read.unusable is not None:
                raise AccessError(f"{self.path} cannot be used: {read.unusable}; fix or remove it first")
            if read.corrupt is not None:
                self._move_aside(read.corrupt)
                read = AccessReading(Access(dm_policy=self.default_dm_policy))
            else:
                self._report(read)
            kept_before = read.access.kept_as_found()
            result = mutate(read.access)
            text = render_access(read.access)
            if text != read.text:
                if read.text is not None and kept_before - read.access.kept_as_found():
                    self._keep_original(read.text)
                atomic_write(self.path, text, mode=0o600)
            return result

    # ---- internals

    def _load_from_disk(self) -> Access:
        read = self._read_cached()
        if read.corrupt is None:
            self._report(read)
            return read.access.copy()
        # Decide under the lock: a writer may have just replaced the bad file with a good one.
        with self._locked(required=False):
            read = self._read()
            if read.corrupt is None:
                self._report(read)
                return read.access.copy()
            self._move_aside(read.corrupt)
        return Access(dm_policy=self.default_dm_policy)

    def _read(self) -> AccessReading:
        return read_access_file(self.path, default_dm_policy=self.default_dm_policy)

    def _read_cached(self) -> AccessReading:
        """The file as last read while its (device, inode, size, mtime) are unchanged; else a fresh read."""
        try:
            key = _file_key(os.stat(self.path))
        except OSError:
            return self._read()
        if self._cached is not None and self._cached.key == key:
            return self._cached
        read = self._read()
        settled = read.key is not None and time.time_ns() - read.key[3] > RACY_WINDOW_NS
        self._cached = read if settled else None
        return read

    def _report(self, read: AccessReading) -> None:
        """Log a file's problems once per distinct content, not on every message."""
        if not read.problems and read.unusable is None:
            self._reported = None
            return
        seen = (read.text, read.unusable)
        if seen == self._reported:
            return
        self._reported = seen
        if read.unusable is not None:
            self.log.error(
                "%s cannot be used: %s; every message is dropped until it is fixed", self.path, read.unusable
            )
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
            "%s: this change replaces fields that did not parse (see above); the original is kept as %s",
            self.path,
            target.name,
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
    """Decide what to do with an incoming message (the official gate, with shorter-lived codes).

    Pairing, beyond the official rules: a code is valid for :data:`PAIRING_TTL_MS`, and only live
    codes count toward the :data:`MAX_PENDING` slots; an expired code stays in ``pending`` until
    :data:`SENDER_CODE_INTERVAL_MS` after it was made, and its sender is not answered meanwhile. So
    one sender holds at most one slot, for ten minutes an hour, and keeping all three slots taken
    needs three new accounts every ten minutes instead of three an hour.

    The common case (deliver or drop, nothing to record) reads the file without the lock; when
    the decision changes the file (a new code, a reminder, an old code pruned), it is taken
    again on a fresh read under the lock, so a concurrent command-line edit is never lost.
    """
    now = epoch_ms() if now_ms is None else now_ms
    result, changed = _decide(store.load(), message, now, store.log)
    if not changed:
        return result
    try:
        return store.update(lambda access: _decide(access, message, now, store.log)[0])
    except (OSError, AccessError) as exc:
        store.log.error("could not save %s: %s; message dropped", store.path, exc)
        return GateResult("drop", f"could not save the access file: {exc}")


def live_codes(access: Access, now_ms: int) -> dict[str, PendingPairing]:
    """The pairing codes that can still be approved."""
    return {code: entry for code, entry in access.pending.items() if entry.expires_at >= now_ms}


def _prune(access: Access, now: int) -> bool:
    """Forget codes that have expired and whose sender may have a new one; whether any was forgotten."""
    done = [
        code
        for code, entry in access.pending.items()
        if now > max(entry.expires_at, entry.created_at + SENDER_CODE_INTERVAL_MS)
    ]
    for code in done:
        del access.pending[code]
    return bool(done)


def _decide(access: Access, message: InboundMessage, now: int, log: logging.Logger) -> tuple[GateResult, bool]:
    """The decision, mutating ``access``; whether ``access`` changed."""
    changed = _prune(access, now)
    if access.dm_policy == "disabled":
        return GateResult("drop", "dmPolicy is disabled"), changed
    if message.is_dm:
        if message.sender_id in access.allow_from:
            return GateResult("deliver", "sender is in allowFrom"), changed
        if access.dm_policy == "allowlist":
            return GateResult("drop", "sender is not in allowFrom"), changed
        return _pair(access, message, now, changed)
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


def _pair(access: Access, message: InboundMessage, now: int, changed: bool) -> tuple[GateResult, bool]:
    """An unknown sender under ``pairing``: their code again, a new one, or silence."""
    for code, entry in access.pending.items():
        if entry.sender_id == message.sender_id:
            if entry.expires_at < now:
                return GateResult("drop", "pairing code expired; no new code within the hour"), changed
            if entry.replies >= MAX_PAIRING_REPLIES:
                return GateResult("drop", "pairing code already sent twice"), changed
            entry.replies += 1
            return GateResult("pair", "pairing reminder", code=code, resend=True), True
    if len(live_codes(access, now)) >= MAX_PENDING:
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
        entry = _live_entry(access, wanted, now)
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


def deny_pairing(store: AccessStore, code: str, *, now_ms: int | None = None) -> PendingPairing:
    """Refuse a pairing code: the sender is not told, and gets no new code within the hour.

    The code is expired rather than deleted, so the sender cannot take a slot again at once (the
    official skill deletes it; the official server then drops the expired entry, which is harmless).
    """
    now = epoch_ms() if now_ms is None else now_ms
    wanted = code.strip().lower()

    def deny(access: Access) -> PendingPairing:
        entry = _live_entry(access, wanted, now)
        entry.expires_at = now - 1
        return entry

    return store.update(deny)


def _live_entry(access: Access, code: str, now: int) -> PendingPairing:
    """The pending entry of ``code``, or :class:`AccessError` when there is none or it expired."""
    entry = access.pending.get(code)
    if entry is None or entry.expires_at < now:
        live = ", ".join(sorted(live_codes(access, now))) or "none"
        if entry is None:
            raise AccessError(f"no pending pairing with code {code!r} (pending: {live})")
        minutes = (now - entry.expires_at) // 60_000
        raise AccessError(
            f"pairing code {code} expired {minutes} min ago (or was denied); "
            f"the sender gets a new code by messaging the bot once an hour has passed since the last, "
            f"or let them in now with: allow {entry.sender_id} (pending: {live})"
        )
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


__all__ = [
    "ACCESS_FILE",
    "APPROVAL_POLL_INTERVAL",
    "APPROVED_DIR",
    "DM_POLICIES",
    "LOCK_FILE",
    "MAX_FILE_BYTES",
    "MAX_PAIRING_REPLIES",
    "MAX_PENDING",
    "PAIRED_MESSAGE",
    "PAIRING_TTL_MS",
    "RACY_WINDOW_NS",
    "REPLY_TO_MODES",
    "SENDER_CODE_INTERVAL_MS",
    "Access",
    "AccessReading",
    "AccessStore",
    "FileKey",
    "GateResult",
    "GroupPolicy",
    "InboundMessage",
    "PendingPairing",
    "approve_pairing",
    "deliver_approvals",
    "deny_pairing",
    "epoch_ms",
    "gate",
    "live_codes",
    "pairing_reply",
    "parse_access",
    "read_access_file",
    "render_access",
    "watch_approvals",
]

"""The access file's format: the model of ``access.json`` and its reading and writing as JSON.

The format is the official plugins' (state shape, key names, pretty JSON), so a user can switch
between their servers and ours without losing a pairing. Pure functions, no I/O: the store and
the gate that use them are in :mod:`.access`.

A mistake in the file never opens the gate. Whatever does not parse closes what it governs and is
reported, one line per problem:

* an unknown ``dmPolicy`` (``"open"``, ``5``, a key spelled ``dmpolicy``) acts as ``allowlist``:
  only the ids of ``allowFrom`` that parsed get in, nobody is offered a code;
* a group entry with anything wrong (an ``allowFrom`` that is not a list of ids, a
  ``requireMention`` that is not true or false, a misspelt key) delivers nothing at all, where
  the official server reads a broken ``allowFrom`` as "anyone";
* an item of ``allowFrom`` or ``mentionPatterns`` that is not a string is left out; a pending
  entry without its ids or expiry is dropped; a setting of the wrong type takes its default.

Case and surrounding spaces of a policy or mode name are forgiven (``"Allowlist"`` means
``allowlist``), and a whole number where an id string belongs is read as that id; both are still
reported, since the official servers would read them differently. Nothing is rewritten behind the
user's back: a field with a problem is written back exactly as it was found unless an update
changes that field (see :class:`Original`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from .text import CHUNK_MODES

DM_POLICIES: Final = ("pairing", "allowlist", "disabled")
REPLY_TO_MODES: Final = ("off", "first", "all")
#: What a ``dmPolicy`` that does not parse acts as.
FALLBACK_DM_POLICY: Final = "allowlist"
#: The DM policies from the most to the least closed.
_CLOSEDNESS: Final = ("disabled", "allowlist", "pairing")

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
GROUP_KEYS: Final = ("requireMention", "allowFrom")
PENDING_KEYS: Final = ("senderId", "chatId", "createdAt", "expiresAt", "replies")

#: How long an official pairing code is valid; entries written without ``createdAt`` are dated from it.
OFFICIAL_PAIRING_TTL_MS: Final = 3_600_000

_ABSENT: Final = object()


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


@dataclass(frozen=True)
class Original:
    """A top-level field that had a problem: its JSON as found, and as it was read.

    It is written back as found while the model still holds what was read from it, so an update of
    another field (a pairing code, a new allowlisted id) never rewrites it into something else.
    """

    raw: Any  # ``_ABSENT``: the key was not in the file (a misspelt one stood for it)
    read_as: Any


@dataclass
class Access:
    """The contents of ``access.json``.

    ``dm_policy``, ``allow_from`` and ``groups`` are what the gate acts on: a field or group that
    did not parse is already closed here. ``originals`` and ``broken_groups`` keep what did not
    parse, to write it back untouched; ``extra`` keeps the keys this version does not know.
    """

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
    originals: dict[str, Original] = field(default_factory=dict)
    broken_groups: dict[str, Any] = field(default_factory=dict)

    def chunk_limit(self, cap: int) -> int:
        """The piece size for replies: ``textChunkLimit`` clamped to ``[1, cap]``; unset or 0: ``cap``."""
        return max(1, min(self.text_chunk_limit or cap, cap))

    def copy(self) -> Access:
        """A copy to change freely (the JSON values kept as found are shared: nothing changes them)."""
        return replace(
            self,
            allow_from=list(self.allow_from),
            groups={key: replace(group, allow_from=list(group.allow_from)) for key, group in self.groups.items()},
            pending={code: replace(entry) for code, entry in self.pending.items()},
            mention_patterns=list(self.mention_patterns),
            extra=dict(self.extra),
            originals=dict(self.originals),
            broken_groups=dict(self.broken_groups),
        )

    def replaced(self, key: str) -> None:
        """The user has just set top-level ``key`` on purpose: write their value, not the one found."""
        self.originals.pop(key, None)

    def kept_as_found(self) -> set[str]:
        """The pieces with a problem that the next write keeps exactly as they were found."""
        known = self._known_json()
        kept = {key for key, original in self.originals.items() if known.get(key, _ABSENT) == original.read_as}
        return kept | {f"groups[{key!r}]" for key in self.broken_groups if key not in self.groups}

    def to_json(self) -> dict[str, Any]:
        """The file's JSON object: the four core keys always, the options when not at their default,
        what had a problem as it was found (unless changed since), and the unknown keys."""
        out = self._known_json()
        for key, raw in self.broken_groups.items():
            out["groups"].setdefault(key, raw)
        for key, original in self.originals.items():
            if out.get(key, _ABSENT) == original.read_as:
                if original.raw is _ABSENT:
                    del out[key]
                else:
                    out[key] = original.raw
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out

    def _known_json(self) -> dict[str, Any]:
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
        return out


def render_access(access: Access) -> str:
    """The file text: pretty JSON, 2-space indent, trailing newline (as the official writes it)."""
    return json.dumps(access.to_json(), indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- reading


@dataclass
class _Findings:
    """What was wrong with one field: ``problems`` could not be read (closed, and written back as
    found), ``notes`` were read as what was clearly meant (and are written that way)."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def parse_access(data: Mapping[str, Any], *, default_dm_policy: str = "pairing") -> tuple[Access, list[str]]:
    """Read the file's JSON object field by field: the model, and one line per problem.

    A missing or ``null`` key takes its default silently (as the official ``??`` does); anything
    else that does not parse is closed as the module docstring says, and reported.
    """
    access = Access(dm_policy=default_dm_policy)
    access.extra = {key: value for key, value in data.items() if key not in KNOWN_KEYS}
    report: list[str] = []
    troubled: dict[str, Any] = {}  # key -> its JSON as found, to be written back so
    for key in access.extra:
        meant = _meant_key(key, KNOWN_KEYS)
        if meant is not None:
            report.append(f'"{key}": keys are case-sensitive; did you mean "{meant}"? ignored')
    for key, value in data.items():
        if key not in KNOWN_KEYS or value is None:
            continue
        findings = _Findings()
        _read_field(access, key, value, findings, report)
        report.extend(findings.problems + findings.notes)
        if findings.problems:
            troubled[key] = value
    if any(_meant_key(key, KNOWN_KEYS) == "dmPolicy" for key in access.extra):
        access.dm_policy = _closer(access.dm_policy, FALLBACK_DM_POLICY)
        troubled.setdefault("dmPolicy", data.get("dmPolicy", _ABSENT))
    known = access._known_json()
    access.originals = {key: Original(raw, known.get(key, _ABSENT)) for key, raw in troubled.items()}
    return access, report


def _read_field(access: Access, key: str, value: Any, findings: _Findings, report: list[str]) -> None:
    """Set one top-level field of ``access`` from ``value``, closed when it does not parse."""
    if key == "dmPolicy":
        policy = _choice(value, DM_POLICIES, "dmPolicy", findings)
        access.dm_policy = FALLBACK_DM_POLICY if policy is None else policy
        if policy is None:
            findings.problems[-1] += f"; acting as {FALLBACK_DM_POLICY} (only allowFrom gets in) until it is fixed"
    elif key == "allowFrom":
        ids = _ids(value, "allowFrom", findings)
        access.allow_from = ids or []
        end = "; left out" if ids is not None else "; no sender gets in by DM until it is fixed"
        findings.problems[:] = [line + end for line in findings.problems]
    elif key == "groups":
        access.groups, access.broken_groups = _groups(value, findings, report)
    elif key == "pending":
        access.pending = _pending(value, findings)
    elif key == "mentionPatterns":
        access.mention_patterns = _strings(value, "mentionPatterns", findings)
    elif key == "ackReaction":
        if isinstance(value, str):
            access.ack_reaction = value
        else:
            findings.problems.append(f"ackReaction: expected a string, got {_show(value)}; no reaction")
    elif key == "replyToMode":
        access.reply_to_mode = _choice(value, REPLY_TO_MODES, "replyToMode", findings) or "first"
    elif key == "textChunkLimit":
        access.text_chunk_limit = _integer(value, "textChunkLimit", findings.problems)
    else:
        access.chunk_mode = _choice(value, CHUNK_MODES, "chunkMode", findings) or "length"


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _squeeze(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.casefold())


def _meant_key(key: str, known: tuple[str, ...]) -> str | None:
    """The known key ``key`` is a misspelling of (another case, ``_`` or spaces), if any."""
    return next((name for name in known if key != name and _squeeze(key) == _squeeze(name)), None)


def _closer(policy: str, other: str) -> str:
    """The more closed of two DM policies."""
    return min(policy, other, key=_CLOSEDNESS.index)


def _choice(value: Any, allowed: tuple[str, ...], where: str, findings: _Findings) -> str | None:
    """One of ``allowed``, forgiving case and surrounding spaces (noted); ``None`` when it is none."""
    if isinstance(value, str) and value in allowed:
        return value
    meant = value.strip().casefold() if isinstance(value, str) else None
    if meant in allowed:
        findings.notes.append(f'{where}: {_show(value)} read as "{meant}"')
        return meant
    findings.problems.append(f"{where}: expected one of {', '.join(allowed)}, got {_show(value)}")
    return None


def _integer(value: Any, where: str, problems: list[str]) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    problems.append(f"{where}: expected a whole number, got {_show(value)}; using the default")
    return None


def _strings(value: Any, where: str, findings: _Findings) -> list[str]:
    if not isinstance(value, list):
        findings.problems.append(f"{where}: expected a list of strings, got {_show(value)}; using none")
        return []
    kept: list[str] = []
    for index, item in enumerate(value):
        if isinstance(item, str):
            kept.append(item)
        else:
            findings.problems.append(f"{where}[{index}]: expected a string, got {_show(item)}; left out")
    return kept


def _id(value: Any) -> str | None:
    """A platform id: a string, or a whole number written without quotes (a common hand edit)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _ids(value: Any, where: str, findings: _Findings) -> list[str] | None:
    """The ids of a list, ``None`` when ``value`` is not a list; what is not an id is left out."""
    if not isinstance(value, list):
        findings.problems.append(f"{where}: expected a list of id strings, got {_show(value)}")
        return None
    kept: list[str] = []
    for index, item in enumerate(value):
        ident = _id(item)
        if ident is None:
            findings.problems.append(f"{where}[{index}]: expected an id string, got {_show(item)}")
            continue
        if not isinstance(item, str):
            findings.notes.append(f"{where}[{index}]: expected an id string, got {_show(item)}; read as {ident!r}")
        kept.append(ident)
    return kept


def _groups(value: Any, findings: _Findings, report: list[str]) -> tuple[dict[str, GroupPolicy], dict[str, Any]]:
    """The usable groups, and the broken ones as found (they deliver nothing; ``report`` says why).

    ``findings`` is for ``groups`` itself: a broken entry closes only its group.
    """
    if not isinstance(value, dict):
        findings.problems.append(f"groups: expected an object, got {_show(value)}; no group gets in")
        return {}, {}
    groups: dict[str, GroupPolicy] = {}
    broken: dict[str, Any] = {}
    for key, entry in value.items():
        group, entry_findings = _group(f"groups[{key!r}]", entry)
        report.extend(entry_findings.notes)
        if group is None or entry_findings.problems:
            report.extend(f"{line}; the group delivers nothing until this is fixed" for line in entry_findings.problems)
            broken[key] = entry
        else:
            groups[key] = group
    return groups, broken


def _group(where: str, entry: Any) -> tuple[GroupPolicy | None, _Findings]:
    """One group entry and what was wrong with it; ``None`` when it is not even an object."""
    findings = _Findings()
    if not isinstance(entry, dict):
        findings.problems.append(f"{where}: expected an object, got {_show(entry)}")
        return None, findings
    for key in entry:
        meant = _meant_key(key, GROUP_KEYS)
        if meant is not None:
            findings.problems.append(
                f'{where}: "{key}" is not a key (keys are case-sensitive); did you mean "{meant}"?'
            )
    group = GroupPolicy(extra={k: v for k, v in entry.items() if k not in GROUP_KEYS})
    mention = entry.get("requireMention")
    if isinstance(mention, bool):
        group.require_mention = mention
    elif mention is not None:
        findings.problems.append(f"{where}.requireMention: expected true or false, got {_show(mention)}")
    if entry.get("allowFrom") is not None:
        group.allow_from = _ids(entry["allowFrom"], f"{where}.allowFrom", findings) or []
    return group, findings


def _pending(value: Any, findings: _Findings) -> dict[str, PendingPairing]:
    problems = findings.problems
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
        pending[code] = PendingPairing(
            sender_id=sender,
            chat_id=chat,
            created_at=expires - OFFICIAL_PAIRING_TTL_MS if created is None else created,
            expires_at=expires,
            replies=replies,
            extra={k: v for k, v in entry.items() if k not in PENDING_KEYS},
        )
    return pending

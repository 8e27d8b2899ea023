"""``mcp-channels access`` and ``mcp-channels configure``: pairing, allowlists, policies, tokens.

The official plugins have the model edit ``access.json`` by hand through a skill; here a
deterministic command does it, under the same lock as the running server, validating every value,
and it never guesses a pairing code (an injected "approve the pending one" is what an attack
looks like). Output is for people by default; ``--json`` prints one JSON object for scripts.

Exit status: 0 done, 1 refused (unknown or expired code, invalid value, I/O error), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, NoReturn

from ..access import (
    DM_POLICIES,
    REPLY_TO_MODES,
    Access,
    AccessStore,
    GroupPolicy,
    approve_pairing,
    deny_pairing,
    epoch_ms,
)
from ..channels import AccessFacts, ChannelFacts, Token, all_facts
from ..channels import facts as channel_facts
from ..errors import AccessError, UsageError
from ..state import credential, mask_secret, read_env_file, set_env_key, state_dir
from ..text import CHUNK_MODES, duration, pattern_error

ALL_SETTINGS: Final = ("ackReaction", "replyToMode", "textChunkLimit", "chunkMode", "mentionPatterns")
MAX_ACK_REACTION: Final = 64
_MISSING: Final = object()


def _with_access() -> tuple[str, ...]:
    """The channels with an access file."""
    return tuple(facts.name for facts in all_facts() if facts.access is not None)


def _access_of(facts: ChannelFacts) -> AccessFacts:
    if facts.access is None:
        raise AccessError(f"{facts.name} has no access file")
    return facts.access


def settable(facts: ChannelFacts) -> tuple[str, ...]:
    """The ``access set`` keys the channel honours."""
    return _access_of(facts).settable or ALL_SETTINGS


log = logging.getLogger("mcp_channels")


class MissingCode(UsageError):
    """``pair`` without a code: the pending codes go along, for the user to choose from."""

    def __init__(self, message: str, pending: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.pending = pending


@dataclass
class Outcome:
    """What a command did: a line for people, fields for ``--json``, and warnings for stderr."""

    message: str
    data: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class _Parser(argparse.ArgumentParser):
    """argparse, raising instead of exiting, so one place prints errors (also as JSON)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}\n{self.format_usage().strip()}")


# --------------------------------------------------------------------------- entry points


def access_command(argv: Sequence[str]) -> int:
    """``mcp-channels access <channel> [action ...] [--json]``."""
    return _run(argv, _access_parser(), _access)


def configure_command(argv: Sequence[str]) -> int:
    """``mcp-channels configure <channel> [<token>... | clear] [--json]``."""
    return _run(argv, _configure_parser(), _configure)


def _run(argv: Sequence[str], parser: _Parser, act: Callable[[argparse.Namespace], Outcome]) -> int:
    as_json = "--json" in argv
    args = [arg for arg in argv if arg != "--json"]
    _log_to_stderr()
    try:
        outcome = act(parser.parse_args(args))
    except MissingCode as exc:
        return _fail(as_json, str(exc), 2, {"pending": exc.pending})
    except UsageError as exc:
        return _fail(as_json, str(exc), 2)
    except AccessError as exc:
        return _fail(as_json, str(exc), 1)
    except OSError as exc:
        return _fail(as_json, f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "), 1)
    for warning in outcome.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if as_json:
        print(json.dumps({"ok": True, **outcome.data, "warnings": outcome.warnings}, indent=2, ensure_ascii=False))
    else:
        print(outcome.message)
    return 0


def _fail(as_json: bool, message: str, status: int, data: dict[str, Any] | None = None) -> int:
    if as_json:
        print(json.dumps({"ok": False, "error": message, **(data or {})}, indent=2, ensure_ascii=False))
    else:
        print(f"error: {message}", file=sys.stderr)
    return status


def _log_to_stderr() -> None:
    """Warnings from the access file reader (a bad field, a corrupt file) reach the user."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("warning: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.WARNING)
        log.propagate = False


# --------------------------------------------------------------------------- access


def _access_parser() -> _Parser:
    parser = _Parser(
        prog="mcp-channels access",
        description="Show or change who may reach Claude through a chat channel (access.json).",
        epilog="Add --json anywhere for machine-readable output. Without an action: status.",
    )
    parser.add_argument("channel", choices=_with_access())
    actions = parser.add_subparsers(dest="action", metavar="action", parser_class=_Parser)
    pair = actions.add_parser("pair", help="approve a pairing code (without one: list pending codes)")
    pair.add_argument("code", nargs="?")
    actions.add_parser("deny", help="discard a pairing code").add_argument("code")
    actions.add_parser("allow", help="let a sender DM the bot").add_argument("id")
    actions.add_parser("remove", help="stop a sender").add_argument("id")
    actions.add_parser("policy", help="how unknown DMs are handled").add_argument("mode", choices=DM_POLICIES)
    group = actions.add_parser("group", help="opt a group in or out").add_subparsers(
        dest="group_action", metavar="add|rm", required=True, parser_class=_Parser
    )
    add = group.add_parser("add", help="opt a group in")
    add.add_argument("id")
    add.add_argument("--no-mention", action="store_true", help="answer every message, not only mentions")
    add.add_argument("--allow", default="", metavar="ID,ID", help="only these members (default: anyone)")
    group.add_parser("rm", help="opt a group out").add_argument("id")
    setting = actions.add_parser("set", help=f"change a setting: {', '.join(ALL_SETTINGS)}")
    setting.add_argument("key")
    setting.add_argument("value")
    return parser


def _access(args: argparse.Namespace) -> Outcome:
    profile = channel_facts(args.channel)
    store = access_store(profile)
    warnings = _static_warning(profile)
    if args.action is None:
        outcome = _status(profile, store.load())
    elif args.action == "pair":
        outcome = _pair(profile, store, args.code)
    elif args.action == "deny":
        entry = deny_pairing(store, args.code)
        outcome = Outcome(
            f"denied pairing {args.code.strip().lower()} from {entry.sender_id} "
            "(they are not told, and get no new code within the hour)",
            {"action": "deny", "code": args.code.strip().lower(), "senderId": entry.sender_id},
        )
    elif args.action in ("allow", "remove"):
        ident = _identifier(args.id)
        if args.action == "allow":
            _check_member(profile, ident)
        outcome = _allow_or_remove(profile, store, args.action, ident)
    elif args.action == "policy":
        outcome = _policy(profile, store, args.mode)
    elif args.action == "group":
        outcome = _group(profile, store, args)
    else:
        outcome = _set(profile, store, args.key, args.value)
    outcome.warnings[:0] = warnings
    return outcome


def access_store(profile: ChannelFacts) -> AccessStore:
    """The channel's access file as the server sees it, but always writable (never static)."""
    policy = _access_of(profile).default_dm_policy
    return AccessStore(profile.name, state_dir(profile.name), default_dm_policy=policy, static=False)


def _static_warning(profile: ChannelFacts) -> list[str]:
    variable = f"{profile.name.upper()}_ACCESS_MODE"
    if os.environ.get(variable) == "static":
        return [f"{variable}=static: a server in static mode reads access.json only when it starts"]
    return []


def _identifier(raw: str) -> str:
    ident = raw.strip()
    if not ident:
        raise UsageError("an id cannot be empty")
    return ident


def _check_member(profile: ChannelFacts, ident: str) -> None:
    """Refuse what cannot be a person's id on this channel (a name, an @handle): it would never match."""
    facts = _access_of(profile)
    if facts.member_shape is not None and not re.fullmatch(facts.member_shape, ident):
        raise AccessError(f"{ident!r} is not a {profile.title} member id: give {facts.id_hint}")


def _check_group(profile: ChannelFacts, ident: str) -> None:
    facts = _access_of(profile)
    if facts.group_shape is not None and not re.fullmatch(facts.group_shape, ident):
        raise AccessError(f"{ident!r} is not a {profile.title} group id: give {facts.group_id_hint}")


def _pair(profile: ChannelFacts, store: AccessStore, code: str | None) -> Outcome:
    if code is None or not code.strip():
        status = _status_data(profile, store.load())
        listing = _pending_lines(status["pending"]) or "  (no pending pairings)"
        raise MissingCode(
            f"pair needs the code the sender received: mcp-channels access {profile.name} pair <code>\n"
            f"pending:\n{listing}",
            status["pending"],
        )
    entry = approve_pairing(store, code)
    return Outcome(
        f"paired {entry.sender_id}: they are in allowFrom now and will get “Paired! Say hi to Claude.” "
        "within a few seconds if the channel is running",
        {"action": "pair", "code": code.strip().lower(), "senderId": entry.sender_id, "chatId": entry.chat_id},
    )


def _allow_or_remove(profile: ChannelFacts, store: AccessStore, action: str, ident: str) -> Outcome:
    def change(access: Access) -> bool:
        present = ident in access.allow_from
        if action == "allow" and not present:
            access.allow_from.append(ident)
        elif action == "remove":
            if not present:
                raise AccessError(f"{ident} is not in allowFrom (allowed: {', '.join(access.allow_from) or 'nobody'})")
            access.allow_from = [sender for sender in access.allow_from if sender != ident]
        return present

    was_present = store.update(change)
    if action == "allow":
        message = f"{ident} was already allowed" if was_present else f"allowed {ident}"
    else:
        message = f"removed {ident}"
    return Outcome(message, {"action": action, "id": ident, "changed": action == "remove" or not was_present})


def _policy(profile: ChannelFacts, store: AccessStore, mode: str) -> Outcome:
    def change(access: Access) -> Access:
        access.dm_policy = mode
        access.replaced("dmPolicy")
        return access

    access = store.update(change)
    warnings = []
    access_facts = _access_of(profile)
    if mode == "pairing" and access_facts.owner_chat:
        warnings.append(
            f"pairing on {profile.title} answers {access_facts.strangers}; prefer allow {access_facts.id_hint} "
            "and policy allowlist"
        )
    if mode == "allowlist" and not access.allow_from:
        warnings.append(f"nobody is in allowFrom: add someone with `mcp-channels access {profile.name} allow <id>`")
    if mode == "disabled":
        warnings.append("the channel now drops every inbound message, from groups too")
    return Outcome(f"dmPolicy is now {mode}", {"action": "policy", "dmPolicy": mode}, warnings)


def _group(profile: ChannelFacts, store: AccessStore, args: argparse.Namespace) -> Outcome:
    ident = _identifier(args.id)
    if args.group_action == "rm":

        def remove(access: Access) -> None:
            if access.groups.pop(ident, None) is None and access.broken_groups.pop(ident, _MISSING) is _MISSING:
                known = ", ".join([*access.groups, *access.broken_groups]) or "none"
                raise AccessError(f"group {ident} is not opted in (groups: {known})")

        store.update(remove)
        return Outcome(f"group {ident} removed", {"action": "group rm", "id": ident})
    _check_group(profile, ident)
    members = [member.strip() for member in args.allow.split(",") if member.strip()]
    for member in members:
        _check_member(profile, member)
    policy = GroupPolicy(require_mention=not args.no_mention, allow_from=members)

    def add(access: Access) -> bool:
        replaced = ident in access.groups or ident in access.broken_groups
        access.broken_groups.pop(ident, None)
        access.groups[ident] = policy
        return replaced

    replaced = store.update(add)
    who = f"members {', '.join(members)}" if members else "anyone in it"
    when = "when the bot is mentioned" if policy.require_mention else "every message"
    return Outcome(
        f"group {ident} {'updated' if replaced else 'added'}: {who}, {when}",
        {"action": "group add", "id": ident, "group": policy.to_json(), "replaced": replaced},
    )


def _set(profile: ChannelFacts, store: AccessStore, key: str, raw: str) -> Outcome:
    value = parse_setting(profile, key, raw)

    def change(access: Access) -> None:
        setattr(access, _SETTING_FIELDS[key], value)
        access.replaced(key)

    store.update(change)
    shown = "off" if value is None else json.dumps(value, ensure_ascii=False)
    return Outcome(f"{key} = {shown}", {"action": "set", "key": key, "value": value})


_SETTING_FIELDS: Final = {
    "ackReaction": "ack_reaction",
    "replyToMode": "reply_to_mode",
    "textChunkLimit": "text_chunk_limit",
    "chunkMode": "chunk_mode",
    "mentionPatterns": "mention_patterns",
}


def parse_setting(profile: ChannelFacts, key: str, raw: str) -> Any:
    """The typed value of ``set <key> <raw>`` for this channel, or :class:`AccessError` saying why not."""
    keys = settable(profile)
    if key not in keys:
        raise AccessError(f"{profile.name} has no setting {key!r}; settable: {', '.join(keys)}")
    if key == "ackReaction":
        if raw == "":
            return None
        if len(raw) > MAX_ACK_REACTION or not raw.strip() or any(ord(ch) < 32 for ch in raw):
            raise AccessError('ackReaction must be one emoji (or "" to turn it off)')
        return raw
    if key in ("replyToMode", "chunkMode"):
        allowed = REPLY_TO_MODES if key == "replyToMode" else CHUNK_MODES
        if raw not in allowed:
            raise AccessError(f"{key} must be one of {', '.join(allowed)}, not {raw!r}")
        return raw
    if key == "textChunkLimit":
        cap = profile.message_limit or 0
        if not re.fullmatch(r"\d+", raw.strip()) or not 1 <= int(raw) <= cap:
            raise AccessError(f"textChunkLimit must be a whole number from 1 to {cap} ({profile.name}'s limit)")
        return int(raw)
    try:
        patterns = json.loads(raw)
    except ValueError:
        raise AccessError(
            f'mentionPatterns must be a JSON array of regexes, like \'["^hey claude", "@bot"]\', not {raw!r}'
        ) from None
    if not isinstance(patterns, list) or not all(isinstance(item, str) for item in patterns):
        raise AccessError("mentionPatterns must be a JSON array of strings")
    for pattern in patterns:
        problem = pattern_error(pattern)
        if problem is not None:
            raise AccessError(f"mentionPatterns: {pattern!r} is not a usable regex: {problem}")
    return patterns


# --------------------------------------------------------------------------- status


def _status_data(profile: ChannelFacts, access: Access) -> dict[str, Any]:
    now = epoch_ms()
    cap = profile.message_limit or 0
    return {
        "channel": profile.name,
        "file": str(state_dir(profile.name) / "access.json"),
        "dmPolicy": access.dm_policy,
        "allowFrom": list(access.allow_from),
        "pending": [
            {
                "code": code,
                "senderId": entry.sender_id,
                "chatId": entry.chat_id,
                "ageSeconds": max(0, (now - entry.created_at) // 1000),
                "expiresInSeconds": (entry.expires_at - now) // 1000,
                "replies": entry.replies,
            }
            for code, entry in access.pending.items()
        ],
        "groups": {key: group.to_json() for key, group in access.groups.items()},
        "closedGroups": sorted(access.broken_groups),
        "settings": {
            "ackReaction": access.ack_reaction,
            "replyToMode": access.reply_to_mode,
            "textChunkLimit": access.chunk_limit(cap),
            "textChunkLimitIsDefault": access.text_chunk_limit is None,
            "chunkMode": access.chunk_mode,
            "mentionPatterns": list(access.mention_patterns),
        },
    }


def _status(profile: ChannelFacts, access: Access) -> Outcome:
    data = _status_data(profile, access)
    return Outcome("\n".join(_status_lines(profile, data)), data)


def _status_lines(profile: ChannelFacts, data: dict[str, Any]) -> list[str]:
    allowed = data["allowFrom"]
    lines = [
        f"{profile.name} access — {data['file']}",
        f"policy:   {data['dmPolicy']}",
        f"allowed:  {len(allowed)}{' — ' + ', '.join(allowed) if allowed else ''}",
        f"pending:  {len(data['pending'])}",
    ]
    if data["pending"]:
        lines.append(_pending_lines(data["pending"]))
    closed = f" (and {len(data['closedGroups'])} closed)" if data["closedGroups"] else ""
    lines.append(f"groups:   {len(data['groups'])}{closed}")
    for key, group in data["groups"].items():
        who = ", ".join(group["allowFrom"]) or "anyone"
        lines.append(f"  {key}  {'mention required' if group['requireMention'] else 'every message'}, {who}")
    for key in data["closedGroups"]:
        lines.append(f"  {key}  CLOSED: its entry does not parse (see the warnings); it delivers nothing")
    settings = {key: data["settings"][key] for key in settable(profile)}
    shown = []
    for key, value in settings.items():
        if key == "textChunkLimit" and data["settings"]["textChunkLimitIsDefault"]:
            shown.append(f"{key}={value} (default)")
        elif key == "ackReaction":
            shown.append(f"{key}={value or 'off'}")
        else:
            shown.append(f"{key}={json.dumps(value, ensure_ascii=False) if isinstance(value, list) else value}")
    lines.append(f"settings: {' '.join(shown)}")
    return lines


def _pending_lines(pending: list[dict[str, Any]]) -> str:
    lines = []
    for entry in pending:
        expiry = (
            f"expires in {duration(entry['expiresInSeconds'])}"
            if entry["expiresInSeconds"] >= 0
            else f"EXPIRED {duration(-entry['expiresInSeconds'])} ago"
        )
        lines.append(
            f"  {entry['code']}  sender {entry['senderId']} (chat {entry['chatId']}), "
            f"{duration(entry['ageSeconds'])} ago, {expiry}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- configure


def _configure_parser() -> _Parser:
    parser = _Parser(
        prog="mcp-channels configure",
        description="Save or clear a channel's token in its state .env, or show how the channel is set up.",
        epilog="Add --json for machine-readable output.",
    )
    parser.add_argument("channel", choices=tuple(facts.name for facts in all_facts()))
    parser.add_argument(
        "tokens",
        nargs="*",
        metavar="token",
        help="the token to save (a channel with several takes any of them, in any order), or 'clear' to remove "
        "them; omit for status",
    )
    return parser


def _configure(args: argparse.Namespace) -> Outcome:
    profile = channel_facts(args.channel)
    if not args.tokens:
        return _configure_status(profile)
    if not profile.tokens:
        raise AccessError(f"{profile.name} has no token to configure; run `mcp-channels configure {profile.name}`")
    directory = state_dir(profile.name)
    if args.tokens == ["clear"]:
        return _clear(profile, directory)
    if len(args.tokens) > len(profile.tokens):
        kinds = " ".join(f"<{token.kind}>" for token in profile.tokens)
        raise UsageError(f"{profile.name} takes {kinds} (or clear), not {len(args.tokens)} values")
    chosen = _tokens_for(profile, [value.strip() for value in args.tokens])
    warnings = []
    for token, value in chosen.items():
        if token.shape and not re.fullmatch(token.shape, value):
            warnings.append(
                f"this does not look like a {profile.name} {token.kind} ({token.hint}); saved anyway, check it if "
                "the channel cannot log in"
            )
    saved = []
    for token, value in chosen.items():  # every value is checked before any is written
        set_env_key(directory, token.variable, value)
        saved.append({"key": token.variable, "masked": mask_secret(value, token.mask_keep)})
    data: dict[str, Any] = {"action": "save", "key": ", ".join(entry["key"] for entry in saved), "saved": saved}
    if len(saved) == 1:
        data["masked"] = saved[0]["masked"]
    shown = ", ".join(f"{entry['key']} ({entry['masked']})" for entry in saved)
    return Outcome(
        f"saved {shown} in {directory / '.env'}\n"
        "restart the channel (in Claude Code: /reload-plugins, or restart the session) to use it: "
        f"{'the token is' if len(saved) == 1 else 'tokens are'} read when the channel starts",
        {**data, "restartNeeded": True},
        warnings + _environment_wins(list(chosen)),
    )


def _tokens_for(profile: ChannelFacts, values: Sequence[str]) -> dict[Token, str]:
    """Which of the channel's tokens each value is: the only one, or the one whose shape it has.

    A channel with several tokens takes them in any order, and any of them alone; a value that is
    none of them, or two values for one token, refuse the whole command (nothing is written).
    """
    chosen: dict[Token, str] = {}
    for place, value in enumerate(values, 1):
        which = f"value {place}" if len(values) > 1 else "the value"
        if not value or any(ch.isspace() or ord(ch) < 32 for ch in value):
            raise AccessError(f"{which}: a token cannot be empty or contain spaces or line breaks")
        token = _token_for(profile, value, which)
        if token in chosen:
            raise AccessError(f"{which} is a second {token.variable}: give each token once")
        chosen[token] = value
    return chosen


def _token_for(profile: ChannelFacts, value: str, which: str) -> Token:
    if len(profile.tokens) == 1:
        return profile.tokens[0]
    for token in profile.tokens:
        if token.shape and re.fullmatch(token.shape, value):
            return token
    kinds = "; ".join(f"{token.variable}: {token.hint}" for token in profile.tokens)
    raise AccessError(f"{which} is none of {profile.name}'s tokens ({kinds})")


def _clear(profile: ChannelFacts, directory: Path) -> Outcome:
    """Remove every token of the channel from its ``.env``."""
    saved = read_env_file(directory)
    had = [token.variable for token in profile.tokens if token.variable in saved]
    for token in profile.tokens:
        set_env_key(directory, token.variable, None)
    keys = ", ".join(token.variable for token in profile.tokens)
    message = f"removed {', '.join(had)} from {directory / '.env'}" if had else f"no {keys} was saved"
    return Outcome(
        message + ("; restart the channel for it to take effect" if had else ""),
        {"action": "clear", "key": keys, "changed": bool(had), "restartNeeded": bool(had)},
        _environment_wins(profile.tokens),
    )


def _environment_wins(tokens: Sequence[Token]) -> list[str]:
    return [
        f"{token.variable} is also set in the environment, which wins over .env"
        for token in tokens
        if os.environ.get(token.variable)
    ]


def _configure_status(profile: ChannelFacts) -> Outcome:
    directory = state_dir(profile.name)
    data: dict[str, Any] = {"channel": profile.name, "stateDir": str(directory)}
    lines = [f"{profile.name} — {directory}"]
    present: dict[str, bool] = {}
    shown = []
    for token in profile.tokens:
        value = credential(token.variable, directory)
        present[token.variable] = value is not None
        source = "environment" if os.environ.get(token.variable) else ".env" if value else None
        masked = mask_secret(value, token.mask_keep) if value else None
        shown.append({"key": token.variable, "present": value is not None, "source": source, "masked": masked})
        lines.append(f"token:    {token.variable} {'not set' if value is None else f'set ({masked}, from {source})'}")
    if len(shown) == 1:
        data["token"] = shown[0]
    elif shown:
        data["tokens"] = shown
    access: Access | None = None
    if profile.access is not None:
        access = access_store(profile).load()
        status = _status_data(profile, access)
        data["access"] = status
        lines.extend(_status_lines(profile, status)[1:])
    step = _next_step(profile, present, access)
    data["nextStep"] = step
    lines.append(f"next:     {step}")
    return Outcome("\n".join(lines), data)


def _next_step(profile: ChannelFacts, present: dict[str, bool], access: Access | None) -> str:
    name = profile.name
    command = f"mcp-channels access {name}"
    missing = [token for token in profile.tokens if token.optional is None and not present[token.variable]]
    if missing:
        what = " and the ".join(token.kind for token in missing)
        command = " ".join([f"mcp-channels configure {name}", *(f"<{token.kind}>" for token in missing)])
        return f"set the {what}: `{command}` ({'; '.join(token.hint for token in missing)})"
    if access is None or profile.access is None:
        for token in profile.tokens:
            if token.optional is not None:
                if present[token.variable]:
                    return f"Ready: {token.optional.effect}."
                return f"Optional: `mcp-channels configure {name} <{token.kind}>` {token.optional.purpose}."
        return "Ready."
    facts = profile.access
    if access.dm_policy == "disabled":
        return f"every message is dropped: open the channel with `{command} policy allowlist`"
    if facts.owner_chat:
        if access.dm_policy == "pairing":
            return (
                f"pairing answers {facts.strangers}; add people with `{command} allow {facts.id_hint}` and set "
                f"`{command} policy allowlist`"
            )
        return (
            f"Ready. Self-chat works; {len(access.allow_from)} other sender(s) allowed. "
            f"Add one with `{command} allow {facts.id_hint}`."
        )
    if access.dm_policy == "pairing":
        if not access.allow_from:
            return f"DM your bot: it answers with a pairing code; approve it with `{command} pair <code>`."
        return (
            f"Is that everyone? Lock down with `{command} policy allowlist` once you are paired "
            f"(pairing lets {facts.strangers} ask for a code)."
        )
    if not access.allow_from:
        return f"nobody is allowed yet: `{command} allow {facts.id_hint}`, or `{command} policy pairing` to capture your id."
    return "Ready."


__all__ = [
    "ALL_SETTINGS",
    "MAX_ACK_REACTION",
    "MissingCode",
    "Outcome",
    "access_command",
    "access_store",
    "configure_command",
    "parse_setting",
    "settable",
]

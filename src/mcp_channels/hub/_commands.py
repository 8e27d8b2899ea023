"""``/sessions`` and ``/switch``: the chat commands the hub answers itself, never passed to Claude.

An allowlisted person types them in a chat (the hub checks who; see the runner). ``/sessions``
lists the sessions this channel can deliver to, numbered, and marks the one this conversation
is bound to; ``/switch <number|name>`` binds the conversation to another one. Both are answered
in the chat through the channel's own ``reply``. Pure text work: the hub supplies the sessions
and applies the switch.

A command may follow a mention of the bot (``@claude /switch 2``): Slack takes a message that
starts with ``/`` for one of its own slash commands and never sends it, and in a channel that
requires a mention, the mention is what lets the message through.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ..text import duration
from ._wire import SessionInfo

_COMMAND: Final = re.compile(
    r"^(?:(?:<@[!&]?\w+>|@[\w.-]+)\s+)?/(sessions|switch)(?:@\w+)?(?:\s+(.*))?$", re.IGNORECASE | re.DOTALL
)


@dataclass(frozen=True)
class Command:
    """A parsed chat command: ``sessions``, or ``switch`` with its argument."""

    name: str
    argument: str


def parse_command(text: str) -> Command | None:
    """The hub command in ``text`` (``/switch@bot 2`` as Telegram sends it in groups), else ``None``."""
    match = _COMMAND.match(text.strip())
    if match is None:
        return None
    return Command(match.group(1).lower(), (match.group(2) or "").strip())


@dataclass(frozen=True)
class Listed:
    """A live delivering session, numbered as ``/sessions`` shows it."""

    number: int
    session: SessionInfo
    attached_at: float


def sessions_text(
    listed: Sequence[Listed], current: str | None, recent: Sequence[SessionInfo], called: str = "chat"
) -> str:
    """The answer to ``/sessions`` typed in a chat or a thread (``called``)."""
    if not listed:
        lines = ["No Claude Code session is open for this channel; messages wait until one starts."]
    else:
        lines = [f"Claude Code sessions (/switch <number or name> moves this {called}):"]
        now = time.time()
        for item in listed:
            marker = f" ← this {called}" if item.session.key == current else ""
            where = f" — {item.session.project_dir}" if item.session.project_dir else ""
            lines.append(
                f"{item.number}. {item.session.label}{where} (since {duration(now - item.attached_at)}){marker}"
            )
    gone = [info for info in recent if all(info.key != item.session.key for item in listed)]
    if gone:
        lines.append("Recently closed: " + ", ".join(info.label for info in gone[:5]))
    return "\n".join(lines)


def pick(listed: Sequence[Listed], argument: str) -> Listed | str:
    """The session ``/switch <argument>`` names, or the message to answer when it names none."""
    if not argument:
        return "Usage: /switch <number or name> (see /sessions)"
    if argument.isdigit():
        chosen = next((item for item in listed if item.number == int(argument)), None)
        return chosen or f"No session number {argument}; see /sessions"
    wanted = argument.lower()
    named = [item for item in listed if wanted in (item.session.label.lower(), (item.session.name or "").lower())]
    if len(named) == 1:
        return named[0]
    if named:
        return f"Several sessions are called {argument}; use its number (see /sessions)"
    return f"No open session called {argument}; see /sessions"


__all__ = ["Command", "Listed", "parse_command", "pick", "sessions_text"]

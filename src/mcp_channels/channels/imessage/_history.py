"""How ``chat_messages`` shows a conversation: the official layout, one line per message.

::

    === Group "Climbing" (+15551230001, jo@icloud.com) ===
    -- Tue Mar 24 2026 --
    [18:02] +15551230001: Saturday? ⏎ Or Sunday
    [18:05] me: Saturday [attachment]

Times are local (the user's clock), day separators appear whenever the date changes.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from typing import Final

from ._chatdb import STYLE_GROUP, ChatInfo, MessageRow

NO_MESSAGES: Final = "(no messages)"
_DAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_LINE_BREAK: Final = re.compile(r"\r?\n")


def header(chat_guid: str, info: ChatInfo | None, participants: Sequence[str]) -> str:
    who = ", ".join(participants) or chat_guid
    if info is not None and info.style == STYLE_GROUP:
        name = f' "{info.display_name}"' if info.display_name else ""
        return f"=== Group{name} ({who}) ==="
    return f"=== DM with {who} ==="


def render_conversation(title: str, rows: Sequence[MessageRow], *, tz: datetime.tzinfo | None = None) -> str:
    """``title`` and the messages (oldest first), with a separator line at each new day."""
    lines = [title]
    day: datetime.date | None = None
    for row in rows:
        moment = datetime.datetime.fromtimestamp(row.epoch_ms / 1000, tz)
        if moment.date() != day:
            day = moment.date()
            lines.append(f"-- {_DAYS[day.weekday()]} {_MONTHS[day.month - 1]} {day.day:02d} {day.year} --")
        who = "me" if row.is_from_me else (row.handle or "unknown")
        text = _LINE_BREAK.sub(" ⏎ ", row.body)
        lines.append(f"[{moment:%H:%M}] {who}: {text}" + (" [attachment]" if row.has_attachments else ""))
    if not rows:
        lines.append(NO_MESSAGES)
    return "\n".join(lines)

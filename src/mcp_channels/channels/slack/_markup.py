"""Slack's message markup turned back into the plain text a person saw.

Slack sends ``<@U0123>`` for a mention, ``<#C0123|general>`` for a channel, ``<https://x|label>``
for a link, ``<!here>`` for a broadcast, and escapes ``&``, ``<`` and ``>`` everywhere else. Claude
gets what the sender read: ``@alice``, ``#general``, ``label (https://x)``, ``@here``. Names come
from the senders (display names), so they pass through ``safe_name``: none can forge a tag.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from ...text import safe_name

_ENTITY: Final = re.compile(r"<([^<>\n]*)>")
_USER: Final = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^<>]*)?>")
_BROADCASTS: Final = frozenset({"here", "channel", "everyone"})


def unescape(text: str) -> str:
    """Slack's three escapes undone (``&amp;`` last, so ``&amp;lt;`` stays ``&lt;``)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mentioned_user_ids(text: str) -> list[str]:
    """The member ids ``<@U…>`` mentions in ``text``, in order, each once."""
    return list(dict.fromkeys(_USER.findall(text)))


def plain_text(text: str, names: Mapping[str, str]) -> str:
    """``text`` with its markup turned into what Slack shows; ``names`` maps member ids to names."""
    pieces: list[str] = []
    last = 0
    for match in _ENTITY.finditer(text):
        pieces.append(unescape(text[last : match.start()]))
        pieces.append(_entity(match.group(1), names))
        last = match.end()
    pieces.append(unescape(text[last:]))
    return "".join(pieces)


def _entity(inner: str, names: Mapping[str, str]) -> str:
    target, _, label = inner.partition("|")
    label = unescape(label)
    if target.startswith("@"):
        ident = target[1:]
        return "@" + safe_name(names.get(ident) or label.lstrip("@") or ident)
    if target.startswith("#"):
        return "#" + safe_name(label or target[1:])
    if target.startswith("!"):
        return special_text(target[1:], label)
    url = unescape(target)
    if not label:
        return url
    if label in (url, url.split(":", 1)[-1].lstrip("/")):
        return label
    return f"{label} ({url})"


def special_text(command: str, label: str) -> str:
    """``<!here>``, ``<!subteam^S1|@team>``, ``<!date^…|fallback>``, ...: what Slack shows for each."""
    name = command.split("^", 1)[0]
    if name in _BROADCASTS:
        return f"@{name}"
    if label:
        return label if name != "subteam" or label.startswith("@") else f"@{label}"
    if name == "subteam":
        return "@" + command.split("^", 1)[-1]
    return f"@{name}"

"""What a conversation is, read from what a channel already says: an event's meta and a tool's arguments.

Channels do not know the hub. Each declares in its facts
(:class:`~mcp_channels.channels.ConversationFacts`) which meta key names its chat (a Telegram
chat, a Discord channel or thread, an iMessage chat, the fakechat page; the webhook's ``path``)
and, where a platform's threads share their chat's id, which names a thread in it (Slack's
``thread_ts``). ``reply`` takes arguments of the same names, so the hub reads the conversation
an event belongs to and the one a ``reply`` answers in the same way, and can answer in a
conversation itself (``/sessions``, the "queued" notice) with the channel's own ``reply``.

A conversation's key is its chat, or ``<chat>/<thread>``; a thread's *parent* is its chat
(where a thread nobody has bound yet goes, see the hub's routing).

An event's id is ``<chat_id>:<message_id>`` where the platform numbers messages (a Telegram
update delivered again after a crash then carries the same id, and the store keeps it once),
otherwise a fresh one (unique across the hub's restarts).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
import time
from collections.abc import Mapping
from typing import Any, Final

from ..channel import Place
from ..channels import NAMES, ConversationFacts, facts

#: Where an event's conversation comes from when it names no chat.
NO_CHAT: Final = "-"
#: The tool whose call binds a conversation to the calling session.
BINDING_TOOL: Final = "reply"
#: Fresh ids: this process's start (ns) and pid, and a counter. Unique across restarts, and
#: cheaper than a random UUID per event.
_FRESH_PREFIX: Final = f"h{time.time_ns():x}.{os.getpid():x}."
_fresh: Final = itertools.count(1)
#: The store's bound on conversation keys and ids, in UTF-8 bytes.
MAX_KEY_BYTES: Final = 256


@functools.cache
def declared(channel: str) -> ConversationFacts:
    """The channel's conversations as it declares them (a chat per ``chat_id`` for a name no channel has)."""
    return facts(channel).conversations if channel in NAMES else ConversationFacts()


def conversation_of(channel: str, meta: Mapping[str, str]) -> str:
    """The routing key of an event of ``channel`` with this meta (always one the store takes)."""
    shape = declared(channel)
    return _key(meta.get(shape.chat), meta.get(shape.thread) if shape.thread else None) or NO_CHAT


def conversation_of_call(channel: str, tool: str, arguments: Any) -> str | None:
    """The conversation a ``reply`` is sent to (which binds it to the caller), ``None`` for other calls."""
    if tool != BINDING_TOOL:
        return None
    shape = declared(channel)
    named = arguments if isinstance(arguments, dict) else {}
    chat, thread = named.get(shape.chat), named.get(shape.thread) if shape.thread else None
    if not isinstance(chat, str) or not chat:
        return shape.single
    return _key(chat, thread if isinstance(thread, str) else None)


def place_of(channel: str, conversation: str) -> Place:
    """The conversation as the platform names it: its chat, and its thread where it is one."""
    if declared(channel).thread and "/" in conversation:
        chat, thread = conversation.rsplit("/", 1)
        return Place(chat, thread)
    return Place(conversation)


def reply_arguments(channel: str, conversation: str) -> dict[str, str]:
    """The ``reply`` arguments that answer in ``conversation`` (a thread's chat and thread)."""
    shape = declared(channel)
    if conversation == shape.single:
        return {}
    place = place_of(channel, conversation)
    if place.thread is not None and shape.thread:
        return {shape.chat: place.chat, shape.thread: place.thread}
    return {shape.chat: place.chat}


def parent_of(channel: str, conversation: str) -> str | None:
    """The chat of a thread (where a thread nobody bound goes), ``None`` for a chat."""
    place = place_of(channel, conversation)
    return place.chat if place.thread is not None else None


def called(channel: str, conversation: str) -> str:
    """What the hub's texts call the conversation: "thread" or "chat"."""
    return "thread" if place_of(channel, conversation).thread is not None else "chat"


def event_id(meta: Mapping[str, str]) -> str:
    """A stable id where the platform numbers messages, else a unique one."""
    chat, message = meta.get("chat_id"), meta.get("message_id")
    if chat and message:
        return _storable(f"{chat}:{message}")
    return f"{_FRESH_PREFIX}{next(_fresh)}"


def _key(chat: str | None, thread: str | None) -> str | None:
    if not chat:
        return None
    return _storable(f"{chat}/{thread}" if thread else chat)


def _storable(key: str) -> str:
    """``key``, or a digest of it when it is too long or unprintable for the store (a 4 KB URL path)."""
    if key.isprintable() and len(key.encode("utf-8", "surrogatepass")) <= MAX_KEY_BYTES:
        return key
    return "#" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


__all__ = [
    "NO_CHAT",
    "called",
    "conversation_of",
    "conversation_of_call",
    "declared",
    "event_id",
    "parent_of",
    "place_of",
    "reply_arguments",
]

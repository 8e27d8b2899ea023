"""What a conversation is, read from what a channel already says: an event's meta and a tool's arguments.

Channels do not know the hub, so the hub reads the routing key from the meta every channel
already gives Claude:

* a chat channel's ``chat_id`` (a Telegram chat, a Discord channel or thread, an iMessage chat,
  the fakechat page), extended by ``thread_id`` when the channel names a forum topic or thread
  inside a chat, so each topic can be bound to its own session;
* the webhook's ``path``.

An event's id is ``<chat_id>:<message_id>`` where the platform numbers messages (a Telegram
update delivered again after a crash then carries the same id, and the store keeps it once),
otherwise a fresh one (unique across the hub's restarts). ``reply`` names its conversation by ``chat_id``; fakechat's
``reply`` names none, and its page is one conversation.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import time
from collections.abc import Mapping
from typing import Any, Final

#: The conversation of a channel's tool calls that name no chat.
SINGLE_CONVERSATION: Final = {"fakechat": "web"}
#: Where an event's conversation comes from when it has no ``chat_id``.
NO_CHAT: Final = "-"
#: The tool whose call binds a conversation to the calling session.
BINDING_TOOL: Final = "reply"
#: Fresh ids: this process's start (ns) and pid, and a counter. Unique across restarts, and
#: cheaper than a random UUID per event.
_FRESH_PREFIX: Final = f"h{time.time_ns():x}.{os.getpid():x}."
_fresh: Final = itertools.count(1)


#: The store's bound on conversation keys and ids, in UTF-8 bytes.
MAX_KEY_BYTES: Final = 256


def conversation_of(meta: Mapping[str, str]) -> str:
    """The routing key of an event with this meta (always one the store takes)."""
    chat = meta.get("chat_id")
    if chat:
        thread = meta.get("thread_id")
        return _storable(f"{chat}/{thread}" if thread else chat)
    return _storable(meta.get("path") or NO_CHAT)


def event_id(meta: Mapping[str, str]) -> str:
    """A stable id where the platform numbers messages, else a unique one."""
    chat, message = meta.get("chat_id"), meta.get("message_id")
    if chat and message:
        return _storable(f"{chat}:{message}")
    return f"{_FRESH_PREFIX}{next(_fresh)}"


def _storable(key: str) -> str:
    """``key``, or a digest of it when it is too long or unprintable for the store (a 4 KB URL path)."""
    if key.isprintable() and len(key.encode("utf-8", "surrogatepass")) <= MAX_KEY_BYTES:
        return key
    return "#" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def conversation_of_call(channel: str, tool: str, arguments: Any) -> str | None:
    """The conversation a ``reply`` is sent to (which binds it to the caller), ``None`` for other calls."""
    if tool != BINDING_TOOL:
        return None
    chat = arguments.get("chat_id") if isinstance(arguments, dict) else None
    if isinstance(chat, str) and chat:
        return chat
    return SINGLE_CONVERSATION.get(channel)


def chat_of(conversation: str) -> str:
    """The chat a conversation's texts are sent to (a topic's chat)."""
    return conversation.split("/", 1)[0]


__all__ = ["NO_CHAT", "chat_of", "conversation_of", "conversation_of_call", "event_id"]

"""The Discord tools as declared to Claude Code, before discord.py is loaded.

Claude Code waits for the ``initialize`` answer, and discord.py takes ~150 ms to import, so the
declarations (names, descriptions, schemas) live here, free of the library; the tools themselves
are :class:`._tools.DiscordTools`, reached through the channel's
:class:`~mcp_channels.messaging.DeferredRuntime`.
"""

from __future__ import annotations

from typing import Final

from ..._schema import integer, object_schema, string
from ...messaging import REACT_SCHEMA, REPLY_TO_HINT, ToolDeclaration, edit_schema, reply_schema

TOOLS: Final[tuple[ToolDeclaration, ...]] = (
    (
        "reply",
        "Reply on Discord. Pass chat_id from the inbound message. Optionally pass reply_to (message_id) "
        "for threading, and files (absolute paths) to attach images or other files.",
        reply_schema(
            reply_to=f"{REPLY_TO_HINT[:-1]}, or an id from fetch_messages.",
            files="Absolute file paths to attach (images, logs, etc). Max 10 files, 25MB each.",
        ),
    ),
    (
        "react",
        "Add an emoji reaction to a Discord message. Unicode emoji work directly; "
        "custom emoji need the <:name:id> form.",
        REACT_SCHEMA,
    ),
    (
        "edit_message",
        "Edit a message the bot previously sent. Useful for interim progress updates. Edits don't trigger "
        "push notifications — send a new reply when a long task completes so the user's device pings.",
        edit_schema(),
    ),
    (
        "download_attachment",
        "Download attachments from a specific Discord message to the local inbox. Use after fetch_messages "
        "shows a message has attachments (marked with +Natt), or when an inbound message lists attachments. "
        "Returns file paths ready to Read.",
        object_schema({"chat_id": string(), "message_id": string()}),
    ),
    (
        "fetch_messages",
        "Fetch recent messages from a Discord channel. Returns oldest-first with message IDs. Discord's "
        "search API isn't exposed to bots, so this is the only way to look back.",
        object_schema(
            {"channel": string()},
            {"limit": integer("Max messages (default 20, Discord caps at 100).", minimum=1)},
        ),
    ),
)

"""The Discord tools as declared to Claude Code, before discord.py is loaded.

Claude Code waits for the ``initialize`` answer, and discord.py takes ~150 ms to import, so the
declarations (names, descriptions, schemas) live here, free of the library; the tools themselves
are :class:`._tools.DiscordTools`, reached through the channel's
:class:`~mcp_channels.messaging.DeferredRuntime`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._schema import integer, object_schema, string
from ...messaging import REACT_SCHEMA, REPLY_TO_HINT, DeferredRuntime, edit_schema, reply_schema
from ...server import ChannelServer

if TYPE_CHECKING:
    from ._channel import DiscordChannel


def declare_tools(channel: ChannelServer, runtime: DeferredRuntime[DiscordChannel]) -> None:
    """``reply``, ``react``, ``edit_message``, ``download_attachment`` and ``fetch_messages``."""
    channel.tool(
        name="reply",
        description=(
            "Reply on Discord. Pass chat_id from the inbound message. Optionally pass reply_to (message_id) "
            "for threading, and files (absolute paths) to attach images or other files."
        ),
        input_schema=reply_schema(
            reply_to=f"{REPLY_TO_HINT[:-1]}, or an id from fetch_messages.",
            files="Absolute file paths to attach (images, logs, etc). Max 10 files, 25MB each.",
        ),
    )(runtime.delegate(lambda connection: connection.tools.reply))
    channel.tool(
        name="react",
        description=(
            "Add an emoji reaction to a Discord message. Unicode emoji work directly; "
            "custom emoji need the <:name:id> form."
        ),
        input_schema=REACT_SCHEMA,
    )(runtime.delegate(lambda connection: connection.tools.react))
    channel.tool(
        name="edit_message",
        description=(
            "Edit a message the bot previously sent. Useful for interim progress updates. Edits don't trigger "
            "push notifications — send a new reply when a long task completes so the user's device pings."
        ),
        input_schema=edit_schema(),
    )(runtime.delegate(lambda connection: connection.tools.edit_message))
    channel.tool(
        name="download_attachment",
        description=(
            "Download attachments from a specific Discord message to the local inbox. Use after fetch_messages "
            "shows a message has attachments (marked with +Natt), or when an inbound message lists attachments. "
            "Returns file paths ready to Read."
        ),
        input_schema=object_schema({"chat_id": string(), "message_id": string()}),
    )(runtime.delegate(lambda connection: connection.tools.download_attachment))
    channel.tool(
        name="fetch_messages",
        description=(
            "Fetch recent messages from a Discord channel. Returns oldest-first with message IDs. Discord's "
            "search API isn't exposed to bots, so this is the only way to look back."
        ),
        input_schema=object_schema(
            {"channel": string()},
            {"limit": integer("Max messages (default 20, Discord caps at 100).", minimum=1)},
        ),
    )(runtime.delegate(lambda connection: connection.tools.fetch_messages))

"""What the Slack channel declares before slack_sdk is loaded: its tools and their limits.

Claude Code waits for the ``initialize`` answer, and slack_sdk takes a while to import, so the
declarations (names, descriptions, schemas) live here, free of the library; the tools themselves
are :class:`._tools.SlackTools`, reached through the channel's
:class:`~mcp_channels.messaging.DeferredRuntime`.
"""

from __future__ import annotations

from typing import Final

from ..._schema import integer, object_schema, string
from ...messaging import REACT_SCHEMA, ToolDeclaration, edit_schema, reply_schema
from ._mrkdwn import FORMATS

FORMAT_SCHEMA: Final = string(
    "'markdown' (default) converts ordinary Markdown (**bold**, *italic*, `code`, ``` blocks, [links](url), "
    "# headings, lists) to Slack formatting. 'text' sends the text exactly as typed. 'mrkdwn' passes Slack's "
    "own markup through (*bold*, <@U0123ABCDEF> mentions, <https://url|label> links).",
    enum=list(FORMATS),
    default="markdown",
)
THREAD_TS: Final = string(
    "The thread to answer in: thread_ts from the inbound <channel> block. Omit it to post at the top of the "
    "conversation."
)

TOOLS: Final[tuple[ToolDeclaration, ...]] = (
    (
        "reply",
        "Reply on Slack. Pass chat_id from the inbound message, and its thread_ts when it has one, so the "
        "answer lands in the message's thread. Optionally pass files (absolute paths) to attach. Long texts "
        "are split into several messages.",
        reply_schema(
            files="Absolute file paths to attach, shared in one message after the text. Max 10 files, 50MB each.",
            thread_ts=THREAD_TS,
            format=FORMAT_SCHEMA,
        ),
    ),
    (
        "react",
        "Add an emoji reaction to a Slack message. Give the emoji (👍) or its Slack name (thumbsup, :tada:, or a "
        "custom emoji's name).",
        REACT_SCHEMA,
    ),
    (
        "edit_message",
        "Edit a message the app sent earlier. Useful for interim progress updates. Edits don't trigger "
        "notifications — send a new reply when a long task completes so the user's device pings.",
        edit_schema(format=FORMAT_SCHEMA),
    ),
    (
        "download_attachment",
        "Download a file from a Slack message to the local inbox. Use a file id (F...) from the attachments "
        "in the inbound <channel> meta. Returns the local file path ready to Read. Max 50MB.",
        object_schema({"file_id": string("A file id (F...) from the inbound meta's attachments")}),
    ),
    (
        "fetch_messages",
        "Fetch recent messages from a Slack conversation, or from one thread with thread_ts. Returns oldest-first "
        "with message ids. Slack's search isn't available to the app, so this is the only way to look back.",
        object_schema(
            {"channel": string()},
            {
                "limit": integer("Max messages (default 20, at most 100).", minimum=1),
                "thread_ts": string("A thread's thread_ts: fetch that thread instead of the conversation."),
            },
        ),
    ),
)

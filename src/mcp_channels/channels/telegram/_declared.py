"""What the Telegram channel declares before python-telegram-bot is loaded: its tools and their limits.

Claude Code waits for the ``initialize`` answer, and python-telegram-bot takes ~200 ms to import,
so the tool declarations (names, descriptions, schemas) and the numbers they quote live here,
free of the library; the tools themselves are :class:`._tools.TelegramTools`, reached through
the channel's :class:`~mcp_channels.messaging.DeferredRuntime`.
"""

from __future__ import annotations

from typing import Final

from ..._schema import object_schema, string
from ...messaging import REACT_SCHEMA, REPLY_TO_HINT, ToolDeclaration, edit_schema, reply_schema

REACTION_EXAMPLES: Final = "👍 👎 ❤ 🔥 👀 🎉 🙏 👌 😁 🤔 🤯 😢 💯 🏆 🤝 ✍ 👏 😎"

FORMATS: Final = ("text", "markdown", "markdownv2")

FORMAT_SCHEMA: Final = string(
    "'text' (default) sends the text as typed. 'markdown' converts ordinary Markdown (**bold**, "
    "*italic*, `code`, ``` blocks, [links](url), # headings, lists) to Telegram formatting. "
    "'markdownv2' passes Telegram MarkdownV2 through unchanged: you must escape _*[]()~`>#+-=|{}.! yourself.",
    enum=list(FORMATS),
    default="text",
)


TOOLS: Final[tuple[ToolDeclaration, ...]] = (
    (
        "reply",
        "Reply on Telegram. Pass chat_id from the inbound message. Optionally pass reply_to (message_id) "
        "for threading, and files (absolute paths) to attach images or other files. Long texts are split "
        "into several messages.",
        reply_schema(
            reply_to=REPLY_TO_HINT,
            files=(
                "Absolute file paths to attach. Images send as photos (inline preview); other types as "
                "documents. Max 50MB each."
            ),
            format=FORMAT_SCHEMA,
        ),
    ),
    (
        "react",
        "Add an emoji reaction to a Telegram message. Telegram only accepts a fixed set of reaction emoji "
        f"({REACTION_EXAMPLES} ...); others are refused.",
        REACT_SCHEMA,
    ),
    (
        "edit_message",
        "Edit a message the bot sent earlier. Useful for interim progress updates. Edits don't trigger push "
        "notifications — send a new reply when a long task completes so the user's device pings.",
        edit_schema(format=FORMAT_SCHEMA),
    ),
    (
        "download_attachment",
        "Download a file attachment from a Telegram message to the local inbox. Use when the inbound "
        "<channel> meta shows attachment_file_id. Returns the local file path ready to Read. Telegram caps "
        "bot downloads at 20MB.",
        object_schema({"file_id": string("The attachment_file_id from inbound meta")}),
    ),
)

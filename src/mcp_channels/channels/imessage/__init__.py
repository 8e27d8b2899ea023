"""The iMessage channel (macOS): reads Messages' ``chat.db``, sends through AppleScript.

Run by Claude Code as ``mcp-channels serve imessage``. Needs Full Disk Access for the terminal
(or Python) to read ``~/Library/Messages/chat.db``; the first send asks for permission to control
Messages. Everything is tested on any system against a ``chat.db`` with the real schema and an
``osascript`` stand-in.

Configuration (environment):

``IMESSAGE_DB_PATH``
    The database to read (default ``~/Library/Messages/chat.db``).
``IMESSAGE_ALLOW_SMS``
    ``true`` also delivers SMS/RCS messages (off by default: their sender can be forged).
``IMESSAGE_APPEND_SIGNATURE``
    ``false`` stops adding "Sent by Claude" under replies.
``IMESSAGE_POLL_INTERVAL``
    Seconds between looks at the database (default 1).
``IMESSAGE_STATE_DIR``
    Where ``access.json`` lives (default ``~/.claude/channels/imessage``).
``IMESSAGE_ACCESS_MODE``
    ``static``: read ``access.json`` once at start and never write it.
"""

from __future__ import annotations

from .. import AccessFacts, ChannelFacts, PluginFacts

#: The longest text sent as one message, in characters (the cap of ``textChunkLimit``).
MESSAGE_LIMIT = 10_000
ACCESS = AccessFacts(
    default_dm_policy="allowlist",
    settable=("textChunkLimit", "chunkMode", "mentionPatterns"),
    id_hint="<handle>",
    strangers="anyone who texts this Mac",
    owner_chat=True,
)
FACTS = ChannelFacts(
    name="imessage",
    title="iMessage",
    message_limit=MESSAGE_LIMIT,
    access=ACCESS,
    official_plugin=True,
    relays_permissions=True,
    doctor_checks=("check_chat_db",),
    plugin=PluginFacts(
        description=(
            "iMessage bridge for macOS: reads chat.db directly, sends through Messages.app; your self-chat "
            "and allowlisted handles only. Manage access via /imessage:access."
        ),
        keywords=("imessage", "messaging", "macos", "channel", "mcp"),
        category="productivity",
        summary=(
            "Your Mac's Messages as a channel: texts from your self-chat and from allowlisted handles reach\n"
            "the Claude Code session, and Claude answers through Messages.app. macOS only, no network service."
        ),
        setup=(
            "1. Give the app that runs Claude Code (your terminal) Full Disk Access: System Settings →\n"
            "   Privacy & Security → Full Disk Access. `/imessage:configure` checks it.\n"
            "2. Text yourself: the self-chat always works. Add other people by handle with\n"
            "   `/imessage:access allow <handle>`. The first reply asks permission to control Messages."
        ),
        skills={"configure": "configure-imessage.md", "access": "access.md"},
        values={
            "id_note": (
                "iMessage ids are handles: a phone number in international form (`+15551234567`) or an Apple ID\n"
                "email. A chat id (a GUID like `iMessage;-;+15551234567`) is not a handle. Do not check id formats\n"
                "yourself: the command decides."
            ),
        },
    ),
)

__all__ = ["ACCESS", "FACTS", "MESSAGE_LIMIT"]

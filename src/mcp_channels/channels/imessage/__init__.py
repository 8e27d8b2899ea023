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

from ._channel import NAME, IMessageConfig, build, main

__all__ = ["NAME", "IMessageConfig", "build", "main"]

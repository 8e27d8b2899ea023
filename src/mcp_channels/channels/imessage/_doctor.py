"""What ``mcp-channels doctor imessage`` checks beyond every channel's checks: ``chat.db`` and osascript.

Reading ``chat.db`` needs Full Disk Access for the app that runs Claude Code; without it the
channel stops at start. Sending needs ``osascript``, which only macOS has.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

from ...diagnostics import FAIL, OK, WARN, Check, Setup
from ._chatdb import ChatDb, ChatDbError


def check_chat_db(setup: Setup) -> list[Check]:
    """Whether the Messages database can be read, and replies sent."""
    raw = setup.env.get("IMESSAGE_DB_PATH")
    path = Path(raw).expanduser() if raw else setup.home / "Library" / "Messages" / "chat.db"
    if not raw and sys.platform != "darwin":
        return [
            Check(
                "chat.db",
                FAIL,
                f"iMessage needs macOS: there is no Messages database on {platform.system()}",
                "run Claude Code on your Mac (IMESSAGE_DB_PATH points the channel at a copy, for tests)",
            )
        ]
    try:
        ChatDb(path).close()
    except ChatDbError as exc:
        reason = str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else str(exc)
        if raw and not path.exists():
            fix = "IMESSAGE_DB_PATH names no file: fix it, or unset it to use ~/Library/Messages/chat.db"
        else:
            fix = (
                f"give the app that runs Claude Code (your terminal; or {sys.executable}) Full Disk Access: "
                "System Settings → Privacy & Security → Full Disk Access, then restart it"
            )
        return [Check("chat.db", FAIL, f"cannot read {path}: {reason}", fix)]
    checks = [Check("chat.db", OK, f"{path} is readable")]
    if setup.which("osascript") is None:
        checks.append(
            Check(
                "osascript",
                WARN,
                "osascript is not on PATH: replies cannot be sent",
                "run on macOS, where /usr/bin/osascript sends through Messages",
            )
        )
    return checks


__all__ = ["check_chat_db"]

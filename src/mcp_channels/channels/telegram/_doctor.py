"""What ``mcp-channels doctor telegram`` checks beyond every channel's checks: who polls the bot.

Telegram gives a bot's updates to one poller at a time; a second one gets 409 Conflict and the two
take each other's messages. Our servers share a lock (:mod:`mcp_channels.poller_lock`); the official server
does not, so its live ``bot.pid`` is reported as a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..._listeners import process_command
from ...diagnostics import FAIL, OK, Check, Setup
from ...enablement import OFFICIAL_MARKETPLACE
from ...poller_lock import poller_lock_status
from . import FACTS, TOKEN


def check_poller(setup: Setup) -> list[Check]:
    """Which live session receives this bot's messages, and whether the official server competes."""
    value, _source = setup.credential(FACTS.name, TOKEN.variable)
    if value is None:
        return []  # the token check already says what to do
    directory = setup.state_dir(FACTS.name)
    pid = poller_lock_status(directory, value, FACTS.name)
    if pid is None:
        checks = [Check("poller", OK, "no session is receiving this bot's messages right now")]
    else:
        command = process_command(pid, setup.proc) or "command unknown"
        checks = [
            Check(
                "poller",
                OK,
                f"pid {pid} ({command}) receives this bot's messages; another session only sends until it exits",
            )
        ]
    official = _official_poller(directory, setup.proc)
    if official is not None:
        checks.append(
            Check(
                "poller",
                FAIL,
                f"the official telegram plugin's server ({official}) polls this bot too: the two take each "
                "other's messages (409 Conflict)",
                f"quit that session and run /plugin disable {FACTS.name}@{OFFICIAL_MARKETPLACE}",
            )
        )
    return checks


def _official_poller(directory: Path, proc: Path) -> str | None:
    """``pid N (command)`` of a live official server named by its ``bot.pid``, if any."""
    try:
        pid = int((directory / "bot.pid").read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    command = process_command(pid, proc) or ""
    if "server.ts" not in command and "bun" not in command:
        return None  # a recycled pid, not the official server
    return f"pid {pid}: {command}"


__all__ = ["check_poller"]

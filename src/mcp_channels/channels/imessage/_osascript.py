"""Sending through Messages.app with ``osascript``, without ever building AppleScript from data.

The script is a constant fed on stdin (``osascript -``); the text (or file path) and the chat
GUID travel as ``argv`` items the script reads with ``item 1 of argv``. Quotes, backslashes or
``end run`` in a message are therefore just characters, never code. Each send runs as an
asynchronous subprocess, so a slow send (the first one waits for the user to answer macOS's
Automation prompt) never stalls polling or other tool calls; a lock keeps sends in order, as the
official server's synchronous calls did.
"""

from __future__ import annotations

import asyncio
from typing import Final

from ...errors import PlatformError

SEND_TEXT_SCRIPT: Final = (
    'on run argv\n  tell application "Messages" to send (item 1 of argv) to chat id (item 2 of argv)\nend run\n'
)
SEND_FILE_SCRIPT: Final = (
    "on run argv\n"
    '  tell application "Messages" to send (POSIX file (item 1 of argv)) to chat id (item 2 of argv)\n'
    "end run\n"
)


class SendError(PlatformError):
    """Messages did not take the message; the text is osascript's own error, or its exit status."""


class Osascript:
    """Sends texts and files to a chat (by GUID), one at a time."""

    def __init__(self, program: str = "osascript") -> None:
        self.program = program
        self._lock = asyncio.Lock()

    async def send_text(self, chat_guid: str, text: str) -> None:
        await self._run(SEND_TEXT_SCRIPT, text, chat_guid)

    async def send_file(self, chat_guid: str, path: str) -> None:
        await self._run(SEND_FILE_SCRIPT, path, chat_guid)

    async def _run(self, script: str, item: str, chat_guid: str) -> None:
        if "\0" in item or "\0" in chat_guid:
            raise SendError("cannot send a NUL character (an argument cannot hold one)")
        async with self._lock:
            try:
                process = await asyncio.create_subprocess_exec(
                    self.program, "-", item, chat_guid,
                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
                )  # fmt: skip
            except FileNotFoundError:
                raise SendError(f"{self.program} not found: sending iMessages needs macOS") from None
            except OSError as exc:
                raise SendError(f"cannot run {self.program}: {exc.strerror or exc}") from None
            _, stderr = await process.communicate(script.encode())
        if process.returncode != 0:
            detail = stderr.decode("utf-8", errors="replace").strip()
            raise SendError(detail or f"osascript exit {process.returncode}")

"""Progress while Claude works: 👀 on the message, taken off when Claude replies in that chat.

Slack gives apps no "typing…" indicator. A reaction shows on the message itself, in every client,
and needs no extra scope. An assistant app (Slack's "Agents & AI Apps" feature, with the
``assistant:write`` scope) can instead show "is thinking…" under the thread with
``assistant.threads.setStatus`` (``SLACK_PROGRESS=status``); where Slack refuses that (not an
assistant app, not an assistant thread), the reaction is used. The calls go out one at a time,
in order, from one task (:meth:`SlackProgress.run`), so a quick reply never overtakes the
reaction it takes off; a failure only costs the indicator, and is logged at debug.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Final

from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from ...messaging import Incoming
from ._web import describe

REACTION: Final = "eyes"
STATUS: Final = "is thinking…"
#: Messages marked at once in one conversation: in a busy channel Claude may answer few of them,
#: and the oldest marks are taken off rather than left on every message.
MAX_MARKED: Final = 10


@dataclass
class Marked:
    """One message showing progress, and how (``reaction`` or ``status``)."""

    chat_id: str
    ts: str
    thread_ts: str | None
    how: str = REACTION


class SlackProgress:
    """The channel's :class:`~mcp_channels.messaging.Progress`; ``mode`` is ``reaction`` or ``status``."""

    def __init__(self, web: AsyncWebClient, mode: str, log: logging.Logger) -> None:
        self.web = web
        self.mode = mode
        self.log = log
        self._marked: dict[str, list[Marked]] = {}
        self._calls: asyncio.Queue[tuple[bool, Marked]] = asyncio.Queue()

    def start(self, incoming: Incoming) -> None:
        if incoming.message_id is None:
            return
        chat_id = incoming.message.chat_id
        mark = Marked(chat_id, incoming.message_id, incoming.meta.get("thread_ts"))
        marked = self._marked.setdefault(chat_id, [])
        marked.append(mark)
        self._calls.put_nowait((True, mark))
        while len(marked) > MAX_MARKED:
            self._calls.put_nowait((False, marked.pop(0)))

    def stop(self, chat_id: str) -> None:
        for mark in self._marked.pop(chat_id, []):
            self._calls.put_nowait((False, mark))

    async def run(self) -> None:
        """Make the calls, in order, for the life of the server (an adapter task)."""
        while True:
            show, mark = await self._calls.get()
            try:
                await (self._show(mark) if show else self._hide(mark))
            except SlackClientError as error:
                self.log.debug("progress indicator on %s failed: %s", mark.ts, describe(error))

    async def _show(self, mark: Marked) -> None:
        if self.mode == "status" and mark.thread_ts is not None:
            try:
                await self.web.assistant_threads_setStatus(
                    channel_id=mark.chat_id, thread_ts=mark.thread_ts, status=STATUS
                )
                mark.how = "status"
                return
            except SlackClientError as error:
                self.log.debug("assistant.threads.setStatus refused (%s): showing a reaction", describe(error))
        await self.web.reactions_add(channel=mark.chat_id, timestamp=mark.ts, name=REACTION)

    async def _hide(self, mark: Marked) -> None:
        if mark.how == "status":
            assert mark.thread_ts is not None
            await self.web.assistant_threads_setStatus(channel_id=mark.chat_id, thread_ts=mark.thread_ts, status="")
        else:
            await self.web.reactions_remove(channel=mark.chat_id, timestamp=mark.ts, name=REACTION)

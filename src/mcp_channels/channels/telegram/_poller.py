"""The ``getUpdates`` loop: one consumer per token, never deaf, nothing lost.

* Only the session holding the token's :class:`~mcp_channels.poller_lock.PollerLock` polls.
  Another session of the same bot serves its tools (sending works from any number of sessions),
  says so once on stderr, and takes over within a second of the receiving session exiting.
* Every error is retried, forever, with capped exponential backoff; a flood-control 429 waits
  exactly as long as Telegram asks; a 409 from a poller outside our lock (the official plugin,
  another machine) backs off instead of spinning.
* A webhook set on the bot (before the session or during it, by another program) stops polling:
  Telegram answers ``getUpdates`` with a 409 of its own. That one is told apart by its
  description, the webhook is deleted with its pending updates kept, and polling resumes at once.
* An update is confirmed to Telegram (by the ``offset`` of the next call) only after it reached
  Claude Code, so updates survive a crash or a restart in the middle of a burst. When Claude Code
  stops reading, the push waits (and so does polling); when it has gone away (stdout closed),
  polling stops and the update stays unconfirmed, for the next session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import traceback
import warnings
from typing import Any, Final
from urllib.parse import urlsplit

from telegram import Bot, BotCommand, BotCommandScopeAllPrivateChats, Update
from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError
from telegram.warnings import PTBUserWarning

from ...errors import HostDisconnected
from ...poller_lock import PollerLock, wait_for_lock
from ._bot import redact, retry_after_seconds
from ._inbound import COMMANDS, Inbound

#: Seconds a getUpdates call waits for news (Telegram allows up to 50).
LONG_POLL: Final = 25
#: Read timeout of a poll beyond the time Telegram holds it.
POLL_READ_TIMEOUT: Final = 10.0
BACKOFF_FIRST: Final = 0.5
BACKOFF_CAP: Final = 30.0
ALLOWED_UPDATES: Final = ["message", "callback_query"]
#: Budget for confirming delivered updates when the server stops.
CONFIRM_TIMEOUT: Final = 1.0
#: Telegram's descriptions of the two 409s a webhook causes: a long poll ended by ``setWebhook``,
#: and a poll refused while a webhook is set. Its other 409 ("terminated by other getUpdates
#: request") means another program is polling the token.
WEBHOOK_CONFLICTS: Final = ("terminated by setwebhook request", "can't use getupdates method while webhook is active")


# getUpdates goes through ``do_api_request`` to get the updates unparsed; the library suggests
# its own ``get_updates`` for that, which parses the whole batch at once.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.getUpdates'", category=PTBUserWarning)


class Backoff:
    """Delays that double from ``first`` up to ``cap``, until :meth:`reset`."""

    def __init__(self, first: float = BACKOFF_FIRST, cap: float = BACKOFF_CAP) -> None:
        self.first = first
        self.cap = cap
        self._next = first

    def next(self) -> float:
        delay = self._next
        self._next = min(delay * 2, self.cap)
        return delay

    def reset(self) -> None:
        self._next = self.first


def is_webhook_conflict(error: Conflict) -> bool:
    """Whether a 409 means a webhook is set on the bot (rather than another program polling it)."""
    description = error.message.lower()
    return any(marker in description for marker in WEBHOOK_CONFLICTS)


class Poller:
    def __init__(self, bot: Bot, lock: PollerLock, inbound: Inbound, log: logging.Logger) -> None:
        self.bot = bot
        self.lock = lock
        self.inbound = inbound
        self.log = log
        self.offset: int | None = None  # the next update wanted; everything below it reached Claude

    @property
    def receiving(self) -> bool:
        """Whether this session is the one receiving the bot's messages (and button presses)."""
        return self.lock.held

    def _describe(self, error: BaseException) -> str:
        return redact(str(error) or type(error).__name__, self.bot.token)

    async def run(self) -> None:
        """Receive forever (a server task); returns only by cancellation."""
        try:
            await wait_for_lock(self.lock, self.log, "this bot")
            await self._start()
            await self._poll()
        except HostDisconnected:
            self.log.warning("Claude Code has gone away: stopped polling; undelivered updates stay with Telegram")
        finally:
            if self.lock.held:
                await self._confirm()
                self.lock.release()

    async def _start(self) -> None:
        """getMe, retried until it works (a webhook left on the bot is dealt with by :meth:`_poll`)."""
        backoff = Backoff()
        while True:
            try:
                await self.bot.initialize()
                break
            except RetryAfter as error:
                await asyncio.sleep(retry_after_seconds(error))
            except InvalidToken as error:
                delay = backoff.next()
                self.log.error(
                    "Telegram rejected the bot token (%s): check TELEGRAM_BOT_TOKEN; retrying in %.1fs",
                    self._describe(error),
                    delay,
                )
                await asyncio.sleep(delay)
            except TelegramError as error:
                delay = backoff.next()
                self.log.warning("cannot reach Telegram (%s); retrying in %.1fs", self._describe(error), delay)
                await asyncio.sleep(delay)
        self.inbound.bot_user = self.bot.bot
        self.log.info("polling as @%s", self.bot.username)
        try:
            await self.bot.set_my_commands(
                [BotCommand(name, description) for name, description in COMMANDS],
                scope=BotCommandScopeAllPrivateChats(),
            )
        except TelegramError as error:  # only the command menu is missing
            self.log.warning("could not register the command menu: %s", self._describe(error))

    async def _poll(self) -> None:
        backoff = Backoff()
        conflicts = webhooks = 0
        while True:
            try:
                updates = await self._fetch()
            except RetryAfter as error:
                wait = retry_after_seconds(error)
                self.log.warning("flood control: Telegram asks to wait %gs before polling again", wait)
                await asyncio.sleep(wait)
                continue
            except Conflict as error:
                if is_webhook_conflict(error):
                    webhooks += 1
                    await self._delete_webhook(error, webhooks, backoff)
                    continue
                conflicts += 1
                delay = backoff.next()
                if conflicts == 1:
                    self.log.warning(
                        "409 Conflict: another program is polling this bot token (a session with another "
                        "TELEGRAM_STATE_DIR, the official plugin, or a bot running elsewhere): %s; "
                        "backing off, retrying in %.1fs",
                        self._describe(error),
                        delay,
                    )
                else:
                    self.log.warning("409 Conflict again (%d in a row); retrying in %.1fs", conflicts, delay)
                await asyncio.sleep(delay)
                continue
            except TelegramError as error:
                delay = backoff.next()
                self.log.warning("polling error: %s; retrying in %.1fs", self._describe(error), delay)
                await asyncio.sleep(delay)
                continue
            if conflicts:
                self.log.info("polling again: the other poller has stopped")
            conflicts = webhooks = 0
            backoff.reset()
            for raw in updates:
                await self._deliver(raw)
                self.offset = raw["update_id"] + 1

    async def _delete_webhook(self, conflict: Conflict, streak: int, backoff: Backoff) -> None:
        """Take the bot's updates back from a webhook another program set, losing none of them.

        Telegram delivers a bot's updates to its webhook or by ``getUpdates``, never both, so
        the session stays deaf until the webhook goes. The session was started to receive this
        bot's messages: it deletes the webhook (pending updates kept) and polls again at once,
        as the official server does by restarting its poll. A program that keeps setting the
        webhook again gets backoff between deletions, not a tug of war at full speed.
        """
        if streak > 1:
            delay = backoff.next()
            self.log.warning(
                "a webhook%s was set on this bot again (%d times in a row): deleting it again in %.1fs",
                await self._webhook_target(),
                streak,
                delay,
            )
            await asyncio.sleep(delay)
        else:
            self.log.warning(
                "409 %s: a webhook%s is set on this bot, and Telegram refuses polling while it is; deleting it "
                "(pending updates kept) and polling again; whatever set it stops getting this bot's updates",
                self._describe(conflict),
                await self._webhook_target(),
            )
        try:
            await self.bot.delete_webhook(drop_pending_updates=False)
        except RetryAfter as error:
            await asyncio.sleep(retry_after_seconds(error))
        except TelegramError as error:
            delay = backoff.next()
            self.log.warning("could not delete the webhook: %s; retrying in %.1fs", self._describe(error), delay)
            await asyncio.sleep(delay)

    async def _webhook_target(self) -> str:
        """`` (to <scheme>://<host>)`` for the webhook set on the bot, so the log says whose it is.

        Only scheme, host and port: a webhook's path or query often holds a secret.
        """
        try:
            url = (await self.bot.get_webhook_info()).url
        except TelegramError:
            return ""
        parts = urlsplit(url)
        if not parts.hostname:
            return ""
        with contextlib.suppress(ValueError):  # a port that is not a number: leave it out
            if parts.port:
                return redact(f" (to {parts.scheme}://{parts.hostname}:{parts.port})", self.bot.token)
        return redact(f" (to {parts.scheme}://{parts.hostname})", self.bot.token)

    async def _fetch(self) -> list[dict[str, Any]]:
        """One long poll, unparsed: each update is read on its own (:meth:`_deliver`), so one the
        library cannot read costs that update, not every update behind it."""
        api_kwargs: dict[str, Any] = {"timeout": LONG_POLL, "allowed_updates": ALLOWED_UPDATES}
        if self.offset is not None:
            api_kwargs["offset"] = self.offset
        answer = await self.bot.do_api_request(
            "getUpdates", api_kwargs=api_kwargs, read_timeout=POLL_READ_TIMEOUT + LONG_POLL
        )
        if not isinstance(answer, list) or not all(
            isinstance(raw, dict) and isinstance(raw.get("update_id"), int) for raw in answer
        ):
            raise TelegramError("getUpdates answered something that is not a list of updates")
        return answer

    async def _deliver(self, raw: dict[str, Any]) -> None:
        """Read one update and hand it to Claude.

        Platform and network failures are dealt with inside; what escapes is an update that cannot
        be read or a defect it trips, either of which would recur on every retry. It is reported
        loudly and skipped, rather than blocking every later message.
        """
        try:
            await self.inbound.handle(Update.de_json(raw, self.bot))
        except HostDisconnected:
            raise  # not this update's fault: it must stay unconfirmed
        except Exception:
            self.log.error(
                "update %d could not be handled and is skipped:\n%s",
                raw["update_id"],
                redact(traceback.format_exc().rstrip(), self.bot.token),
            )
            self.log.debug("the skipped update: %s", json.dumps(raw, ensure_ascii=False)[:4000])

    async def _confirm(self) -> None:
        """Tell Telegram what was delivered before stopping, so the next session does not repeat it."""
        if self.offset is None:
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CONFIRM_TIMEOUT):
                await self.bot.get_updates(offset=self.offset, timeout=0, limit=1, allowed_updates=ALLOWED_UPDATES)

"""Socket Mode: Slack's events over a websocket the app opens, so no public URL is needed.

slack_sdk's aiohttp client (:class:`~slack_sdk.socket_mode.aiohttp.SocketModeClient`) opens the
connection (``apps.connections.open`` with the app-level token), pings it, and opens a new one
when Slack asks (``disconnect``: ``refresh_requested``, ``warning``, ``link_disabled``) or the
connection drops. Around it, this module adds what a channel needs:

* **One connection per app on this machine.** Slack gives each event to *one* of the app's open
  connections, at random: two sessions each holding one would each see about half of the
  messages, without a word. Only the session holding the app token's
  :class:`~mcp_channels.poller_lock.PollerLock` connects; another serves its tools and takes over
  when the first exits. Slack's ``hello`` says how many connections the app has, and more than
  one (a program outside this lock: another machine, another state directory) is reported.
* **In order, acknowledged once delivered.** Envelopes are handled one at a time, in the order
  they came. An event is acknowledged once Claude Code has it, so one that was not (the session
  stopped first) is sent again by Slack to whichever connection comes next. Slack retries an
  event it has no acknowledgement for within 3 s (a new envelope, ``retry_attempt``, the same
  ``event_id``): a retry of an event already delivered is acknowledged and dropped; a retry of
  one still on its way (a slow image download) is dropped unacknowledged, so that Slack still
  holds it should this session stop before delivering. Button presses are acknowledged at once:
  Slack shows the presser an error after 3 s without one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import traceback
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from aiohttp import WSMessage, WSMsgType
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from ...poller_lock import PollerLock, wait_for_lock
from ._directory import Recent

Handler = Callable[[Mapping[str, Any]], Awaitable[None]]

#: What Slack's ``disconnect`` reasons mean, for the log.
DISCONNECT_REASONS: Final = {
    "warning": "Slack will close this connection in about 10 seconds",
    "refresh_requested": "Slack asked for a fresh connection",
    "too_many_websockets": "the app has more connections than Slack allows (10)",
}
LINK_DISABLED: Final = (
    "Slack turned Socket Mode off for this app (link_disabled): no events arrive until it is on again "
    "(api.slack.com/apps → your app → Socket Mode → Enable); reconnecting meanwhile"
)


class SocketReceiver:
    """The session's Socket Mode connection, held only while it holds the app's receiver lock."""

    def __init__(
        self,
        app_token: str,
        web: AsyncWebClient,
        lock: PollerLock,
        log: logging.Logger,
        on_event: Handler,
        on_interactive: Handler,
    ) -> None:
        self.app_token = app_token
        self.web = web
        self.lock = lock
        self.log = log
        self.on_event = on_event
        self.on_interactive = on_interactive
        self._queue: asyncio.Queue[SocketModeRequest] = asyncio.Queue()
        self._in_flight: set[str] = set()
        self._delivered: Recent[str] = Recent()
        self._hellos = 0

    @property
    def receiving(self) -> bool:
        """Whether this session is the one receiving the app's events (and button presses)."""
        return self.lock.held

    async def run(self) -> None:
        """Receive forever (a server task); returns only by cancellation."""
        await wait_for_lock(self.lock, self.log, "this Slack app")
        try:
            client = SocketModeClient(self.app_token, logger=_library_log(), web_client=self.web)
            client.socket_mode_request_listeners.append(self._take)
            client.on_message_listeners.append(self._watch)
            client.on_close_listeners.append(self._closed)
            try:
                await client.connect()  # type: ignore[no-untyped-call]
                while True:
                    await self._handle(client, await self._queue.get())
            finally:
                await client.close()  # type: ignore[no-untyped-call]
        finally:
            self.lock.release()

    async def _take(self, client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        """Queue an envelope, in arrival order (this runs before anything else can); ack what need not wait."""
        if request.type == "events_api":
            event_id = _event_id(request)
            if event_id in self._delivered:
                self.log.debug(
                    "Slack sent event %s again (retry %s): delivered already", event_id, request.retry_attempt
                )
                await self._ack(client, request)
            elif event_id in self._in_flight:
                self.log.debug(
                    "Slack sent event %s again (retry %s): still on its way", event_id, request.retry_attempt
                )
            else:
                self._in_flight.add(event_id)
                self._queue.put_nowait(request)
            return
        if request.type == "interactive":
            self._queue.put_nowait(request)
        await self._ack(client, request)

    async def _handle(self, client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        """Hand one envelope to the channel; an exception here is a defect, logged, and costs that envelope only."""
        try:
            if request.type == "events_api":
                await self.on_event(request.payload)
            else:
                await self.on_interactive(request.payload)
        except Exception:
            self.log.error(
                "a Slack %s envelope could not be handled and is skipped:\n%s",
                request.type,
                traceback.format_exc().rstrip(),
            )
        if request.type == "events_api":
            event_id = _event_id(request)
            self._in_flight.discard(event_id)
            self._delivered.add(event_id)
            await self._ack(client, request)

    async def _ack(self, client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        try:
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
        except Exception as error:  # the connection went: Slack sends the event again, and it is dropped then
            self.log.debug("could not acknowledge envelope %s: %s", request.envelope_id, error)

    async def _watch(self, message: WSMessage) -> None:
        """Slack's own messages on the connection: ``hello`` and ``disconnect``, said in the log."""
        try:
            data = json.loads(message.data) if message.type == WSMsgType.TEXT else None
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        if data.get("type") == "hello":
            self._hello(data)
        elif data.get("type") == "disconnect":
            reason = str(data.get("reason") or "unknown")
            if reason == "link_disabled":
                self.log.warning("%s", LINK_DISABLED)
            else:
                self.log.info(
                    "%s (%s): reconnecting", DISCONNECT_REASONS.get(reason, "Slack closes the connection"), reason
                )

    def _hello(self, data: Mapping[str, Any]) -> None:
        self._hellos += 1
        self.log.info("connected to Slack (Socket Mode)" if self._hellos == 1 else "reconnected to Slack (Socket Mode)")
        count = data.get("num_connections")
        if isinstance(count, int) and count > 1:
            self.log.warning(
                "Slack reports %d open Socket Mode connections for this app: it gives each event to one of "
                "them at random, so this session misses the others' share. Another program holds one (a "
                "session with another SLACK_STATE_DIR, or this app running elsewhere): stop it",
                count,
            )

    async def _closed(self, message: WSMessage) -> None:
        self.log.info("the Socket Mode connection closed (%s); reconnecting", message.data or "no code")


def _event_id(request: SocketModeRequest) -> str:
    """The id Slack keeps for an event across its retries (the envelope's own id, if it gave none)."""
    event_id = request.payload.get("event_id")
    return event_id if isinstance(event_id, str) else request.envelope_id


def _library_log() -> logging.Logger:
    """slack_sdk's Socket Mode logger: its tracebacks on every retry would drown the log, so it only
    speaks at ``MCP_CHANNELS_LOG_LEVEL=debug``; this module says what matters in one line."""
    log = logging.getLogger("mcp_channels.slack.socket_mode")
    debug = os.environ.get("MCP_CHANNELS_LOG_LEVEL", "").lower() == "debug"
    log.setLevel(logging.DEBUG if debug else logging.CRITICAL + 1)
    return log

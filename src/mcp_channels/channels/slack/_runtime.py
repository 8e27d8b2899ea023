"""The Slack app and everything that talks to it, made once slack_sdk has been imported."""

from __future__ import annotations

import asyncio
from typing import Final

from slack_sdk.errors import SlackClientError

from ...access import AccessStore
from ...channel import Channel, PermissionRequest
from ...errors import ConfigurationError
from ...messaging import ChatBridge
from ...outbound import INBOX_DIR
from ...poller_lock import PollerLock
from . import APP_TOKEN, BOT_TOKEN
from ._directory import DirectMessages, Recent, UserNames
from ._files import Files
from ._inbound import Identity, Inbound
from ._permissions import PermissionPrompts
from ._platform import SlackPlatform
from ._progress import SlackProgress
from ._settings import SlackSettings
from ._socket import SocketReceiver
from ._tools import SlackTools
from ._web import Refusal, describe, make_client

BACKOFF_FIRST: Final = 0.5
BACKOFF_CAP: Final = 30.0


class SlackRuntime:
    """One Slack app serving one Claude Code session: Socket Mode, the shared inbound path, the tools."""

    def __init__(self, channel: Channel, settings: SlackSettings, store: AccessStore) -> None:
        self.channel = channel
        self.store = store
        log = channel.log
        self.refusal = Refusal()
        self.web = make_client(settings.bot_token, settings.api_base, self.refusal.watch(BOT_TOKEN))
        self.identity = Identity()
        self.identified = asyncio.Event()
        dms = DirectMessages(self.web, log)
        names = UserNames(self.web, log)
        threads: Recent[tuple[str, str]] = Recent()
        files = Files(self.web, settings.bot_token, settings.api_base, settings.state_dir / INBOX_DIR)
        self.progress = SlackProgress(self.web, settings.progress, log)
        platform = SlackPlatform(self.web, dms)
        progress = None if settings.progress == "off" else self.progress
        self.bridge = ChatBridge(channel, store, platform, progress=progress)
        self.prompts = PermissionPrompts(self.web, self.bridge, dms, log)
        inbound = Inbound(self.bridge, self.identity, names, dms, files, threads, log)
        self.receiver = SocketReceiver(
            settings.app_token,
            make_client(None, settings.api_base, self.refusal.watch(APP_TOKEN)),
            PollerLock(settings.state_dir, settings.app_token),
            log,
            inbound.handle,
            self.prompts.press,
        )
        self.tools = SlackTools(
            self.web, store, self.bridge, dms, names, files, self.identity, threads, settings.bot_token
        )

    async def receive_events(self) -> None:
        """Sign in, then receive through Socket Mode, until the server stops or Slack refuses a token.

        A refused token stops the server with one line (:class:`~mcp_channels.errors.ConfigurationError`) saying which and
        where to put a new one, whichever call met the refusal first.
        """
        work = asyncio.ensure_future(self._sign_in_and_receive())
        refused = asyncio.ensure_future(self.refusal.wait())
        try:
            done, _ = await asyncio.wait({work, refused}, return_when=asyncio.FIRST_COMPLETED)
            if refused in done:
                raise ConfigurationError(refused.result())
            work.result()
        finally:
            for task in (work, refused):
                task.cancel()
            await asyncio.gather(work, refused, return_exceptions=True)

    async def _sign_in_and_receive(self) -> None:
        await self._sign_in()
        await self.receiver.run()

    async def _sign_in(self) -> None:
        """``auth.test``, retried with backoff until Slack answers: who the app's bot user is."""
        delay = BACKOFF_FIRST
        while True:
            try:
                answer = await self.web.auth_test()
                break
            except SlackClientError as error:
                if self.refusal.message is None:
                    self.channel.log.warning("cannot sign in to Slack (%s); retrying in %.1fs", describe(error), delay)
            except (OSError, TimeoutError) as error:
                self.channel.log.warning("cannot reach Slack (%s); retrying in %.1fs", describe(error), delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_CAP)
        self.identity.user_id = str(answer.get("user_id") or "") or None
        self.identity.bot_id = str(answer.get("bot_id") or "") or None
        self.channel.log.info("signed in to Slack as @%s in %s", answer.get("user"), answer.get("team"))
        self.identified.set()

    async def confirm_pairings(self) -> None:
        """Send "Paired! Say hi to Claude." to the DM recorded with each approval (else the member's DM)."""
        await self.identified.wait()
        await self.bridge.watch_approvals(chat_for=lambda sender, dm: dm or sender)

    async def relay_permission(self, request: PermissionRequest) -> None:
        if not self.receiver.receiving:
            # The answer (a button press or a "yes abcde") would reach the receiving session, not
            # this one: Claude Code's own prompt in the terminal stays the way to answer.
            self.channel.log.info(
                "permission request %s not relayed: another session receives this Slack app's events, "
                "so an answer from Slack could not reach this one",
                request.request_id,
            )
            return
        await self.prompts.relay(request)

"""The bot and everything that talks to it, made once python-telegram-bot has been imported."""

from __future__ import annotations

from pathlib import Path

from ...access import AccessStore
from ...channel import Channel, PermissionRequest
from ...messaging import ChatBridge, TypingIndicator, permission_prompt_text
from ...outbound import INBOX_DIR
from ...poller_lock import PollerLock
from ._bot import TYPING_REFRESH, TelegramPlatform, flood_safe, make_bot, permission_keyboard
from ._inbound import Inbound
from ._media import Downloads
from ._poller import Poller
from ._tools import TelegramTools


class TelegramRuntime:
    """One bot serving one Claude Code session: the poller, the shared inbound path, the tools."""

    def __init__(self, channel: Channel, store: AccessStore, token: str, api_base: str, directory: Path) -> None:
        self.channel = channel
        self.store = store
        self.bot = make_bot(token, api_base)
        platform = TelegramPlatform(self.bot)
        self.bridge = ChatBridge(
            channel, store, platform, progress=TypingIndicator(platform.send_typing, every=TYPING_REFRESH)
        )
        downloads = Downloads(self.bot, directory / INBOX_DIR)
        self.poller = Poller(
            self.bot, PollerLock(directory, token), Inbound(self.bridge, store, downloads, channel.log), channel.log
        )
        self.tools = TelegramTools(channel, self.bot, store, self.bridge, downloads)

    async def receive_messages(self) -> None:
        await self.poller.run()

    async def confirm_pairings(self) -> None:
        # A Telegram DM's chat id is the sender's user id: the marker's name says where to write.
        await self.bridge.watch_approvals(lambda sender_id, _contents: sender_id)

    async def _send_prompt(self, chat_id: str, request: PermissionRequest) -> None:
        await flood_safe(
            lambda: self.bot.send_message(
                chat_id,
                permission_prompt_text(request.tool_name),
                reply_markup=permission_keyboard(request.request_id, details=True),
            )
        )

    async def relay_permission(self, request: PermissionRequest) -> None:
        if not self.poller.receiving:
            # The answer (a button press or a "yes abcde") would reach the receiving session, not
            # this one: Claude Code's own prompt in the terminal stays the way to answer.
            self.channel.log.info(
                "permission request %s not relayed: another session receives this bot's messages, "
                "so an answer from Telegram could not reach this one",
                request.request_id,
            )
            return
        # Prompts go to allowlisted DMs only, never to groups, whose members may not approve.
        await self.bridge.broadcast_permission(request, self.store.load().allow_from, self._send_prompt)

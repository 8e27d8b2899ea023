"""The Discord channel wired together: discord.py client, shared inbound path, tools, permission relay.

Made by the channel's :class:`~mcp_channels.messaging.DeferredRuntime` once discord.py is imported,
after the server has answered ``initialize``, and logged in (:meth:`DiscordRuntime.log_in`, REST
only: the tools need nothing more) before any tool or task uses it; ``build()`` registers
:meth:`~DiscordRuntime.connect` (the gateway), :meth:`~DiscordRuntime.deliver` and
:meth:`~DiscordRuntime.greet_approved` as its inbound tasks.
"""

from __future__ import annotations

import asyncio

import discord

from ...access import AccessStore
from ...channel import Channel
from ...errors import HostDisconnected
from ...messaging import ChatBridge, TypingIndicator
from ._client import DiscordClient, use_api
from ._inbound import InboundReader, RecentlySent
from ._permissions import PermissionButton, PermissionPrompts
from ._platform import TYPING_REFRESH, DiscordPlatform
from ._settings import DiscordSettings
from ._targets import ChannelGate
from ._tools import DiscordTools


class DiscordRuntime:
    """One bot connection serving one Claude Code session.

    Messages are handled one at a time, in gateway order, by :meth:`deliver`: discord.py runs
    each ``on_message`` as its own task, so a message needing a lookup (an unseen thread, a
    reply) could otherwise overtake the next one.
    """

    def __init__(self, channel: Channel, settings: DiscordSettings, store: AccessStore) -> None:
        use_api(settings)
        self.channel = channel
        self.settings = settings
        self.store = store
        self.incoming: asyncio.Queue[discord.Message] = asyncio.Queue()
        self.client = DiscordClient(self.incoming.put_nowait, channel.log)
        platform = DiscordPlatform(self.client)
        typing = TypingIndicator(platform.send_typing, every=TYPING_REFRESH)
        self.bridge = ChatBridge(channel, store, platform, progress=typing)
        sent = RecentlySent()
        dm_users: dict[str, str] = {}
        self.reader = InboundReader(self.client, sent, dm_users, channel.log)
        gate = ChannelGate(self.client, store, dm_users)
        self.prompts = PermissionPrompts(self.client, self.bridge, gate)
        self.client.permission_button_handler = self.prompts.press
        self.client.add_dynamic_items(PermissionButton)
        self.tools = DiscordTools(self.client, store, gate, self.bridge, sent, settings.state_dir)

    async def log_in(self) -> None:
        await self.client.log_in(self.settings.token)

    async def connect(self) -> None:
        await self.client.open_gateway()

    async def deliver(self) -> None:
        """Hand each message to Claude, until Claude Code goes away: the gateway is closed then,
        with one line in the log, rather than one traceback per message until the process exits."""
        while True:
            message = await self.incoming.get()
            try:
                await self.bridge.receive(await self.reader.read(message))
            except HostDisconnected:
                self.channel.log.warning(
                    "Claude Code has gone away: closed the gateway; later messages stay in Discord's history"
                )
                await self.client.close()
                return
            except Exception:
                self.channel.log.exception("inbound message %s could not be handled", message.id)

    async def greet_approved(self) -> None:
        """Send "Paired! Say hi to Claude." to the DM channel the command line recorded for each approval.

        Runs once logged in (as every task of the runtime does), so an approval recorded while
        the server was down is not lost to a send that could not work yet.
        """
        await self.bridge.watch_approvals(chat_for=lambda _sender, dm_channel: dm_channel or None)

"""Which Discord channels the tools may touch: the ones the inbound gate could deliver from."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord

from ...access import AccessStore
from ...errors import ToolError

if TYPE_CHECKING:
    from discord.abc import MessageableChannel
else:
    MessageableChannel = Any

TEXT_CHANNELS = (
    discord.TextChannel,
    discord.Thread,
    discord.DMChannel,
    discord.VoiceChannel,
    discord.StageChannel,
)


def group_key(channel: discord.abc.Snowflake) -> str:
    """A channel's key in ``groups``: its id, or for a thread (and forum post) its parent's."""
    if isinstance(channel, discord.Thread):
        return str(channel.parent_id or channel.id)
    return str(channel.id)


def snowflake(value: str, what: str) -> int:
    """A Discord id from a tool argument, or a clear error."""
    if not (value.isascii() and value.isdigit()) or len(value) > 20:
        raise ToolError(f"{what} {value!r} is not a Discord id")
    return int(value)


class ChannelGate:
    """The official ``fetchAllowedChannel``: an allowlisted user's DM, or an opted-in channel or its thread.

    ``dm_users`` maps the DM channels messages came from to their user (the official server's
    ``dmChannelUsers``, for a DM channel known without its recipient): answering a DM then needs
    no channel lookup at all.
    """

    def __init__(self, client: discord.Client, store: AccessStore, dm_users: dict[str, str]) -> None:
        self.client = client
        self.store = store
        self.dm_users = dm_users

    async def allowed(self, chat_id: str) -> MessageableChannel:
        channel_id = snowflake(chat_id, "channel")
        access = self.store.load()
        dm_user = self.dm_users.get(chat_id)
        if dm_user is not None:  # a DM we received: no lookup needed (discord.py does not cache these)
            if dm_user in access.allow_from:
                return self.client.get_partial_messageable(channel_id, type=discord.ChannelType.private)
            raise ToolError(f"channel {chat_id} is not allowlisted — add via /discord:access")
        channel = self.client.get_channel(channel_id)
        if channel is None:
            try:
                channel = await self.client.fetch_channel(channel_id)
            except discord.NotFound:
                raise ToolError(f"channel {chat_id} not found or not text-based") from None
        if not isinstance(channel, TEXT_CHANNELS):
            raise ToolError(f"channel {chat_id} not found or not text-based")
        if isinstance(channel, discord.DMChannel):
            if channel.recipient is not None and str(channel.recipient.id) in access.allow_from:
                return channel
        elif group_key(channel) in access.groups:
            return channel
        raise ToolError(f"channel {chat_id} is not allowlisted — add via /discord:access")

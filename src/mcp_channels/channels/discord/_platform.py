"""The platform calls the shared inbound path makes (:class:`~mcp_channels.messaging.ChatPlatform`), and typing."""

from __future__ import annotations

from typing import Final

import discord

#: Discord shows "typing…" for about 10 s after each call.
TYPING_REFRESH: Final = 8.0


class DiscordPlatform:
    """Sends by channel id without fetching the channel first: the REST call needs nothing more."""

    def __init__(self, client: discord.Client) -> None:
        self.client = client

    def _channel(self, chat_id: str) -> discord.PartialMessageable:
        return self.client.get_partial_messageable(int(chat_id))

    async def send_text(self, chat_id: str, text: str, *, quote: str | None = None) -> None:
        channel = self._channel(chat_id)
        if quote is None:
            await channel.send(text)
            return
        reference = discord.MessageReference(message_id=int(quote), channel_id=channel.id, fail_if_not_exists=False)
        await channel.send(text, reference=reference)

    async def react(self, chat_id: str, message_id: str, emoji: str) -> None:
        await self._channel(chat_id).get_partial_message(int(message_id)).add_reaction(emoji)

    async def send_typing(self, chat_id: str) -> None:
        await self._channel(chat_id).typing()

"""The platform calls the shared inbound path makes (:class:`~mcp_channels.messaging.ChatPlatform`)."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from ._directory import DirectMessages
from ._emoji import reaction_name
from ._mrkdwn import escape


class SlackPlatform:
    """Pairing replies, "Paired!", verdict and acknowledgement reactions."""

    def __init__(self, web: AsyncWebClient, dms: DirectMessages) -> None:
        self.web = web
        self.dms = dms

    async def send_text(self, chat_id: str, text: str, *, quote: str | None = None) -> None:
        # ``quote`` is not used: Slack has no quote-reply, and a pairing answer needs no thread.
        answer = await self.web.chat_postMessage(channel=chat_id, text=escape(text), mrkdwn=False)
        if chat_id.startswith(("U", "W")) and isinstance(answer.get("channel"), str):
            self.dms.learn(answer["channel"], chat_id)

    async def react(self, chat_id: str, message_id: str, emoji: str) -> None:
        name = reaction_name(emoji)
        if name is None:
            raise ValueError(f"{emoji!r} has no Slack emoji name here: use a name, like eyes")
        await self.web.reactions_add(channel=chat_id, timestamp=message_id, name=name)

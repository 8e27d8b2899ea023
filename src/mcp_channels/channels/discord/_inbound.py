"""What a Discord message means for the gate and for Claude: DM or group, mention, attachments, meta."""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Final

import discord

from ...access import InboundMessage
from ...messaging import Incoming
from ...text import iso_timestamp, safe_name
from ._targets import group_key

#: How many of the bot's own reply ids are remembered, so a reply to one counts as a mention.
RECENT_SENT_LIMIT: Final = 200


class RecentlySent:
    """The ids of the last messages the ``reply`` tool sent, oldest forgotten first."""

    def __init__(self, limit: int = RECENT_SENT_LIMIT) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._limit = limit

    def add(self, message_id: str) -> None:
        self._ids[message_id] = None
        while len(self._ids) > self._limit:
            self._ids.popitem(last=False)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._ids


def kilobytes(size: int) -> int:
    """``size`` in KB rounded half up, like JavaScript's ``toFixed(0)`` (Python rounds half to even)."""
    return (size + 512) // 1024


def attachment_name(attachment: discord.Attachment) -> str:
    """The uploader-chosen name, made safe to show inside a tag attribute."""
    return safe_name(attachment.filename or str(attachment.id))


def describe_attachment(attachment: discord.Attachment) -> str:
    """``name (type, NKB)``, the form the official server lists attachments in."""
    kind = attachment.content_type or "unknown"
    return f"{attachment_name(attachment)} ({kind}, {kilobytes(attachment.size)}KB)"


class InboundReader:
    """Turns a discord.py message into the shared path's :class:`~mcp_channels.messaging.Incoming`.

    ``dm_users`` learns which user each DM channel belongs to (discord.py, like discord.js,
    knows a DM channel from a message without its recipient), for the outbound gate.
    """

    def __init__(
        self, client: discord.Client, sent: RecentlySent, dm_users: dict[str, str], log: logging.Logger
    ) -> None:
        self.client = client
        self.sent = sent
        self.dm_users = dm_users
        self.log = log

    async def read(self, message: discord.Message) -> Incoming:
        channel_id = str(message.channel.id)
        sender_id = str(message.author.id)
        is_dm = isinstance(message.channel, discord.DMChannel)
        if is_dm:
            self.dm_users[channel_id] = sender_id
        gate_message = InboundMessage(
            sender_id=sender_id,
            chat_id=channel_id,
            is_dm=is_dm,
            text=message.content,
            group_key=None if is_dm else await self._group_key(message),
            mentioned=False if is_dm else await self._mentioned(message),
        )
        content = message.content or ("(attachment)" if message.attachments else "")
        meta = {
            "chat_id": channel_id,
            "message_id": str(message.id),
            "user": message.author.name,
            "user_id": sender_id,
            "ts": iso_timestamp(message.created_at),
        }
        if message.attachments:
            meta["attachment_count"] = str(len(message.attachments))
            meta["attachments"] = "; ".join(describe_attachment(a) for a in message.attachments)
        return Incoming(message=gate_message, message_id=str(message.id), content=content, meta=meta)

    async def _group_key(self, message: discord.Message) -> str:
        """The ``groups`` entry: the channel's, or for a thread its parent's.

        A thread the bot has not seen yet arrives without its parent, so it is looked up (the
        official server then used the thread's own id and dropped the message).
        """
        channel = message.channel
        if isinstance(channel, discord.PartialMessageable):
            try:
                return group_key(await self.client.fetch_channel(channel.id))
            except discord.HTTPException as exc:
                self.log.warning("could not look up channel %s: %s", channel.id, exc)
                return str(channel.id)
        return group_key(channel)

    async def _mentioned(self, message: discord.Message) -> bool:
        """A mention of the bot (discord.py's rules, held roles included) or a reply to one of its messages."""
        me = self.client.user
        if me is None:
            return False
        member = message.guild.me if message.guild is not None else None
        if (member or me).mentioned_in(message):
            return True
        reference = message.reference
        if reference is None or reference.message_id is None:
            return False
        if str(reference.message_id) in self.sent:
            return True
        replied_to = reference.resolved
        if isinstance(replied_to, discord.Message):
            return replied_to.author.id == me.id
        try:
            channel = self.client.get_partial_messageable(reference.channel_id or message.channel.id)
            fetched = await channel.fetch_message(reference.message_id)
        except discord.HTTPException:
            return False
        return fetched.author.id == me.id

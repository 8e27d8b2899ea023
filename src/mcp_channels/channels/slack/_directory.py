"""Who is who on Slack, as the channel needs it: member names, whose DM a conversation is, live threads.

Slack events and history name people by member id (``U0123ABCDEF``); what Claude and the sender
read is a name. DMs are conversations of their own (``D…``), so the outbound gate needs to know
whose DM one is before it lets a reply go there. Every table is bounded.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from typing import Any, Final, Generic, TypeVar

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from ...text import safe_name
from ._web import describe, error_code

#: How long a member's name is trusted before it is looked up again (names change rarely).
NAME_TTL: Final = 3600.0
CAPACITY: Final = 1000

K = TypeVar("K", bound=Hashable)


class Recent(Generic[K]):
    """The last ``capacity`` keys added, oldest forgotten first."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._keys: OrderedDict[K, None] = OrderedDict()
        self._capacity = capacity

    def add(self, key: K) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self._capacity:
            self._keys.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return key in self._keys


def display_name(user: dict[str, Any]) -> str:
    """What Slack shows for a member: the display name, else the full name, else the handle."""
    profile = user["profile"] if isinstance(user.get("profile"), dict) else {}
    for value in (profile.get("display_name"), profile.get("real_name"), user.get("real_name"), user.get("name")):
        if isinstance(value, str) and value.strip():
            return safe_name(value.strip())
    return str(user.get("id") or "unknown")


class UserNames:
    """Member ids to names, from ``users.info``; one that cannot be looked up has none (it is retried)."""

    def __init__(self, web: AsyncWebClient, log: logging.Logger) -> None:
        self.web = web
        self.log = log
        self._names: OrderedDict[str, tuple[str, float]] = OrderedDict()

    async def name(self, user_id: str) -> str | None:
        cached = self._names.get(user_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        try:
            answer = await self.web.users_info(user=user_id)
        except SlackClientError as error:
            self.log.debug("users.info %s failed: %s", user_id, describe(error))
            return None
        user = answer.get("user")
        if not isinstance(user, dict):
            return None
        name = display_name(user)
        self._names[user_id] = (name, time.monotonic() + NAME_TTL)
        while len(self._names) > CAPACITY:
            self._names.popitem(last=False)
        return name

    async def names(self, user_ids: Iterable[str]) -> dict[str, str]:
        """The names found for ``user_ids`` (an id Slack would not name is left out)."""
        found = {user_id: await self.name(user_id) for user_id in dict.fromkeys(user_ids)}
        return {user_id: name for user_id, name in found.items() if name is not None}


class DirectMessages:
    """Which member each DM conversation belongs to: learned from messages and sends, else asked of Slack."""

    def __init__(self, web: AsyncWebClient, log: logging.Logger) -> None:
        self.web = web
        self.log = log
        self._owners: OrderedDict[str, str] = OrderedDict()

    def learn(self, conversation: str, user_id: str) -> None:
        self._owners[conversation] = user_id
        while len(self._owners) > CAPACITY:
            self._owners.popitem(last=False)

    def conversation_of(self, user_id: str) -> str | None:
        """The DM conversation known for ``user_id``, if any."""
        return next((dm for dm, owner in reversed(self._owners.items()) if owner == user_id), None)

    async def owner(self, conversation: str) -> str | None:
        """The member whose DM ``conversation`` is; ``None`` for anything else.

        Slack's other refusals (a revoked token, a missing scope, no network) propagate: "not
        allowlisted" would be the wrong answer to them.
        """
        if not conversation.startswith("D"):
            return None
        known = self._owners.get(conversation)
        if known is not None:
            return known
        try:
            answer = await self.web.conversations_info(channel=conversation)
        except SlackApiError as error:
            if error_code(error) == "channel_not_found":
                return None
            raise
        info = answer.get("channel")
        user = info.get("user") if isinstance(info, dict) and info.get("is_im") else None
        if isinstance(user, str):
            self.learn(conversation, user)
            return user
        return None

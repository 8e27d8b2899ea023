"""Slack events as the shared inbound path sees them: who wrote, where, whether the app was mentioned.

Messages go through :class:`~mcp_channels.messaging.ChatBridge` (gate, pairing replies,
``yes abcde`` verdicts, progress, acknowledgement, delivery); this module only says what a Slack
message is. Ignored: messages from bots (the app's own included), edits and deletions, joins and
other system messages. A message that mentions the app in a channel comes twice (``message`` and
``app_mention``); the second is dropped.
"""

from __future__ import annotations

import datetime
import logging
import re
from collections.abc import Mapping
from typing import Any, Final

from ...access import InboundMessage
from ...messaging import ChatBridge, Incoming
from ...text import iso_timestamp
from ._directory import DirectMessages, Recent, UserNames
from ._files import DescribedFiles, Files, describe_files
from ._markup import mentioned_user_ids, plain_text
from ._web import describe

#: Message subtypes that are a person writing (a file shared with a comment, a thread reply sent
#: to the channel too, ``/me``); every other subtype is an edit, a deletion or a system message.
PERSON_SUBTYPES: Final = frozenset({None, "file_share", "thread_broadcast", "me_message"})
_TS: Final = re.compile(r"\d{1,12}\.\d{1,9}")


def is_ts(value: object) -> bool:
    """Whether ``value`` is a Slack message timestamp (``1712345678.123456``), its message id."""
    return isinstance(value, str) and _TS.fullmatch(value) is not None


def ts_to_iso(ts: str) -> str:
    """A message ts as meta ``ts``: ISO 8601 with milliseconds."""
    return iso_timestamp(datetime.datetime.fromtimestamp(float(ts), datetime.UTC))


class Identity:
    """The app's bot user, once ``auth.test`` has said who it is."""

    def __init__(self) -> None:
        self.user_id: str | None = None
        self.bot_id: str | None = None


class Inbound:
    """Handles one event at a time. Platform errors are dealt with here (logged, or the message goes
    through without what failed), so an exception escaping :meth:`handle` is a defect."""

    def __init__(
        self,
        bridge: ChatBridge,
        identity: Identity,
        names: UserNames,
        dms: DirectMessages,
        files: Files,
        threads: Recent[tuple[str, str]],
        log: logging.Logger,
    ) -> None:
        self.bridge = bridge
        self.identity = identity
        self.names = names
        self.dms = dms
        self.files = files
        self.threads = threads
        self.log = log
        self._seen: Recent[tuple[str, str]] = Recent()

    async def handle(self, payload: Mapping[str, Any]) -> None:
        """One ``events_api`` payload (``event_callback``)."""
        event = payload.get("event")
        if not isinstance(event, dict) or event.get("type") not in ("message", "app_mention"):
            return
        if not self._from_a_person(event):
            return
        channel: str = event["channel"]
        ts: str = event["ts"]
        sender: str = event["user"]
        if (channel, ts) in self._seen:
            return
        self._seen.add((channel, ts))
        is_dm = event.get("channel_type") == "im"
        if is_dm:
            self.dms.learn(channel, sender)
        text = event["text"] if isinstance(event.get("text"), str) else ""
        mentions = mentioned_user_ids(text)
        names = await self.names.names([sender, *mentions])
        files = describe_files([f for f in event.get("files") or [] if isinstance(f, dict)])
        content = plain_text(text, names)
        if not content.strip():
            if files.placeholder is None:
                return
            content = files.placeholder
        thread_ts = event.get("thread_ts") if is_ts(event.get("thread_ts")) else None
        incoming = Incoming(
            message=InboundMessage(
                sender_id=sender,
                chat_id=channel,
                is_dm=is_dm,
                text=content,
                mentioned=not is_dm and self._mentioned(event, mentions, thread_ts),
            ),
            message_id=ts,
            content=content,
            meta=self._meta(event, names.get(sender, sender), is_dm, thread_ts, files),
        )
        image = files.image
        await self.bridge.receive(incoming, enrich=(lambda: self._image(image)) if image is not None else None)

    def _from_a_person(self, event: Mapping[str, Any]) -> bool:
        """A person's new message, with the fields every message has; not a bot's, not the app's own."""
        if event.get("subtype") not in PERSON_SUBTYPES or event.get("bot_id") or event.get("hidden"):
            return False
        sender = event.get("user")
        if not isinstance(sender, str) or sender == self.identity.user_id:
            return False
        return isinstance(event.get("channel"), str) and is_ts(event.get("ts"))

    def _mentioned(self, event: Mapping[str, Any], mentions: list[str], thread_ts: str | None) -> bool:
        """An ``@app`` mention, or a message in a thread the app started or has answered in."""
        me = self.identity.user_id
        if event.get("type") == "app_mention" or (me is not None and me in mentions):
            return True
        if thread_ts is None:
            return False
        return (me is not None and event.get("parent_user_id") == me) or (event["channel"], thread_ts) in self.threads

    def _meta(
        self, event: Mapping[str, Any], user: str, is_dm: bool, thread_ts: str | None, files: DescribedFiles
    ) -> dict[str, str]:
        """``thread_ts`` is where to answer: the message's thread, or in a channel a new thread under it."""
        meta = {
            "chat_id": event["channel"],
            "message_id": event["ts"],
            "user": user,
            "user_id": event["user"],
            "ts": ts_to_iso(event["ts"]),
        }
        thread = thread_ts or (None if is_dm else event["ts"])
        if thread is not None:
            meta["thread_ts"] = thread
        return {**meta, **files.meta}

    async def _image(self, info: Mapping[str, Any]) -> Mapping[str, str]:
        try:
            path = await self.files.save(info)
        except Exception as error:  # the message still goes through, without the picture
            self.log.warning("image download failed: %s", describe(error, self.files.token))
            return {}
        return {"image_path": str(path)}

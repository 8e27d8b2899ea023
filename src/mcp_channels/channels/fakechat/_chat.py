"""What fakechat does with a message, a reply, an edit or a permission request.

The transport (``_web.py``) only parses frames and forms and calls in here; this module turns a
page message into an event for Claude (or a permission verdict), Claude's tool calls into
conversation entries, and permission requests into cards the page can answer.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol

from ...channel import Channel, PermissionRequest
from ...errors import EventQueueFull, HostDisconnected, InputRefused, ToolError
from ...protocol import cap_code_points, is_request_id, parse_permission_reply
from ._conversation import Conversation, Entry
from ._files import REPLY_FILE_LIMIT, copy_to_outbox
from ._settings import FakechatSettings

#: Ids the page gives its messages (``u<ms>-<random>-<n>``); anything tame up to 64 characters.
CLIENT_ID: Final = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
CHAT_ID: Final = "web"
USER: Final = "web"
#: Largest text of one message from Claude (``reply``, ``edit_message``), UTF-8 bytes: every
#: entry stays small beside the history and a tab's buffer.
REPLY_TEXT_LIMIT: Final = 1024 * 1024
#: A permission card's input preview: Claude Code sends far less; anything longer is cut.
PREVIEW_LIMIT: Final = 32_000


class Refused(InputRefused):
    """Input from the page that cannot be taken; the message says why, for the person."""


class Upload(Protocol):
    """A received upload not yet given its final name (see ``_uploads.IncomingFile``)."""

    name: str
    size: int

    def commit(self) -> Path: ...

    def discard(self) -> None: ...

    def withdraw(self) -> None: ...


def _checked_text(client_id: Any, text: Any, upload: Upload | None) -> str:
    """The message text, stripped; :class:`Refused` when the frame or form is unusable."""
    if not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id):
        raise Refused("a message needs an id of letters, digits and ._:- (at most 64)")
    if not isinstance(text, str):
        raise Refused("a message's text must be a string")
    stripped = text.strip()
    if not stripped and upload is None:
        raise Refused("empty message")
    return stripped


def _checked_reply_text(text: str) -> str:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > REPLY_TEXT_LIMIT:
        raise ToolError(
            f"text is {size} bytes; a fakechat message holds at most {REPLY_TEXT_LIMIT}: "
            "split it over several replies or send it as a file"
        )
    return text


def card_id(request_id: str) -> str:
    return f"perm-{request_id}"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _iso(ms: int) -> str:
    """``Date.toISOString()``: always milliseconds, ``Z``."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Fakechat:
    """The channel's behaviour, between the page transport and the Claude Code session."""

    def __init__(self, channel: Channel, settings: FakechatSettings) -> None:
        self.channel = channel
        self.settings = settings
        self.conversation = Conversation(settings.history, settings.history_bytes)
        self._sent = 0

    # ------------------------------------------------------------------ from the page

    def receive(self, client_id: Any, text: Any, upload: Upload | None = None) -> None:
        """A message typed (and maybe a file attached) in the page.

        A ``yes abcde`` / ``no abcde`` answers a permission request and is not sent to Claude.
        A message id seen before is a re-send after a reconnect and is dropped. Raises
        :class:`Refused` for bad input or when Claude Code is not taking messages (its queue is full, or
        it has gone away), ``OSError`` when an upload cannot be saved.
        """
        try:
            text = _checked_text(client_id, text, upload)
        except Refused:
            if upload is not None:
                upload.discard()
            raise
        if not self.conversation.first_sight(client_id):
            self.channel.log.debug("dropped re-sent message %s", client_id)
            if upload is not None:
                upload.discard()
            return
        entry: Entry = {"type": "msg", "id": client_id, "from": "user", "text": text, "ts": _now_ms()}
        verdict = parse_permission_reply(text) if upload is None else None
        if verdict is not None:
            entry["answers"] = verdict[0]
            self.conversation.add(entry)
            self.answer(*verdict, by="typed")
        else:
            self._deliver(entry, upload)

    def _deliver(self, entry: Entry, upload: Upload | None) -> None:
        """Send a page message to Claude and show it in every tab with its delivery state."""
        meta = {"chat_id": CHAT_ID, "message_id": entry["id"], "user": USER, "ts": _iso(entry["ts"])}
        content = entry["text"]
        if upload is not None:
            meta["file_path"] = str(upload.commit())
            entry["files"] = [{"name": upload.name, "size": upload.size}]
            content = content or f"({upload.name})"
        try:
            delivered = self.channel.enqueue(content, **meta)
        except (EventQueueFull, HostDisconnected) as exc:
            if upload is not None:
                upload.withdraw()  # the message is refused whole: its file must not stay in inbox/
            raise Refused(f"not delivered, Claude Code is not taking messages now: {exc}") from None
        entry["status"] = "delivered" if delivered.done() else "waiting"
        self.conversation.add(entry)
        if not delivered.done():
            delivered.add_done_callback(lambda done: self._settled(entry["id"], done))

    def _settled(self, client_id: str, done: asyncio.Future[None]) -> None:
        """A held message reached Claude Code (it fails only when the server shuts down)."""
        if not done.cancelled() and done.exception() is None:
            self.conversation.change(client_id, status="delivered")

    def answer_button(self, request_id: Any, behavior: Any) -> None:
        """An Allow / Deny button press in the page."""
        if not isinstance(request_id, str) or not is_request_id(request_id):
            raise Refused("not a permission request id")
        if behavior not in ("allow", "deny"):
            raise Refused("behavior must be 'allow' or 'deny'")
        if self.conversation.get(card_id(request_id.lower())) is None:
            raise Refused(f"no permission request {request_id} in this session")
        self.answer(request_id.lower(), behavior == "allow", by="button")

    def answer(self, request_id: str, allow: bool, *, by: str) -> None:
        """Send a verdict unless this card was already answered: the first answer wins.

        An id with no card is still sent (as the official servers do): the request may have been
        raised before this server started, and Claude Code ignores ids it is not waiting for.
        """
        card = self.conversation.get(card_id(request_id))
        if card is not None and card["status"] != "pending":
            self.channel.log.info(
                "permission %s already answered (%s); %s answer ignored", request_id, card["status"], by
            )
            return
        self.channel.send_permission_verdict(request_id, allow)
        self.channel.log.info("permission %s: %s (%s)", request_id, "allow" if allow else "deny", by)
        if card is not None:
            self.conversation.change(
                card["id"], status="allow" if allow else "deny", answered_by=by, answered_ts=_now_ms()
            )

    # ------------------------------------------------------------------ from Claude

    def _check_page_served_here(self) -> None:
        """:class:`ToolError` in a session that does not deliver fakechat's events.

        Such a session does not serve the page (the one that delivers does, on the same port),
        and fakechat has no platform but the page: a reply would be shown to nobody, so the tool
        says so instead of answering "sent".
        """
        delivery = self.channel.delivery
        if not delivery.session_delivers:
            raise ToolError(
                f"this session does not serve the fakechat page ({delivery.session_reason}): the Claude Code "
                f"session started with the channel flag naming fakechat serves {self.settings.url}, and only "
                "its replies appear there"
            )

    async def reply(self, text: str, reply_to: str | None = None, files: list[str] | None = None) -> str:
        """The ``reply`` tool: every file is checked first (the shared outbound guards: it exists, is a
        regular file of at most 50 MB, is not channel state), then copied to the outbox and offered."""
        self._check_page_served_here()
        _checked_reply_text(text)
        attachments = []
        if files:
            # Imported here: the shared guards pull in the access layer, which start-up does not need.
            from ...outbound import check_files

            sources = check_files(files, state_dir=self.settings.state, max_bytes=REPLY_FILE_LIMIT)
            for raw, source in zip(files, sources, strict=True):
                try:
                    copy = await asyncio.to_thread(copy_to_outbox, source, self.settings.outbox)
                except OSError as exc:
                    raise ToolError(f"cannot copy {raw}: {exc.strerror or exc}") from None
                attachments.append({"url": f"/files/{copy.name}", "name": Path(raw).name, "size": copy.stat().st_size})
        self._sent += 1
        message_id = f"m{_now_ms()}-{self._sent}"
        entry: Entry = {"type": "msg", "id": message_id, "from": "assistant", "text": text, "ts": _now_ms()}
        if reply_to:
            entry["replyTo"] = reply_to
        if attachments:
            entry["files"] = attachments
        self.conversation.add(entry)
        if not self.conversation.watchers:
            return f"sent ({message_id}); no chat page is open, it will show when the user opens {self.settings.url}"
        return f"sent ({message_id})"

    async def edit(self, message_id: str, text: str) -> str:
        """The ``edit_message`` tool: only Claude's own messages of this session can change."""
        self._check_page_served_here()
        entry = self.conversation.get(message_id)
        if entry is None or entry.get("type") != "msg":
            raise ToolError(
                f"no message {message_id} in this chat (only messages sent with reply in this session, "
                "while the history keeps them)"
            )
        if entry["from"] != "assistant":
            raise ToolError(f"message {message_id} is the user's; only messages sent with reply can be edited")
        self.conversation.change(message_id, text=_checked_reply_text(text), edited=_now_ms())
        return "ok"

    async def show_permission(self, request: PermissionRequest) -> None:
        """A permission request from Claude Code becomes a card with Allow / Deny in every tab."""
        self.conversation.add(
            {
                "type": "permission",
                "id": card_id(request.request_id),
                "request_id": request.request_id,
                "tool_name": request.tool_name,
                "description": cap_code_points(request.description),
                "input_preview": cap_code_points(request.input_preview, PREVIEW_LIMIT),
                "ts": _now_ms(),
                "status": "pending",
            }
        )

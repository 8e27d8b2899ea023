"""Permission prompts as Block Kit messages with See more / Allow / Deny buttons.

Each allowlisted member gets the prompt in their DM with the app; under the hub, the opted-in
channels' threads bound to the asking session get it too, in the thread. A button's ``action_id`` is
the shared payload (``perm:<allow|deny|more>:<request id>``), so a press is understood without
remembering the message, even on a prompt sent before a restart. Who may answer and what the
message then says is decided by the shared :class:`~mcp_channels.messaging.ChatBridge`: only
allowlisted members (anyone else is told so in a message only they see), and the answered
prompt is updated to show the outcome, without buttons.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from ...channel import PermissionRequest, Place
from ...messaging import ChatBridge, parse_permission_button, permission_prompt_text
from . import MAX_SECTION, MEMBER_ID
from ._directory import DirectMessages
from ._markup import unescape
from ._mrkdwn import escape
from ._web import describe

#: Label and style of each button, in the official order.
BUTTONS: Final = {
    "more": ("See more", None),
    "allow": ("✅ Allow", "primary"),
    "deny": ("❌ Deny", "danger"),
}


def prompt_blocks(text: str, request_id: str, actions: Sequence[str]) -> list[dict[str, Any]]:
    """The prompt's text (plain, so nothing in a tool's input is read as markup) and its buttons."""
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "plain_text", "text": text, "emoji": True}}]
    elements = []
    for action in actions:
        label, style = BUTTONS[action]
        payload = f"perm:{action}:{request_id}"
        button: dict[str, Any] = {
            "type": "button",
            "text": {"type": "plain_text", "text": label, "emoji": True},
            "action_id": payload,
            "value": payload,
        }
        if style is not None:
            button["style"] = style
        elements.append(button)
    if elements:
        blocks.append({"type": "actions", "block_id": f"perm:{request_id}", "elements": elements})
    return blocks


class PermissionPrompts:
    """Sends prompts to allowlisted members and answers their button presses."""

    def __init__(self, web: AsyncWebClient, bridge: ChatBridge, dms: DirectMessages, log: logging.Logger) -> None:
        self.web = web
        self.bridge = bridge
        self.dms = dms
        self.log = log

    async def relay(self, request: PermissionRequest) -> None:
        """Prompts go to allowlisted members' DMs only, never to channels, whose members may not approve
        (a conversation id listed in ``allowFrom`` by mistake is passed over: a prompt shows the tool's input)."""
        members = [ident for ident in self.bridge.store.load().allow_from if re.fullmatch(MEMBER_ID, ident)]
        await self.bridge.broadcast_permission(request, members, self._send, send_in=self._send_in)

    async def _send(self, user_id: str, request: PermissionRequest) -> None:
        # A member id as the channel posts to the member's DM with the app; the answer names that DM.
        answer = await self._post(user_id, None, request)
        if isinstance(answer.get("channel"), str):
            self.dms.learn(answer["channel"], user_id)

    async def _send_in(self, place: Place, request: PermissionRequest) -> None:
        """Into an opted-in channel's thread (its members see what the session they talk to asks;
        only allowlisted ones may answer). A DM is skipped: its member has the prompt already."""
        if place.chat in self.bridge.store.load().groups:
            await self._post(place.chat, place.thread, request)

    async def _post(self, channel: str, thread_ts: str | None, request: PermissionRequest) -> Any:
        text = permission_prompt_text(request.tool_name)
        return await self.web.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            text=escape(text),
            blocks=prompt_blocks(text, request.request_id, ("more", "allow", "deny")),
        )

    async def press(self, payload: Mapping[str, Any]) -> None:
        """One ``interactive`` payload; anything but a press of one of our buttons is ignored."""
        actions = payload.get("actions")
        user = payload.get("user")
        container = payload.get("container")
        if not (isinstance(actions, list) and actions and isinstance(user, dict) and isinstance(container, dict)):
            return
        data = str(actions[0].get("action_id") or "") if isinstance(actions[0], dict) else ""
        parsed = parse_permission_button(data)
        message = payload["message"] if isinstance(payload.get("message"), dict) else {}
        channel, ts, user_id = container.get("channel_id"), container.get("message_ts"), str(user.get("id") or "")
        answer = self.bridge.press_permission_button(
            user_id, data, unescape(str(message.get("text") or "")), limit=MAX_SECTION
        )
        if answer is None or parsed is None or not isinstance(channel, str) or not isinstance(ts, str):
            return
        try:
            if answer.text is None:
                await self.web.chat_postEphemeral(channel=channel, user=user_id, text=escape(answer.toast or ""))
                return
            actions_left = ("allow", "deny") if answer.keep_verdict_buttons else ()
            await self.web.chat_update(
                channel=channel,
                ts=ts,
                text=escape(answer.text),
                blocks=prompt_blocks(answer.text, parsed[1], actions_left),
            )
        except SlackClientError as error:
            self.log.warning("answering a permission button failed: %s", describe(error))

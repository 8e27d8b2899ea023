"""Permission prompts as Discord messages with See more / Allow / Deny buttons.

The buttons are discord.py "dynamic items": the custom id (``perm:<action>:<request id>``)
carries everything, so a press is understood without remembering the message, even on a prompt
sent before a restart. What a press means (who may answer, the verdict, the new text) is decided
by the shared :class:`~mcp_channels.messaging.ChatBridge`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

import discord

from ...channel import PermissionRequest, Place
from ...messaging import PERMISSION_BUTTON_RE, ChatBridge, parse_permission_button, permission_prompt_text
from . import LENGTH_UNITS, MESSAGE_LIMIT
from ._client import DiscordClient
from ._targets import ChannelGate

#: Label, emoji and style of each button, in the official order.
BUTTONS: Final = {
    "more": ("See more", None, discord.ButtonStyle.secondary),
    "allow": ("Allow", "✅", discord.ButtonStyle.success),
    "deny": ("Deny", "❌", discord.ButtonStyle.danger),
}


class PermissionButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=re.compile(PERMISSION_BUTTON_RE.pattern),
):
    """One button of a prompt; a press goes to the handler the client was given."""

    def __init__(self, action: str, request_id: str) -> None:
        label, emoji, style = BUTTONS[action]
        super().__init__(
            discord.ui.Button(label=label, emoji=emoji, style=style, custom_id=f"perm:{action}:{request_id}")
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> PermissionButton:
        return cls(match.group(1), match.group(2))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client = interaction.client
        if isinstance(client, DiscordClient) and client.permission_button_handler is not None:
            await client.permission_button_handler(interaction, self.item.custom_id or "")


def buttons(request_id: str, actions: Sequence[str]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in actions:
        view.add_item(PermissionButton(action, request_id))
    return view


class PermissionPrompts:
    """Sends prompts to every allowlisted user's DMs (and under the hub, into the opted-in channels
    and threads bound to the asking session) and answers their button presses."""

    def __init__(self, client: discord.Client, bridge: ChatBridge, gate: ChannelGate) -> None:
        self.client = client
        self.bridge = bridge
        self.gate = gate

    async def relay(self, request: PermissionRequest) -> None:
        recipients = self.bridge.store.load().allow_from
        await self.bridge.broadcast_permission(request, recipients, self._send, send_in=self._send_in)

    async def _send(self, user_id: str, request: PermissionRequest) -> None:
        user = self.client.get_user(int(user_id)) or await self.client.fetch_user(int(user_id))
        await user.send(permission_prompt_text(request.tool_name), view=self._buttons(request))

    async def _send_in(self, place: Place, request: PermissionRequest) -> None:
        """Into a channel or thread the gate lets talk to Claude (a thread is opted in through its
        parent, found by lookup); a DM is skipped, its person has the prompt already."""
        if place.chat in self.gate.dm_users:
            return
        channel = await self.gate.allowed(place.chat)
        if not isinstance(channel, discord.DMChannel):
            await channel.send(permission_prompt_text(request.tool_name), view=self._buttons(request))

    @staticmethod
    def _buttons(request: PermissionRequest) -> discord.ui.View:
        return buttons(request.request_id, ("more", "allow", "deny"))

    async def press(self, interaction: discord.Interaction[Any], custom_id: str) -> None:
        parsed = parse_permission_button(custom_id)
        message = interaction.message
        original = message.content if message is not None else ""
        answer = self.bridge.press_permission_button(
            str(interaction.user.id), custom_id, original, limit=MESSAGE_LIMIT, units=LENGTH_UNITS
        )
        if answer is None or parsed is None:
            return
        if answer.text is None:
            await interaction.response.send_message(answer.toast or "", ephemeral=True)
            return
        view = buttons(parsed[1], ("allow", "deny")) if answer.keep_verdict_buttons else None
        await interaction.response.edit_message(content=answer.text, view=view)

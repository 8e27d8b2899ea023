"""A chat channel without a platform, built on the shared access machinery as a real channel is.

Its ``inbound`` tool stands in for "a platform message arrived": it runs the shared gate and, when
the gate delivers, pushes the message to Claude. ``send`` runs the shared outbound guards. The
approvals watcher runs as a server task and pushes "Paired! Say hi to Claude." as an event, so a
test sees the hand-off from the command line. Its access file is Telegram's (``TELEGRAM_STATE_DIR``),
so ``mcp-channels access telegram ...`` manages it.
"""

from __future__ import annotations

import json

from mcp_channels import Channel
from mcp_channels.access import PAIRED_MESSAGE, AccessStore, InboundMessage, gate, pairing_reply, watch_approvals
from mcp_channels.outbound import assert_chat_allowed, check_files
from mcp_channels.state import state_dir

channel = Channel("gated", instructions="Test channel for the shared access machinery.")
store = AccessStore("telegram", state_dir("telegram"))


@channel.tool(
    description="Simulate an incoming platform message.",
    input_schema={
        "type": "object",
        "properties": {
            "sender_id": {"type": "string"},
            "chat_id": {"type": "string"},
            "is_dm": {"type": "boolean"},
            "text": {"type": "string"},
            "mentioned": {"type": "boolean"},
        },
        "required": ["sender_id", "chat_id", "is_dm"],
    },
)
async def inbound(sender_id: str, chat_id: str, is_dm: bool, text: str = "", mentioned: bool = False) -> str:
    result = gate(store, InboundMessage(sender_id, chat_id, is_dm, text, mentioned=mentioned))
    if result.deliver:
        await channel.push(text, chat_id=chat_id, user_id=sender_id)
    reply = pairing_reply(store.channel, result.code, result.resend) if result.code else None
    return json.dumps({"action": result.action, "reason": result.reason, "code": result.code, "reply": reply})


@channel.tool(
    description="Check an outbound message the way reply does.",
    input_schema={
        "type": "object",
        "properties": {"chat_id": {"type": "string"}, "files": {"type": "array", "items": {"type": "string"}}},
        "required": ["chat_id"],
    },
)
async def send(chat_id: str, files: list[str] | None = None) -> str:
    assert_chat_allowed(store.load(), chat_id, channel=store.channel)
    checked = check_files(files or [], state_dir=store.state_dir, max_bytes=1024 * 1024)
    return f"would send {len(checked)} file(s) to {chat_id}"


@channel.task
async def approvals() -> None:
    async def greet(sender_id: str, chat_id: str) -> None:
        await channel.push(PAIRED_MESSAGE, chat_id=chat_id, user_id=sender_id)

    await watch_approvals(store, greet)


if __name__ == "__main__":
    channel.run()

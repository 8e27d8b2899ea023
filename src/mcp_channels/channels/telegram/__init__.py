"""The Telegram channel: a bot that carries a Claude Code session to Telegram chats and back.

Parity with the official plugin (``docs/parity.md`` §2): the same state directory, token
and access files, pairing texts, bot commands, media handling, tools and permission buttons.
Past it: one poller per token (a second session only sends, and takes over when the first exits,
instead of a 409 loop), updates confirmed to Telegram only once Claude has them, every error
retried forever with capped backoff, a typing indicator kept alive while Claude works, and
``format: "markdown"`` for replies.

Environment: ``TELEGRAM_BOT_TOKEN`` (or in ``<state>/.env``), ``TELEGRAM_STATE_DIR``,
``TELEGRAM_ACCESS_MODE=static``, ``TELEGRAM_API_BASE`` (another Bot API server, e.g. a
self-hosted ``telegram-bot-api``).
"""

from __future__ import annotations

from .. import AccessFacts, ChannelFacts, PlatformLibrary, PluginFacts, Token

TOKEN = Token(
    "TELEGRAM_BOT_TOKEN",
    source="from @BotFather",
    example="123456789:AAH...",
    shape=r"\d+:[A-Za-z0-9_-]{30,}",
    mask_keep=10,  # the bot id before the colon is public; the secret is after it
)
#: Telegram's limit on one message's text, in UTF-16 units after the markup is removed.
MESSAGE_LIMIT = 4096
LENGTH_UNITS = "utf16"
LIBRARY = PlatformLibrary("telegram", "python-telegram-bot", (22,), extra="telegram")
FACTS = ChannelFacts(
    name="telegram",
    title="Telegram",
    tokens=(TOKEN,),
    message_limit=MESSAGE_LIMIT,
    length_units=LENGTH_UNITS,
    library=LIBRARY,
    access=AccessFacts(),
    official_plugin=True,
    relays_permissions=True,
    doctor_checks=("check_poller",),
    plugin=PluginFacts(
        description=(
            "Telegram bridge with access control: talk to your Claude Code session from Telegram and approve "
            "its tool use from your phone. Pairing, allowlists and policy via /telegram:access."
        ),
        keywords=("telegram", "messaging", "channel", "mcp"),
        category="productivity",
        summary=(
            "A Telegram bot that carries your Claude Code session to Telegram chats and back: messages,\n"
            "photos and files in, replies, reactions and edits out, tool approvals from your phone."
        ),
        setup=(
            "1. Create a bot with @BotFather and copy its token.\n"
            "2. `/telegram:configure <token>` (or `mcp-channels configure telegram <token>`).\n"
            "3. Start Claude Code with the channel (below) and DM your bot: it answers with a pairing code.\n"
            "4. `/telegram:access pair <code>`, then lock down with `/telegram:access policy allowlist`."
        ),
        skills={"configure": "configure-bot.md", "access": "access.md"},
        values={
            "id_note": (
                "Telegram ids are numbers: a user's id (ask @userinfobot) for `allow`, a group's id (negative,\n"
                "like `-1001654782309`) for `group add`. Do not check id formats yourself: the command decides."
            ),
        },
    ),
)

__all__ = ["FACTS", "LENGTH_UNITS", "LIBRARY", "MESSAGE_LIMIT", "TOKEN"]

"""The Discord channel: a bot's DMs and opted-in server channels, in the Claude Code session.

Parity with the official ``discord`` plugin (``docs/parity.md`` §3): the same access file,
pairing flow, gate and mention rules, tools, permission buttons and messages. Where it does
better, it says so in the module that does it.

Configuration (environment, or the state ``.env``):

``DISCORD_BOT_TOKEN``
    The bot token (required).
``DISCORD_STATE_DIR``
    State directory (default ``~/.claude/channels/discord``).
``DISCORD_ACCESS_MODE``
    ``static``: read ``access.json`` once at start and never write it.
``DISCORD_API_BASE``
    Where the Discord API is (default ``https://discord.com/api``), for tests and proxies.
"""

from __future__ import annotations

from .. import AccessFacts, ChannelFacts, PlatformLibrary, PluginFacts, Token

TOKEN = Token(
    "DISCORD_BOT_TOKEN",
    source="from the Developer Portal (Bot → Reset Token)",
    example="MTIz...",
    shape=r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+",
)
#: Discord's limit on one message's content, in UTF-16 units as Discord counts them.
MESSAGE_LIMIT = 2000
LENGTH_UNITS = "utf16"
LIBRARY = PlatformLibrary("discord", "discord.py", (2, 4), extra="discord")
FACTS = ChannelFacts(
    name="discord",
    title="Discord",
    tokens=(TOKEN,),
    message_limit=MESSAGE_LIMIT,
    length_units=LENGTH_UNITS,
    library=LIBRARY,
    access=AccessFacts(),
    official_plugin=True,
    relays_permissions=True,
    plugin=PluginFacts(
        description=(
            "Discord bridge with access control: talk to your Claude Code session from Discord DMs and "
            "opted-in channels. Pairing, allowlists and policy via /discord:access."
        ),
        keywords=("discord", "messaging", "channel", "mcp"),
        category="productivity",
        summary=(
            "A Discord bot that carries your Claude Code session to its DMs and to the server channels you\n"
            "opt in: messages and attachments in, replies, reactions and edits out, tool approvals by button."
        ),
        setup=(
            "1. Create an application and a bot in the Discord Developer Portal, enable the Message Content\n"
            "   intent, invite the bot, and copy its token (Bot → Reset Token).\n"
            "2. `/discord:configure <token>` (or `mcp-channels configure discord <token>`).\n"
            "3. Start Claude Code with the channel (below) and DM your bot: it answers with a pairing code.\n"
            "4. `/discord:access pair <code>`, then lock down with `/discord:access policy allowlist`."
        ),
        skills={"configure": "configure-bot.md", "access": "access.md"},
        values={
            "id_note": (
                "Discord ids are snowflakes (long numbers; Developer Mode → right-click → Copy User ID). A\n"
                "user id is not a channel id: `allow` takes users, `group add` takes channel ids. Do not check\n"
                "id formats yourself: the command decides."
            ),
        },
    ),
)

__all__ = ["FACTS", "LENGTH_UNITS", "LIBRARY", "MESSAGE_LIMIT", "TOKEN"]

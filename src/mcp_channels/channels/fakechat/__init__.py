"""The fakechat channel: a chat page on 127.0.0.1 wired into the Claude Code session.

No account, no token: open ``http://localhost:8787``, type, and Claude gets the message; Claude
answers with ``reply`` (text, a quoted message, any number of files) and ``edit_message``. Beyond
the official server, permission prompts appear in the page as cards with Allow / Deny (or type
``yes abcde``), the conversation survives a reload and shows in every open tab, the page
reconnects by itself after a restart, and requests from other web sites are refused.

Settings are described in :mod:`._settings`; the page itself is ``page.html`` / ``page.css`` /
``page.js`` beside this file, served by :mod:`._web`.
"""

from __future__ import annotations

from .. import ChannelFacts, ConversationFacts, PluginFacts, Port

PORT = Port("FAKECHAT_PORT", 8787)
FACTS = ChannelFacts(
    name="fakechat",
    title="Fakechat",
    port=PORT,
    official_plugin=True,
    relays_permissions=True,
    # The page is one conversation, its events' chat_id "web"; reply names no chat.
    conversations=ConversationFacts(single="web"),
    plugin=PluginFacts(
        description=(
            "Localhost web chat for trying the channel flow: no token, no account, no third-party service. "
            "Open http://localhost:8787 and talk to your Claude Code session."
        ),
        keywords=("fakechat", "testing", "chat", "channel", "mcp"),
        category="development",
        summary=(
            "A chat page on `http://localhost:8787`: what you type there reaches the Claude Code session,\n"
            "and Claude answers in the page. No token, no account, nothing leaves this machine."
        ),
        setup=(
            "Nothing to set up. `FAKECHAT_PORT` moves the page off 8787. Open the page once Claude Code is\n"
            "running with the channel."
        ),
    ),
)

__all__ = ["FACTS", "PORT"]

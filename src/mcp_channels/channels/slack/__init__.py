"""The Slack channel: a Slack app that carries a Claude Code session to Slack DMs and channels and back.

Built at the level of the Telegram channel: the same access file, pairing flow, gate and texts,
tools and permission buttons, in Slack's terms. Events come over Socket Mode (a websocket the app
opens: no public URL), through one connection per app on this machine.

Environment (tokens also from ``<state>/.env``; the environment wins):

``SLACK_BOT_TOKEN``
    The bot token, ``xoxb-…`` (required).
``SLACK_APP_TOKEN``
    The app-level token with ``connections:write``, ``xapp-…`` (required, for Socket Mode).
``SLACK_STATE_DIR``
    State directory (default ``~/.claude/channels/slack``).
``SLACK_ACCESS_MODE``
    ``static``: read ``access.json`` once at start and never write it.
``SLACK_API_BASE``
    Where Slack's Web API is (default ``https://slack.com/api``), for proxies and tests; http(s).
``SLACK_PROGRESS``
    ``reaction`` (default: 👀 while Claude works), ``status`` (an assistant app's "is thinking…"),
    or ``off``.
"""

from __future__ import annotations

from .. import AccessFacts, ChannelFacts, ConversationFacts, PlatformLibrary, PluginFacts, Token

BOT_TOKEN = Token(
    "SLACK_BOT_TOKEN",
    source="from OAuth & Permissions → Bot User OAuth Token",
    example="xoxb-1234567890123-1234567890123-AbCdEf...",
    # The prefix names the kind of token (a user token is xoxp-, an app-level one xapp-); the rest
    # is left open, as Slack may lengthen its tokens.
    shape=r"xoxb-[0-9A-Za-z-]+",
    mask_keep=9,
    kind="bot token",
)
APP_TOKEN = Token(
    "SLACK_APP_TOKEN",
    source="from Basic Information → App-Level Tokens, with the connections:write scope",
    example="xapp-1-A0123ABCDEF-1234567890123-0123abcd...",
    shape=r"xapp-[0-9A-Za-z-]+",
    mask_keep=7,
    kind="app token",
)
#: Slack advises at most 4,000 characters a message: the cap of ``textChunkLimit``.
MESSAGE_LIMIT = 4000
#: The longest text Slack keeps in one message (an edit cannot be split), and in one Block Kit section.
MAX_MESSAGE = 40_000
MAX_SECTION = 3000
LIBRARY = PlatformLibrary("slack_sdk", "slack-sdk", (3, 33), extra="slack")
#: A member's id (``allow``), and a channel's (``group add``; ``G`` for an old private channel).
MEMBER_ID = r"[UW][A-Z0-9]{2,}"
CHANNEL_ID = r"[CG][A-Z0-9]{2,}"
ACCESS = AccessFacts(
    # replyToMode means nothing here: a reply goes into a thread (thread_ts), every piece of it,
    # and Slack has no quote-reply.
    settable=("ackReaction", "textChunkLimit", "chunkMode", "mentionPatterns"),
    id_hint="<member id, like U0123ABCDEF>",
    strangers="anyone in the workspace who finds the app",
    member_shape=MEMBER_ID,
    group_shape=CHANNEL_ID,
    group_id_hint="<channel id, like C0123ABCDEF>",
)
FACTS = ChannelFacts(
    name="slack",
    title="Slack",
    tokens=(BOT_TOKEN, APP_TOKEN),
    message_limit=MESSAGE_LIMIT,
    library=LIBRARY,
    access=ACCESS,
    relays_permissions=True,
    doctor_checks=("check_slack_accepts_tokens", "check_receiver"),
    # A thread is its channel plus its root's ts. A message in a channel starts a thread of its own
    # (thread_ts is its ts: the answer goes there); a DM's top-level messages have no thread_ts and
    # are the DM's one conversation, its threads each one more.
    conversations=ConversationFacts(thread="thread_ts"),
    plugin=PluginFacts(
        description=(
            "Slack bridge with access control: talk to your Claude Code session from Slack DMs and opted-in "
            "channels over Socket Mode (no public URL), and approve its tool use by button. Pairing, allowlists "
            "and policy via /slack:access."
        ),
        keywords=("slack", "messaging", "channel", "mcp"),
        category="productivity",
        summary=(
            "A Slack app that carries your Claude Code session to its DMs and to the channels you opt in:\n"
            "messages and files in, threaded replies, reactions and edits out, tool approvals by button."
        ),
        setup=(
            "1. Create a Slack app from the manifest in the main README (api.slack.com/apps → Create New App\n"
            "   → From a manifest), install it to your workspace, and copy its Bot User OAuth Token (xoxb-…);\n"
            "   under Basic Information → App-Level Tokens, generate one with `connections:write` (xapp-…).\n"
            "2. `/slack:configure <xoxb-…> <xapp-…>` (or `mcp-channels configure slack <xoxb-…> <xapp-…>`).\n"
            "3. Start Claude Code with the channel (below) and DM the app: it answers with a pairing code.\n"
            "4. `/slack:access pair <code>`, then lock down with `/slack:access policy allowlist`."
        ),
        skills={"configure": "configure-tokens.md", "access": "access.md"},
        values={
            "token_arguments": "<xoxb-…> <xapp-…>",
            "id_note": (
                "Slack ids: a member id (`U…`; profile → ⋮ → Copy member ID) for `allow` and a channel's\n"
                "`--allow`, a channel id (`C…`, or `G…` for an old private channel; channel name → About, at\n"
                "the bottom) for `group add`. The command refuses a name or an @handle: pass the user's id on."
            ),
        },
    ),
)

__all__ = [
    "ACCESS",
    "APP_TOKEN",
    "BOT_TOKEN",
    "CHANNEL_ID",
    "FACTS",
    "LIBRARY",
    "MAX_MESSAGE",
    "MAX_SECTION",
    "MEMBER_ID",
    "MESSAGE_LIMIT",
]

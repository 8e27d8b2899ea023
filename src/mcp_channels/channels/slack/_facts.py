"""Everything the rest of mcp-channels needs to know about the Slack channel, in one declaration.

The command line (``configure``, ``access``), ``doctor``, the text rules and the plugin generator
are to read these facts through the channel registry; nothing here imports ``slack_sdk``, so
reading them costs nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class TokenSpec:
    """One credential: its variable, the prefix Slack gives it, its shape today, where to find it."""

    key: str
    prefix: str
    shape: re.Pattern[str]
    kind: str
    where: str
    example: str
    mask_keep: int


BOT_TOKEN: Final = TokenSpec(
    key="SLACK_BOT_TOKEN",
    prefix="xoxb-",
    shape=re.compile(r"xoxb-[0-9]+-[0-9]+-[A-Za-z0-9]+"),
    kind="bot token",
    where="OAuth & Permissions → Bot User OAuth Token",
    example="xoxb-1234567890123-1234567890123-AbCdEf...",
    mask_keep=9,
)
APP_TOKEN: Final = TokenSpec(
    key="SLACK_APP_TOKEN",
    prefix="xapp-",
    shape=re.compile(r"xapp-[0-9]+-[A-Z0-9]+-[0-9]+-[a-f0-9]+"),
    kind="app-level token",
    where="Basic Information → App-Level Tokens, with the connections:write scope",
    example="xapp-1-A0123ABCDEF-1234567890123-0123abcd...",
    mask_keep=7,
)


@dataclass(frozen=True)
class SlackFacts:
    """The Slack channel's facts (see the module docstring for who reads them)."""

    name: str = "slack"
    title: str = "Slack"
    #: ``python -m <module>`` serves the channel; its ``build()`` returns the server.
    module: str = "mcp_channels.channels.slack"
    #: ``configure`` takes both, in this order: ``mcp-channels configure slack <xoxb-…> <xapp-…>``.
    tokens: tuple[TokenSpec, ...] = (BOT_TOKEN, APP_TOKEN)
    #: Slack advises at most 4,000 characters a message (and truncates at 40,000): the cap of
    #: ``textChunkLimit``, in characters of what Claude wrote.
    message_limit: int = 4000
    message_units: str = "codepoints"
    #: The longest text Slack keeps in one message, and in one Block Kit section.
    max_message: int = 40_000
    max_section: int = 3000
    #: The platform library: distribution, import name, oldest version that works, and the extra.
    library: str = "slack-sdk"
    library_import: str = "slack_sdk"
    library_min: tuple[int, ...] = (3, 33)
    extra: str = "slack"
    #: ``~/.claude/channels/<state_dir_name>``, or ``SLACK_STATE_DIR``.
    state_dir_name: str = "slack"
    api_base_key: str = "SLACK_API_BASE"
    default_api_base: str = "https://slack.com/api/"
    #: ``access.json`` settings that mean something on Slack. ``replyToMode`` does not: a reply
    #: goes into a thread (``thread_ts``), every piece of it, and Slack has no quote-reply.
    settable: tuple[str, ...] = ("ackReaction", "textChunkLimit", "chunkMode", "mentionPatterns")
    #: Member ids (``allow``, a group's ``--allow``) and conversation ids (``group add``).
    user_id_shape: re.Pattern[str] = re.compile(r"[UW][A-Z0-9]{2,}")
    channel_id_shape: re.Pattern[str] = re.compile(r"[CG][A-Z0-9]{2,}")
    user_id_hint: str = "<member id, like U0123ABCDEF>"
    channel_id_hint: str = "<channel id, like C0123ABCDEF>"


FACTS: Final = SlackFacts()

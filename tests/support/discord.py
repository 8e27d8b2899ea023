"""A Discord on the fake with one opted-in channel, for tests that need a bot and a place to talk."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakes.discord_api import FakeDiscord


@dataclass
class OpenChannel:
    """A guild with ``member`` in it and ``channel`` opted in (no mention needed); ``env`` runs the
    server against it. The caller closes ``fake``."""

    fake: FakeDiscord
    member: dict[str, Any]
    channel: dict[str, Any]
    env: dict[str, str]


async def open_channel(state: Path) -> OpenChannel:
    fake = await FakeDiscord().start()
    guild = fake.add_guild("test server")
    member = fake.add_user("carol")
    fake.add_member(guild, member)
    channel = fake.add_text_channel(guild, "lounge")
    state.mkdir(parents=True, exist_ok=True)
    access = {"dmPolicy": "allowlist", "allowFrom": [], "groups": {channel["id"]: {"requireMention": False}}}
    (state / "access.json").write_text(json.dumps(access))
    env = {"DISCORD_BOT_TOKEN": fake.token, "DISCORD_API_BASE": fake.api_base, "DISCORD_STATE_DIR": str(state)}
    return OpenChannel(fake, member, channel, env)

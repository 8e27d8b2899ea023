"""A Slack channel session for end-to-end tests: the host running ``serve slack`` against the fake.

The channel runs exactly as Claude Code would run it (a subprocess of ``mcp-channels host`` over
real stdio), with ``SLACK_API_BASE`` pointing slack_sdk at :class:`~fakes.slack_api.FakeSlack`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from support.chat_session import ChannelSession, write_access
from support.processes import HostProcess, channel_config, write_mcp_config

from .slack_api import FakeSlack

SERVER = "slack"


def slack_env(fake: FakeSlack, state: Path, **env: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_APP_TOKEN": fake.app_token,
        "SLACK_API_BASE": fake.api_base,
        "SLACK_STATE_DIR": str(state),
        "MCP_CHANNELS_APPROVAL_INTERVAL": "0.1",
        "MCP_CHANNELS_LOG_LEVEL": "debug",
        **env,
    }


class SlackSession(ChannelSession):
    """One host with the Slack channel; :meth:`stop` also checks no token reached a log."""

    server = SERVER

    def __init__(self, fake: FakeSlack, state: Path, workdir: Path, **env: str) -> None:
        self.fake = fake
        self.state = state
        self.env = slack_env(fake, state, **env)
        workdir.mkdir(parents=True, exist_ok=True)
        config = write_mcp_config(workdir, channel_config(SERVER, env=self.env))
        self.host = HostProcess(
            ["--mcp-config", str(config), "--dangerously-load-development-channels", f"server:{SERVER}"]
        )

    async def start(self, *, receiving: bool = True) -> SlackSession:
        await self.host.start()
        await self.host.wait_type("ready")
        if receiving:
            await self.host.wait_stderr("connected to Slack (Socket Mode)")
        return self

    async def stop(self) -> None:
        await self.host.stop()
        for token in (self.fake.bot_token, self.fake.app_token):
            leaked = [line for line in self.host.stderr_lines if token in line]
            assert not leaked, f"a token appeared in the log: {leaked[:3]}"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = await FakeSlack().start()
    yield server
    await server.stop()


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
async def people(fake: FakeSlack) -> dict[str, dict[str, Any]]:
    """Alice (paired), Bob, and #eng (opted in, mention required), with their DMs."""
    alice, bob = fake.user("alice"), fake.user("bob", display_name="Bobby")
    eng = fake.channel("eng", members=[alice, bob])
    return {"alice": alice, "bob": bob, "eng": eng, "alice_dm": fake.dm(alice), "bob_dm": fake.dm(bob)}


@pytest.fixture
async def session(
    fake: FakeSlack, state: Path, tmp_path: Path, people: dict[str, dict[str, Any]]
) -> AsyncIterator[SlackSession]:
    """A receiving session; Alice is allowlisted, #eng is opted in with requireMention."""
    if not (state / "access.json").exists():
        write_access(
            state,
            allowFrom=[people["alice"]["id"]],
            groups={people["eng"]["id"]: {"requireMention": True, "allowFrom": []}},
        )
    running = await SlackSession(fake, state, tmp_path / "host").start()
    yield running
    await running.stop()

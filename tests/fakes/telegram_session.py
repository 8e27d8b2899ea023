"""A Telegram channel session for end-to-end tests: the host running ``serve telegram`` against the fake.

The channel runs exactly as Claude Code would run it (a subprocess of ``mcp-channels host``
over real stdio), with ``TELEGRAM_API_BASE`` pointing python-telegram-bot at
:class:`~fakes.telegram_api.FakeTelegram`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.chat_session import ChannelSession, write_access
from support.processes import HostProcess, channel_config, write_mcp_config

from .telegram_api import FakeTelegram


class TelegramSession(ChannelSession):
    """One host with the telegram channel; :meth:`stop` also checks the token never reached a log."""

    server = "telegram"

    def __init__(self, fake: FakeTelegram, state: Path, workdir: Path, **env: str) -> None:
        self.fake = fake
        self.state = state
        self.env = {
            "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_API_BASE": fake.base,
            "TELEGRAM_STATE_DIR": str(state),
            "MCP_CHANNELS_APPROVAL_INTERVAL": "0.1",
            "MCP_CHANNELS_LOG_LEVEL": "debug",
            **env,
        }
        workdir.mkdir(parents=True, exist_ok=True)
        config = write_mcp_config(workdir, channel_config("telegram", env=self.env))
        self.host = HostProcess(
            ["--mcp-config", str(config), "--dangerously-load-development-channels", "server:telegram"]
        )

    async def start(self, *, receiving: bool = True) -> TelegramSession:
        await self.host.start()
        await self.host.wait_type("ready")
        if receiving:
            await self.host.wait_stderr("polling as @")
        return self

    async def stop(self) -> None:
        await self.host.stop()
        leaked = [line for line in self.host.stderr_lines if self.fake.token in line]
        assert not leaked, f"the bot token appeared in the log: {leaked[:3]}"


# --------------------------------------------------------------------------- fixtures

ALICE, BOB, MALLORY = 111, 222, 666
GROUP = -1001234567890
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = await FakeTelegram().start()
    yield server
    await server.stop()


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
async def session(fake: FakeTelegram, state: Path, tmp_path: Path) -> AsyncIterator[TelegramSession]:
    """A receiving session; Alice is paired, the group is opted in with requireMention."""
    fake.user(ALICE, "alice")
    fake.user(BOB, "bob")
    fake.group(GROUP)
    if not (state / "access.json").exists():
        write_access(state, allowFrom=[str(ALICE)], groups={str(GROUP): {"requireMention": True, "allowFrom": []}})
    running = await TelegramSession(fake, state, tmp_path / "host").start()
    yield running
    await running.stop()

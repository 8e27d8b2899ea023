"""discord.py, set up the way the channel needs it: intents, API address, login and the gateway loop.

Logging in (REST) and opening the gateway are separate steps: the tools need only the first, so a
session that does not deliver the channel's events logs in and never opens the gateway, which
stays free for the session that does.

discord.py does the hard parts of the gateway itself: heartbeats, RESUME with the last sequence
number after a dropped connection (Discord replays what was missed), a fresh IDENTIFY after an
invalid session, and waiting out 429 answers for ``retry_after`` seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

import aiohttp
import discord
import discord.gateway
import discord.http
import yarl

from ...errors import ConfigurationError
from ._settings import API_VERSION, DiscordSettings

#: DMs, guilds, guild messages and their text (Message Content is privileged: enable it in the
#: Developer Portal). No reaction, member or presence intents.
INTENTS: Final = discord.Intents(guilds=True, guild_messages=True, dm_messages=True, message_content=True)

#: A rate limit longer than this fails the call (the model hears why) rather than hanging it.
MAX_RATE_LIMIT_WAIT: Final = 30.0

#: What Claude's messages may ping: people and the replied-to author, never @everyone or a role,
#: so a prompt-injected reply cannot page a whole server.
ALLOWED_MENTIONS: Final = discord.AllowedMentions(everyone=False, roles=False, users=True, replied_user=True)

#: Gateway close codes discord.py does not retry, in words (discord.com/developers/docs/topics/opcodes-and-status-codes).
FATAL_CLOSE_CODES: Final = {
    4004: "authentication failed (check DISCORD_BOT_TOKEN)",
    4010: "invalid shard",
    4011: "sharding required: the bot is in too many servers for one connection",
    4012: "invalid API version",
    4013: "invalid intents",
}

PRIVILEGED_INTENTS_HELP: Final = (
    "Discord refused the gateway intents: enable MESSAGE CONTENT INTENT for this bot in the "
    "Developer Portal (Bot → Privileged Gateway Intents), then restart"
)


def use_api(settings: DiscordSettings) -> None:
    """Send discord.py's REST calls to ``settings.api_base`` (process-wide, before login)."""
    discord.http.Route.BASE = f"{settings.api_base}/v{API_VERSION}"


class DiscordClient(discord.Client):
    """discord.py's client, handing messages and readiness to the channel."""

    def __init__(self, on_message: Callable[[discord.Message], None], log: logging.Logger) -> None:
        super().__init__(intents=INTENTS, max_ratelimit_timeout=MAX_RATE_LIMIT_WAIT, allowed_mentions=ALLOWED_MENTIONS)
        self._deliver = on_message
        self._log = log
        #: Called with each press of a permission prompt button (see ``_permissions``).
        self.permission_button_handler: Callable[[discord.Interaction[Any], str], Awaitable[None]] | None = None

    async def on_ready(self) -> None:
        self._log.info("gateway connected as %s", self.user)

    async def on_resumed(self) -> None:
        self._log.debug("gateway session resumed")

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot:  # other bots, and our own messages echoed back
            return
        self._deliver(message)

    async def log_in(self, token: str) -> None:
        """Log in over REST, which is all the tools need; what cannot work raises :class:`ConfigurationError`."""
        try:
            await self.login(token)
        except discord.LoginFailure as exc:
            raise ConfigurationError(f"login failed: {exc} (check DISCORD_BOT_TOKEN)") from None
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            raise ConfigurationError(f"login failed: {exc}") from None

    async def open_gateway(self) -> None:
        """Once logged in, receive over the gateway until cancelled; what cannot be retried raises
        :class:`ConfigurationError`. The client is closed when this returns, for every caller."""
        try:
            await self._use_recommended_gateway()
            try:
                await self.connect(reconnect=True)
            except discord.PrivilegedIntentsRequired:
                raise ConfigurationError(PRIVILEGED_INTENTS_HELP) from None
            except discord.ConnectionClosed as exc:
                meaning = FATAL_CLOSE_CODES.get(exc.code, "unexpected close")
                raise ConfigurationError(f"the gateway closed the connection: {exc.code} {meaning}") from None
        finally:
            await self.close()

    async def _use_recommended_gateway(self) -> None:
        """Connect where ``GET /gateway/bot`` says, as Discord asks of bots (and as a fake or proxy needs).

        discord.py retries server errors itself; what still fails is fatal rather than a guess
        at an address the configured API base may not want us to use.
        """
        try:
            _, url, _ = await self.http.get_bot_gateway()
        except discord.GatewayNotFound as exc:
            cause = exc.__cause__ or exc
            raise ConfigurationError(f"could not get the gateway address from GET /gateway/bot: {cause}") from None
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)

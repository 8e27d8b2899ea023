"""slack_sdk's Web API client as the channel uses it: where Slack is, rate limits, errors in words.

``SLACK_API_BASE`` moves every Web API call (``<base>/<method>``), including
``apps.connections.open``, whose answer says where the Socket Mode websocket is: pointing the base
at a local stand-in moves the whole channel. A ``429`` is waited out for as long as Slack's
``Retry-After`` asks when that is short (the request was not carried out, so repeating it is
safe); a longer wait fails the call with the wait in words rather than hanging a tool call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Final

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from .. import Token
from . import FACTS
from ._errors import AUTH_ERRORS, EXPLAINED

#: Longest ``Retry-After`` an outbound call sits through before failing with the wait in words.
MAX_RATE_LIMIT_WAIT: Final = 30.0
RATE_LIMIT_ATTEMPTS: Final = 3
TIMEOUT: Final = 30


class CappedRateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 retry, for waits up to :data:`MAX_RATE_LIMIT_WAIT` only."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = retry_after(response.headers)
        return wait is not None and wait <= MAX_RATE_LIMIT_WAIT


class TokenWatch(AsyncRetryHandler):
    """Sees every answer to one token's calls and retries none: calls ``refused`` when Slack refuses the token.

    A retry handler is slack_sdk's one hook on every response, so a revoked token is noticed on
    whichever call meets it first (a tool, a lookup, a reconnection), not on one path only.
    """

    def __init__(self, refused: Callable[[str], None]) -> None:
        super().__init__(max_retry_count=1_000_000)
        self.refused = refused

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        code = response.body.get("error") if response is not None and isinstance(response.body, dict) else None
        if code in AUTH_ERRORS:
            self.refused(str(code))
        return False


class Refusal:
    """The first token Slack refused, said in one line, and a way for a task to stop the server on it.

    A refused token (revoked when the app is uninstalled or the token regenerated, deactivated,
    expired) never comes back: the server stops with one clear line instead of failing every call.
    """

    def __init__(self) -> None:
        self.message: str | None = None
        self._refused = asyncio.Event()

    def watch(self, token: Token) -> TokenWatch:
        """A response watcher reporting refusals of ``token``."""
        return TokenWatch(lambda code: self.report(token, code))

    def report(self, token: Token, code: str) -> None:
        if self.message is not None:
            return
        self.message = (
            f"Slack refused {token.variable} ({code}: {EXPLAINED.get(code, 'refused')}); save a valid {token.kind} "
            f"({token.hint}) with `mcp-channels configure {FACTS.name} <{token.kind}>` and restart the session"
        )
        self._refused.set()

    async def wait(self) -> str:
        """Return the message once a token has been refused."""
        await self._refused.wait()
        assert self.message is not None
        return self.message


def retry_after(headers: Any) -> float | None:
    """The ``Retry-After`` seconds in ``headers`` (a mapping; values may be lists), if any."""
    for key, value in dict(headers or {}).items():
        if str(key).lower() == "retry-after":
            raw = value[0] if isinstance(value, list) and value else value
            try:
                return float(raw)
            except (TypeError, ValueError):
                return None
    return None


def make_client(token: str | None, api_base: str, watch: TokenWatch) -> AsyncWebClient:
    """A Web API client on ``api_base`` that retries dropped connections and short rate limits.

    ``token`` is ``None`` for the client that only opens Socket Mode connections (the app-level
    token goes with that call).
    """
    # slack_sdk logs request and response bodies at DEBUG (message texts): ours to log, not its.
    logging.getLogger("slack_sdk").setLevel(logging.WARNING)
    handlers: list[AsyncRetryHandler] = [
        watch,
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
        CappedRateLimitRetry(max_retry_count=RATE_LIMIT_ATTEMPTS),
    ]
    # slack_sdk appends the method to its base URL as it is: the base needs its slash.
    return AsyncWebClient(token=token, base_url=f"{api_base}/", timeout=TIMEOUT, retry_handlers=handlers)


def error_code(error: BaseException) -> str | None:
    """Slack's error code (``channel_not_found``) for a refused call, else ``None``."""
    if isinstance(error, SlackApiError):
        code = error.response.get("error") if isinstance(error.response.data, dict) else None
        return str(code) if code else f"HTTP {error.response.status_code}"
    return None


def describe(error: BaseException, *tokens: str) -> str:
    """One line for a failed call: Slack's code and what it means, or the network error; no token in it."""
    code = error_code(error)
    if code is not None:
        assert isinstance(error, SlackApiError)
        if code == "ratelimited":
            wait = retry_after(error.response.headers)
            text = f"ratelimited: Slack asks to wait {wait:g} s before trying again" if wait else "ratelimited"
        elif code == "missing_scope":
            needed = error.response.get("needed") if isinstance(error.response.data, dict) else None
            text = f"missing_scope: {EXPLAINED[code]}" + (f" (needed: {needed})" if needed else "")
        else:
            text = f"{code}: {EXPLAINED[code]}" if code in EXPLAINED else code
    elif isinstance(error, SlackClientError):
        text = str(error).splitlines()[0] or type(error).__name__
    else:
        text = str(error) or type(error).__name__
    for token in tokens:
        if token:
            text = text.replace(token, "<token>")
    return text

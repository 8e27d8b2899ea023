"""slack_sdk's Web API client as the channel uses it: where Slack is, rate limits, errors in words.

``SLACK_API_BASE`` moves every Web API call (``<base><method>``), including
``apps.connections.open``, whose answer says where the Socket Mode websocket is: pointing the base
at a local stand-in moves the whole channel. A ``429`` is waited out for as long as Slack's
``Retry-After`` asks when that is short (the request was not carried out, so repeating it is
safe); a longer wait fails the call with the wait in words rather than hanging a tool call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
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

from ...state import ENV_FILE
from ._facts import TokenSpec

#: Longest ``Retry-After`` an outbound call sits through before failing with the wait in words.
MAX_RATE_LIMIT_WAIT: Final = 30.0
RATE_LIMIT_ATTEMPTS: Final = 3
TIMEOUT: Final = 30
#: Errors that mean the token itself is refused: nothing will work until it is replaced.
AUTH_ERRORS: Final = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"})

#: What Slack's error codes mean for the person reading the tool result or the log.
EXPLAINED: Final = {
    "channel_not_found": "the channel does not exist, or the app cannot see it (invite it with /invite @yourapp)",
    "not_in_channel": "the app is not a member of that channel: invite it with /invite @yourapp",
    "is_archived": "the channel is archived",
    "message_not_found": "no such message in that channel",
    "thread_not_found": "no such thread in that channel",
    "cant_update_message": "only messages the app sent can be edited",
    "edit_window_closed": "the message is too old to edit",
    "msg_too_long": "the text is longer than Slack accepts",
    "no_text": "the text is empty",
    "already_reacted": "the app has already reacted with that emoji",
    "invalid_name": "Slack knows no emoji by that name",
    "too_many_reactions": "the message has too many reactions",
    "file_not_found": "no such file, or the app cannot see it",
    "user_not_found": "no such user",
    "missing_scope": "the app lacks a scope it needs: add it under OAuth & Permissions and reinstall the app",
    "not_allowed_token_type": "this call needs the other kind of token",
    "ratelimited": "Slack's rate limit",
    "invalid_auth": "Slack does not recognise the token",
    "not_authed": "no token was sent",
    "token_revoked": "the token was revoked (the app was uninstalled, or the token regenerated)",
    "token_expired": "the token expired (token rotation is on: this channel cannot refresh tokens, turn it off)",
    "account_inactive": "the app's bot user or workspace was deactivated",
}


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

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.message: str | None = None
        self._refused = asyncio.Event()

    def watch(self, spec: TokenSpec) -> TokenWatch:
        """A response watcher reporting refusals of ``spec``'s token."""
        return TokenWatch(lambda code: self.report(spec, code))

    def report(self, spec: TokenSpec, code: str) -> None:
        if self.message is not None:
            return
        self.message = (
            f"Slack refused {spec.key} ({code}: {EXPLAINED.get(code, 'refused')}); put a valid {spec.kind} "
            f"({spec.prefix}…, from {spec.where}) in {self.state_dir / ENV_FILE} and restart the session"
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
    return AsyncWebClient(token=token, base_url=api_base, timeout=TIMEOUT, retry_handlers=handlers)


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

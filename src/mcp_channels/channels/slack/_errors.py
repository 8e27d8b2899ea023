"""Slack's error codes in words, free of slack_sdk: for tool results, the log and ``doctor``."""

from __future__ import annotations

from typing import Final

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


__all__ = ["AUTH_ERRORS", "EXPLAINED"]

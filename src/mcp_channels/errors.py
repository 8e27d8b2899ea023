"""Every exception of mcp-channels, under one root, grouped by who can act on it.

Catch :class:`ChannelsError` for "anything of ours", :class:`UserError` for "a problem the
person running the command can fix from the message alone" (the command line prints those
without a traceback), or a kind below for one family. The tree::

    ChannelsError
    ├── UserError                   the message says what to fix; no traceback
    │   ├── UsageError              the command line is wrong (exit status 2)
    │   │   └── EntrySyntaxError    untagged --channels entries
    │   ├── ConfigurationError      a setting, file, port or permission to fix (exit status 1)
    │   │   ├── SettingsError       the webhook's routes and webhook.json
    │   │   │   └── TemplateError   a route's template or selector
    │   │   ├── HostConfigError     the host's .mcp.json or a plugin folder
    │   │   ├── SettingsConflict    a session asks the hub for a channel with other settings
    │   │   └── HubPathError        a hub file or directory that is not safe to use
    │   └── AccessError             an access.json change that cannot be made
    ├── ProtocolError               the other end broke MCP or JSON-RPC
    │   ├── JsonRpcError            an error answer, sent or received
    │   ├── ConnectionClosed        the other end went away mid-request
    │   ├── InvalidChannelEvent     a channel notification Claude Code would drop
    │   └── WireError               a hub attachment message without its documented shape
    ├── DeliveryError               an event cannot be handed to Claude Code
    │   ├── EventTooLarge           over Claude Code's line limit
    │   ├── EventQueueFull          the outgoing queue is at its bound
    │   └── HostDisconnected        Claude Code has gone away
    ├── ToolError                   answer the model with an error result
    │   └── SchemaError             the arguments do not fit the tool's schema
    ├── PlatformError               the platform (Telegram, Messages, ...) refused or failed
    ├── InputRefused                input from outside (a web page, an upload) that cannot be taken
    ├── StoreError                  the hub's event store cannot do it
    │   ├── StoreUnavailable        the backend cannot be reached now; retry later
    │   └── InvalidInput            an argument breaks a documented limit
    └── HubError                    the hub cannot be reached, started or asked
        ├── HubUnreachable          no hub answers at its socket
        ├── HubStartError           a hub could not be started
        ├── HubRequestError         the hub refused a request
        └── RelayError              an edge hub could not have the ingress carry out a request

Classes keep the builtin base code around them already catches (``ValueError`` for bad values,
``ConnectionError`` for a peer gone), so ``except ValueError`` keeps working. A channel's own
exceptions live in its package and derive from a kind here (``PlatformError``, ``InputRefused``).
This module imports nothing: every layer may raise from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class ChannelsError(Exception):
    """The root: every exception mcp-channels defines derives from it."""


# --------------------------------------------------------------------------- fixable by the user


class UserError(ChannelsError):
    """A problem the person can fix from the message alone; shown without a traceback."""


class UsageError(UserError):
    """The command line itself is wrong (exit status 2)."""


class EntrySyntaxError(UsageError, ValueError):
    """Untagged ``--channels`` entries; Claude Code prints the message and exits with status 1."""

    def __init__(self, bad: Sequence[str], help_text: str) -> None:
        super().__init__(f"--channels entries must be tagged: {', '.join(bad)}\n{help_text}")
        self.bad = list(bad)


class ConfigurationError(UserError):
    """A setting, file, port or permission the user must fix; the message says which and how.

    Raised from a channel's ``build()`` or one of its tasks, it stops the server with this
    message and exit status 1, without a traceback: the message is the whole story.
    """


class SettingsError(ConfigurationError, ValueError):
    """Webhook settings that cannot be used; the message names the file or variable and the field."""


class TemplateError(SettingsError):
    """A template or selector that cannot be parsed; the message says where and why."""


class HostConfigError(ConfigurationError, ValueError):
    """The host's MCP config or a plugin folder cannot be used; the message says what and where."""


class AccessError(UserError, ValueError):
    """A request on the access file that cannot be carried out; the message says why."""


# --------------------------------------------------------------------------- the wire


class ProtocolError(ChannelsError):
    """The other end of an MCP connection broke the protocol, or left."""


class JsonRpcError(ProtocolError):
    """An error answer, sent to or received from the other end."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{message} ({code})")
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class ConnectionClosed(ProtocolError, ConnectionError):
    """The other end went away while a request was waiting for its answer."""


class InvalidChannelEvent(ProtocolError, ValueError):
    """The params of a channel notification that Claude Code would drop whole."""


# --------------------------------------------------------------------------- delivering events


class DeliveryError(ChannelsError):
    """An event cannot be handed to Claude Code; nothing of it was queued."""


class EventTooLarge(DeliveryError, ValueError):
    """The event would break Claude Code's 16 MiB line limit: Claude Code would drop the whole
    connection, so it is refused here instead, and nothing after it is lost."""


class EventQueueFull(DeliveryError):
    """The outgoing queue is at its bound: the host is not reading (or not ready) and the events
    already waiting hold ``MCP_CHANNELS_QUEUE_EVENTS`` events or ``MCP_CHANNELS_QUEUE_BYTES``
    bytes. Nothing was queued; try again later."""


class HostDisconnected(DeliveryError, ConnectionError):
    """The host went away (stdout is closed), and no event can be delivered any more."""


# --------------------------------------------------------------------------- tools, platforms, input


class ToolError(ChannelsError):
    """Raise from a tool to answer the model with an error result (``isError``), not a crash."""


class SchemaError(ToolError, ValueError):
    """The arguments do not fit the schema; the message names the offending field."""


class PlatformError(ChannelsError):
    """The platform refused or failed a call; the message is the platform's own, for the log."""


class InputRefused(ChannelsError):
    """Input from outside (a web page, an upload) that cannot be taken; the message says why, for the sender."""


# --------------------------------------------------------------------------- the hub's store


class StoreError(ChannelsError):
    """Anything the event store cannot do. The hub catches this one class."""


class StoreUnavailable(StoreError):
    """The backend cannot be reached now (server down, database locked); retrying later may work.

    The hub answers a platform that offers an event with "try again" (HTTP 503 to a webhook sender,
    no Telegram offset acknowledgement) instead of dropping the event.
    """


class InvalidInput(StoreError, ValueError):
    """An argument breaks a documented limit (channel name, sizes, printable text); nothing was stored."""


# --------------------------------------------------------------------------- the hub


class SettingsConflict(ConfigurationError):
    """A session asks the hub for a channel with other settings than it runs it with; the message
    names the variables that differ (never a secret's value)."""


class HubPathError(ConfigurationError, OSError):
    """A file or directory of the hub is not safe to use (someone else's, a symlink, open to others)."""


class WireError(ProtocolError, ValueError):
    """A message of the hub's attachment protocol without its documented shape; the text says which field."""


class HubError(ChannelsError):
    """The hub cannot be reached, started or asked."""


class HubUnreachable(HubError, ConnectionError):
    """No hub answers at its socket (none runs, or it is starting)."""


class HubStartError(HubError):
    """A hub could not be started; the message says why (with the end of its log)."""


class RelayError(HubError):
    """An edge hub could not have the ingress carry out a request (none answers, it timed out, it refused)."""


class HubRequestError(HubError):
    """The hub refused a request; the message is the hub's."""


__all__ = [
    "AccessError",
    "ChannelsError",
    "ConfigurationError",
    "ConnectionClosed",
    "DeliveryError",
    "EntrySyntaxError",
    "EventQueueFull",
    "EventTooLarge",
    "HostConfigError",
    "HostDisconnected",
    "HubError",
    "HubPathError",
    "HubRequestError",
    "HubStartError",
    "HubUnreachable",
    "InputRefused",
    "InvalidChannelEvent",
    "InvalidInput",
    "JsonRpcError",
    "PlatformError",
    "ProtocolError",
    "RelayError",
    "SchemaError",
    "SettingsConflict",
    "SettingsError",
    "StoreError",
    "StoreUnavailable",
    "TemplateError",
    "ToolError",
    "UsageError",
    "UserError",
    "WireError",
]

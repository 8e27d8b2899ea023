"""The host: Claude Code's side of the channel protocol, in Python (``mcp-channels host``)."""

from .app import Host, HostOptions
from .gate import ChannelEntry, Decision, EntrySyntaxError, ManagedSettings, decide, parse_entries

__all__ = [
    "ChannelEntry",
    "Decision",
    "EntrySyntaxError",
    "Host",
    "HostOptions",
    "ManagedSettings",
    "decide",
    "parse_entries",
]

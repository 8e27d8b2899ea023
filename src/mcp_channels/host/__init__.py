"""The host: Claude Code's side of the channel protocol, in Python (``mcp-channels host``)."""

from ..enablement import ChannelEntry, Decision, ManagedSettings, parse_entries
from ..errors import EntrySyntaxError
from .app import Host, HostOptions
from .gate import decide

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

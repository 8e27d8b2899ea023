"""Runners host a channel: they hand it a sink for its events, run its tasks, and answer its host.

:class:`StdioRunner` is the MCP server Claude Code spawns (``mcp-channels serve``);
:class:`MemoryRunner` hosts a channel inside a test. Both build their sink on one bounded queue
(:class:`QueueLimits`). The hub (:mod:`mcp_channels.hub`) is the third, on the same contract
(:mod:`mcp_channels.sink`): it hosts each channel once, for every session, with a sink that
commits events to its store.
"""

from __future__ import annotations

from ._queue import QueueLimits
from .memory import MemoryRunner
from .stdio import StdioRunner

__all__ = ["MemoryRunner", "QueueLimits", "StdioRunner"]

"""What every chat channel's end-to-end session does the same way: call tools, read events and logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.processes import HostProcess

__all__ = ["ChannelSession", "write_access"]


def write_access(state: Path, **fields: Any) -> None:
    """Write ``access.json`` in the official format (what a user or the official skill leaves)."""
    state.mkdir(parents=True, exist_ok=True)
    access = {"dmPolicy": "pairing", "allowFrom": [], "groups": {}, "pending": {}, **fields}
    (state / "access.json").write_text(json.dumps(access, indent=2) + "\n")


class ChannelSession:
    """One host (``mcp-channels host --json``) running the channel server named ``server``."""

    server: str
    host: HostProcess

    async def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        return await self.host.call(self.server, tool, arguments)

    async def ok(self, tool: str, **arguments: Any) -> str:
        """Call a tool that must succeed; its text."""
        result = await self.call(tool, **arguments)
        assert result["type"] == "tool_result" and not result["is_error"], result
        return str(result["text"])

    async def error(self, tool: str, **arguments: Any) -> str:
        """Call a tool that must fail; its error text."""
        result = await self.call(tool, **arguments)
        assert result["type"] == "tool_result" and result["is_error"], result
        return str(result["text"])

    def events(self) -> list[dict[str, Any]]:
        return self.host.of_type("event")

    def contents(self) -> list[str]:
        return [e["content"] for e in self.events()]

    async def event(self, content: str, timeout: float = 15.0) -> dict[str, Any]:
        """The event whose content is ``content``."""
        return await self.host.wait_type("event", content=content, timeout=timeout)

    def log_has(self, needle: str) -> bool:
        return any(needle in line for line in self.host.stderr_lines)

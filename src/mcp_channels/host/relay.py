"""Permission relay on the host side: one prompt, many places to answer it, first answer wins.

Mirrors Claude Code: a request goes to every registered server that declared both channel
capabilities; the terminal and every such channel may answer; the first answer resolves it and any
later or unknown answer is only reported as stale. Nothing is ever sent back to the servers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ..protocol import format_description, format_input_preview, is_request_id, new_request_id


@dataclass
class PendingPermission:
    request_id: str
    tool_name: str
    description: str
    input_preview: str
    outcome: asyncio.Future[tuple[str, str]] = field(repr=False)

    def params(self) -> dict[str, str]:
        """Notification params, in Claude Code's key order."""
        return {
            "request_id": self.request_id,
            "tool_name": self.tool_name,
            "description": self.description,
            "input_preview": self.input_preview,
        }


class PermissionRelay:
    """Pending permission requests and their resolution."""

    def __init__(self) -> None:
        self.pending: dict[str, PendingPermission] = {}

    def open(self, tool_name: str, description: str, tool_input: Any) -> PendingPermission:
        """Create a request with a fresh id and Claude Code's formatting of its fields."""
        request_id = new_request_id()
        while request_id in self.pending:
            request_id = new_request_id()
        request = PendingPermission(
            request_id,
            tool_name,
            format_description(description),
            format_input_preview(tool_input),
            asyncio.get_running_loop().create_future(),
        )
        self.pending[request_id] = request
        return request

    def answer(self, request_id: Any, behavior: Any, by: str) -> PendingPermission | None:
        """Apply an answer; return the request it resolved, or ``None`` when stale or unknown.

        Ids are matched case-insensitively; ``behavior`` must be exactly ``allow`` or ``deny``.
        """
        if not isinstance(request_id, str) or behavior not in ("allow", "deny") or not is_request_id(request_id):
            return None
        request = self.pending.pop(request_id.lower(), None)
        if request is None or request.outcome.done():
            return None
        request.outcome.set_result((behavior, by))
        return request

    def only_pending(self) -> PendingPermission | None:
        """The single pending request, if exactly one is waiting (so a bare ``y`` is unambiguous)."""
        if len(self.pending) == 1:
            return next(iter(self.pending.values()))
        return None


__all__ = [
    "PendingPermission",
    "PermissionRelay",
]

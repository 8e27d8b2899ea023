"""Whether a connected server may deliver channel events: Claude Code's gate, step for step.

The flags, the entry syntax, the order of the checks and every reason string are Claude Code's,
so a person debugging a channel with the host sees the same verdict, in the same words, as they
would in Claude Code. Steps 3 to 8 live in ``enablement.py``, shared with the servers, which run
them on their own session's command line; only the two steps a connection alone can see stay
here: the ``claude/channel`` capability and the protocol era.

Not modelled: step 4 ("channels feature is not currently available"), which depends on Claude
Code's remote feature flags, and the claude.ai Team/Enterprise rule of step 5, which depends on
the signed-in account. Both are outside what a local host can know.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..enablement import ChannelEntry, Decision, ManagedSettings, ServerIdentity, decide_enablement
from .config import PluginInfo


def js_truthy(value: Any) -> bool:
    """Truthiness as Claude Code (JavaScript) sees it: ``{}`` and ``[]`` are true."""
    return value is not None and value is not False and value != 0 and value != ""


def decide(
    server: str,
    *,
    capabilities: Mapping[str, Any],
    modern_era: bool,
    plugin: PluginInfo | None,
    entries: Sequence[ChannelEntry],
    settings: ManagedSettings,
    environ: Mapping[str, str] | None = None,
) -> Decision:
    """Run the gate for one connected server; the first failing step gives the reason."""
    experimental = capabilities.get("experimental")
    if not (isinstance(experimental, dict) and js_truthy(experimental.get("claude/channel"))):
        return Decision(False, "server did not declare claude/channel capability")
    if modern_era:
        return Decision(False, "connection negotiated a modern protocol revision with no unsolicited notification path")
    identity = ServerIdentity(server, plugin.name, plugin.marketplace) if plugin else ServerIdentity(server)
    return decide_enablement(identity, entries, settings, environ)


__all__ = [
    "decide",
    "js_truthy",
]

"""Claude Code's own words for its channel gate, which the tests expect verbatim (see ``docs/claude-code-host.md`` §3)."""

from __future__ import annotations

DEV = "--dangerously-load-development-channels"
OFFICIAL = "claude-plugins-official"
NOT_ALLOWLISTED = (
    "is not on the approved channels allowlist (use --dangerously-load-development-channels for local dev)"
)
ORG_LIST = "is not on your org's approved channels list (set allowedChannelPlugins in managed settings)"
POLICY = "channels not enabled by org policy (set channelsEnabled: true in managed settings)"


__all__ = ["DEV", "NOT_ALLOWLISTED", "OFFICIAL", "ORG_LIST", "POLICY"]

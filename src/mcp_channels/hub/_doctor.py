"""``doctor``'s ``hub`` check: is a hub running, does it answer, and how is this channel doing in it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ._client import HubRequestError, ask
from ._daemon import running_pid
from ._paths import HubPaths
from ._socket import HubUnreachable
from ._wire import STATUS

Level = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class HubHealth:
    """One line of ``doctor``: its level, what was found, and what to do about it."""

    level: Level
    message: str
    fix: str | None = None


def hub_health(channel: str | None, environ: Mapping[str, str]) -> HubHealth:
    """The hub as ``doctor`` reports it, for ``channel`` when given."""
    if environ.get("MCP_CHANNELS_HUB", "").strip().lower() == "off":
        return HubHealth("ok", "MCP_CHANNELS_HUB=off here: each session runs its own server, no hub")
    paths = HubPaths.from_environ(environ)
    pid = running_pid(paths)
    if pid is None:
        return HubHealth("ok", f"no hub is running ({paths.directory}); the next session starts one (--hub auto)")
    try:
        status: dict[str, Any] = asyncio.run(ask(paths, STATUS, timeout=5.0))
    except (HubUnreachable, HubRequestError, TimeoutError) as exc:
        return HubHealth(
            "fail",
            f"a hub holds {paths.lock} (pid {pid}) but does not answer: {exc}",
            "mcp-channels hub stop  (the next session starts a new one; see hub.log for what went wrong)",
        )
    sessions = [s for s in status["sessions"] if s["live"]]
    where = f"hub pid {pid}, {len(sessions)} session(s) attached"
    if channel is None:
        running = ", ".join(f"{c['name']} {c['state']}" for c in status["channels"]) or "no channel yet"
        return HubHealth("ok", f"{where}; {running}")
    return _channel_health(channel, status, where)


def _channel_health(channel: str, status: dict[str, Any], where: str) -> HubHealth:
    found = next((c for c in status["channels"] if c["name"] == channel), None)
    if found is None:
        return HubHealth("ok", f"{where}; {channel} is not running in it yet (it starts when a session asks for it)")
    if found["state"] == "failed":
        return HubHealth(
            "fail",
            f"{where}; {channel} failed in the hub: {found['error']}",
            "fix the setting it names, then start a session again (the hub retries by itself); mcp-channels hub status",
        )
    attached = [a for a in status["attachments"] if a["channel"] == channel]
    refused = [a for a in attached if a["refused"]]
    if refused:
        return HubHealth("warn", f"{where}; session {refused[0]['label']} was refused: {refused[0]['refused']}")
    delivering = [a for a in attached if not a["tools_only"]]
    if found["pending"] and not delivering:
        return HubHealth(
            "warn",
            f"{where}; {found['pending']} {channel} event(s) wait: no attached session has the channel flag",
            "start Claude Code with --channels (or --dangerously-load-development-channels) naming this channel",
        )
    return HubHealth(
        "ok",
        f"{where}; {channel} {found['state']}, {len(delivering)} delivering session(s), {found['pending']} pending",
    )


__all__ = ["HubHealth", "hub_health"]

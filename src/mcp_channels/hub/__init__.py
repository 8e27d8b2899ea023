"""The hub: one long-lived local process that owns the platform connections, a durable store and the routing.

Claude Code starts a channel server in every session; with the hub, that server is a thin shim
(``mcp-channels serve <channel>``) that attaches to one hub per user. The hub runs each channel
once (one Telegram poller, one webhook port), commits every inbound event to its store
(:mod:`mcp_channels.hub.store`) before acknowledging the platform, and delivers each
conversation's events to the session bound to it, at least once, behind a cursor the session
acknowledges. The pieces:

* ``_paths``: where its files are; ``_daemon``: one hub per user, started detached, stopped;
  ``_main``: ``hub run`` and ``hub stop``;
* ``_socket`` and ``_wire``: the attachment socket and protocol (JSON-RPC, HTTP probes);
* ``_hub``: sessions, permission relay, status; ``_attachment``: one attached shim and whose
  session it is; ``_router``: which session a conversation goes to; ``_conversations``: what a
  conversation is; ``_dispatch``: from the store to the sessions; ``_commands``: ``/sessions``
  and ``/switch``;
* ``_runner``: the channels hosted once, their events committed (``StoreSink``); ``_hosting``:
  the one place that touches a channel object; ``_settings``: the settings sessions forward and
  their conflicts; ``_declarations``: what shims answer ``initialize`` with;
* ``_shim``: what ``mcp-channels serve`` is when the hub is on;
* ``_relay``: hubs on several machines over NATS (an edge's tool calls and permission prompts to
  the ingress, verdicts back, bindings followed); ``_store_config``: the store, role and NATS
  options of ``hub run``, checked;
* ``_metrics``: ``/metrics``; ``_install``: a systemd unit or launchd agent; ``_client``: the
  command line's requests; ``_doctor``: ``doctor``'s ``hub`` check.

Names are imported on first use: a session's shim must not pay for the store or the daemon.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._client import HubRequestError, ask
    from ._daemon import HubStartError, reach_hub, running_pid, spawn, start_lock
    from ._hub import ChannelHost, Hub, HubOptions, SettingsConflict
    from ._install import ServiceFile, install, service_file
    from ._main import StopOutcome, run_hub, stop_hub
    from ._paths import HubPathError, HubPaths
    from ._socket import HubUnreachable
    from ._wire import ROUTE, STATUS, SessionInfo

#: Public name -> the private module defining it.
_EXPORTS = {
    "ChannelHost": "_hub",
    "Hub": "_hub",
    "HubOptions": "_hub",
    "SettingsConflict": "_hub",
    "HubPaths": "_paths",
    "HubPathError": "_paths",
    "HubStartError": "_daemon",
    "running_pid": "_daemon",
    "spawn": "_daemon",
    "start_lock": "_daemon",
    "HubUnreachable": "_socket",
    "HubRequestError": "_client",
    "ask": "_client",
    "STATUS": "_wire",
    "ROUTE": "_wire",
    "SessionInfo": "_wire",
    "StopOutcome": "_main",
    "reach_hub": "_daemon",
    "run_hub": "_main",
    "stop_hub": "_main",
    "ServiceFile": "_install",
    "install": "_install",
    "service_file": "_install",
}

__all__ = [
    "ROUTE",
    "STATUS",
    "ChannelHost",
    "Hub",
    "HubOptions",
    "HubPathError",
    "HubPaths",
    "HubRequestError",
    "HubStartError",
    "HubUnreachable",
    "ServiceFile",
    "SessionInfo",
    "SettingsConflict",
    "StopOutcome",
    "ask",
    "install",
    "reach_hub",
    "run_hub",
    "running_pid",
    "service_file",
    "spawn",
    "start_lock",
    "stop_hub",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)

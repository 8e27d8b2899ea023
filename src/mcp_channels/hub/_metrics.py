"""``/metrics`` in Prometheus' text format, made from the same figures ``hub status`` shows.

Labels carry channel names and delivery states only, never a conversation, a session's project
or anything a sender wrote: a scraper sees how the hub is doing, not who talks to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

_HELP = {
    "mcp_channels_hub_up": ("gauge", "1 while the hub runs"),
    "mcp_channels_hub_uptime_seconds": ("gauge", "seconds since the hub started"),
    "mcp_channels_hub_attachments": ("gauge", "attached session shims, by channel and whether their session delivers"),
    "mcp_channels_hub_channel_up": ("gauge", "1 while the channel's platform connection runs"),
    "mcp_channels_hub_events_received_total": ("counter", "events committed to the store since the hub started"),
    "mcp_channels_hub_events_delivered_total": ("counter", "events a session acknowledged since the hub started"),
    "mcp_channels_hub_events_stored": ("gauge", "events kept in the store"),
    "mcp_channels_hub_events_pending": ("gauge", "stored events no session has acknowledged yet"),
    "mcp_channels_hub_oldest_pending_seconds": ("gauge", "age of the oldest pending event"),
    "mcp_channels_hub_retention_dropped_total": ("counter", "events retention dropped, and of them never delivered"),
    "mcp_channels_hub_commit_errors_total": (
        "counter",
        "events the store could not commit (the platform was not acknowledged)",
    ),
    "process_resident_memory_bytes": ("gauge", "resident memory of the hub process"),
}


def render(status: Mapping[str, Any]) -> str:
    """The exposition text for a :meth:`Hub.status` snapshot."""
    samples: list[tuple[str, dict[str, str], float]] = [
        ("mcp_channels_hub_up", {}, 1),
        ("mcp_channels_hub_uptime_seconds", {}, status["hub"]["uptime_s"]),
        ("process_resident_memory_bytes", {}, status["hub"]["rss_bytes"]),
    ]
    counts: dict[tuple[str, str], int] = {}
    for attachment in status["attachments"]:
        key = (attachment["channel"], "tools_only" if attachment["tools_only"] else "delivering")
        counts[key] = counts.get(key, 0) + 1
    samples += [
        ("mcp_channels_hub_attachments", {"channel": channel, "session": kind}, count)
        for (channel, kind), count in sorted(counts.items())
    ]
    for channel in status["channels"]:
        label = {"channel": channel["name"]}
        samples += [
            ("mcp_channels_hub_channel_up", label, 1 if channel["state"] == "running" else 0),
            ("mcp_channels_hub_events_received_total", label, channel["received"]),
            ("mcp_channels_hub_events_delivered_total", label, channel["delivered"]),
            ("mcp_channels_hub_events_stored", label, channel["stored"]),
            ("mcp_channels_hub_events_pending", label, channel["pending"]),
            ("mcp_channels_hub_oldest_pending_seconds", label, channel["oldest_pending_age_s"] or 0),
            ("mcp_channels_hub_retention_dropped_total", {**label, "delivered": "any"}, channel["retention_dropped"]),
            (
                "mcp_channels_hub_retention_dropped_total",
                {**label, "delivered": "never"},
                channel["retention_undelivered"],
            ),
            ("mcp_channels_hub_commit_errors_total", label, channel["commit_errors"]),
        ]
    return _exposition(samples)


def _exposition(samples: Iterable[tuple[str, dict[str, str], float]]) -> str:
    lines: list[str] = []
    described: set[str] = set()
    for name, labels, value in sorted(samples, key=lambda sample: sample[0]):  # a family's samples together
        if name not in described:
            kind, text = _HELP[name]
            lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
            described.add(name)
        rendered = ",".join(f'{key}="{_escape(val)}"' for key, val in labels.items())
        lines.append(f"{name}{{{rendered}}} {_number(value)}" if rendered else f"{name} {_number(value)}")
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"


__all__ = ["render"]

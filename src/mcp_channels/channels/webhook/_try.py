"""What a POST would become, without a server: the logic of ``mcp-channels webhook try``.

The body goes through the same settings (``WEBHOOK_ROUTES``, ``webhook.json``) and the same code
as a real delivery; nothing is saved, and the ``payload_path`` shown is where the payload would
be kept.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...protocol import render_channel_tag
from ._channel import NAME, event_content, request_meta
from ._presets import file_name, shape
from ._settings import WebhookSettings


def try_delivery(body: bytes, headers: Mapping[str, str], path: str, query: str, settings: WebhookSettings) -> str:
    """The event as Claude Code would show it, then what the sender would get; nothing is saved."""
    outcome = shape(body, headers, path, settings.presets)
    meta = request_meta("POST", path, query, headers)
    would_save = (
        outcome.filtered is None
        and outcome.content is not None
        and outcome.payload is not None
        and settings.inbox.keeps(outcome.payload)
    )
    payload_path = settings.inbox.directory / file_name(outcome.label, outcome.suffix) if would_save else None
    content = event_content(meta, body, outcome, payload_path)
    verdict = _verdict(body, content, outcome.meta.get("preset"), outcome.filtered)
    return f"{render_channel_tag(NAME, content, meta)}\n{verdict}"


def _verdict(body: bytes, content: str, preset: str | None, filtered: str | None) -> str:
    shaped = (
        f"preset {preset}: {len(body):,} body bytes → {len(content.encode()):,} content bytes"
        if preset
        else "no preset: the body as it came"
    )
    if filtered is not None:
        return f"{shaped}\nfiltered out ({filtered}): the sender gets 202 filtered and the session sees nothing"
    return f"{shaped}\ndelivered: the sender gets 202 queued"


__all__ = ["try_delivery"]

"""Webhook presets: a delivery from a known sender becomes a short event a model can read.

A GitHub ``pull_request`` payload is 20-30 KB of JSON, most of it URLs and ids; the session gets
"PR #123 *Fix login* opened by alice: main ← fix/login, 3 commits, +40 −12" and meta with the key
fields instead, and the full payload stays in the webhook's inbox for when more is needed.

- :func:`shape` (pure) decides what a delivery becomes: the sender is detected from its headers
  (``X-GitHub-Event``, ``X-Gitlab-Event``, ``Sentry-Hook-Resource``) or Alertmanager's JSON
  shape, unless a route pins a preset or gives a template; filters may drop it. A body no preset
  knows stays the raw body, exactly as the webhook delivered it before presets.
- :meth:`PresetSettings.from_environ` reads the routes and retention limits (``WEBHOOK_ROUTES``,
  ``webhook.json``), strictly: a mistake is a :class:`SettingsError` naming the field.
- :class:`Inbox` is the one part that writes files: the payloads, with bounded retention.

The package knows nothing of HTTP or of the channel server: the webhook channel calls it.
"""

from __future__ import annotations

from mcp_channels.errors import SettingsError

from ._inbox import INBOX_DIR, Inbox, file_name
from ._settings import SETTINGS_FILE, PresetSettings, Route
from ._shape import Outcome, shape
from ._text import CONTENT_LIMIT

__all__ = [
    "CONTENT_LIMIT",
    "INBOX_DIR",
    "SETTINGS_FILE",
    "Inbox",
    "Outcome",
    "PresetSettings",
    "Route",
    "SettingsError",
    "file_name",
    "shape",
]

"""Which preset reads a delivery: the sender's own header, else Alertmanager's JSON shape.

GitHub, GitLab and Sentry name themselves and the kind of event in a header; Alertmanager (and
Grafana's webhook) send no such header, but their JSON always has ``alerts``, ``status`` and
``groupKey``. A route can pin the preset instead, e.g. behind a proxy that drops headers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from . import _alertmanager, _github, _gitlab, _sentry
from ._summary import Summary
from ._text import one_line

#: Preset name → the header that names it (lower case, as the HTTP layer gives headers).
SENDER_HEADERS: Final = {
    "github": "x-github-event",
    "gitlab": "x-gitlab-event",
    "sentry": "sentry-hook-resource",
}
#: Preset name → its summarizer of (kind, payload).
SUMMARIZERS: Final[dict[str, Callable[[str, object], Summary]]] = {
    "github": _github.summarize,
    "gitlab": _gitlab.summarize,
    "sentry": _sentry.summarize,
    "alertmanager": _alertmanager.summarize,
}
#: Preset name → whether a parsed body is that sender's payload at all.
RECOGNISERS: Final[dict[str, Callable[[str, object], bool]]] = {
    "github": _github.looks_like,
    "gitlab": _gitlab.looks_like,
    "sentry": _sentry.looks_like,
    "alertmanager": _alertmanager.looks_like,
}
#: A body worth parsing to check for Alertmanager's shape contains this.
ALERTMANAGER_MARK: Final = b'"groupKey"'


def sender_by_header(headers: Mapping[str, str]) -> str | None:
    """The preset whose sender header is present, if any."""
    for preset, header in SENDER_HEADERS.items():
        if header in headers:
            return preset
    return None


def sender_by_shape(payload: object) -> str | None:
    return "alertmanager" if _alertmanager.looks_like("alert", payload) else None


def kind_of(preset: str, headers: Mapping[str, str], payload: object) -> str:
    """The kind of event within the preset: ``push``, ``merge_request``, ``metric_alert``, ``alert``."""
    if preset == "alertmanager":
        return "alert"
    header = one_line(headers.get(SENDER_HEADERS[preset], ""), 60)
    if preset == "gitlab":
        return _gitlab.kind_of(header, payload)
    return header or "unknown"

"""One delivery in, what the session sees out: a preset's summary, a template, the raw body or nothing.

Pure: the body, headers and path of a request and the settings in, an :class:`Outcome` out. No
file is written here (saving the payload is :mod:`._inbox`'s job, done by the receiver) and
nothing raises on a body's shape: a body no preset knows stays the raw body, exactly as before
presets existed, and so does a body that names a sender in its headers but is not that
sender's JSON (a test ``curl`` with ``X-GitHub-Event`` set): a summary of it would be made up.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Final, NamedTuple

from ._detect import ALERTMANAGER_MARK, RECOGNISERS, SUMMARIZERS, kind_of, sender_by_header, sender_by_shape
from ._settings import PresetSettings, Route
from ._text import meta as clean_meta

#: Bodies larger than this are not parsed (GitHub's own payload limit is 25 MB).
MAX_PARSE_BYTES: Final = 25 * 1024 * 1024
_FORM: Final = "application/x-www-form-urlencoded"

log = logging.getLogger("mcp_channels.webhook")


class _NotJson:
    def __repr__(self) -> str:
        return "NOT_JSON"


#: The parsed payload of a body that is not JSON.
NOT_JSON: Final = _NotJson()


class Outcome(NamedTuple):
    """What a delivery becomes.

    ``content`` is ``None`` for the raw body (decoded by the receiver as it always was), else the
    summary. ``meta`` is added to the receiver's own (path, method, headers). ``payload`` is what
    to keep in the inbox (the JSON, or a templated text body), ``label`` and ``suffix`` name its
    file, and ``filtered`` says why the delivery is dropped (``None``: deliver it).
    """

    content: str | None
    meta: dict[str, str]
    payload: bytes | None = None
    label: str = "raw"
    suffix: str = ".json"
    filtered: str | None = None


RAW: Final = Outcome(None, {})


def shape(body: bytes, headers: Mapping[str, str], path: str, settings: PresetSettings) -> Outcome:
    """What a POST of ``body`` with ``headers`` (lower-case names) to ``path`` becomes."""
    route = settings.route_for(path)
    preset = sender_by_header(headers) if route.preset == "auto" else route.preset
    if preset is None and not route.filters.active and ALERTMANAGER_MARK not in body:
        return RAW  # the common case of an unknown sender: nothing to parse, nothing to filter
    wanted = preset != "raw" or route.filters.active
    payload, payload_bytes = _parse(body, headers) if wanted else (NOT_JSON, body)
    if preset is None:
        preset = sender_by_shape(payload)
    if preset is None or preset == "raw":
        outcome = RAW
    elif preset == "template":
        outcome = _templated(route, payload, body, payload_bytes)
    else:
        outcome = _summarized(preset, headers, payload, payload_bytes)
    if outcome.content is not None and route.meta:
        selected = clean_meta(**{key: expression.evaluate(payload) for key, expression in route.meta})
        outcome = outcome._replace(meta={**outcome.meta, **selected})
    reason = route.filters.reason_to_drop(outcome.meta, payload)
    return outcome._replace(filtered=reason) if reason else outcome


def _parse(body: bytes, headers: Mapping[str, str]) -> tuple[object, bytes]:
    """The JSON value of the body and its bytes, or ``NOT_JSON``.

    GitHub can send ``application/x-www-form-urlencoded`` with the JSON in a ``payload`` field.
    """
    if len(body) > MAX_PARSE_BYTES:
        return NOT_JSON, body
    if headers.get("content-type", "").startswith(_FORM) and body.startswith(b"payload="):
        import urllib.parse  # rare: only GitHub's form-encoded deliveries

        fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"), max_num_fields=100)
        body = fields.get("payload", [""])[0].encode("utf-8")
    try:
        return json.loads(body), body
    except (ValueError, RecursionError):
        return NOT_JSON, body


def _summarized(preset: str, headers: Mapping[str, str], payload: object, payload_bytes: bytes) -> Outcome:
    kind = kind_of(preset, headers, payload)
    if not RECOGNISERS[preset](kind, payload):
        log.debug("%s preset: the body is not that sender's JSON; delivered as it came", preset)
        return RAW
    try:
        summary = SUMMARIZERS[preset](kind, payload)
    except Exception as exc:  # a preset bug must not lose the delivery: it goes raw, with a note
        log.warning("%s preset failed on a %s event (%s): delivering the raw body", preset, kind, type(exc).__name__)
        return Outcome(None, {"preset": preset, "preset_error": f"the {preset} preset failed"})
    return Outcome(summary.content, {"preset": preset, **summary.meta}, payload_bytes, f"{preset}-{kind}")


def _templated(route: Route, payload: object, body: bytes, payload_bytes: bytes) -> Outcome:
    """The route's template over the JSON payload, or over the body's text when it is not JSON."""
    assert route.template is not None
    if payload is NOT_JSON:
        text = body.decode("utf-8", "replace")
        return Outcome(route.template.render(text), {"preset": "template"}, body, "template", ".txt")
    return Outcome(route.template.render(payload), {"preset": "template"}, payload_bytes, "template")

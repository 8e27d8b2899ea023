"""Sentry integration-platform deliveries, keyed by the ``Sentry-Hook-Resource`` header.

Field names are those of Sentry's webhook documentation (``data.issue``, ``data.event``,
``data.metric_alert``). Times are shown as absolute UTC minutes: "first seen 5 min ago" would be
stale by the time anyone reads the transcript.
"""

from __future__ import annotations

import re
from typing import Final

from ._summary import Summarizer, Summary, summarize_with
from ._text import EXCERPT_LIMIT, content, dig, field, meta, number, plural, quoted, scalar

_ISO_MINUTE: Final = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})")


def looks_like(resource: str, payload: object) -> bool:
    """Whether a body is a Sentry integration payload: an ``action`` and its ``data``."""
    return (
        isinstance(payload, dict) and isinstance(payload.get("data"), dict) and isinstance(payload.get("action"), str)
    )


def summarize(resource: str, payload: object) -> Summary:
    """The summary of a Sentry delivery whose ``Sentry-Hook-Resource`` is ``resource``."""
    return summarize_with(_BY_RESOURCE, _generic, resource, payload)


def _when(stamp: str) -> str:
    """``2019-08-19T20:58:37.391Z`` → ``2019-08-19 20:58 UTC``; other text as it is."""
    match = _ISO_MINUTE.match(stamp)
    if match is None:
        return stamp
    utc = stamp.endswith(("Z", "+00:00"))
    return f"{match[1]} {match[2]}" + (" UTC" if utc else "")


def _common(resource: str, payload: object, **extra: str) -> dict[str, str]:
    common = {
        "event": resource,
        "action": field(payload, "action", limit=60),
        "sender": field(payload, "actor", "name", limit=60),
    }
    return meta(**{**common, **extra})


def _issue(payload: object) -> Summary:
    issue = dig(payload, "data", "issue")
    action = field(payload, "action", limit=60)
    title, culprit = field(issue, "title"), field(issue, "culprit")
    project = field(issue, "project", "slug", limit=80) or field(issue, "project", "name", limit=80)
    short_id = field(issue, "shortId", limit=60)
    where = f" in {culprit}" if culprit else ""
    if action == "created":
        facts = [" ".join(part for part in (project, short_id) if part)]
        events, users = number(issue, "count"), number(issue, "userCount")
        facts.append(plural(events, "event") if events is not None else "")
        facts.append(plural(users, "user") if users is not None else "")
        first_seen = field(issue, "firstSeen", limit=40)
        facts.append(f"first seen {_when(first_seen)}" if first_seen else "")
        detail = ", ".join(fact for fact in facts if fact)
        text = f"Sentry: {title}{where}" + (f" ({detail})" if detail else "")
    else:
        change = action
        if action == "assigned":
            whom = field(issue, "assignedTo", "name", limit=60) or field(issue, "assignedTo", "email", limit=60)
            change = f"assigned to {whom}" if whom else action
        elif action == "unresolved" and field(issue, "substatus", limit=40):
            change = f"unresolved ({field(issue, 'substatus', limit=40).replace('_', ' ')})"
        text = f"Sentry issue {short_id or field(issue, 'id', limit=40)} {change}: {title}" + (
            f" ({project})" if project else ""
        )
    extra = meta(
        project=project,
        issue=short_id or field(issue, "id", limit=40),
        level=field(issue, "level", limit=40),
        status=field(issue, "status", limit=40),
        url=field(issue, "web_url", limit=300) or field(issue, "permalink", limit=300),
    )
    return Summary(content([text]), _common("issue", payload, **extra))


def _event_alert(payload: object) -> Summary:
    event = dig(payload, "data", "event")
    rule = field(payload, "data", "triggered_rule") or field(payload, "data", "issue_alert", "title")
    culprit, level = field(event, "culprit"), field(event, "level", limit=40)
    text = f"Sentry alert *{rule}*: {field(event, 'title')}" + (f" in {culprit}" if culprit else "")
    environment = _tag(event, "environment")
    facts = ", ".join(fact for fact in (f"level {level}" if level else "", environment) if fact)
    text += f" ({facts})" if facts else ""
    extra = meta(
        rule=rule,
        level=level,
        issue=field(event, "issue_id", limit=40),
        url=field(event, "web_url", limit=300),
    )
    return Summary(content([text]), _common("event_alert", payload, **extra))


def _tag(event: object, name: str) -> str:
    """The value of one of an event's ``tags`` (pairs ``[name, value]``), or ""."""
    tags = dig(event, "tags")
    for pair in tags if isinstance(tags, list) else []:
        if field(pair, 0, limit=60) == name:
            return field(pair, 1, limit=80)
    return ""


def _metric_alert(payload: object) -> Summary:
    data = dig(payload, "data")
    action = field(payload, "action", limit=40)
    title = field(data, "metric_alert", "alert_rule", "name") or field(data, "description_title")
    lines = [f"Sentry metric alert {action.upper()}: {title}", field(data, "description_text", limit=EXCERPT_LIMIT)]
    extra = meta(
        rule=field(data, "metric_alert", "alert_rule", "name"),
        status=action,
        url=field(data, "web_url", limit=300),
    )
    return Summary(content(lines), _common("metric_alert", payload, **extra))


def _error(payload: object) -> Summary:
    error = dig(payload, "data", "error")
    culprit = field(error, "culprit")
    text = f"Sentry error: {field(error, 'title')}" + (f" in {culprit}" if culprit else "")
    extra = meta(
        level=field(error, "level", limit=40),
        issue=field(error, "issue_id", limit=40),
        url=field(error, "web_url", limit=300),
    )
    return Summary(content([text]), _common("error", payload, **extra))


def _comment(payload: object) -> Summary:
    data = dig(payload, "data")
    who = field(payload, "actor", "name", limit=60)
    issue = scalar(dig(data, "issue_id"))
    text = f"{who} {field(payload, 'action', limit=40)} a comment on Sentry issue {issue}"
    text += f" ({field(data, 'project_slug', limit=80)})" if field(data, "project_slug", limit=80) else ""
    excerpt = field(data, "comment", limit=EXCERPT_LIMIT)
    text += f": {quoted(excerpt).strip()}" if excerpt else ""
    return Summary(
        content([text]), _common("comment", payload, issue=issue, project=field(data, "project_slug", limit=80))
    )


def _generic(resource: str, payload: object) -> Summary:
    action = field(payload, "action", limit=60)
    data = dig(payload, "data")
    subject = (
        next((value for value in data.values() if isinstance(value, dict)), None) if isinstance(data, dict) else None
    )
    title = field(subject, "title") or field(subject, "name")
    text = f"Sentry {resource}" + (f" {action}" if action else "") + (f": {title}" if title else "")
    return Summary(content([text]), _common(resource, payload, url=field(subject, "web_url", limit=300)))


_BY_RESOURCE: Final[dict[str, Summarizer]] = {
    "issue": _issue,
    "event_alert": _event_alert,
    "metric_alert": _metric_alert,
    "error": _error,
    "comment": _comment,
}

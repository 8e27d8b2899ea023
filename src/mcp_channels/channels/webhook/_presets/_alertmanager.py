"""Prometheus Alertmanager notifications (its webhook receiver's JSON, version 4), grouped alerts.

Grafana's alerting webhook sends the same shape, so it is read the same way. One alert reads
like a pager line, ``Alert FIRING: HighLatency (severity=page): p99 above 2 s``; a group gets a
head line with the counts and one line per alert, the first few of them.
"""

from __future__ import annotations

from typing import Final

from ._summary import Summary
from ._text import content, dig, field, items, meta, number

ALERTS_SHOWN: Final = 5
LABELS_SHOWN: Final = 3


def looks_like(kind: str, payload: object) -> bool:
    """Whether a JSON body has Alertmanager's shape: ``alerts``, ``status`` and ``groupKey``."""
    return (
        isinstance(payload, dict)
        and isinstance(payload.get("alerts"), list)
        and isinstance(payload.get("status"), str)
        and isinstance(payload.get("groupKey"), str)
    )


def _labels(alert: object, skip: dict[str, str]) -> str:
    """``severity=page, instance=db1``: an alert's labels other than its name and ``skip``."""
    labels = dig(alert, "labels")
    shown = []
    # severity first: it is the label a reader wants before the instance or the job
    for key in sorted(labels, key=lambda key: key != "severity") if isinstance(labels, dict) else []:
        if key == "alertname" or key in skip:
            continue
        shown.append(f"{field(key, limit=40)}={field(labels, key, limit=60)}")
        if len(shown) == LABELS_SHOWN:
            break
    return ", ".join(shown)


def _description(alert: object) -> str:
    return field(alert, "annotations", "summary") or field(alert, "annotations", "description")


def _alert_line(alert: object, skip: dict[str, str], separator: str) -> str:
    """``FIRING: HighLatency (severity=page): p99 above 2 s`` (``separator`` follows the status)."""
    status = field(alert, "status", limit=20).upper()
    labels = _labels(alert, skip)
    text = f"{status}{separator}{field(alert, 'labels', 'alertname')}" + (f" ({labels})" if labels else "")
    description = _description(alert)
    return text + (f": {description}" if description else "")


def summarize(kind: str, payload: object) -> Summary:
    """The summary of one Alertmanager notification (``kind`` is always ``alert``)."""
    alerts = items(payload, "alerts")
    status = field(payload, "status", limit=20)
    common = dig(payload, "commonLabels")
    common_labels = {str(k): v for k, v in common.items() if isinstance(v, str)} if isinstance(common, dict) else {}
    truncated = number(payload, "truncatedAlerts") or 0
    if len(alerts) == 1 and not truncated:
        lines = [f"Alert {_alert_line(alerts[0], {}, ': ')}"]
    else:
        firing = sum(1 for alert in alerts if field(alert, "status", limit=20) == "firing")
        total = len(alerts) + truncated
        group = ", ".join(
            f"{field(k, limit=40)}={field(v, limit=60)}" for k, v in list(common_labels.items())[:LABELS_SHOWN]
        )
        head = f"Alerts {status.upper()}: {total} alerts, {firing} firing, {len(alerts) - firing} resolved"
        lines = [head + (f" ({group})" if group else "")]
        lines += [f"- {_alert_line(alert, common_labels, ' ')}" for alert in alerts[:ALERTS_SHOWN]]
        if total > ALERTS_SHOWN:
            lines.append(f"- … and {total - min(len(alerts), ALERTS_SHOWN)} more")
    single = alerts[0] if len(alerts) == 1 else None
    extra = meta(
        event=kind,
        status=status,
        alertname=field(common_labels, "alertname") or field(single, "labels", "alertname"),
        severity=field(common_labels, "severity", limit=40),
        receiver=field(payload, "receiver", limit=80),
        count=str(len(alerts) + truncated),
        url=field(payload, "externalURL", limit=300),
    )
    return Summary(content(lines), extra)

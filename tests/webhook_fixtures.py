"""Real example webhook payloads: GitHub's from ``@octokit/webhooks-examples``, others from docs.

``./test`` installs the npm package into ``tests/node/node_modules``; the GitLab, Sentry and
Alertmanager examples live in ``tests/webhook_payloads/`` (sources in its README).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
OCTOKIT_EXAMPLES = TESTS / "node" / "node_modules" / "@octokit" / "webhooks-examples" / "api.github.com" / "index.json"
PAYLOADS = TESTS / "webhook_payloads"

#: The GitHub events the issue names; each has its own wording in the GitHub preset.
GITHUB_EVENTS = (
    "push", "pull_request", "pull_request_review", "pull_request_review_comment", "issues", "issue_comment",
    "workflow_run", "workflow_job", "check_run", "check_suite", "release", "deployment_status",
)  # fmt: skip


@functools.cache
def github_examples() -> dict[str, list[dict[str, Any]]]:
    """Event name → GitHub's example payloads for it."""
    if not OCTOKIT_EXAMPLES.exists():
        pytest.fail(f"{OCTOKIT_EXAMPLES} is missing: run ./test (it runs npm ci in tests/node)")
    return {entry["name"]: entry["examples"] for entry in json.loads(OCTOKIT_EXAMPLES.read_text())}


def github_cases(events: tuple[str, ...] = GITHUB_EVENTS) -> list[tuple[str, int]]:
    """``(event, index)`` of every example of ``events``, for parametrizing."""
    return [(event, index) for event in events for index in range(len(github_examples()[event]))]


def payload_file(sender: str, name: str) -> bytes:
    """The body of ``tests/webhook_payloads/<sender>/<name>.json`` as it would be posted."""
    return (PAYLOADS / sender / f"{name}.json").read_bytes()

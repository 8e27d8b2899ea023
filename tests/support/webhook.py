"""Real example webhook payloads (GitHub's from ``@octokit/webhooks-examples``, others from docs),
and a webhook running under the host.

``./test`` installs the npm package into ``tests/node/node_modules``; the GitLab, Sentry and
Alertmanager examples live in ``tests/data/webhook_payloads/`` (sources in its README).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from . import DATA, TESTS
from .processes import HostProcess, channel_config, free_port, write_mcp_config

OCTOKIT_EXAMPLES = TESTS / "node" / "node_modules" / "@octokit" / "webhooks-examples" / "api.github.com" / "index.json"
PAYLOADS = DATA / "webhook_payloads"

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
    """The body of ``tests/data/webhook_payloads/<sender>/<name>.json`` as it would be posted."""
    return (PAYLOADS / sender / f"{name}.json").read_bytes()


# --------------------------------------------------------------------------- a running webhook

#: The secret the signed webhook tests share with their senders.
SECRET = "s3cret-for-tests"


async def start_host(tmp_path: Path, **env: str) -> tuple[HostProcess, int]:
    """The host running the webhook (with ``env``) on a free port, once it listens; the host and the port."""
    port = free_port()
    settings = {"WEBHOOK_PORT": str(port), "WEBHOOK_STATE_DIR": str(tmp_path / "state"), **env}
    config = write_mcp_config(tmp_path, channel_config("webhook", settings))
    host = await HostProcess(
        ["--mcp-config", str(config), "--dangerously-load-development-channels", "server:webhook"]
    ).start()
    await host.wait_type("ready")
    await host.wait_stderr("listening on")
    return host, port


def sign(body: bytes, secret: str = SECRET) -> str:
    """``X-Hub-Signature-256`` of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()

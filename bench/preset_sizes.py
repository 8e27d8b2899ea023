#!/usr/bin/env python3
"""How much smaller the webhook presets make GitHub deliveries: raw body bytes → content bytes.

Over every example of the events the GitHub preset words itself (``@octokit/webhooks-examples``,
installed into ``tests/node/node_modules`` by ``./test``), each posted as GitHub posts it
(compact JSON), prints per event and overall: the median and total reduction of the content,
and, to be fair about what reaches the model, of the whole rendered ``<channel>`` tag (meta
attributes included, with a typical ``payload_path``). Run it with the project's venv:

    .venv/bin/python bench/preset_sizes.py
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from mcp_channels.channels.webhook import _presets as presets
from mcp_channels.channels.webhook._channel import event_content, request_meta
from mcp_channels.protocol import render_channel_tag

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "tests/node/node_modules/@octokit/webhooks-examples/api.github.com/index.json"
EVENTS = (
    "push", "pull_request", "pull_request_review", "pull_request_review_comment", "issues", "issue_comment",
    "workflow_run", "workflow_job", "check_run", "check_suite", "release", "deployment_status",
)  # fmt: skip
#: A payload_path as long as a real one under ~/.claude/channels/webhook/inbox/.
PAYLOAD_PATH = Path("/home/user/.claude/channels/webhook/inbox") / presets.file_name("github-pull_request", now=0)


def measure(event: str, example: object) -> tuple[int, int, int, int]:
    """(raw body, content, raw tag, preset tag) sizes in bytes for one delivery."""
    body = json.dumps(example, separators=(",", ":")).encode()
    headers = {"content-type": "application/json", "x-github-event": event, "user-agent": "GitHub-Hookshot/abc1234"}
    outcome = presets.shape(body, headers, "/github", presets.PresetSettings())
    raw_meta = request_meta("POST", "/github", "", headers)
    raw_tag = render_channel_tag("webhook", body.decode(), raw_meta)
    meta = dict(raw_meta)
    content = event_content(meta, body, outcome, PAYLOAD_PATH)
    return (
        len(body),
        len(content.encode()),
        len(raw_tag.encode()),
        len(render_channel_tag("webhook", content, meta).encode()),
    )


def reduction(before: int, after: int) -> float:
    return 100 * (1 - after / before)


def main() -> int:
    if not EXAMPLES.exists():
        print(f"{EXAMPLES} is missing: run ./test once (it installs tests/node)", file=sys.stderr)
        return 1
    examples = {entry["name"]: entry["examples"] for entry in json.loads(EXAMPLES.read_text())}
    rows = []
    print("| event | examples | median body → content bytes | median reduction |")
    print("|---|---|---|---|")
    for event in EVENTS:
        sizes = [measure(event, example) for example in examples[event]]
        rows += sizes
        body, content = statistics.median(s[0] for s in sizes), statistics.median(s[1] for s in sizes)
        median = statistics.median(reduction(s[0], s[1]) for s in sizes)
        print(f"| {event} | {len(sizes)} | {body:,.0f} → {content:,.0f} | {median:.1f} % |")
    total_body, total_content = sum(r[0] for r in rows), sum(r[1] for r in rows)
    total_raw_tag, total_tag = sum(r[2] for r in rows), sum(r[3] for r in rows)
    print()
    print(f"{len(rows)} examples of {len(EVENTS)} events")
    print(
        f"content: median reduction {statistics.median(reduction(r[0], r[1]) for r in rows):.1f} %, "
        f"total {total_body:,} → {total_content:,} bytes ({reduction(total_body, total_content):.1f} %, "
        f"{total_body / total_content:.0f}× smaller); largest content {max(r[1] for r in rows)} bytes"
    )
    print(f"whole <channel> tag with meta: median reduction {statistics.median(reduction(r[2], r[3]) for r in rows):.1f} %, "
          f"total {total_raw_tag:,} → {total_tag:,} bytes ({reduction(total_raw_tag, total_tag):.1f} %)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

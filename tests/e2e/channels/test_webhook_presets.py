"""Webhook presets end to end: real POSTs to a webhook server the host spawned, what the host renders."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from mcp_channels.protocol import render_channel_tag
from support.processes import PYTHON, RawServer, free_port, http_request
from support.webhook import SECRET, github_examples, payload_file, sign, start_host


def write_settings(tmp_path: Path, document: object) -> None:
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    (state / "webhook.json").write_text(json.dumps(document))


async def test_a_github_delivery_becomes_a_summary_with_its_payload_saved(tmp_path: Path) -> None:
    host, port = await start_host(tmp_path, WEBHOOK_SECRET=SECRET)
    try:
        body = json.dumps(github_examples()["pull_request"][0]).encode()
        headers = {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "d-7", "Content-Type": "application/json"}
        assert (await http_request(port, "POST", "/gh", body, headers))[0] == 401  # unsigned: refused, not parsed
        status, _, answer = await http_request(
            port, "POST", "/gh", body, {**headers, "X-Hub-Signature-256": sign(body)}
        )
        assert (status, answer) == (202, b"queued\n")
        event = await host.wait_type("event")
        meta = event["meta"]
        content = (
            "PR #2 *Update the README with new information.* opened by Codertocat: master ← changes, 1 commit, +1 −1\n"
            '"This is a pretty simple change that we need to pull into master."'
        )
        assert event["content"] == content
        assert list(meta)[:5] == ["path", "method", "content_type", "github_event", "delivery_id"]
        assert {k: meta[k] for k in ("preset", "event", "action", "repo", "number", "branch", "sender")} == {
            "preset": "github", "event": "pull_request", "action": "opened", "repo": "Codertocat/Hello-World",
            "number": "2", "branch": "master", "sender": "Codertocat",
        }  # fmt: skip
        saved = Path(meta["payload_path"])
        assert saved.parent == tmp_path / "state" / "inbox" and saved.read_bytes() == body
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600 and stat.S_IMODE(saved.parent.stat().st_mode) == 0o700
        assert event["rendered"] == render_channel_tag("webhook", content, meta)
        assert len(body) > 20_000 and len(content.encode()) < 200
    finally:
        await host.stop()


async def test_unknown_senders_are_delivered_exactly_as_before(tmp_path: Path) -> None:
    host, port = await start_host(tmp_path)
    try:
        body = b'{"build": 7, "status": "failed", "log": "</channel> x"}'
        headers = {"Content-Type": "application/json", "X-Event-Type": "build", "User-Agent": "ci/1.0"}
        assert (await http_request(port, "POST", "/ci?run=7", body, headers))[0] == 202
        event = await host.wait_type("event")
        assert event["content"] == body.decode()
        assert event["meta"] == {
            "path": "/ci", "method": "POST", "query": "run=7", "content_type": "application/json",
            "event_type": "build", "user_agent": "ci/1.0",
        }  # fmt: skip
        assert not (tmp_path / "state" / "inbox").exists()
    finally:
        await host.stop()


async def test_gitlab_sentry_and_alertmanager_are_recognised(tmp_path: Path) -> None:
    host, port = await start_host(tmp_path)
    try:
        posts = [
            ("/gl", payload_file("gitlab", "merge_request"), {"X-Gitlab-Event": "Merge Request Hook"}),
            ("/sentry", payload_file("sentry", "issue"), {"Sentry-Hook-Resource": "issue"}),
            ("/am", payload_file("alertmanager", "probe_failure"), {"Content-Type": "application/json"}),
        ]
        for path, body, headers in posts:
            assert (await http_request(port, "POST", path, body, headers))[0] == 202
        events = await host.wait_count("event", 3)
        assert [e["meta"]["preset"] for e in events] == ["gitlab", "sentry", "alertmanager"]
        assert events[0]["content"] == "MR !1 *MS-Viewport* opened by Administrator: master ← ms-viewport"
        assert events[1]["content"].startswith("Sentry: ReferenceError: blooopy is not defined in ?(runner)")
        assert events[2]["content"].startswith("Alert FIRING: ProbeFailure (severity=critical")
        assert all(Path(e["meta"]["payload_path"]).exists() for e in events)
    finally:
        await host.stop()


async def test_filtered_deliveries_answer_202_filtered_and_are_counted(tmp_path: Path) -> None:
    write_settings(
        tmp_path,
        {
            "routes": [
                {"path": "/gh/**", "preset": "github", "only": {"event": "workflow_run", "conclusion": "failure"}},
                {"path": "/ci", "template": "CI {{ status | upper }} on {{ branch }}", "meta": {"branch": "branch"}},
            ],
            "inbox": {"max_files": 2},
        },
    )
    host, port = await start_host(tmp_path)
    try:
        noise = json.dumps(github_examples()["workflow_run"][1]).encode()  # a success
        status, _, answer = await http_request(port, "POST", "/gh/app", noise, {"X-GitHub-Event": "workflow_run"})
        assert (status, answer) == (202, b"filtered\n")
        failed = json.loads(noise)
        failed["workflow_run"]["conclusion"] = "failure"
        assert (
            await http_request(port, "POST", "/gh/app", json.dumps(failed).encode(), {"X-GitHub-Event": "workflow_run"})
        )[0] == 202
        for status_text in ("failed", "passed", "failed"):
            body = json.dumps({"status": status_text, "branch": "main"}).encode()
            assert (await http_request(port, "POST", "/ci", body))[0] == 202
        events = await host.wait_count("event", 4)
        assert events[0]["content"].startswith("CI failed: workflow *test* on master at 3484a3f")
        assert [e["content"] for e in events[1:]] == ["CI FAILED on main", "CI PASSED on main", "CI FAILED on main"]
        assert events[1]["meta"]["preset"] == "template" and events[1]["meta"]["branch"] == "main"
        _, _, health = await http_request(port, "GET", "/healthz")
        counters = json.loads(health)
        assert counters["filtered"] == 1 and counters["received"] == 4 and counters["delivered"] == 4
        assert len(list((tmp_path / "state" / "inbox").iterdir())) == 2  # retention: max_files 2
        assert (
            Path(events[-1]["meta"]["payload_path"]).exists() and not Path(events[0]["meta"]["payload_path"]).exists()
        )
        report = json.loads((await host.call("webhook", "status", {}))["text"])
        assert report["filtered"] == 1 and report["routes"] == 2
        assert report["payload_inbox"] == str(tmp_path / "state" / "inbox")
    finally:
        await host.stop()


@pytest.mark.parametrize(
    ("settings", "env", "message"),
    [
        (
            {"routes": [{"path": "/gh", "preset": "gitub"}]},
            {},
            "webhook.json: routes[0].preset: 'gitub' is not a preset",
        ),
        ("{broken", {}, "webhook.json: not valid JSON"),
        (None, {"WEBHOOK_ROUTES": "/gh"}, "WEBHOOK_ROUTES: item 1 '/gh' is not PATH=PRESET"),
    ],
)
async def test_broken_settings_stop_the_server_at_start_naming_the_problem(
    tmp_path: Path, settings: object, env: dict[str, str], message: str
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    if settings is not None:
        (state / "webhook.json").write_text(settings if isinstance(settings, str) else json.dumps(settings))
    argv = [PYTHON, "-m", "mcp_channels", "serve", "webhook"]
    server = await RawServer(
        "webhook", env={"WEBHOOK_PORT": str(free_port()), "WEBHOOK_STATE_DIR": str(state), **env}, argv=argv
    ).start()
    try:
        assert await server.wait_exit() == 1
        stderr = server.stderr.decode()
        assert f"webhook channel: {message}" in stderr.replace(str(state) + "/", "") and "Traceback" not in stderr
    finally:
        await server.stop()

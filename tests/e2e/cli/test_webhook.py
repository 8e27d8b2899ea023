"""``mcp-channels webhook try``, run as a user runs it: a subprocess, its stdout and exit status."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from mcp_channels.protocol import render_channel_tag
from support.processes import PYTHON
from support.webhook import PAYLOADS, github_examples


def run(*args: str, state: Path, stdin: bytes = b"", **env: str) -> subprocess.CompletedProcess[str]:
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("WEBHOOK_")}
    environment = {**inherited, "WEBHOOK_STATE_DIR": str(state), **env}
    return subprocess.run(
        [PYTHON, "-m", "mcp_channels", "webhook", *args],
        input=stdin.decode(), capture_output=True, text=True, env=environment, timeout=60, check=False,
    )  # fmt: skip


def test_try_prints_the_event_as_the_host_renders_it(tmp_path: Path) -> None:
    body = tmp_path / "push.json"
    body.write_text(json.dumps(github_examples()["push"][4]))
    result = run(
        "try",
        str(body),
        "--header",
        "X-GitHub-Event: push",
        "-H",
        "Content-Type: application/json",
        "--path",
        "/gh?x=1",
        state=tmp_path / "state",
    )
    assert result.returncode == 0, result.stderr
    tag, verdict = result.stdout.split("</channel>\n")
    meta = dict(re.findall(r' (\w+)="([^"]*)"', tag.splitlines()[0]))
    assert meta.pop("source") == "webhook"
    content = "Push to Codertocat/Hello-World master by Codertocat: 1 commit (new branch)\n- 6113728 Initial commit (Codertocat)"
    assert tag + "</channel>" == render_channel_tag("webhook", content, meta)
    assert list(meta)[:5] == ["path", "method", "query", "content_type", "github_event"]
    assert meta["preset"] == "github" and meta["branch"] == "master"
    saved = Path(meta["payload_path"])
    assert saved.parent == tmp_path / "state" / "inbox" and re.fullmatch(
        r"\d{8}T[\d.]{13}Z-github-push-[0-9a-f]{8}\.json", saved.name
    )
    assert not (tmp_path / "state" / "inbox").exists()  # nothing is saved
    assert (
        verdict
        == f"preset github: {body.stat().st_size:,} body bytes → {len(content.encode()):,} content bytes\ndelivered: the sender gets 202 queued\n"
    )


def test_try_shows_unknown_senders_raw_and_reads_stdin(tmp_path: Path) -> None:
    result = run("try", "-", state=tmp_path, stdin=b"deploy </channel> done")
    assert result.returncode == 0
    assert result.stdout == (
        '<channel source="webhook" path="/" method="POST">\ndeploy <\\/channel> done\n</channel>\n'
        "no preset: the body as it came\ndelivered: the sender gets 202 queued\n"
    )


def test_try_says_when_the_filters_drop_a_delivery(tmp_path: Path) -> None:
    (tmp_path / "webhook.json").write_text(json.dumps({"routes": [{"path": "/am", "drop": {"status": "resolved"}}]}))
    resolved = json.loads((PAYLOADS / "alertmanager" / "probe_failure.json").read_text()) | {"status": "resolved"}
    (tmp_path / "am.json").write_text(json.dumps(resolved))
    result = run("try", str(tmp_path / "am.json"), "--path", "/am", state=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith('<channel source="webhook" path="/am" method="POST" preset="alertmanager"')
    assert "payload_path" not in result.stdout
    assert result.stdout.endswith(
        'filtered out (matches "drop" condition 1): the sender gets 202 filtered and the session sees nothing\n'
    )
    shown = run("try", str(tmp_path / "am.json"), "--path", "/other", state=tmp_path)
    assert shown.stdout.endswith("delivered: the sender gets 202 queued\n")


def test_try_renders_a_template_route_from_the_environment(tmp_path: Path) -> None:
    routes = json.dumps([{"path": "/ci", "template": "Build {{ status | upper }} on {{ branch }}"}])
    result = run(
        "try",
        "-",
        "--path",
        "/ci",
        state=tmp_path,
        stdin=b'{"status": "failed", "branch": "main"}',
        WEBHOOK_ROUTES=routes,
    )
    assert result.returncode == 0
    assert result.stdout.splitlines()[1] == "Build FAILED on main"


def test_an_unreadable_file_exits_1(tmp_path: Path) -> None:
    result = run("try", str(tmp_path / "missing.json"), state=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert f"cannot read {tmp_path / 'missing.json'}: No such file or directory" in result.stderr


def test_invalid_settings_exit_1_naming_the_field(tmp_path: Path) -> None:
    (tmp_path / "webhook.json").write_text(json.dumps({"routes": [{"path": "/x", "template": "{{ a | nope }}"}]}))
    result = run("try", "-", state=tmp_path)
    assert result.returncode == 1
    # the command line's one handler of user-fixable errors: the message on one line, no traceback
    assert result.stderr.startswith(
        f"mcp-channels webhook try: {tmp_path}/webhook.json: routes[0].template: unknown filter 'nope'"
    )
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "stderr"),
    [
        ([], "usage: mcp-channels webhook try"),
        (["send", "x"], "unknown command 'send'"),
        (["try"], "the following arguments are required: file"),
        (["try", "-", "--header", "no colon"], "--header 'no colon' is not 'Name: value'"),
        (["try", "-", "--path", "gh"], "--path must start with /"),
        (["try", "-", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], stderr: str) -> None:
    result = run(*args, state=tmp_path)
    assert result.returncode == 2 and stderr in result.stderr and result.stdout == ""


def test_help_is_on_stdout_and_in_the_main_usage(tmp_path: Path) -> None:
    result = run("--help", state=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("usage: mcp-channels webhook try <file|->")
    main = subprocess.run([PYTHON, "-m", "mcp_channels", "--help"], capture_output=True, text=True, check=False)
    assert "webhook try <file> [--header 'Name: value' ...] [--path /p]" in main.stdout

"""Setting Slack up as a user does: ``configure slack``, ``access slack`` and ``doctor slack``, run as
real processes through the channel registry, against the fake Slack where Slack is asked."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from fakes.slack_api import FakeSlack
from fakes.slack_session import SlackSession, fake, people, state, write_access
from mcp_channels.channels.slack import BOT_TOKEN
from support.processes import PYTHON, Finished, free_port

__all__ = ["fake", "people", "state"]  # fixtures

People = dict[str, dict[str, Any]]
BOT = "xoxb-1111111111111-2222222222222-AbCdEfGhIjKlMnOp"
APP = "xapp-1-A0ABCDEF-3333333333333-0123456789abcdef"


class Cli:
    """``mcp-channels <args>`` in a home of its own, with Slack's state in ``state``."""

    def __init__(self, root: Path, state: Path) -> None:
        self.bin = root / "bin"
        self.bin.mkdir()
        claude = self.bin / "claude"  # doctor asks Claude Code for its version
        claude.write_text('#!/bin/sh\n[ "$1" = --version ] && echo "2.1.332 (Claude Code)"\n')
        claude.chmod(0o755)
        self.managed = root / "managed-settings.json"  # absent: no org policy
        self.env = {
            "HOME": str(root / "home"),
            "PATH": os.pathsep.join([str(self.bin), str(Path(PYTHON).parent), "/usr/bin", "/bin"]),
            "SLACK_STATE_DIR": str(state),
        }

    async def __call__(self, *args: str, **env: str) -> Finished:
        process = await asyncio.create_subprocess_exec(
            PYTHON, "-m", "mcp_channels", *args, env={**self.env, **env},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode is not None
        return Finished(process.returncode, out.decode(), err.decode())

    async def doctor(self, **env: str) -> tuple[int, dict[str, dict[str, Any]]]:
        """``doctor slack --json``: its status and its checks by name (a name seen twice keeps the last)."""
        run = await self("doctor", "slack", "--json", "--managed-settings", str(self.managed), **env)
        return run.code, {check["check"]: check for check in run.json()["checks"]}


@pytest.fixture
def cli(tmp_path: Path, state: Path) -> Cli:
    return Cli(tmp_path, state)


def env_file(state: Path) -> str:
    return (state / ".env").read_text()


# --------------------------------------------------------------------------- configure


async def test_configure_takes_both_tokens_in_either_order(cli: Cli, state: Path) -> None:
    fresh = await cli("configure", "slack")
    assert fresh.code == 0 and "SLACK_BOT_TOKEN not set" in fresh.out and "SLACK_APP_TOKEN not set" in fresh.out
    assert "next:     set the bot token and the app token: `mcp-channels configure slack <bot token> <app token>`" in (
        fresh.out
    )

    saved = await cli("configure", "slack", f" {APP} ", BOT)
    assert saved.code == 0 and saved.err == "", saved
    assert BOT not in saved.out and APP not in saved.out and "xoxb-1111" in saved.out and "tokens are read" in saved.out
    assert env_file(state) == f"SLACK_APP_TOKEN={APP}\nSLACK_BOT_TOKEN={BOT}\n"
    assert stat.S_IMODE((state / ".env").stat().st_mode) == 0o600

    status = (await cli("configure", "slack", "--json")).json()
    assert [(token["key"], token["source"]) for token in status["tokens"]] == [
        ("SLACK_BOT_TOKEN", ".env"),
        ("SLACK_APP_TOKEN", ".env"),
    ]
    assert status["nextStep"].startswith("DM your bot") and BOT not in json.dumps(status)

    other = "xoxb-9-9-Replaced"
    one = (await cli("configure", "slack", other, "--json")).json()  # one alone replaces that one only
    assert one["key"] == "SLACK_BOT_TOKEN" and one["saved"] == [{"key": "SLACK_BOT_TOKEN", "masked": one["masked"]}]
    assert env_file(state) == f"SLACK_APP_TOKEN={APP}\nSLACK_BOT_TOKEN={other}\n"


async def test_configure_refuses_what_is_not_a_slack_token_and_writes_nothing(cli: Cli, state: Path) -> None:
    user_token = await cli("configure", "slack", BOT, "xoxp-1-2-3-user")
    assert user_token.code == 1 and "value 2 is none of slack's tokens (SLACK_BOT_TOKEN: from OAuth" in user_token.err
    assert "xoxp-1-2-3-user" not in user_token.err
    twice = await cli("configure", "slack", BOT, BOT)
    assert twice.code == 1 and "value 2 is a second SLACK_BOT_TOKEN" in twice.err
    spaced = await cli("configure", "slack", "xoxb-1 2", APP)
    assert spaced.code == 1 and "value 1: a token cannot be empty or contain spaces" in spaced.err
    three = await cli("configure", "slack", BOT, APP, BOT)
    assert three.code == 2 and "slack takes <bot token> <app token> (or clear), not 3 values" in three.err
    assert not (state / ".env").exists()

    await cli("configure", "slack", BOT, APP)
    cleared = (await cli("configure", "slack", "clear", "--json")).json()
    assert cleared["changed"] and cleared["key"] == "SLACK_BOT_TOKEN, SLACK_APP_TOKEN"
    assert not (state / ".env").exists()  # nothing else was in it


# --------------------------------------------------------------------------- access


async def test_access_takes_member_and_channel_ids_only(cli: Cli, state: Path) -> None:
    assert (await cli("access", "slack", "allow", "U0123ABCDEF")).code == 0
    for name in ("alice", "@alice", "C0123ABCDEF"):
        refused = await cli("access", "slack", "allow", name)
        assert refused.code == 1 and f"{name!r} is not a Slack member id: give <member id, like U0123ABCDEF>" in (
            refused.err
        )
    channel = await cli("access", "slack", "group", "add", "#eng")
    assert channel.code == 1 and "'#eng' is not a Slack group id: give <channel id, like C0123ABCDEF>" in channel.err
    member = await cli("access", "slack", "group", "add", "C0ENG", "--allow", "U0123ABCDEF,bob")
    assert member.code == 1 and "'bob' is not a Slack member id" in member.err
    added = await cli("access", "slack", "group", "add", "C0ENG", "--allow", "U0123ABCDEF,W0ENTERPRISE")
    assert added.code == 0, added
    access = json.loads((state / "access.json").read_text())
    assert access["allowFrom"] == ["U0123ABCDEF"]
    assert access["groups"] == {"C0ENG": {"requireMention": True, "allowFrom": ["U0123ABCDEF", "W0ENTERPRISE"]}}
    no_threads = await cli("access", "slack", "set", "replyToMode", "all")
    assert no_threads.code == 1 and "slack has no setting 'replyToMode'" in no_threads.err
    status = await cli("access", "slack")
    assert "textChunkLimit=4000 (default)" in status.out and "replyToMode" not in status.out


# --------------------------------------------------------------------------- doctor


async def test_doctor_finds_a_healthy_setup(cli: Cli, fake: FakeSlack, state: Path) -> None:
    state.mkdir(mode=0o700)
    (state / ".env").write_text(f"SLACK_BOT_TOKEN={fake.bot_token}\nSLACK_APP_TOKEN={fake.app_token}\n")
    (state / ".env").chmod(0o600)
    write_access(state, dmPolicy="allowlist", allowFrom=["U0123ABCDEF"])
    (state / "access.json").chmod(0o600)
    code, checks = await cli.doctor(SLACK_API_BASE=fake.api_base)
    assert code == 0, checks
    assert {"bot token", "app token", "auth", "socket mode", "receiver", "library", "sessions"} <= set(checks)
    assert {check["status"] for check in checks.values()} == {"ok"}, checks
    assert checks["bot token"]["message"] == (
        f"SLACK_BOT_TOKEN xoxb-1111… ({len(fake.bot_token)} chars) from {state / '.env'}"
    )
    assert checks["auth"]["message"] == "SLACK_BOT_TOKEN signs in as @claude in Fake Workspace"
    assert checks["socket mode"]["message"] == "SLACK_APP_TOKEN may open Socket Mode connections"
    assert checks["receiver"]["message"] == "no session is receiving this Slack app's events right now"
    assert checks["library"]["message"].startswith("slack-sdk 3.")
    assert fake.connections == {}  # the app token was checked without connecting


async def test_doctor_says_which_token_is_missing_wrong_or_refused(cli: Cli, fake: FakeSlack, state: Path) -> None:
    code, missing = await cli.doctor(SLACK_API_BASE=fake.api_base)
    assert code == 1
    assert missing["bot token"]["status"] == "fail" and missing["app token"]["status"] == "fail"
    assert missing["app token"]["fix"] == (
        "mcp-channels configure slack <app token>  (from Basic Information → App-Level Tokens, with the "
        "connections:write scope, like xapp-1-A0123ABCDEF-1234567890123-0123abcd...)"
    )
    assert "auth" not in missing and "receiver" not in missing and fake.calls == []

    swapped = {"SLACK_BOT_TOKEN": fake.app_token, "SLACK_APP_TOKEN": fake.bot_token}
    code, wrong = await cli.doctor(SLACK_API_BASE=fake.api_base, **swapped)
    assert code == 1 and wrong["bot token"]["status"] == wrong["app token"]["status"] == "fail"
    assert "does not look like a Slack bot token" in wrong["bot token"]["message"]
    assert fake.calls == []  # a token of the wrong kind is not sent to Slack

    fake.revoke(fake.bot_token)
    tokens = {"SLACK_BOT_TOKEN": fake.bot_token, "SLACK_APP_TOKEN": "xapp-1-A0X-1-abc"}
    code, refused = await cli.doctor(SLACK_API_BASE=fake.api_base, **tokens)
    assert code == 1
    assert refused["auth"] == {
        "check": "auth",
        "status": "fail",
        "message": "Slack refused SLACK_BOT_TOKEN (token_revoked: the token was revoked (the app was uninstalled, "
        "or the token regenerated))",
        "fix": f"mcp-channels configure slack <bot token>  ({BOT_TOKEN.hint})",
    }
    assert refused["socket mode"]["message"] == (
        "Slack refused SLACK_APP_TOKEN (invalid_auth: Slack does not recognise the token)"
    )

    nowhere = f"http://127.0.0.1:{free_port()}/api"
    code, unreachable = await cli.doctor(SLACK_API_BASE=nowhere, **tokens)
    assert unreachable["auth"]["status"] == unreachable["socket mode"]["status"] == "warn"
    assert unreachable["auth"]["message"].startswith(f"could not ask Slack ({nowhere}/auth.test)")
    code, bad_base = await cli.doctor(SLACK_API_BASE="slack.com/api", **tokens)
    assert code == 1 and bad_base["api base"]["status"] == "fail"


async def test_doctor_names_the_session_that_receives(
    cli: Cli, fake: FakeSlack, state: Path, tmp_path: Path, people: People
) -> None:
    write_access(state, allowFrom=[people["alice"]["id"]])
    session = await SlackSession(fake, state, tmp_path / "host", HOME=cli.env["HOME"]).start()
    try:
        code, checks = await cli.doctor(
            SLACK_API_BASE=fake.api_base, SLACK_BOT_TOKEN=fake.bot_token, SLACK_APP_TOKEN=fake.app_token
        )
        assert code == 0, checks
    finally:
        await session.stop()
    receiver, sessions = checks["receiver"]["message"], checks["sessions"]["message"]
    assert receiver.startswith("pid ") and receiver.endswith(
        "serve slack) receives this Slack app's events; another session only sends until it exits"
    )
    pid = receiver.split()[1]
    # The same server, seen by the sessions check: a `serve slack` under the host, which delivers.
    assert sessions.startswith(f"pid {pid} slack as slack: delivering"), sessions

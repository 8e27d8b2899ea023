"""The Slack channel's pure parts and its ready-to-wire functions: markup both ways, emoji names,
token checks, the facts declaration, and the ``doctor`` checks (against the fake Slack over HTTP)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fakes.slack_api import SCOPES, FakeSlack
from helpers import free_port
from mcp_channels.channels import slack
from mcp_channels.channels.slack._credentials import save_tokens, token_doubt, token_problem
from mcp_channels.channels.slack._doctor import DoctorCheck, doctor_checks, online_checks, token_checks
from mcp_channels.channels.slack._emoji import reaction_name
from mcp_channels.channels.slack._facts import APP_TOKEN, BOT_TOKEN, FACTS
from mcp_channels.channels.slack._markup import mentioned_user_ids, plain_text, unescape
from mcp_channels.channels.slack._mrkdwn import escape, markdown_to_mrkdwn, outgoing_texts, to_slack, without_broadcasts
from mcp_channels.poller_lock import PollerLock

# --------------------------------------------------------------------------- Slack markup in


def test_markup_becomes_plain_text() -> None:
    names = {"U1": "alice", "U2": "b<o>b\nx"}
    cases = {
        "<@U1> hi": "@alice hi",
        "<@U2>": "@b_o_b_x",  # a display name cannot forge a tag or a line
        "<@U9|legacy>": "@legacy",
        "<@U9>": "@U9",
        "<#C1|general> <#C2> <#C3|>": "#general #C2 #C3",
        "<https://a.b/c?d=1&amp;e=2>": "https://a.b/c?d=1&e=2",
        "<https://a.b|a.b> <https://a.b|https://a.b> <https://a.b|docs>": "a.b https://a.b docs (https://a.b)",
        "<!here|here> <!everyone> <!subteam^S1|@ops> <!subteam^S2|ops> <!subteam^S3>": "@here @everyone @ops @ops @S3",
        "<!date^1392734382^{date_num}|2014-02-18> <!unknown>": "2014-02-18 @unknown",
        "a &lt;b&gt; &amp;lt; &amp;": "a <b> &lt; &",
    }
    for text, expected in cases.items():
        assert plain_text(text, names) == expected, text
    assert mentioned_user_ids("<@U1> <@W2|x> <@U1> <#C1>") == ["U1", "W2"]


@given(st.text())
def test_text_format_round_trips_and_can_hold_no_markup(text: str) -> None:
    sent = to_slack(text, "text")
    assert "<" not in sent and ">" not in sent
    assert unescape(sent) == text


@given(st.text(alphabet=st.sampled_from("<>!@&|*_~`[]()#-:/ hUCSa\n"), max_size=80))
def test_markdown_can_never_mention_or_page(text: str) -> None:
    sent = to_slack(text, "markdown")
    assert "<!" not in sent and "<@" not in sent and "<#" not in sent


@given(st.text(alphabet=st.sampled_from("<>!@&|^heryonchalsubtmS1 "), max_size=80))
def test_mrkdwn_keeps_mentions_but_never_pages(text: str) -> None:
    sent = without_broadcasts(text)
    for broadcast in ("<!here", "<!channel", "<!everyone", "<!subteam"):
        assert broadcast not in sent


# --------------------------------------------------------------------------- Markdown out


def test_markdown_becomes_mrkdwn() -> None:
    cases = {
        "**bold** __also__ *it* _it_ ~~gone~~": "*bold* *also* _it_ _it_ ~gone~",
        "`a < b && c` and ``x`y``": "`a &lt; b &amp;&amp; c` and `x`y`",
        "[docs](https://x.y/?a=1&b=2) [local](./a.py) <https://z.w>": "<https://x.y/?a=1&amp;b=2|docs> local (./a.py) <https://z.w>",
        "# Title\n## Sub ##": "*Title*\n*Sub*",
        "- one\n  * two\n+ three": "• one\n  • two\n• three",
        "> quoted <b>": "> quoted &lt;b&gt;",
        "---": "──────────",
        "snake_case_name and 2*3*4": "snake_case_name and 2*3*4",
        "```python\nif a < b and **c**:\n```": "```\nif a &lt; b and **c**:\n```",
    }
    for markdown, expected in cases.items():
        assert markdown_to_mrkdwn(markdown) == expected, markdown
    assert escape("a&b<c>d") == "a&amp;b&lt;c&gt;d"


def test_a_code_block_cut_between_messages_stays_code_in_both() -> None:
    text = "intro\n```\n" + "\n".join(f"line {n}" for n in range(30)) + "\n```\noutro"
    pieces = outgoing_texts(text, "markdown", 60, "newline")
    assert len(pieces) > 2
    assert all(piece.count("```") % 2 == 0 for piece in pieces)
    assert pieces[1].startswith("```\n") and pieces[0].endswith("\n```")
    plain = outgoing_texts(text, "text", 60, "newline")
    assert "".join(plain).count("```") == 2  # as typed: nothing added


# --------------------------------------------------------------------------- emoji


def test_reaction_names() -> None:
    assert [
        reaction_name(e) for e in ("👍", "❤️", "❤", " 👀 ", ":tada:", "partyparrot", "+1", "thumbsup::skin-tone-3")
    ] == [
        "+1",
        "heart",
        "heart",
        "eyes",
        "tada",
        "partyparrot",
        "+1",
        "thumbsup::skin-tone-3",
    ]
    assert reaction_name("🦩") is None and reaction_name(":not a name:") is None and reaction_name("") is None


# --------------------------------------------------------------------------- tokens and facts


def test_token_problems_name_the_right_token() -> None:
    bot = "xoxb-1111111111111-2222222222222-AbCdEf"
    app = "xapp-1-A0ABC-3333333333333-0123abcdef"
    assert token_problem(BOT_TOKEN, bot) is None and token_problem(APP_TOKEN, app) is None
    assert token_doubt(BOT_TOKEN, bot) is None and token_doubt(APP_TOKEN, app) is None
    assert token_problem(APP_TOKEN, bot) == (
        "SLACK_APP_TOKEN is a bot token, not a app-level token: SLACK_APP_TOKEN takes the app-level token (xapp-…) "
        "from Basic Information → App-Level Tokens, with the connections:write scope; it looks like the "
        "SLACK_BOT_TOKEN: are the two swapped?"
    )
    assert "token rotation is on" in (token_problem(BOT_TOKEN, "xoxe.xoxb-1-abc") or "")
    assert token_problem(BOT_TOKEN, "hunter2") == (
        "SLACK_BOT_TOKEN does not start with xoxb-: SLACK_BOT_TOKEN takes the bot token (xoxb-…) from "
        "OAuth & Permissions → Bot User OAuth Token"
    )
    assert token_problem(BOT_TOKEN, "xoxb-1 2") == "SLACK_BOT_TOKEN contains spaces or line breaks"
    assert token_doubt(BOT_TOKEN, "xoxb-short") == (
        "SLACK_BOT_TOKEN does not look like a Slack bot token (xoxb-1234567890123-1234567890123-AbCdEf...)"
    )


def test_save_tokens_writes_both_or_neither(tmp_path: Path) -> None:
    state = tmp_path / "slack"
    with pytest.raises(ValueError, match="SLACK_BOT_TOKEN is an app-level token"):
        save_tokens(state, "xapp-1-A1-2-ab", "xapp-1-A1-2-ab")
    assert not (state / ".env").exists()
    doubts = save_tokens(state, " xoxb-1-2-abc ", "xapp-1-short")
    assert (state / ".env").read_text() == "SLACK_BOT_TOKEN=xoxb-1-2-abc\nSLACK_APP_TOKEN=xapp-1-short\n"
    assert (state / ".env").stat().st_mode & 0o777 == 0o600 and state.stat().st_mode & 0o777 == 0o700
    assert doubts == [
        "SLACK_APP_TOKEN does not look like a Slack app-level token (xapp-1-A0123ABCDEF-1234567890123-0123abcd...)"
    ]


def test_the_package_shows_one_face_and_imports_no_platform_library() -> None:
    assert sorted(slack.__all__) == ["FACTS", "INSTRUCTIONS", "build", "main"]
    assert FACTS.name == "slack" and FACTS.extra == "slack" and FACTS.library == "slack-sdk"
    assert [spec.key for spec in FACTS.tokens] == ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"]
    assert FACTS.message_limit == 4000 and "replyToMode" not in FACTS.settable
    probe = "import sys, mcp_channels.channels.slack; print(sorted(m for m in sys.modules if m.startswith('slack')))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert 'source="plugin:slack:slack"' in slack.INSTRUCTIONS and 'source="slack"' in slack.INSTRUCTIONS


# --------------------------------------------------------------------------- doctor


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = await FakeSlack().start()
    yield server
    await server.stop()


def env_for(fake: FakeSlack, state: Path, **overrides: str) -> dict[str, str]:
    return {
        "SLACK_STATE_DIR": str(state),
        "SLACK_API_BASE": fake.api_base,
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_APP_TOKEN": fake.app_token,
        **overrides,
    }


def statuses(checks: list[DoctorCheck]) -> list[tuple[str, str]]:
    return [(check.check, check.status) for check in checks]


async def test_doctor_checks_the_tokens_offline_and_with_slack(fake: FakeSlack, tmp_path: Path) -> None:
    state = tmp_path / "slack"
    good = await asyncio.to_thread(doctor_checks, env_for(fake, state))
    assert statuses(good) == [
        ("bot token", "ok"),
        ("app token", "ok"),
        ("slack", "ok"),
        ("socket mode", "ok"),
        ("receiver", "ok"),
    ]
    assert good[0].message == f"SLACK_BOT_TOKEN xoxb-1111… ({len(fake.bot_token)} chars) from the environment"
    assert good[2].message == "SLACK_BOT_TOKEN signs in as @claude in Fake Workspace"
    assert fake.connections == {}  # the app token was checked without connecting

    missing = token_checks({"SLACK_STATE_DIR": str(state)})
    assert statuses(missing) == [("bot token", "fail"), ("app token", "fail")]
    assert missing[0].message == f"SLACK_BOT_TOKEN is not set (neither in the environment nor in {state / '.env'})"
    assert missing[0].fix == (
        "mcp-channels configure slack <xoxb-…> <xapp-…>  (bot token: OAuth & Permissions → Bot User OAuth Token)"
    )
    swapped = token_checks(env_for(fake, state, SLACK_BOT_TOKEN=fake.app_token, SLACK_APP_TOKEN="xapp-1-short"))
    assert statuses(swapped) == [("bot token", "fail"), ("app token", "warn")]

    fake.revoke(fake.bot_token)
    refused = await asyncio.to_thread(online_checks, env_for(fake, state, SLACK_APP_TOKEN="xapp-1-A0X-1-abc"))
    assert statuses(refused) == [("slack", "fail"), ("socket mode", "fail")]
    assert refused[0].message == (
        "Slack refused SLACK_BOT_TOKEN (token_revoked: the token was revoked (the app was uninstalled, or the "
        "token regenerated))"
    )
    assert refused[1].message == "Slack refused SLACK_APP_TOKEN (invalid_auth: Slack does not recognise the token)"

    unreachable = await asyncio.to_thread(
        online_checks, env_for(fake, state, SLACK_API_BASE=f"http://127.0.0.1:{free_port()}/api/")
    )
    assert statuses(unreachable) == [("slack", "warn"), ("socket mode", "warn")]
    assert statuses(online_checks(env_for(fake, state, SLACK_API_BASE="slack.com/api"))) == [("api base", "fail")]


async def test_doctor_names_the_receiving_session(fake: FakeSlack, tmp_path: Path) -> None:
    state = tmp_path / "slack"
    state.mkdir()
    hold = (
        "import sys; from pathlib import Path; from mcp_channels.poller_lock import PollerLock\n"
        "lock = PollerLock(Path(sys.argv[1]), sys.argv[2]); print(lock.acquire(), flush=True); sys.stdin.read()"
    )
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", hold, str(state), fake.app_token, "slack",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert await asyncio.wait_for(holder.stdout.readline(), 10) == b"True\n"
        checks = doctor_checks(env_for(fake, state), online=False)
        receiver = checks[-1]
        assert receiver.check == "receiver" and receiver.message.startswith(f"pid {holder.pid} (")
        assert "receives this Slack app's events" in receiver.message
        assert not PollerLock(state, fake.app_token).acquire()
    finally:
        holder.kill()
        await holder.wait()
    assert doctor_checks(env_for(fake, state), online=False)[-1].message == (
        "no session is receiving this Slack app's events right now"
    )


def test_the_readme_manifest_grants_what_the_channel_uses() -> None:
    """The app manifest users paste: the scopes the fake Slack checks, the events the channel handles."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n### slack\n", 1)[1]
    manifest = yaml.safe_load(textwrap.dedent(section.split("```yaml\n", 1)[1].split("```", 1)[0]))
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == SCOPES
    settings = manifest["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "message.im",
        "message.channels",
        "message.groups",
        "app_mention",
    }
    assert settings["socket_mode_enabled"] is True and settings["interactivity"]["is_enabled"] is True
    assert settings["token_rotation_enabled"] is False
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
    assert manifest["features"]["app_home"]["messages_tab_read_only_enabled"] is False

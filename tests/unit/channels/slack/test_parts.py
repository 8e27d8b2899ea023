"""The Slack channel's pure parts: markup both ways, emoji names, token checks and settings, the facts
declaration, and the app manifest the README gives."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fakes.slack_api import SCOPES
from mcp_channels.channels.slack import APP_TOKEN, BOT_TOKEN, FACTS
from mcp_channels.channels.slack._channel import INSTRUCTIONS
from mcp_channels.channels.slack._emoji import reaction_name
from mcp_channels.channels.slack._markup import mentioned_user_ids, plain_text, unescape
from mcp_channels.channels.slack._mrkdwn import escape, markdown_to_mrkdwn, outgoing_texts, to_slack, without_broadcasts
from mcp_channels.channels.slack._settings import SlackSettings, token_problem
from mcp_channels.errors import ConfigurationError
from support import REPO

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
    assert token_problem(BOT_TOKEN, "xoxb-short") is None  # the prefix decides; Slack may lengthen its tokens
    app_wanted = f"SLACK_APP_TOKEN takes the app token ({APP_TOKEN.hint})"
    assert token_problem(APP_TOKEN, bot) == f"SLACK_APP_TOKEN is the bot token: {app_wanted}; are the two swapped?"
    assert "token rotation is on" in (token_problem(BOT_TOKEN, "xoxe.xoxb-1-abc") or "")
    assert token_problem(BOT_TOKEN, "hunter2") == (
        f"SLACK_BOT_TOKEN does not look like a Slack bot token: SLACK_BOT_TOKEN takes the bot token ({BOT_TOKEN.hint})"
    )
    assert token_problem(BOT_TOKEN, "xoxb-1 2") == "SLACK_BOT_TOKEN contains spaces or line breaks"


def test_settings_read_both_tokens_and_the_api_base(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-1-2-file\nSLACK_APP_TOKEN=xapp-1-A1-2-file\n")
    env = {
        "SLACK_STATE_DIR": str(tmp_path),
        "SLACK_BOT_TOKEN": "xoxb-1-2-env",
        "SLACK_API_BASE": "http://127.0.0.1:9/api/",
    }
    settings = SlackSettings.from_environ(env)
    assert (settings.bot_token, settings.app_token) == ("xoxb-1-2-env", "xapp-1-A1-2-file")  # the environment wins
    assert settings.api_base == "http://127.0.0.1:9/api" and settings.progress == "reaction"
    assert SlackSettings.from_environ({**env, "SLACK_PROGRESS": " Status "}).progress == "status"
    with pytest.raises(ConfigurationError, match="SLACK_PROGRESS='typing' is not one of reaction, status, off"):
        SlackSettings.from_environ({**env, "SLACK_PROGRESS": "typing"})


def test_the_package_shows_its_facts_and_imports_no_platform_library(tmp_path: Path) -> None:
    assert FACTS.name == "slack" and FACTS.library is not None and FACTS.library.extra == "slack"
    assert [token.variable for token in FACTS.tokens] == ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"]
    assert FACTS.message_limit == 4000 and FACTS.access is not None
    assert FACTS.access.settable is not None and "replyToMode" not in FACTS.access.settable
    probe = (
        "import sys\nfrom mcp_channels.channels import build\n"
        "build('slack', {'SLACK_BOT_TOKEN': 'xoxb-1-2-a', 'SLACK_APP_TOKEN': 'xapp-1-A1-2-b', "
        f"'SLACK_STATE_DIR': {str(tmp_path)!r}}})\n"
        "print(sorted(m for m in sys.modules if m.startswith(('slack', 'aiohttp'))))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert result.stdout.strip() == "[]", result.stderr  # built (tools declared) before slack_sdk is loaded
    assert 'source="plugin:slack:slack"' in INSTRUCTIONS and 'source="slack"' in INSTRUCTIONS


def test_the_readme_manifest_grants_what_the_channel_uses() -> None:
    """The app manifest users paste: the scopes the fake Slack checks, the events the channel handles."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
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

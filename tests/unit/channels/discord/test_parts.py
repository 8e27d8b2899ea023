"""The Discord channel's pure pieces: settings, rounding, the recent-sent memory, clipping."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_channels.channels.discord._inbound import RecentlySent, kilobytes
from mcp_channels.channels.discord._settings import DiscordSettings
from mcp_channels.channels.discord._tools import _megabytes
from mcp_channels.errors import ConfigurationError
from mcp_channels.text import fit, saved_file_name, text_length

DEFAULT_API_BASE = DiscordSettings.DEFAULT_API_BASE


def test_token_from_environment_wins_over_the_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DISCORD_BOT_TOKEN=from-file\n")
    env = {"DISCORD_STATE_DIR": str(tmp_path)}
    assert DiscordSettings.from_environ(env).token == "from-file"
    settings = DiscordSettings.from_environ({**env, "DISCORD_BOT_TOKEN": " from-env \n"})
    assert (settings.token, settings.api_base, settings.state_dir) == ("from-env", DEFAULT_API_BASE, tmp_path)


def test_api_base_is_normalised_and_checked(tmp_path: Path) -> None:
    env = {"DISCORD_STATE_DIR": str(tmp_path), "DISCORD_BOT_TOKEN": "t"}
    assert DiscordSettings.from_environ({**env, "DISCORD_API_BASE": "http://127.0.0.1:9/api/"}).api_base == (
        "http://127.0.0.1:9/api"
    )
    for bad in ("127.0.0.1:9", "file:///tmp/x", "http://"):
        with pytest.raises(ConfigurationError, match="is not an http"):
            DiscordSettings.from_environ({**env, "DISCORD_API_BASE": bad})


def test_whitespace_token_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="DISCORD_BOT_TOKEN required"):
        DiscordSettings.from_environ({"DISCORD_STATE_DIR": str(tmp_path), "DISCORD_BOT_TOKEN": "  "})


@pytest.mark.parametrize(("size", "shown"), [(0, 0), (511, 0), (512, 1), (1536, 2), (2560, 3), (1024 * 1024, 1024)])
def test_kilobytes_round_half_up_like_javascript(size: int, shown: int) -> None:
    assert kilobytes(size) == shown


@pytest.mark.parametrize(
    ("size", "shown"), [(26 * 1024 * 1024, "26.0"), (int(25.25 * 1024 * 1024), "25.3"), (1024 * 1024 - 1, "1.0")]
)
def test_megabytes_round_half_up_like_javascript(size: int, shown: str) -> None:
    assert _megabytes(size) == shown


def test_recently_sent_forgets_the_oldest() -> None:
    sent = RecentlySent(limit=3)
    for message_id in ("1", "2", "3", "4"):
        sent.add(message_id)
    assert "1" not in sent and all(i in sent for i in ("2", "3", "4"))
    sent.add("5")
    assert "2" not in sent and "5" in sent


def test_fit_keeps_a_prompt_within_one_message() -> None:
    assert fit("short", 2000, units="utf16") == "short"
    clipped = fit("🔐" + "x" * 3000, 2000, units="utf16")
    assert clipped.endswith("…") and text_length(clipped, "utf16") == 2000
    assert fit("y" * 2000, 2000, units="utf16") == "y" * 2000


@pytest.mark.parametrize(
    ("name", "extension"),
    [("photo.PNG", "PNG"), ("archive.tar.gz", "gz"), ("noext", "bin"), ("x.!!", "bin"), ("a.p-d_f", "pdf")],
)
def test_download_extension_is_sanitised(name: str, extension: str) -> None:
    assert saved_file_name("1", name).endswith(f"-1.{extension}")

"""State directory and ``.env`` credentials."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from mcp_channels.state import (
    atomic_write,
    credential,
    ensure_private_dir,
    mask_secret,
    parse_env,
    read_env_file,
    set_env_key,
    state_dir,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_state_dir_overrides_in_order() -> None:
    home = {"HOME": "/home/u"}
    assert state_dir("discord", home) == Path("/home/u/.claude/channels/discord")
    assert state_dir("discord", {**home, "CLAUDE_CONFIG_DIR": "/cfg"}) == Path("/cfg/channels/discord")
    both = {**home, "CLAUDE_CONFIG_DIR": "/cfg", "DISCORD_STATE_DIR": "/bots/two"}
    assert state_dir("discord", both) == Path("/bots/two")
    assert state_dir("imessage", {**home, "IMESSAGE_STATE_DIR": "~/im"}) == Path("~/im").expanduser()


def test_private_dir_and_atomic_write(tmp_path: Path) -> None:
    directory = ensure_private_dir(tmp_path / "a" / "b")
    assert mode(directory) == 0o700
    directory.chmod(0o755)
    ensure_private_dir(directory)
    assert mode(directory) == 0o700
    target = directory / "f"
    atomic_write(target, "one")
    atomic_write(target, b"two")
    assert target.read_text() == "two" and mode(target) == 0o600
    assert [p.name for p in directory.iterdir()] == ["f"]  # no temp file left behind


def test_parse_env_tolerates_what_people_write() -> None:
    text = (
        "\ufeff# a comment\r\n"
        "PLAIN=abc\r\n"
        "export EXPORTED=def\n"
        "SPACED = ghi  \n"
        'DOUBLE="a \\"quoted\\" #value" # trailing comment\n'
        "SINGLE='lit\\n#eral'\n"
        "COMMENTED=value # note\n"
        "HASH=a#b\n"
        "EMPTY=\n"
        "   \n"
        "not a line\n"
        "TELEGRAM_BOT_TOKEN=123456789:AAH_abc-def\r\n"
    )
    assert parse_env(text) == {
        "PLAIN": "abc",
        "EXPORTED": "def",
        "SPACED": "ghi",
        "DOUBLE": 'a "quoted" #value',
        "SINGLE": "lit\\n#eral",
        "COMMENTED": "value",
        "HASH": "a#b",
        "EMPTY": "",
        "TELEGRAM_BOT_TOKEN": "123456789:AAH_abc-def",
    }


def test_read_env_file_makes_it_private_every_time(tmp_path: Path) -> None:
    assert read_env_file(tmp_path) == {}
    env = tmp_path / ".env"
    env.write_text("K=v\n")
    env.chmod(0o644)
    assert read_env_file(tmp_path) == {"K": "v"}
    assert mode(env) == 0o600
    env.chmod(0o666)
    read_env_file(tmp_path)
    assert mode(env) == 0o600


def test_real_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TOKEN=from-file\n")
    assert credential("TOKEN", tmp_path, {}) == "from-file"
    assert credential("TOKEN", tmp_path, {"TOKEN": "from-env"}) == "from-env"
    assert credential("OTHER", tmp_path, {}) is None


def test_set_env_key_keeps_other_lines(tmp_path: Path) -> None:
    env = tmp_path / "state" / ".env"
    set_env_key(env.parent, "TOKEN", "one")
    assert env.read_text() == "TOKEN=one\n"
    assert mode(env) == 0o600 and mode(env.parent) == 0o700
    env.write_text("# mine\r\nOTHER=x\r\nexport TOKEN=old\r\nTOKEN=dup\r\n")
    set_env_key(env.parent, "TOKEN", "two")
    assert env.read_text() == "# mine\nOTHER=x\nTOKEN=two\n"
    set_env_key(env.parent, "TOKEN", None)
    assert env.read_text() == "# mine\nOTHER=x\n"
    assert read_env_file(env.parent) == {"OTHER": "x"}


def test_set_env_key_deletes_a_file_left_empty(tmp_path: Path) -> None:
    set_env_key(tmp_path, "TOKEN", "one")
    set_env_key(tmp_path, "TOKEN", None)
    assert not (tmp_path / ".env").exists()
    set_env_key(tmp_path, "TOKEN", None)  # clearing twice is fine


@pytest.mark.parametrize("value", ["has space", " lead", "trail ", 'q"uote', "'single", "x #y", "back\\slash #"])
def test_set_env_key_round_trips_awkward_values(tmp_path: Path, value: str) -> None:
    set_env_key(tmp_path, "K", value)
    assert read_env_file(tmp_path) == {"K": value}


def test_set_env_key_refuses_injection(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="line break"):
        set_env_key(tmp_path, "K", "a\nEVIL=1")
    with pytest.raises(ValueError, match=r"not a valid \.env key"):
        set_env_key(tmp_path, "BAD KEY", "v")
    assert not (tmp_path / ".env").exists()


def test_mask_secret_shows_only_a_prefix() -> None:
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    masked = mask_secret(token, 10)
    assert masked.startswith("123456789:") and "AAHdqTcv" not in masked and str(len(token)) in masked
    assert mask_secret("short") == "******** (5 chars)"


@pytest.mark.parametrize(
    ("secret", "shown"),
    [("hunter2xx", ""), ("0123456789abcdef", "0123"), ("123456789:" + "A" * 36, "123456789:")],
)
def test_mask_secret_never_shows_much(secret: str, shown: str) -> None:
    masked = mask_secret(secret, 10)
    assert f"({len(secret)} chars)" in masked
    prefix = masked.split("…")[0] if "…" in masked else ""
    assert prefix == shown and len(prefix) <= len(secret) // 4

"""Outbound guards: which chats a tool may target, which files it may send."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from mcp_channels.access import Access, GroupPolicy
from mcp_channels.errors import ToolError
from mcp_channels.outbound import MB, assert_chat_allowed, check_files


def test_only_allowlisted_dms_and_opted_in_groups_are_targets() -> None:
    access = Access(dm_policy="disabled", allow_from=["1"], groups={"-100": GroupPolicy()})
    assert_chat_allowed(access, "1", channel="telegram")  # dmPolicy is not consulted
    assert_chat_allowed(access, "-100", channel="telegram")
    assert_chat_allowed(access, "self-chat", channel="imessage", extra_allowed=iter(["self-chat"]))
    with pytest.raises(ToolError, match=r"^chat 2 is not allowlisted — add via /discord:access$"):
        assert_chat_allowed(access, "2", channel="discord")


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    tmp_path = tmp_path.resolve()
    state = tmp_path / "state"
    (state / "inbox").mkdir(parents=True)
    (state / ".env").write_text("TELEGRAM_BOT_TOKEN=secret\n")
    (state / "access.json").write_text("{}")
    (state / "inbox" / "photo.jpg").write_bytes(b"jpg")
    outside = tmp_path / "work"
    outside.mkdir()
    (outside / "report.txt").write_text("report")
    return {"state": state, "outside": outside}


def check(paths: list[Path | str], state: Path, **kwargs: object) -> list[Path]:
    options: dict[str, object] = {"max_bytes": MB, **kwargs}
    return check_files([str(p) for p in paths], state_dir=state, **options)  # type: ignore[arg-type]


def test_ordinary_files_pass_with_their_real_paths(layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    state, outside = layout["state"], layout["outside"]
    link = outside / "link.txt"
    link.symlink_to(outside / "report.txt")
    monkeypatch.chdir(outside)
    assert check(["report.txt", link, state / "inbox" / "photo.jpg"], state) == [
        outside / "report.txt",
        outside / "report.txt",
        state / "inbox" / "photo.jpg",
    ]
    assert check([], state) == []


@pytest.mark.parametrize("name", [".env", "access.json"])
def test_state_files_are_refused_however_they_are_named(layout: dict[str, Path], name: str) -> None:
    state, outside = layout["state"], layout["outside"]
    link = outside / f"innocent-{name}"
    link.symlink_to(state / name)
    sneaky = state / "inbox" / ".." / name
    inbox_link = state / "inbox" / f"link-{name}"
    inbox_link.symlink_to(state / name)
    for path in (state / name, link, sneaky, inbox_link):
        with pytest.raises(ToolError, match=f"^{re.escape(f'refusing to send channel state: {path}')}$"):
            check([path], state)


def test_a_symlinked_state_dir_is_resolved_too(layout: dict[str, Path], tmp_path: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(layout["state"])
    with pytest.raises(ToolError, match="refusing to send channel state"):
        check([layout["state"] / ".env"], alias)
    with pytest.raises(ToolError, match="refusing to send channel state"):
        check([alias / ".env"], layout["state"])


def test_inbox_can_be_closed(layout: dict[str, Path]) -> None:
    with pytest.raises(ToolError, match="refusing to send channel state"):
        check([layout["state"] / "inbox" / "photo.jpg"], layout["state"], allow_inbox=False)


def test_missing_and_odd_files(layout: dict[str, Path]) -> None:
    state, outside = layout["state"], layout["outside"]
    with pytest.raises(ToolError, match=f"^{re.escape(f'file not found: {outside}/nope.txt')}$"):
        check([outside / "nope.txt"], state)
    dangling = outside / "dangling"
    dangling.symlink_to(outside / "gone")
    with pytest.raises(ToolError, match=r"^file not found: "):
        check([dangling], state)
    with pytest.raises(ToolError, match=f"^{re.escape(f'not a regular file: {outside}')}$"):
        check([outside], state)
    assert check([outside / "report.txt"], state / "does-not-exist") == [outside / "report.txt"]


def test_size_cap_with_official_rounding(layout: dict[str, Path]) -> None:
    big = layout["outside"] / "big.bin"
    with big.open("wb") as handle:
        handle.truncate(MB + MB // 4)  # 1.25 MB: JavaScript's toFixed(1) says 1.3, Python's round says 1.2
    with pytest.raises(ToolError, match=f"^{re.escape(f'file too large: {big} (1.3MB, max 1MB)')}$"):
        check([big], layout["state"])
    assert check([big], layout["state"], max_bytes=2 * MB) == [big]


def test_every_file_is_checked_before_any_is_accepted(layout: dict[str, Path]) -> None:
    state, outside = layout["state"], layout["outside"]
    good = outside / "report.txt"
    for bad, message in [
        (outside / "missing", "file not found"),
        (state / ".env", "refusing to send channel state"),
    ]:
        with pytest.raises(ToolError, match=message):
            check([good, good, bad], state)


# --------------------------------------------------------------------------- what no channel may send


@pytest.fixture
def machine(tmp_path: Path) -> dict[str, Path]:
    """A home with Claude Code's files and two channels' state, and the environment naming them."""
    root = tmp_path.resolve()
    home = root / "home"
    channels = home / ".claude" / "channels"
    for channel in ("telegram", "discord"):
        (channels / channel / "inbox").mkdir(parents=True)
        (channels / channel / ".env").write_text(f"{channel.upper()}_BOT_TOKEN=secret\n")
        (channels / channel / "inbox" / "photo.jpg").write_bytes(b"jpg")
    (home / ".claude" / ".credentials.json").write_text("{}")
    (home / ".claude" / "settings.json").write_text("{}")
    (home / ".claude.json").write_text("{}")
    work = root / "work"
    work.mkdir()
    (work / "report.txt").write_text("report")
    return {"home": home, "channels": channels, "work": work, "root": root, "sender": root / "sender-state"}


def guard(paths: list[Path | str], state: Path, env: dict[str, str], **kwargs: object) -> list[Path]:
    options: dict[str, object] = {"max_bytes": MB, **kwargs}
    return check_files([str(p) for p in paths], state_dir=state, environ=env, **options)  # type: ignore[arg-type]


def env_of(machine: dict[str, Path], **extra: str) -> dict[str, str]:
    return {"HOME": str(machine["home"]), **extra}


def test_every_channels_state_is_refused_but_only_the_senders_inbox_is_open(machine: dict[str, Path]) -> None:
    telegram = machine["channels"] / "telegram"
    discord = machine["channels"] / "discord"
    env = env_of(machine)
    assert guard([telegram / "inbox" / "photo.jpg"], telegram, env) == [telegram / "inbox" / "photo.jpg"]
    for other in (discord / ".env", discord / "inbox" / "photo.jpg", machine["channels"] / "future" / "x"):
        with pytest.raises(ToolError, match=r"^refusing to send channel state: "):
            guard([other], telegram, env)


def test_state_dirs_named_in_the_environment_are_refused(machine: dict[str, Path], tmp_path: Path) -> None:
    hub = tmp_path / "hub-state"
    hub.mkdir()
    (hub / "store.db").write_text("events")
    env = env_of(machine, HUB_STATE_DIR=str(hub), CLAUDE_CONFIG_DIR=str(tmp_path / "cc"))
    (tmp_path / "cc" / "channels" / "slack").mkdir(parents=True)
    (tmp_path / "cc" / "channels" / "slack" / ".env").write_text("SLACK_TOKEN=x")
    (tmp_path / "cc" / ".credentials.json").write_text("{}")
    for protected in (hub / "store.db", tmp_path / "cc" / "channels" / "slack" / ".env"):
        with pytest.raises(ToolError, match=r"^refusing to send channel state: "):
            guard([protected], machine["sender"], env)
    with pytest.raises(ToolError, match=r"^refusing to send Claude Code's settings and credentials: "):
        guard([tmp_path / "cc" / ".credentials.json"], machine["sender"], env)


def test_the_nearest_enclosing_place_decides(machine: dict[str, Path]) -> None:
    """A state directory inside the sender's inbox is still state; the inbox inside state is open."""
    telegram = machine["channels"] / "telegram"
    nested = telegram / "inbox" / "nested-state"
    nested.mkdir()
    (nested / ".env").write_text("X=1")
    env = env_of(machine, OTHER_STATE_DIR=str(nested))
    with pytest.raises(ToolError, match=r"^refusing to send channel state: "):
        guard([nested / ".env"], telegram, env)
    assert guard([telegram / "inbox" / "photo.jpg"], telegram, env)


def test_a_protected_file_under_any_other_name(machine: dict[str, Path]) -> None:
    telegram_env = machine["channels"] / "telegram" / ".env"
    work, env = machine["work"], env_of(machine)
    os.link(telegram_env, work / "hard.txt")
    os.link(machine["home"] / ".claude" / "settings.json", machine["channels"] / "discord" / "inbox" / "x.json")
    with pytest.raises(
        ToolError,
        match=rf"^refusing to send channel state: .*hard.txt is the same file as {re.escape(str(telegram_env))}$",
    ):
        guard([work / "hard.txt"], machine["sender"], env)
    with pytest.raises(
        ToolError, match=r"^refusing to send Claude Code's settings and credentials: .*x.json is the same"
    ):
        guard([machine["channels"] / "discord" / "inbox" / "x.json"], machine["channels"] / "discord", env)


def test_a_secret_a_state_file_links_to_is_protected_where_it_lives(machine: dict[str, Path]) -> None:
    """A dotfile manager keeps the real file elsewhere and links it in: the real file is protected too."""
    real = machine["root"] / "dotfiles" / "telegram.env"
    real.parent.mkdir()
    real.write_text("TELEGRAM_BOT_TOKEN=secret")
    linked = machine["channels"] / "telegram" / ".env"
    linked.unlink()
    linked.symlink_to(real)
    with pytest.raises(ToolError, match=f"is the same file as {re.escape(str(linked))}$"):
        guard([real], machine["sender"], env_of(machine))


@pytest.mark.parametrize("name", ["settings.local.json", "Settings.JSON", ".claude.json.backup", ".CREDENTIALS.json"])
def test_claude_code_files_are_matched_ignoring_case(machine: dict[str, Path], name: str) -> None:
    """On a case-insensitive disk (macOS by default) ``Settings.JSON`` is the file Claude Code reads."""
    folder = machine["home"] if name.startswith(".claude.json") else machine["home"] / ".claude"
    (folder / name).write_text("{}")
    with pytest.raises(ToolError, match=r"^refusing to send Claude Code's settings and credentials: "):
        guard([folder / name], machine["sender"], env_of(machine))


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc and /sys (Linux)")
def test_system_pseudo_files_are_refused_as_written_and_as_resolved(machine: dict[str, Path]) -> None:
    work, env = machine["work"], env_of(machine)
    (work / "environ").symlink_to("/proc/self/environ")
    with open(work / "report.txt", "rb") as handle:
        names = [
            "/proc/self/environ",
            f"/proc/{os.getpid()}/environ",
            f"/dev/fd/{handle.fileno()}",  # resolves to report.txt: refused as written
            f"/proc/self/root{work / 'report.txt'}",
            f"/proc/self/cwd/../../{work / 'report.txt'}",
            "/sys/kernel/mm/transparent_hugepage/enabled",
            work / "environ",
        ]
        for name in names:
            with pytest.raises(ToolError, match=r"^refusing to send .*: /proc, /sys and /dev hold the system's live"):
                guard([name], machine["sender"], env)
    assert guard([work / "report.txt"], work / "state", env) == [work / "report.txt"]


def test_a_state_dir_pointed_at_a_big_folder_is_still_refused_by_place(
    machine: dict[str, Path], tmp_path: Path
) -> None:
    big = tmp_path / "big"
    for n in range(3):
        (big / f"d{n}").mkdir(parents=True)
    for n in range(2000):
        (big / "d0" / f"f{n}").write_text("")
    env = env_of(machine, ODD_STATE_DIR=str(big))
    with pytest.raises(ToolError, match=r"^refusing to send channel state: "):
        guard([big / "d0" / "f1999"], machine["sender"], env)  # by place, whatever the scan saw
    assert guard([machine["work"] / "report.txt"], machine["work"] / "state", env)

"""Outbound guards: which chats a tool may target, which files it may send."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mcp_channels.access import Access, GroupPolicy
from mcp_channels.outbound import MB, assert_chat_allowed, check_files
from mcp_channels.server import ToolError


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

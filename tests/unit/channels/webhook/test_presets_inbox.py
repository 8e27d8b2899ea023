"""The webhook's payload inbox: private files, written whole, kept within a count and a size."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from mcp_channels.channels.webhook._presets import Inbox, file_name


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_payload_is_saved_whole_and_private(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "state" / "inbox", 10, 10_000)
    saved = inbox.save(b'{"a": 1}', "github-push")
    assert saved is not None and saved.read_bytes() == b'{"a": 1}'
    assert (
        saved.parent == tmp_path / "state" / "inbox" and saved.name.endswith(".json") and "-github-push-" in saved.name
    )
    assert mode(saved) == 0o600 and mode(saved.parent) == 0o700
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]  # no temporary file left behind
    text = inbox.save(b"plain", "template", ".txt")
    assert text is not None and text.suffix == ".txt"


def test_the_oldest_payloads_go_beyond_the_count_or_the_size(tmp_path: Path) -> None:
    by_count = Inbox(tmp_path / "count", 3, 1_000_000)
    saved = [by_count.save(f"payload {i}".encode(), "x") for i in range(5)]
    assert sorted(p.name for p in (tmp_path / "count").iterdir()) == [p.name for p in saved[2:] if p]
    by_size = Inbox(tmp_path / "size", 100, 250)
    for i in range(4):
        by_size.save(bytes([65 + i]) * 100, "y")
    assert sorted(p.read_bytes()[:1] for p in (tmp_path / "size").iterdir()) == [b"C", b"D"]


def test_files_the_inbox_did_not_write_are_left_alone(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    inbox = Inbox(tmp_path, 1, 1_000_000)
    inbox.save(b"1", "x")
    inbox.save(b"2", "x")
    assert sorted(p.name for p in tmp_path.iterdir())[-1] == "notes.txt" and len(list(tmp_path.iterdir())) == 2


def test_what_is_not_kept_is_not_written(tmp_path: Path) -> None:
    assert Inbox(tmp_path / "off", 0, 1000).save(b"x", "x") is None
    assert not (tmp_path / "off").exists()
    small = Inbox(tmp_path / "small", 10, 4)
    assert small.save(b"12345", "x") is None and small.keeps(b"1234")


def test_a_payload_that_cannot_be_written_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with caplog.at_level(logging.WARNING, logger="mcp_channels.webhook"):
        assert Inbox(blocker / "inbox", 10, 1000).save(b"x", "x") is None
    assert "payload not saved" in caplog.text


def test_names_sort_by_time_and_are_safe() -> None:
    assert file_name("GitHub-Push/../x y", now=0.5).startswith("19700101T000000.500000Z-github-push_.._x_y-")
    assert file_name("github-push", now=1.0) < file_name("github-push", now=2.0)

"""Configuration is read one way: each channel's frozen settings dataclass, on the shared helpers."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from pathlib import Path
from typing import Any

import pytest

from mcp_channels.channels import NAMES, PACKAGES
from mcp_channels.errors import ConfigurationError
from mcp_channels.settings import flag_setting, float_setting, int_setting, required_credential, url_setting


@pytest.mark.parametrize("name", NAMES)
def test_every_channel_reads_its_settings_with_one_frozen_dataclass(name: str) -> None:
    module = importlib.import_module(f"{PACKAGES[name]}._settings")
    classes = [
        value
        for _, value in inspect.getmembers(module, inspect.isclass)
        if value.__module__ == module.__name__ and value.__name__.endswith("Settings")
    ]
    assert len(classes) == 1, classes
    settings = classes[0]
    assert dataclasses.is_dataclass(settings) and settings.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert list(inspect.signature(settings.from_environ).parameters) == ["environ"]


@pytest.mark.parametrize(("raw", "value"), [("", True), ("1", True), (" TRUE ", True), ("on", True), ("no", False)])
def test_flags(raw: str, value: bool) -> None:
    assert flag_setting({"FLAG": raw}, "FLAG", True) is value


def test_a_flag_that_means_neither_is_refused_by_name() -> None:
    with pytest.raises(ConfigurationError, match=r"^FLAG='sometimes' is neither true nor false"):
        flag_setting({"FLAG": "sometimes"}, "FLAG", False)


def test_numbers_are_refused_by_name_out_of_range_or_unreadable() -> None:
    assert int_setting({}, "N", 7, 1, 10) == 7
    assert float_setting({"N": "0.5"}, "N", 1.0, 0.1, 2.0) == 0.5
    with pytest.raises(ConfigurationError, match=r"^N='x' is not a number"):
        int_setting({"N": "x"}, "N", 7, 1, 10)
    with pytest.raises(ConfigurationError, match=r"^N=11 is out of range \(1\.\.10\)"):
        int_setting({"N": "11"}, "N", 7, 1, 10)


@pytest.mark.parametrize(
    ("setting", "raw", "low", "high", "shown"),
    [
        (int_setting, "2000000000", 1, 1 << 30, "(1..1073741824)"),  # the webhook's WEBHOOK_MAX_BODY
        (int_setting, "0", 1, 1 << 50, "(1..1125899906842624)"),  # fakechat's FAKECHAT_INBOX_QUOTA
        (float_setting, "7200", 0.1, 3600.0, "(0.1..3600)"),
        (float_setting, "0.001", 0.01, 60.0, "(0.01..60)"),
        (float_setting, "-1", 0.0, float("inf"), "(0..inf)"),
    ],
)
def test_out_of_range_bounds_are_printed_as_written(
    setting: Any, raw: str, low: float, high: float, shown: str
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        setting({"N": raw}, "N", low, low, high)
    assert str(refused.value) == f"N={raw} is out of range {shown}"


def test_urls_need_http_and_a_host() -> None:
    assert url_setting({}, "BASE", "https://api.example/") == "https://api.example"
    for bad in ("ftp://example", "api.example", "http://"):
        with pytest.raises(
            ConfigurationError, match=r"^BASE=.* is not an http\(s\) URL \(e\.g\. https://api\.example/\)"
        ):
            url_setting({"BASE": bad}, "BASE", "https://api.example/")


def test_a_required_credential_comes_from_the_environment_or_the_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TOKEN=from-file\n")
    assert required_credential("TOKEN", "abc...", tmp_path, {}) == "from-file"
    assert required_credential("TOKEN", "abc...", tmp_path, {"TOKEN": " from-env "}) == "from-env"
    with pytest.raises(ConfigurationError) as missing:
        required_credential("OTHER", "abc...", tmp_path, {})
    assert str(missing.value) == f"OTHER required\n  set in {tmp_path / '.env'}\n  format: OTHER=abc..."

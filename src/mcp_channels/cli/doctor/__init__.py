"""``mcp-channels doctor [channel]``: why a channel does not work, one line per check, each with its fix.

A channel that does not work mostly fails without a word: Claude Code ignores a server the
session was not started with, another session polls the bot, a port is taken, ``chat.db`` cannot
be read. ``doctor`` looks at each from the outside, without starting the channel and without
changing anything (not even the ``chmod`` the channel does on ``.env``), and prints one line per
check: ``ok``; ``warn`` (it works, but is risky or surprising); ``FAIL`` (the channel cannot
work until this is fixed). Then the exact ``claude`` command line to start the channel with, and
the reasons Claude Code may still ignore it, which no local check can see.

Exit status: 0 nothing blocks the channel, 1 something does, 2 usage.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from ...channels import NAMES, ChannelFacts, doctor_checks, facts
from ...delivery import default_managed_settings
from ...diagnostics import FAIL, OK, WARN, Check, Setup
from ._channel import check_access, check_port, check_state_dir, check_token
from ._claude import check_account, check_claude, check_official_plugin, check_org_policy, ignored_when, launch_commands
from ._machine import check_launcher, check_library, check_python
from ._sessions import check_hub, check_sessions


@dataclass
class Report:
    channel: str | None
    checks: list[Check]
    commands: list[str]
    ignored: list[str]

    @property
    def blocked(self) -> bool:
        return any(check.status == FAIL for check in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "ok": not self.blocked,
            "checks": [asdict(check) for check in self.checks],
            "commands": self.commands,
            "ignoredWhen": self.ignored,
        }


def diagnose(setup: Setup, channel: str | None) -> Report:
    """Every check, for one channel or (``None``) for what all channels share."""
    channel_facts = facts(channel) if channel is not None else None
    checks = [check_python()]
    if channel_facts is not None:
        checks.extend(_channel_checks(setup, channel_facts))
    org, allowlisted = check_org_policy(setup, channel)
    checks.extend([check_claude(setup, channel_facts), check_account(setup), org])
    if channel_facts is not None:
        official = check_official_plugin(setup, channel_facts)
        if official is not None:
            checks.append(official)
    checks.extend(check_sessions(setup, channel))
    checks.append(check_hub(setup, channel))
    commands = launch_commands(channel, allowlisted) if channel else []
    return Report(channel, checks, commands, ignored_when(channel))


def _channel_checks(setup: Setup, channel: ChannelFacts) -> list[Check]:
    """What one channel needs, read from its facts, then the checks the channel adds itself."""
    checks: list[Check] = []
    if channel.library is not None:
        checks.append(check_library(channel))
    checks.append(check_launcher(setup, channel))
    checks.extend(check_state_dir(setup, channel.name))
    checks.extend(check_token(setup, channel, token) for token in channel.tokens)
    if channel.access is not None:
        checks.extend(check_access(setup, channel, channel.access))
    if channel.port is not None:
        checks.append(check_port(setup, channel.name, channel.port))
    for check in doctor_checks(channel.name):
        checks.extend(check(setup))
    return checks


_MARKS: Final = {OK: "ok  ", WARN: "warn", FAIL: "FAIL"}


def render(report: Report, setup: Setup) -> str:
    title = f"mcp-channels doctor: {report.channel}" if report.channel else "mcp-channels doctor"
    lines = [title]
    width = max(len(check.check) for check in report.checks)
    for check in report.checks:
        fix = f" — fix: {check.fix}" if check.fix else ""
        lines.append(f"  {_MARKS[check.status]}  {check.check.ljust(width)}  {check.message}{fix}")
    if report.commands:
        lines.append("start Claude Code with the plugin:")
        lines.append(f"  {report.commands[0]}")
        lines.append(f"or, with your own .mcp.json entry named {report.channel}:")
        lines.append(f"  {report.commands[1]}")
    else:
        set_up = [name for name in NAMES if setup.state_dir(name).is_dir()]
        lines.append(
            "check a channel: mcp-channels doctor <channel>  ("
            + (f"set up here: {', '.join(set_up)}" if set_up else f"one of {', '.join(NAMES)}")
            + ")"
        )
    lines.append("Claude Code ignores a channel without a word when:")
    lines.extend(f"  - {reason}" for reason in report.ignored)
    failures = sum(check.status == FAIL for check in report.checks)
    warnings = sum(check.status == WARN for check in report.checks)
    subject = f"the {report.channel} channel" if report.channel else "channels"
    if failures:
        lines.append(f"{failures} problem(s) block {subject} (FAIL above); {warnings} warning(s).")
    else:
        lines.append(f"nothing blocks {subject}; {warnings} warning(s).")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-channels doctor",
        description="Check why a channel does not reach Claude Code; one line per check, with its fix.",
        epilog="Exit status: 0 nothing blocks the channel, 1 something does, 2 usage.",
    )
    parser.add_argument("channel", nargs="?", choices=NAMES)
    parser.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    parser.add_argument(
        "--managed-settings",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"Claude Code's managed settings (default: {default_managed_settings()})",
    )
    return parser


def doctor_command(argv: Sequence[str]) -> int:
    """``mcp-channels doctor [channel] [--json] [--managed-settings FILE]``."""
    try:
        args = _parser().parse_args(list(argv))
    except SystemExit as exc:  # argparse has printed the usage
        return 0 if exc.code == 0 else 2
    setup = Setup(os.environ, args.managed_settings or default_managed_settings())
    report = diagnose(setup, args.channel)
    if args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        print(render(report, setup))
    return 1 if report.blocked else 0


__all__ = ["Report", "diagnose", "doctor_command", "render"]

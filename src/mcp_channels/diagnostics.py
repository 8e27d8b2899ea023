"""What a ``doctor`` check sees (:class:`Setup`) and says (:class:`Check`).

Shared by the ``doctor`` command and the checks a channel adds to it (its ``_doctor`` module,
named in its facts), so a channel's checks need nothing from the command line. A check looks
from the outside and changes nothing: not even the ``chmod`` a channel does on its ``.env``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from .state import ENV_FILE, claude_config_dir, home_dir, parse_env, state_dir

OK: Final = "ok"
WARN: Final = "warn"
FAIL: Final = "fail"


@dataclass(frozen=True)
class Check:
    """One line of the report: ``ok``; ``warn`` (it works, but is risky or surprising); ``fail``
    (the channel cannot work until this is fixed), with the fix."""

    check: str
    status: str  # ok | warn | fail
    message: str
    fix: str | None = None


@dataclass(frozen=True)
class Setup:
    """What the checks read: the environment and where Claude Code's files are."""

    env: Mapping[str, str]
    managed_settings: Path
    proc: Path = Path("/proc")

    @property
    def home(self) -> Path:
        return home_dir(self.env)

    @property
    def claude_dir(self) -> Path:
        return claude_config_dir(self.env)

    def which(self, program: str) -> str | None:
        return shutil.which(program, path=self.env.get("PATH", os.defpath))

    def state_dir(self, channel: str) -> Path:
        return state_dir(channel, self.env)

    def credential(self, channel: str, variable: str) -> tuple[str | None, str]:
        """A channel's credential as the channel would see it, and where it comes from (the environment wins)."""
        value = self.env.get(variable)
        if value:
            return value, "the environment"
        directory = self.state_dir(channel)
        return env_file(directory).get(variable) or None, str(directory / ENV_FILE)


def env_file(directory: Path) -> dict[str, str]:
    """``.env`` read as the channel reads it, without the channel's ``chmod``: doctor changes nothing."""
    try:
        return parse_env((directory / ENV_FILE).read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return {}


__all__ = ["FAIL", "OK", "WARN", "Check", "Setup", "env_file"]

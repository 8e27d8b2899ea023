"""``doctor``'s checks of this machine: Python, the platform library, and how the plugin starts the server."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from typing import Final

from ... import __version__
from ...channels import ChannelFacts
from ...diagnostics import FAIL, OK, Check, Setup

_FIND_PACKAGE: Final = 'import importlib.util, sys; sys.exit(importlib.util.find_spec("mcp_channels") is None)'


def check_python() -> Check:
    return Check("python", OK, f"Python {platform.python_version()} ({sys.executable}), mcp-channels {__version__}")


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def check_library(facts: ChannelFacts) -> Check:
    """Whether the channel's platform library is installed, new enough, in this Python."""
    assert facts.library is not None
    dist, oldest, extra = facts.library.distribution, facts.library.oldest, facts.library.extra
    fix = f"pip install 'mcp-channels[{extra}]'  (uv tool: uv tool install --force 'mcp-channels[{extra}]')"
    try:
        version = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return Check("library", FAIL, f"{dist} is not installed in this Python ({sys.executable})", fix)
    if version_tuple(version) < oldest:
        wanted = ".".join(map(str, oldest))
        return Check("library", FAIL, f"{dist} {version} is too old (the channel needs {wanted} or newer)", fix)
    return Check("library", OK, f"{dist} {version}")


def check_launcher(setup: Setup, facts: ChannelFacts) -> Check:
    """What the plugin's ``scripts/serve.sh`` would run, in the same order it tries."""
    channel = facts.name
    extra = f"[{facts.library.extra}]" if facts.library else ""
    pinned = setup.env.get("MCP_CHANNELS_PYTHON")
    if pinned:
        if shutil.which(pinned, path=setup.env.get("PATH", os.defpath)) is None:
            return Check(
                "launcher",
                FAIL,
                f"MCP_CHANNELS_PYTHON={pinned} is not an executable: the plugin cannot start the server",
                f"point it at a Python with mcp-channels installed (this one: {sys.executable}), or unset it",
            )
        return Check("launcher", OK, f"the plugin runs {pinned} -m mcp_channels serve {channel} (MCP_CHANNELS_PYTHON)")
    command = setup.which("mcp-channels")
    if command:
        return Check("launcher", OK, f"the plugin runs {command} serve {channel}")
    python3 = setup.which("python3")
    if python3 and _imports_package(python3, setup.env):
        return Check("launcher", OK, f"the plugin runs {python3} -m mcp_channels serve {channel}")
    if setup.which("uvx"):
        return Check(
            "launcher",
            OK,
            f"the plugin runs uvx --from 'mcp-channels{extra}=={__version__}' (downloaded on the first start, "
            "then from uv's cache)",
        )
    return Check(
        "launcher",
        FAIL,
        "the plugin cannot start the server: no mcp-channels on PATH, python3 cannot import it, no uvx",
        f"uv tool install 'mcp-channels{extra}'  (or pipx install 'mcp-channels{extra}'; or set "
        f"MCP_CHANNELS_PYTHON={sys.executable})",
    )


def _imports_package(python: str, env: Mapping[str, str]) -> bool:
    try:
        result = subprocess.run(
            [python, "-c", _FIND_PACKAGE], env=dict(env), capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


__all__ = ["check_launcher", "check_library", "check_python", "version_tuple"]

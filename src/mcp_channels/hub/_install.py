"""``mcp-channels hub install``: the hub as a user service, so it runs from login, not from a session.

Linux: a systemd user unit, ``~/.config/systemd/user/mcp-channels-hub.service``. macOS: a launchd
agent, ``~/Library/LaunchAgents/dev.mcp-channels.hub.plist``. Either runs ``hub run --wait``
with this interpreter: ``--wait`` makes the service wait for a hub a session started on demand
to exit, rather than fail and be restarted in a loop, so the two ways of starting it coexist.
Nothing is enabled behind the user's back: the command writes the file and prints the commands
that enable it.
"""

from __future__ import annotations

import os
import plistlib
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..state import atomic_write, home_dir
from ._daemon import hub_command
from ._paths import HUB_DIR_VAR, TRANSPORT_VAR, HubPaths

UNIT_NAME: Final = "mcp-channels-hub.service"
AGENT_LABEL: Final = "dev.mcp-channels.hub"
#: Variables the service needs to find the same hub and state as the sessions do.
CARRIED: Final = (HUB_DIR_VAR, TRANSPORT_VAR, "CLAUDE_CONFIG_DIR", "MCP_CHANNELS_LOG_LEVEL")


@dataclass(frozen=True)
class ServiceFile:
    """A service definition: where it goes, what it says, and how to turn it on and off."""

    path: Path
    text: str
    enable: tuple[str, ...]
    disable: tuple[str, ...]


def service_file(
    paths: HubPaths, options: Sequence[str], environ: Mapping[str, str] | None = None, platform: str | None = None
) -> ServiceFile:
    """The unit (Linux) or agent (macOS) that runs the hub with ``options``."""
    env = os.environ if environ is None else environ
    command = [*hub_command(options), "--wait"]
    carried = {key: env[key] for key in CARRIED if env.get(key)}
    if (platform or sys.platform) == "darwin":
        return _launchd_agent(paths, command, carried, env)
    return _systemd_unit(command, carried, env)


def _systemd_unit(command: list[str], carried: Mapping[str, str], env: Mapping[str, str]) -> ServiceFile:
    config = Path(env.get("XDG_CONFIG_HOME") or home_dir(env) / ".config")
    lines = [
        "[Unit]",
        "Description=mcp-channels hub: platform connections and a durable queue for Claude Code channels",
        "",
        "[Service]",
        f"ExecStart={' '.join(_systemd_quote(word) for word in command)}",
        *(f"Environment={_systemd_quote(f'{key}={value}')}" for key, value in carried.items()),
        "Restart=on-failure",
        "RestartSec=2",
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ]
    return ServiceFile(
        config / "systemd" / "user" / UNIT_NAME,
        "\n".join(lines),
        enable=(
            "systemctl --user daemon-reload",
            f"systemctl --user enable --now {UNIT_NAME}",
            'loginctl enable-linger "$USER"   # optional: keep it running while you are logged out',
        ),
        disable=(f"systemctl --user disable --now {UNIT_NAME}",),
    )


def _systemd_quote(word: str) -> str:
    """A word for ``ExecStart=``/``Environment=``: double-quoted when it has spaces or quotes."""
    if word and not any(ch in word for ch in " \t\"'\\$%;"):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$").replace("%", "%%") + '"'


def _launchd_agent(
    paths: HubPaths, command: list[str], carried: Mapping[str, str], env: Mapping[str, str]
) -> ServiceFile:
    agent: dict[str, object] = {
        "Label": AGENT_LABEL,
        "ProgramArguments": command,
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "StandardErrorPath": str(paths.log),
        "StandardOutPath": str(paths.log),
    }
    if carried:
        agent["EnvironmentVariables"] = dict(carried)
    path = home_dir(env) / "Library" / "LaunchAgents" / f"{AGENT_LABEL}.plist"
    quoted = shlex.quote(str(path))
    return ServiceFile(
        path,
        plistlib.dumps(agent).decode("utf-8"),
        enable=(f'launchctl bootstrap "gui/$(id -u)" {quoted}',),
        disable=(f'launchctl bootout "gui/$(id -u)" {quoted}',),
    )


def install(service: ServiceFile) -> None:
    """Write the service file (0644 in its usual directory; it holds no secret)."""
    service.path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(service.path, service.text, mode=0o644)


__all__ = ["AGENT_LABEL", "UNIT_NAME", "ServiceFile", "install", "service_file"]

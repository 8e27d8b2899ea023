"""Which servers the host starts: an MCP config file and plugin folders, read like Claude Code.

``.mcp.json`` holds ``{"mcpServers": {"<name>": {"command": ..., "args": [...], "env": {...}}}}``;
``${VAR}`` and ``${VAR:-default}`` are expanded in the command, the arguments and the env values.
A plugin folder (``--plugin-dir``) contributes its own ``.mcp.json`` servers, named
``plugin:<plugin>:<server>`` as Claude Code names them, with ``${CLAUDE_PLUGIN_ROOT}`` set to the
folder.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..enablement import marketplace_of_folder
from ..errors import HostConfigError

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class PluginInfo:
    name: str
    marketplace: str
    root: Path
    channel_servers: tuple[str, ...] = ()


@dataclass
class ServerSpec:
    """One stdio server to spawn."""

    name: str
    command: str
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    plugin: PluginInfo | None = None


def expand(value: str, environ: Mapping[str, str]) -> str:
    """Expand ``${VAR}`` / ``${VAR:-default}`` as Claude Code does in MCP configs."""
    return _VAR.sub(lambda m: environ.get(m.group(1)) or (m.group(2) or ""), value)


def _server_from_json(
    name: str, raw: Any, where: str, environ: Mapping[str, str], plugin: PluginInfo | None
) -> ServerSpec | None:
    if not isinstance(raw, dict):
        raise HostConfigError(f"{where}: server {name!r} must be an object")
    kind = raw.get("type", "stdio")
    if kind != "stdio":
        return None  # http/sse servers are not channels the host can spawn
    command = raw.get("command")
    if not isinstance(command, str) or not command:
        raise HostConfigError(f'{where}: server {name!r} needs a "command"')
    args = raw.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise HostConfigError(f'{where}: server {name!r}: "args" must be a list of strings')
    env = raw.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise HostConfigError(f'{where}: server {name!r}: "env" must map names to strings')
    cwd = raw.get("cwd")
    return ServerSpec(
        name=name,
        command=expand(command, environ),
        args=[expand(a, environ) for a in args],
        env={k: expand(v, environ) for k, v in env.items()},
        cwd=expand(cwd, environ) if isinstance(cwd, str) else None,
        plugin=plugin,
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HostConfigError(f"{path}: no such file") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise HostConfigError(f"{path}: {exc}") from None


def _servers_in(path: Path, environ: Mapping[str, str], plugin: PluginInfo | None = None) -> list[ServerSpec]:
    data = _read_json(path)
    servers = data.get("mcpServers") if isinstance(data, dict) else None
    if not isinstance(servers, dict):
        raise HostConfigError(f'{path}: expected an object with "mcpServers"')
    specs = []
    for key, raw in servers.items():
        name = f"plugin:{plugin.name}:{key}" if plugin else key
        spec = _server_from_json(name, raw, str(path), environ, plugin)
        if spec is not None:
            specs.append(spec)
    return specs


def load_mcp_config(path: Path, environ: Mapping[str, str] | None = None) -> list[ServerSpec]:
    """The stdio servers of an MCP config file."""
    return _servers_in(path, os.environ if environ is None else environ)


def _marketplace_of(root: Path) -> str:
    try:
        return marketplace_of_folder(root)
    except ValueError as exc:
        raise HostConfigError(str(exc)) from None


def load_plugin(
    root: Path, environ: Mapping[str, str] | None = None, marketplace: str | None = None
) -> list[ServerSpec]:
    """The servers of a plugin folder, named and expanded as Claude Code does."""
    root = root.resolve()
    manifest = _read_json(root / ".claude-plugin" / "plugin.json")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("name"), str):
        raise HostConfigError(f'{root}: .claude-plugin/plugin.json needs a "name"')
    channels = manifest.get("channels", [])
    channel_servers = tuple(c["server"] for c in channels if isinstance(c, dict) and isinstance(c.get("server"), str))
    info = PluginInfo(manifest["name"], marketplace or _marketplace_of(root), root, channel_servers)
    env = dict(os.environ if environ is None else environ)
    env["CLAUDE_PLUGIN_ROOT"] = str(root)
    specs = _servers_in(root / ".mcp.json", env, info)
    for spec in specs:
        spec.env.setdefault("CLAUDE_PLUGIN_ROOT", str(root))
    return specs


__all__ = [
    "PluginInfo",
    "ServerSpec",
    "expand",
    "load_mcp_config",
    "load_plugin",
]

"""What a shim answers ``initialize`` and ``tools/list`` with, written down by the hub for the next sessions.

A session's shim must answer ``initialize`` with the channel's instructions, tools and permission
capability, as fast as the standalone server does. Building the channel to learn them costs the
imports of the channel's code (the webhook's HTTP parser, fakechat's web server), which the shim
otherwise never needs. So the hub, each time it builds a channel, writes its declaration to
``declarations/<channel>.json`` in its directory, with the package version and a digest of the
settings it was built with (instructions may name a port); a shim started with the same settings
reads it instead of building the channel. Without one (the first session, an upgrade, other
settings) the shim builds the channel itself, as before.

On a team (hubs sharing a NATS store) the ingress shares each declaration through the store's
key-value map, and every edge writes it down for any settings (:data:`SHARED`): a developer's
machine runs no channel and may not have what building one needs (a bot token).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ..state import atomic_write, ensure_private_dir

#: The settings digest of a declaration the ingress shared: good for a session with any settings.
SHARED: Final = "shared by the ingress"
#: Where the ingress shares declarations in the store's key-value map (``hub/d/<channel>``).
SHARED_PREFIX: Final = "hub/d/"


@dataclass(frozen=True)
class Declaration:
    """A channel as Claude Code sees it before any event: name, version, instructions, tools, relay."""

    name: str
    version: str
    instructions: str
    tools: tuple[dict[str, Any], ...]
    relays_permissions: bool

    def to_json(self, settings_digest: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "settings": settings_digest,
            "instructions": self.instructions,
            "tools": list(self.tools),
            "relays_permissions": self.relays_permissions,
        }


def digest(settings: Mapping[str, str]) -> str:
    """A digest of a channel's settings (they hold secrets: the file holds only this)."""
    canonical = json.dumps(sorted(settings.items()), separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def path_of(directory: Path, channel: str) -> Path:
    return directory / "declarations" / f"{channel}.json"


def save(directory: Path, declaration: Declaration, settings: Mapping[str, str] | None) -> None:
    """Write the declaration for shims started with ``settings`` (``None``: any, one the ingress shared)."""
    folder = ensure_private_dir(directory / "declarations")
    text = json.dumps(declaration.to_json(SHARED if settings is None else digest(settings)), indent=1) + "\n"
    atomic_write(folder / f"{declaration.name}.json", text, mode=0o600)


def load(directory: Path, channel: str, version: str, settings: Mapping[str, str]) -> Declaration | None:
    """The declaration the hub wrote for these settings (or shared for any) and this version, else ``None``."""
    try:
        data: Any = json.loads(path_of(directory, channel).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    declaration = parse(data)
    if declaration is None or declaration.name != channel or declaration.version != version:
        return None
    return declaration if data.get("settings") in (digest(settings), SHARED) else None


def shared(declaration: Declaration) -> str:
    """The value the ingress stores under ``hub/d/<channel>``."""
    return json.dumps(declaration.to_json(SHARED))


def parse(data: Any) -> Declaration | None:
    """A declaration as written by :meth:`Declaration.to_json`; ``None`` when it is not one."""
    try:
        tools = tuple(
            {"name": str(t["name"]), "description": str(t["description"]), "inputSchema": dict(t["inputSchema"])}
            for t in data["tools"]
        )
        return Declaration(
            str(data["name"]), str(data["version"]), str(data["instructions"]), tools, bool(data["relays_permissions"])
        )
    except (KeyError, TypeError, ValueError):
        return None


__all__ = ["SHARED", "SHARED_PREFIX", "Declaration", "digest", "load", "parse", "path_of", "save", "shared"]

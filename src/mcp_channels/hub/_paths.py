"""Where the hub keeps its files, and how a client finds the hub.

One directory holds everything (0700, files 0600): by default ``<claude config dir>/channels/hub``
beside the channels' own state directories, or ``MCP_CHANNELS_HUB_DIR``. In it:

``hub.sock``
    the attachment socket (Unix-domain, 0600). Unix socket paths are limited to about 100 bytes,
    so when the directory's path is too long the socket lives in a private directory of the
    system's temporary directory instead, named after a digest of the hub directory (both sides
    compute the same name).
``hub.lock``
    held (``flock``) by the running hub for its whole life, with its pid inside: a second hub
    refuses to start, and the lock goes away with the process, even after kill -9.
``start.lock``
    held by whoever is starting a hub, so two sessions starting at the same moment start one.
``hub.log``
    the detached hub's stderr.
``endpoint.json`` and ``hub.token``
    TCP mode (Windows, or ``MCP_CHANNELS_HUB_TRANSPORT=tcp``): the loopback port, and a random
    token (0600) every connection must present, since any local user can reach a loopback port.
``store/``
    the event store (SQLite), unless ``--store`` names another.
``channels.json``
    the settings each hosted channel was last started with, so a restarted hub (or one run as a
    service) starts them again before any session attaches. Kept here, on this machine, and
    not in the store: a token must not travel to a shared event store.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from ..errors import HubPathError
from ..state import claude_config_dir, ensure_private_dir

HUB_DIR_VAR: Final = "MCP_CHANNELS_HUB_DIR"
TRANSPORT_VAR: Final = "MCP_CHANNELS_HUB_TRANSPORT"
#: Longest socket path used as is (``sun_path`` holds 108 bytes on Linux, 104 on macOS).
MAX_SOCKET_PATH: Final = 100

Transport = Literal["unix", "tcp"]


@dataclass(frozen=True)
class HubPaths:
    """The hub's files, all derived from its directory."""

    directory: Path
    transport: Transport

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> HubPaths:
        """``MCP_CHANNELS_HUB_DIR`` (else ``<claude config dir>/channels/hub``) and
        ``MCP_CHANNELS_HUB_TRANSPORT`` (``unix``, or ``tcp``; Windows always uses ``tcp``)."""
        env = os.environ if environ is None else environ
        override = env.get(HUB_DIR_VAR, "").strip()
        directory = Path(override).expanduser() if override else claude_config_dir(env) / "channels" / "hub"
        return cls(directory.absolute(), transport_from(env))

    @property
    def lock(self) -> Path:
        return self.directory / "hub.lock"

    @property
    def start_lock(self) -> Path:
        return self.directory / "start.lock"

    @property
    def log(self) -> Path:
        return self.directory / "hub.log"

    @property
    def endpoint(self) -> Path:
        return self.directory / "endpoint.json"

    @property
    def token(self) -> Path:
        return self.directory / "hub.token"

    @property
    def store(self) -> Path:
        return self.directory / "store"

    @property
    def channels(self) -> Path:
        return self.directory / "channels.json"

    @property
    def socket(self) -> Path:
        """The Unix socket: in the directory, or in a private temporary directory when too long."""
        local = self.directory / "hub.sock"
        if len(os.fsencode(local)) <= MAX_SOCKET_PATH:
            return local
        digest = hashlib.sha256(os.fsencode(self.directory)).hexdigest()[:20]
        return _short_socket_dir() / f"{digest}.sock"

    def prepare(self) -> None:
        """Create the directory (0700) and, where needed, the socket's private directory."""
        ensure_private_dir(self.directory)
        check_private_dir(self.directory)
        if self.transport == "unix" and self.socket.parent != self.directory:
            ensure_private_dir(self.socket.parent)
            check_private_dir(self.socket.parent)


def transport_from(environ: Mapping[str, str]) -> Transport:
    if sys.platform == "win32":
        return "tcp"
    raw = environ.get(TRANSPORT_VAR, "").strip().lower()
    return "tcp" if raw == "tcp" else "unix"


def _short_socket_dir() -> Path:
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"mcp-channels-{uid}"


def check_private_dir(path: Path) -> None:
    """Refuse a directory that is a symlink, is not ours, or is open to other users.

    The socket directory may sit in a shared temporary directory, where another user could have
    made it first to intercept the sessions' traffic.
    """
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise HubPathError(f"{path} is not a directory (a symlink?): refusing to use it for the hub")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise HubPathError(f"{path} belongs to another user: refusing to use it for the hub")
    if info.st_mode & 0o077:
        raise HubPathError(f"{path} is open to other users (mode {stat.S_IMODE(info.st_mode):o}): chmod 700 it")


__all__ = ["HUB_DIR_VAR", "TRANSPORT_VAR", "HubPathError", "HubPaths", "Transport", "check_private_dir"]

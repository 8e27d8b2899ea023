"""Who holds a local TCP port: free or not, and which process listens on it, for ``doctor``.

"Address already in use" is the whole error a user gets when a second session's fakechat starts
or another program sits on 8788; saying which process it is (its pid and command) is most of the
fix. The holder is found the way ``ss -p`` does it, without running anything: the listening socket's
inode in ``/proc/net/tcp{,6}``, then the process whose ``/proc/<pid>/fd`` links to that inode.
Where there is no ``/proc`` (macOS) or the process belongs to another user, the answer is only
"in use", never a guess.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from dataclasses import dataclass
from pathlib import Path

_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's "st" column
MAX_COMMAND = 120


@dataclass(frozen=True)
class PortHolder:
    """A process listening on the port; ``pid`` is ``None`` when it cannot be seen from here."""

    pid: int | None
    command: str | None
    uid: int | None


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could bind ``host:port`` now, with the SO_REUSEADDR asyncio servers use."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def port_holder(port: int, proc: Path = Path("/proc")) -> PortHolder | None:
    """The process listening on ``port`` (any local address), or ``None`` if ``proc`` shows none."""
    listening = _listening_inodes(port, proc)
    if not listening:
        return None
    uid = next(iter(listening.values()))
    for pid in _pids(proc):
        if _holds_socket(proc / str(pid), set(listening)):
            return PortHolder(pid, process_command(pid, proc), uid)
    return PortHolder(None, None, uid)


def process_command(pid: int, proc: Path = Path("/proc")) -> str | None:
    """The command line of ``pid``, shortened for one line of output; ``None`` if it cannot be read."""
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    command = " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)
    command = "".join(ch if ch.isprintable() else "?" for ch in command)  # it goes on one line
    if len(command) > MAX_COMMAND:
        command = command[: MAX_COMMAND - 1] + "…"
    return command or None


def _listening_inodes(port: int, proc: Path) -> dict[str, int | None]:
    """Socket inode -> owner uid of every socket listening on ``port`` (IPv4 and IPv6)."""
    found: dict[str, int | None] = {}
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _LISTEN:
                continue
            try:
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                uid: int | None = int(fields[7])
            except (IndexError, ValueError):
                continue
            if local_port == port and fields[9] != "0":
                found[fields[9]] = uid
    return found


def _pids(proc: Path) -> list[int]:
    try:
        return sorted(int(entry.name) for entry in proc.iterdir() if entry.name.isdigit())
    except OSError:
        return []


def _holds_socket(process: Path, inodes: set[str]) -> bool:
    wanted = {f"socket:[{inode}]" for inode in inodes}
    try:
        descriptors = list((process / "fd").iterdir())
    except OSError:  # another user's process, or it just exited
        return False
    for descriptor in descriptors:
        with contextlib.suppress(OSError):
            if os.readlink(descriptor) in wanted:
                return True
    return False

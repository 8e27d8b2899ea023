"""Files no tool may send, whoever asks: the system's live state, every channel's state, and
Claude Code's own settings and credentials.

The model is steered by whoever writes to it, so the files of a ``reply`` are untrusted input: a
stranger's message can ask for ``/proc/self/environ`` (the server's environment, with any token
given there), for another channel's ``.env`` or for ``~/.claude/.credentials.json``.

Everything is compared by identity, the (device, inode) of the file and of every folder above it,
never by spelling. A symlink, a hard link, ``..``, ``/proc/self/root/...``, another letter case
on a case-insensitive disk (macOS by default) or another Unicode normalisation of a name all lead
to the same inode, so none of them gets around the guard, and no guess about the file system is
needed. Only the patterns of Claude Code's file names are matched as text, ignoring case (a
``Settings.json`` is the same file as ``settings.json`` on such a disk, and refusing it where it
is not costs nothing).
"""

from __future__ import annotations

import itertools
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Final

from .state import claude_config_dir, home_dir

Identity = tuple[int, int]

#: Pseudo-file systems: a process's environment and memory, devices, open descriptors.
SYSTEM_DIRS: Final = ("/proc", "/sys", "/dev")
#: Claude Code's files in its directory (``~/.claude``, ``$CLAUDE_CONFIG_DIR``) and in ``~``.
CLAUDE_FILES: Final = (".credentials.json", ".claude.json*", "settings*.json")
#: Where a channel keeps the attachments it received, in its state directory.
INBOX_DIR: Final = "inbox"
#: Folders of a state directory that hold attachments rather than secrets.
ATTACHMENT_DIRS: Final = frozenset({INBOX_DIR, "outbox"})
#: Entries read per folder when collecting protected files: a ``*_STATE_DIR`` pointed at a big
#: folder costs a bounded time, not a walk of the disk.
MAX_LISTED: Final = 512

CHANNEL_STATE: Final = "channel state"
CLAUDE_SETTINGS: Final = "Claude Code's settings and credentials"


def _default_channel_dirs(env: Mapping[str, str]) -> list[Path]:
    """Where every channel keeps its state by default, ours and the official ones alike."""
    return [home_dir(env) / ".claude" / "channels", claude_config_dir(env) / "channels"]


def _state_dir_settings(env: Mapping[str, str]) -> list[Path]:
    """Every ``<NAME>_STATE_DIR`` set, for a channel this version knows or not."""
    return [Path(value).expanduser() for key, value in env.items() if key.endswith("_STATE_DIR") and value]


#: Folders whose whole content is channel state. A new kind of store (a hub's directory) is one
#: more entry here.
STATE_LOCATIONS: Final[tuple[Callable[[Mapping[str, str]], list[Path]], ...]] = (
    _default_channel_dirs,
    _state_dir_settings,
)


def _identity(path: Path | str) -> Identity | None:
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return info.st_dev, info.st_ino


def _chain(path: Path) -> list[Identity]:
    """The identities of ``path`` and of every folder above it, nearest first (missing ones left out)."""
    found = (_identity(step) for step in (path, *path.parents))
    return [identity for identity in found if identity is not None]


def _files_below(folder: Path, depth: int) -> Iterator[tuple[Identity, Path]]:
    """Regular files in ``folder`` and, while ``depth`` allows, in its sub-folders (symlinks followed)."""
    try:
        with os.scandir(folder) as entries:
            listed = list(itertools.islice(entries, MAX_LISTED))
    except OSError:
        return
    for entry in listed:
        try:
            info = entry.stat()
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            yield (info.st_dev, info.st_ino), Path(entry.path)
        elif stat.S_ISDIR(info.st_mode) and depth > 1 and entry.name not in ATTACHMENT_DIRS:
            yield from _files_below(Path(entry.path), depth - 1)


def _regular_file(entry: os.DirEntry[str]) -> Identity | None:
    """The identity of the regular file ``entry`` is or links to; ``None`` for anything else."""
    try:
        info = entry.stat()
    except OSError:
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISREG(info.st_mode) else None


def _claude_files(env: Mapping[str, str]) -> Iterator[tuple[Identity, Path]]:
    """Claude Code's settings and credentials, wherever ``HOME`` and ``CLAUDE_CONFIG_DIR`` put them.

    Every name in these folders is looked at (however many there are), and only the matching ones
    are examined further.
    """
    for folder in dict.fromkeys([home_dir(env), home_dir(env) / ".claude", claude_config_dir(env)]):
        try:
            with os.scandir(folder) as entries:
                matching = [entry for entry in entries if _is_claude_file(entry.name)]
        except OSError:
            continue
        for entry in matching:
            identity = _regular_file(entry)
            if identity is not None:
                yield identity, Path(entry.path)


def _is_claude_file(name: str) -> bool:
    return any(fnmatchcase(name.casefold(), pattern) for pattern in CLAUDE_FILES)


@dataclass(frozen=True)
class Protected:
    """What one ``reply`` may not send, collected when it is called (files come and go)."""

    system: frozenset[Identity]
    state: frozenset[Identity]
    inbox: Identity | None
    files: Mapping[Identity, tuple[str, Path]]

    @classmethod
    def collect(cls, state_dir: Path, *, allow_inbox: bool, environ: Mapping[str, str] | None = None) -> Protected:
        """The protected places as they are now, for a channel whose state is in ``state_dir``.

        ``allow_inbox``: files in ``state_dir/inbox`` (attachments received) may be sent on.
        """
        env = os.environ if environ is None else environ
        roots = [state_dir.expanduser()] + [path for locate in STATE_LOCATIONS for path in locate(env)]
        state = {identity for identity in map(_identity, roots) if identity is not None}
        files: dict[Identity, tuple[str, Path]] = {}
        for root in roots:
            for identity, path in _files_below(root, 2):
                files.setdefault(identity, (CHANNEL_STATE, path))
        for identity, path in _claude_files(env):
            files.setdefault(identity, (CLAUDE_SETTINGS, path))
        return cls(
            system=frozenset(identity for identity in map(_identity, SYSTEM_DIRS) if identity is not None),
            state=frozenset(state),
            inbox=_identity(state_dir.expanduser() / INBOX_DIR) if allow_inbox else None,
            files=files,
        )

    def path_refusal(self, name: str, spelled: Path, real: Path) -> str | None:
        """Why ``name`` may not be sent, judged by where it lies; ``None`` when its place is fine.

        ``spelled`` is the absolute path as given (``/dev/fd/3``, ``/proc/self/root/...`` are refused
        as written), ``real`` the path with every symlink resolved (where the file really is).
        """
        real_chain = _chain(real)
        if not self.system.isdisjoint([*_chain(spelled), *real_chain]):
            return (
                f"refusing to send {name}: {', '.join(SYSTEM_DIRS[:-1])} and {SYSTEM_DIRS[-1]} hold the "
                "system's live state (a process's environment, devices, open files), not documents"
            )
        for identity in real_chain:  # the nearest enclosing place decides
            if identity == self.inbox:
                return None
            if identity in self.state:
                return f"refusing to send {CHANNEL_STATE}: {name}"
        return None

    def file_refusal(self, name: str, real: Path, info: os.stat_result) -> str | None:
        """Why the file ``info`` describes may not be sent: it is a protected file under any name."""
        protected = self.files.get((info.st_dev, info.st_ino))
        if protected is None:
            return None
        kind, path = protected
        if Path(os.path.realpath(path.parent), path.name) == real:  # the file itself, not a link to it
            return f"refusing to send {kind}: {name}"
        return f"refusing to send {kind}: {name} is the same file as {path}"

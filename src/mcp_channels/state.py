"""Where a channel keeps its state, and its ``.env`` credentials.

The layout is the official plugins' (``~/.claude/channels/<channel>/``), so a user can switch
between them and us without losing a token or a pairing. Every channel honours the same
overrides, in this order: ``<CHANNEL>_STATE_DIR``, then ``$CLAUDE_CONFIG_DIR/channels/<channel>``,
then ``~/.claude/channels/<channel>`` (the official servers honour them unevenly).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

ENV_FILE = ".env"
_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def state_dir_variable(channel: str) -> str:
    """The variable that moves ``channel``'s state directory: ``<CHANNEL>_STATE_DIR``."""
    return f"{channel.upper()}_STATE_DIR"


def state_dir(channel: str, environ: Mapping[str, str] | None = None) -> Path:
    """The state directory of ``channel`` (not created)."""
    env = os.environ if environ is None else environ
    override = env.get(state_dir_variable(channel))
    if override:
        return Path(override).expanduser()
    return claude_config_dir(env) / "channels" / channel


def home_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$HOME`` as the environment gives it (a test or a wrapper may set its own)."""
    env = os.environ if environ is None else environ
    return Path(env.get("HOME") or Path.home())


def claude_config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Claude Code's own directory: ``$CLAUDE_CONFIG_DIR``, else ``~/.claude``."""
    env = os.environ if environ is None else environ
    base = env.get("CLAUDE_CONFIG_DIR")
    return Path(base).expanduser() if base else home_dir(env) / ".claude"


@contextlib.contextmanager
def file_lock(path: Path, *, required: bool = True) -> Iterator[None]:
    """Hold a cross-process lock (``flock`` on ``path``, a file of its own so renames keep it).

    With ``required=False`` a lock file that cannot be created (a read-only directory) is not an
    error: readers then go on unlocked rather than fail.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        if required:
            raise
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make it 0700: it holds tokens and allowlists."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):
        path.chmod(0o700)
    return path


def atomic_write(path: Path, data: str | bytes, mode: int = 0o600) -> None:
    """Write ``path`` all at once: a temp file in the same directory, fsync'd, renamed over it."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


_DOUBLE_QUOTED = re.compile(r'^"((?:[^"\\]|\\.)*)"\s*(?:#.*)?$')
_SINGLE_QUOTED = re.compile(r"^'([^']*)'\s*(?:#.*)?$")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t"}


def _unquote(raw: str) -> str:
    double = _DOUBLE_QUOTED.match(raw)
    if double:
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], m[1]), double.group(1))
    single = _SINGLE_QUOTED.match(raw)
    if single:
        return single.group(1)
    # An unquoted value ends at " #" (a trailing comment), as in shells and python-dotenv.
    return re.split(r"\s+#", raw, maxsplit=1)[0].rstrip()


def parse_env(text: str) -> dict[str, str]:
    """Parse ``KEY=VALUE`` lines, tolerating CRLF, ``export``, quotes and ``#`` comments.

    The official parser accepts only bare ``KEY=VALUE``; a file written by hand on Windows, or
    copied from a shell script, silently lost its token there.
    """
    values: dict[str, str] = {}
    for line in text.removeprefix("\ufeff").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        if match:
            values[match.group(1)] = _unquote(match.group(2))
    return values


def read_env_file(directory: Path) -> dict[str, str]:
    """Read ``<directory>/.env`` (missing is empty), making it 0600 first as the official does."""
    path = directory / ENV_FILE
    with contextlib.suppress(OSError):
        path.chmod(0o600)
    try:
        return parse_env(path.read_text(encoding="utf-8", errors="replace"))
    except FileNotFoundError:
        return {}


def credential(key: str, directory: Path, environ: Mapping[str, str] | None = None) -> str | None:
    """A credential from the real environment, else from the state ``.env`` (the environment wins)."""
    env = os.environ if environ is None else environ
    value = env.get(key)
    if value:
        return value
    return read_env_file(directory).get(key) or None


def _env_value(value: str) -> str:
    """``value`` as written to ``.env``: bare when the official parser reads it back the same."""
    if any(ch in value for ch in "\n\r\0"):
        raise ValueError("a .env value cannot contain a line break or NUL")
    if value == value.strip() and not re.search(r"\s#|^[\"']", value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def set_env_key(directory: Path, key: str, value: str | None) -> None:
    """Set (or, with ``None``, remove) one key in ``.env``, keeping every other line as it was.

    The file ends up 0600 in a 0700 directory; a file left empty is deleted.
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        raise ValueError(f"not a valid .env key: {key!r}")
    line_for_key = None if value is None else f"{key}={_env_value(value)}"
    ensure_private_dir(directory)
    with file_lock(directory / ".env.lock"):  # two `configure` runs never lose an update
        path = directory / ENV_FILE
        try:
            lines = path.read_text(encoding="utf-8").removeprefix("\ufeff").splitlines()
        except FileNotFoundError:
            lines = []
        kept: list[str] = []
        for line in lines:
            match = _ENV_LINE.match(line)
            if match and match.group(1) == key and not line.lstrip().startswith("#"):
                if line_for_key is not None:
                    kept.append(line_for_key)
                    line_for_key = None
                continue
            kept.append(line)
        if line_for_key is not None:
            kept.append(line_for_key)
        if not any(line.strip() for line in kept):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return
        atomic_write(path, "\n".join(kept) + "\n", mode=0o600)


def mask_secret(value: str, keep: int = 6) -> str:
    """Show only a short prefix of a secret, enough to tell two tokens apart.

    Never more than a quarter of it, and nothing of a short one (a 9-character shared secret
    must not be half shown).
    """
    shown = min(keep, len(value) // 4) if len(value) >= 16 else 0
    if shown == 0:
        return f"{'*' * 8} ({len(value)} chars)"
    return f"{value[:shown]}… ({len(value)} chars)"


__all__ = [
    "ENV_FILE",
    "atomic_write",
    "claude_config_dir",
    "credential",
    "ensure_private_dir",
    "file_lock",
    "home_dir",
    "mask_secret",
    "parse_env",
    "read_env_file",
    "set_env_key",
    "state_dir",
    "state_dir_variable",
]

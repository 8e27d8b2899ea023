"""How a channel reads its settings: a frozen dataclass with one ``from_environ``, on these helpers.

A channel reads its settings once, when it starts, from its environment (a credential also from
its state ``.env``). A value that cannot be used stops it with a
:class:`~mcp_channels.errors.ConfigurationError` naming the variable: a typo in a port or a flag
must not fall back to a default the user did not ask for. Every channel follows one pattern::

    @dataclass(frozen=True)
    class AlertsSettings:
        port: int
        token: str

        @classmethod
        def from_environ(cls, environ: Mapping[str, str] | None = None) -> AlertsSettings:
            env = environ_or_os(environ)
            return cls(
                port=int_setting(env, "ALERTS_PORT", 8790, 1, 65535),
                token=required_credential("ALERTS_TOKEN", "abc123...", state_dir("alerts", env), env),
            )

``environ`` defaults to ``os.environ``; tests pass their own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Final, Self, TypeVar
from urllib.parse import urlsplit

from .errors import ConfigurationError
from .state import ENV_FILE, credential, state_dir

#: What a flag accepts, either way (any case, spaces around ignored).
TRUE_WORDS: Final = ("1", "true", "yes", "on")
FALSE_WORDS: Final = ("0", "false", "no", "off")

N = TypeVar("N", int, float)


def environ_or_os(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    """``environ``, or the process's environment when it is ``None``."""
    return os.environ if environ is None else environ


def int_setting(environ: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    """A whole number from ``low`` to ``high``, or ``default`` when ``key`` is unset or empty."""
    return _number_setting(environ, key, default, low, high, int)


def float_setting(environ: Mapping[str, str], key: str, default: float, low: float, high: float) -> float:
    """Like :func:`int_setting`, for a number such as an interval in seconds."""
    return _number_setting(environ, key, default, low, high, float)


def _number_setting(environ: Mapping[str, str], key: str, default: N, low: N, high: N, parse: Callable[[str], N]) -> N:
    raw = environ.get(key)
    if not raw:
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise ConfigurationError(f"{key}={raw!r} is not a number") from None
    if not low <= value <= high:
        raise ConfigurationError(f"{key}={raw} is out of range ({_plain(low)}..{_plain(high)})")
    return value


def _plain(number: float) -> str:
    """A bound as a person writes it: ``1073741824``, ``3600``, ``0.01`` (never ``1.07374e+09``)."""
    if isinstance(number, float) and not number.is_integer():
        return repr(number)
    return str(int(number))


def flag_setting(environ: Mapping[str, str], key: str, default: bool) -> bool:
    """On (``1``, ``true``, ``yes``, ``on``) or off (``0``, ``false``, ``no``, ``off``); ``default`` when unset."""
    raw = environ.get(key, "").strip().lower()
    if not raw:
        return default
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise ConfigurationError(f"{key}={environ[key]!r} is neither true nor false (use true or false)")


def url_setting(environ: Mapping[str, str], key: str, default: str) -> str:
    """An http(s) URL with a host, without a trailing slash; ``default`` when unset."""
    raw = environ.get(key) or default
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"{key}={raw!r} is not an http(s) URL (e.g. {default})")
    return raw.rstrip("/")


def required_credential(key: str, example: str, directory: Path, environ: Mapping[str, str]) -> str:
    """A credential the channel cannot start without, from the environment or the state ``.env``.

    Missing, the message is the official servers' own: where to put it, and what it looks like.
    """
    value = (credential(key, directory, environ) or "").strip()
    if not value:
        raise ConfigurationError(f"{key} required\n  set in {directory / ENV_FILE}\n  format: {key}={example}")
    return value


@dataclass(frozen=True)
class BotSettings:
    """What a bot channel reads at start: its token, where the platform's API is, its state directory.

    A subclass names its channel, its token's variable and example, and the variable that moves
    the API with its default; :meth:`from_environ` reads them all the same way. ``*_API_BASE``
    exists for tests and proxies (a self-hosted server, the tests' fakes).
    """

    token: str
    api_base: str
    state_dir: Path

    CHANNEL: ClassVar[str]
    TOKEN_VARIABLE: ClassVar[str]
    TOKEN_EXAMPLE: ClassVar[str]
    API_VARIABLE: ClassVar[str]
    DEFAULT_API_BASE: ClassVar[str]

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Self:
        env = environ_or_os(environ)
        directory = state_dir(cls.CHANNEL, env)
        return cls(
            token=required_credential(cls.TOKEN_VARIABLE, cls.TOKEN_EXAMPLE, directory, env),
            api_base=url_setting(env, cls.API_VARIABLE, cls.DEFAULT_API_BASE),
            state_dir=directory,
        )


__all__ = [
    "BotSettings",
    "environ_or_os",
    "flag_setting",
    "float_setting",
    "int_setting",
    "required_credential",
    "url_setting",
]

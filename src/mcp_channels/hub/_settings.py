"""A channel's settings as a session forwards them to the hub, and what makes two sessions' settings clash.

Users keep configuring where they do today: a plugin's ``.mcp.json`` ``env`` (``WEBHOOK_PORT``,
``WEBHOOK_SECRET``, ``TELEGRAM_STATE_DIR``...) and the state directory's ``.env``. The shim
forwards every variable of its environment named after its channel (``WEBHOOK_*`` for the
webhook) and the state directory it resolved (so ``CLAUDE_CONFIG_DIR`` and ``HOME`` count too);
the hub runs the channel with exactly those. The state directory's files (``.env``,
``access.json``) are read by the channel itself, from that directory, as standalone.

One channel runs once in the hub. A second session asking for it with other settings gets a
clear error naming the variables that differ (values of secrets are never shown), never a
silent choice of one of them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final

from ..state import state_dir

#: Parts of a variable name that mark a secret: its value is never shown in an error or a status.
SECRET_MARKERS: Final = ("TOKEN", "SECRET", "PASSWORD", "PASS", "KEY", "CREDENTIAL")


def prefix(channel: str) -> str:
    return f"{channel.upper()}_"


def channel_settings(channel: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings a session forwards for ``channel``: its variables and its resolved state directory."""
    env = os.environ if environ is None else environ
    start = prefix(channel)
    settings = {key: value for key, value in env.items() if key.startswith(start)}
    settings[f"{start}STATE_DIR"] = str(state_dir(channel, env).expanduser().absolute())
    return dict(sorted(settings.items()))


def channel_environ(channel: str, settings: Mapping[str, str], base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment the hub builds ``channel`` with: its own, minus this channel's variables, plus ``settings``."""
    env = os.environ if base is None else base
    start = prefix(channel)
    return {**{k: v for k, v in env.items() if not k.startswith(start)}, **settings}


def apply_to_process(channel: str, settings: Mapping[str, str]) -> None:
    """Make ``os.environ`` hold exactly ``settings`` among the channel's variables.

    Channels read a few settings late, from the process environment; each channel owns its
    prefix, so channels hosted side by side never see each other's.
    """
    start = prefix(channel)
    for key in [key for key in os.environ if key.startswith(start) and key not in settings]:
        del os.environ[key]
    os.environ.update(settings)


def is_secret(key: str) -> bool:
    return any(marker in key.upper() for marker in SECRET_MARKERS)


def _value(key: str, value: str | None) -> str:
    if value is None:
        return "unset"
    return "set (value hidden)" if is_secret(key) else repr(value)


def differences(running: Mapping[str, str], asked: Mapping[str, str]) -> list[str]:
    """``KEY <in the hub>, <here>`` for every variable that differs; secrets' values hidden."""
    return [
        f"{key} {_value(key, running.get(key))} in the hub, {_value(key, asked.get(key))} here"
        for key in sorted(set(running) | set(asked))
        if running.get(key) != asked.get(key)
    ]


def conflict_message(channel: str, running: Mapping[str, str], asked: Mapping[str, str], holder: str) -> str:
    """The error a session gets when it asks for ``channel`` with other settings than it runs with."""
    return (
        f"the hub already runs {channel} for session {holder} with other settings ("
        + "; ".join(differences(running, asked))
        + f"): start this session with the same settings, close {holder} first, "
        f"or run this one standalone with 'mcp-channels serve {channel} --hub off'"
    )


__all__ = [
    "apply_to_process",
    "channel_environ",
    "channel_settings",
    "conflict_message",
    "differences",
    "is_secret",
]

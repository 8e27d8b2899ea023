"""Which store and role a hub runs with, from its command line and environment, checked before anything starts.

Every option has a variable, so that a hub a session starts on its own (``--hub auto``) is
configured as the one ``hub run`` starts: ``MCP_CHANNELS_STORE``, ``MCP_CHANNELS_HUB_ROLE`` and
``MCP_CHANNELS_NATS_*``. A NATS token is taken from ``MCP_CHANNELS_NATS_TOKEN`` only: a
command line is visible to every user of the machine (``ps``). Anything wrong is a
:class:`ConfigurationError` naming the option and what to do.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, cast

from ..errors import ConfigurationError

#: ``both``: one hub does everything (the default); ``ingress``: owns the platform connections and
#: only stores events and serves edges; ``edge``: no platform connection, delivers to its sessions.
Role = Literal["both", "ingress", "edge"]
ROLES: Final = ("both", "ingress", "edge")

STORE_VAR: Final = "MCP_CHANNELS_STORE"
ROLE_VAR: Final = "MCP_CHANNELS_HUB_ROLE"
TOKEN_VAR: Final = "MCP_CHANNELS_NATS_TOKEN"
#: ``--nats-<option>`` → (its variable, the store's keyword, whether it names a file).
NATS_OPTIONS: Final = {
    "creds": ("MCP_CHANNELS_NATS_CREDS", "user_credentials", True),
    "nkey": ("MCP_CHANNELS_NATS_NKEY", "nkeys_seed", True),
    "ca": ("MCP_CHANNELS_NATS_CA", "tls_ca_file", True),
    "cert": ("MCP_CHANNELS_NATS_CERT", "tls_cert_file", True),
    "key": ("MCP_CHANNELS_NATS_KEY", "tls_key_file", True),
    "namespace": ("MCP_CHANNELS_NATS_NAMESPACE", "namespace", False),
}


@dataclass(frozen=True)
class StoreConfig:
    """The resolved choice: ``store`` (``None``: the default SQLite directory), its options, the role."""

    store: str | None
    role: Role
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def is_nats(self) -> bool:
        return self.store is not None and self.store.startswith(("nats://", "tls://"))


def resolve(
    store: str | None, role: str | None, nats: Mapping[str, str | None], environ: Mapping[str, str] | None = None
) -> StoreConfig:
    """The store and role from the options given (``nats``: ``--nats-*`` by name), else the environment."""
    env = os.environ if environ is None else environ
    store = store or env.get(STORE_VAR) or None
    role = role or env.get(ROLE_VAR) or "both"
    if role not in ROLES:
        raise ConfigurationError(f"hub role {role!r} is not one of {', '.join(ROLES)} (--role or {ROLE_VAR})")
    options: dict[str, Any] = {}
    for name, (variable, keyword, is_file) in NATS_OPTIONS.items():
        value = nats.get(name) or env.get(variable)
        if value:
            options[keyword] = _readable(value, f"--nats-{name} ({variable})") if is_file else value
    if env.get(TOKEN_VAR):
        options["token"] = env[TOKEN_VAR]
    config = StoreConfig(store, cast(Role, role), options)
    if store is not None and "://" in store and not store.startswith(("nats://", "tls://", "sqlite://")):
        raise ConfigurationError(
            f"store {store.split('://')[0]}://...: give a directory, sqlite:///dir, "
            "or a NATS server that must look like nats://host:4222 or tls://host:4222"
        )
    if config.is_nats:
        assert store is not None
        check_nats_url(store)
        if "tls_key_file" in options and "tls_cert_file" not in options:
            raise ConfigurationError("--nats-key needs --nats-cert (the client certificate it belongs to)")
    elif options:
        raise ConfigurationError(
            f"{', '.join(sorted(options))}: NATS options, but the store is not nats:// or tls:// (--store or {STORE_VAR})"
        )
    if role != "both" and not config.is_nats:
        raise ConfigurationError(
            f"--role {role} shares events between machines through NATS JetStream: give --store nats://host:4222 "
            f"(or {STORE_VAR})"
        )
    return config


def check_nats_url(url: str) -> None:
    """Each comma-separated server must be ``nats://`` or ``tls://`` with a host and a valid port."""
    for part in (part.strip() for part in url.split(",")):
        shown = part.split("@")[-1]
        try:
            parsed = urllib.parse.urlsplit(part)
            port = parsed.port
        except ValueError as exc:
            raise ConfigurationError(f"NATS server {shown!r}: {exc}") from None
        if parsed.scheme not in ("nats", "tls") or not parsed.hostname:
            raise ConfigurationError(f"NATS server {shown!r} must look like nats://host:4222 or tls://host:4222")
        if parsed.path not in ("", "/") or parsed.query or parsed.fragment:
            raise ConfigurationError(
                f"NATS server {shown!r} takes no path or query (the namespace is --nats-namespace)"
            )
        if port == 0:
            raise ConfigurationError(f"NATS server {shown!r}: port 0 is not a server's port")


def _readable(value: str, what: str) -> str:
    path = Path(value).expanduser()
    if not path.is_file() or not os.access(path, os.R_OK):
        raise ConfigurationError(f"{what}: {path} is not a readable file")
    return str(path)


__all__ = ["ROLES", "ROLE_VAR", "STORE_VAR", "TOKEN_VAR", "Role", "StoreConfig", "check_nats_url", "resolve"]

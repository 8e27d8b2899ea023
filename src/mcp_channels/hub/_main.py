"""Entry points of the hub's life: ``run_hub`` is ``mcp-channels hub run``, ``stop_hub`` is ``hub stop``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigurationError, ConnectionClosed, HubUnreachable, InvalidInput, JsonRpcError
from ._daemon import running_pid, terminate, wait_released
from ._hub import HostFactory, Hub, HubOptions, configure_hub_logging
from ._paths import HubPaths
from ._socket import connect, read_token
from ._store_config import Role
from ._wire import HELLO, PROTOCOL_VERSION, STOP
from .store import Retention

log = logging.getLogger("mcp_channels.hub")


def run_hub(
    *,
    store: str | None = None,
    retention: Retention | None = None,
    idle_exit: float | None = None,
    metrics_port: int | None = None,
    ready_fd: int | None = None,
    wait: bool = False,
    host_factory: HostFactory | None = None,
    role: Role = "both",
    channels: tuple[str, ...] = (),
    store_options: Mapping[str, Any] | None = None,
) -> int:
    """Run the hub in this process until it is stopped; the exit status.

    ``host_factory`` makes the runner that hosts the channels; without one the hub hosts no
    channel and only routes what is in its store. ``role`` and ``channels``: see :class:`HubOptions`.
    A store that cannot be opened raises :class:`ConfigurationError`.
    """
    configure_hub_logging()
    paths = HubPaths.from_environ()
    options = HubOptions(
        store=store,
        retention=retention or Retention(),
        idle_exit=idle_exit,
        metrics_port=metrics_port,
        role=role,
        channels=channels,
        store_options=dict(store_options or {}),
    )
    try:
        hub = Hub(paths, options, host_factory)
    except InvalidInput as exc:
        raise ConfigurationError(f"the event store: {exc}") from exc
    try:
        return asyncio.run(hub.run(ready_fd, wait=wait))
    except KeyboardInterrupt:
        return 0


@dataclass(frozen=True)
class StopOutcome:
    stopped: bool
    message: str


async def stop_hub(paths: HubPaths, timeout: float) -> StopOutcome:
    """Ask the running hub to stop and wait for it to be gone; SIGTERM when it does not answer."""
    pid = running_pid(paths)
    if pid is None:
        return StopOutcome(True, "no hub is running")
    try:
        link = await connect(paths)
        try:
            await link.peer.request(HELLO, {"protocol": PROTOCOL_VERSION, "token": read_token(paths)}, timeout=timeout)
            await link.peer.request(STOP, timeout=timeout)
        finally:
            link.close()
    except (HubUnreachable, JsonRpcError, ConnectionClosed, TimeoutError) as exc:
        log.debug("stop request failed: %s", exc)
        if pid and not terminate(pid):
            return StopOutcome(True, f"the hub (pid {pid}) had already exited")
    if await wait_released(paths, timeout):
        return StopOutcome(True, f"hub stopped (pid {pid})")
    if pid and terminate(pid) and await wait_released(paths, timeout):
        return StopOutcome(True, f"hub stopped by SIGTERM (pid {pid})")
    return StopOutcome(False, f"the hub (pid {pid}) did not stop within {timeout:g}s")


__all__ = ["StopOutcome", "run_hub", "stop_hub"]

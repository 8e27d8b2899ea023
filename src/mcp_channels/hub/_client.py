"""Talking to the running hub from the command line: say hello (with the token in TCP mode), ask, close."""

from __future__ import annotations

from typing import Any

from ..errors import ConnectionClosed, HubRequestError, HubUnreachable, JsonRpcError
from ._paths import HubPaths
from ._socket import connect, read_token
from ._wire import HELLO, PROTOCOL_VERSION


async def ask(paths: HubPaths, method: str, params: Any = None, *, timeout: float = 10.0) -> Any:
    """One control request to the running hub; :class:`HubUnreachable` when none runs."""
    link = await connect(paths)
    try:
        await link.peer.request(HELLO, {"protocol": PROTOCOL_VERSION, "token": read_token(paths)}, timeout=timeout)
        return await link.peer.request(method, params, timeout=timeout)
    except JsonRpcError as exc:
        raise HubRequestError(exc.message) from None
    except ConnectionClosed as exc:
        raise HubUnreachable(f"the hub closed the connection: {exc}") from None
    finally:
        link.close()


__all__ = ["HubRequestError", "ask"]

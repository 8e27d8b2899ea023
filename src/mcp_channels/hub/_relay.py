"""Hubs on several machines over NATS: an edge's tool calls and permission prompts go to the ingress, verdicts come back, bindings stay in step.

Only a hub whose store is on NATS JetStream uses this module; channels never see it. On the
server, next to the store's streams and buckets (``<ns>`` is the store's namespace):

* ``<ns>.relay.<channel>``, request/reply from an edge to the ingress: ``{"op": "call_tool",
  "name", "arguments"}``, ``{"op": "permission", "params", "conversations"}`` or ``{"op": "say",
  "conversation", "text"}``; the answer is ``{"result": ...}`` or ``{"error": "..."}``. The
  ingress answers with the hosted channel's own result, errors included, so a session on an edge
  sees what a session on the ingress's machine would.
* ``<ns>.verdict.<channel>``, published by the ingress when a person answers a permission prompt:
  ``{"request_id", "session", "hub", "behavior"}``. Every edge hears it and only the one whose
  ``hub`` it names hands it to that session (first answer wins at the ingress, which deletes the
  request's record before publishing).
* the store's key-value bucket, followed: a binding, path route or session record written by any
  hub (a ``reply`` on one edge, ``/switch`` at the ingress) updates every hub's copy and makes
  its dispatchers look again, so a moved conversation stops on one machine and starts on another;
  a channel's declaration the ingress shares is written down for the edge's shims.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol

from ..errors import RelayError, StoreError
from ..runners._tasks import Background
from ._declarations import SHARED_PREFIX
from .store._nats import NatsStore, decode_token, translate

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription

    from ._attachment import Attachment
    from ._router import RoutingState
    from ._wire import SessionInfo

#: How long an edge waits for the ingress to run a tool (a file upload can take a while).
TOOL_TIMEOUT: Final = 60.0
#: How long an edge waits for the ingress to show a prompt or a line in a chat.
SHORT_TIMEOUT: Final = 10.0
#: Every hub reads the whole routing state again this often: what a disconnection hid arrives.
RELOAD_INTERVAL: Final = 30.0

log = logging.getLogger("mcp_channels.hub")


class Carrying(Protocol):
    """What the ingress's hub runs for an edge: its channel host's calls."""

    async def call_tool(self, channel: str, name: str, arguments: Any) -> dict[str, Any]: ...

    async def relay_permission(self, channel: str, params: Mapping[str, Any], conversations: Sequence[str]) -> None: ...

    async def say(self, channel: str, conversation: str, text: str) -> bool: ...


class LinkedHub(Protocol):
    """What :class:`NatsLinks` needs of the hub (the hub imports this module, not the reverse)."""

    hub_id: str

    @property
    def routing(self) -> RoutingState: ...

    @property
    def host(self) -> Carrying | None: ...

    def routing_changed(self) -> None: ...

    def deliver_verdict(self, channel: str, request_id: str, session: str, behavior: str) -> None: ...

    def declaration_shared(self, value: str) -> None: ...


class NatsLinks:
    """What a hub on a NATS store does with the server besides storing: routing feed, relay, verdicts."""

    def __init__(self, hub: LinkedHub, store: NatsStore) -> None:
        self.hub = hub
        self.store = store
        self.namespace = store.namespace
        self._subscriptions: list[Subscription] = []
        self._background = Background(log)

    def subject(self, kind: str, channel: str) -> str:
        return f"{self.namespace}.{kind}.{channel}"

    async def start(self, *, serve_relay: bool, hear_verdicts: bool) -> None:
        """Follow the routing keys; answer edges' requests (the ingress); hear verdicts (edges)."""
        import nats.js.api

        nc = self.store.connection
        bucket = self.store.kv_bucket
        js = nc.jetstream(timeout=self.store.timeout)
        self._subscriptions.append(
            await js.subscribe(
                f"$KV.{bucket}.>",
                stream=f"KV_{bucket}",
                cb=self._routing_changed,
                ordered_consumer=True,
                idle_heartbeat=1.0,
                deliver_policy=nats.js.api.DeliverPolicy.NEW,
            )
        )
        if serve_relay:
            self._subscriptions.append(
                await nc.subscribe(self.subject("relay", "*"), queue="ingress", cb=self._relay_request)
            )
        if hear_verdicts:
            self._subscriptions.append(await nc.subscribe(self.subject("verdict", "*"), cb=self._verdict_heard))
        self._background.spawn(self._reload_forever(), "routing reload")

    async def stop(self) -> None:
        self._background.cancel()
        for subscription in self._subscriptions:
            try:
                await subscription.unsubscribe()
            except Exception as exc:  # the connection is closing anyway
                log.debug("unsubscribe failed: %r", exc)
        self._subscriptions.clear()

    # ------------------------------------------------------------------ routing, every hub

    async def _routing_changed(self, message: Msg) -> None:
        token = message.subject.split(".", 2)[-1]
        try:
            key = decode_token(token)
        except StoreError:
            return
        removed = (message.headers or {}).get("KV-Operation") in ("DEL", "PURGE")
        if key.startswith(SHARED_PREFIX) and not removed:
            self.hub.declaration_shared(message.data.decode())
        elif self.hub.routing.apply(key, None if removed else message.data.decode()):
            self.hub.routing_changed()

    async def _reload_forever(self) -> None:
        while True:
            await asyncio.sleep(RELOAD_INTERVAL)
            try:
                await self.hub.routing.load()
            except StoreError as exc:
                log.debug("routing reload failed: %s", exc)
                continue
            self.hub.routing_changed()

    # ------------------------------------------------------------------ the ingress

    async def _relay_request(self, message: Msg) -> None:
        """One request from an edge, answered in a task of its own (a tool call can take long)."""
        self._background.spawn(self._answer(message), "relay request")

    async def _answer(self, message: Msg) -> None:
        channel = message.subject.rsplit(".", 1)[-1]
        try:
            request = json.loads(message.data)
            answer = {"result": await self._carry_out(channel, request)}
        except (ValueError, TypeError, KeyError) as exc:
            answer = {"error": f"malformed relay request: {exc!r}"}
        except Exception as exc:
            log.exception("relay request for %s failed", channel)
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        try:
            await message.respond(json.dumps(answer).encode())
        except Exception as exc:
            log.warning("could not answer a relay request for %s: %r", channel, exc)

    async def _carry_out(self, channel: str, request: Mapping[str, Any]) -> Any:
        host = self.hub.host
        if host is None:
            raise RelayError("this hub runs no channels")
        op = request["op"]
        if op == "call_tool":
            return await host.call_tool(channel, str(request["name"]), request.get("arguments"))
        if op == "permission":
            await host.relay_permission(channel, dict(request["params"]), list(request["conversations"]))
            return None
        if op == "say":
            return await host.say(channel, str(request["conversation"]), str(request["text"]))
        raise KeyError(f"unknown op {op!r}")

    async def forward_verdict(self, channel: str, request_id: str, asked: Mapping[str, Any], behavior: str) -> None:
        """A verdict for a session of another hub: published for the edges, one of which holds it."""
        payload = {"request_id": request_id, "session": asked.get("session"), "hub": asked.get("hub"),
                   "behavior": behavior}  # fmt: skip
        try:
            subject = self.subject("verdict", str(asked.get("channel") or channel))  # the asking session's channel
            await self.store.connection.publish(subject, json.dumps(payload).encode())
        except Exception as exc:
            log.warning("permission %s: could not send the verdict to the edges: %r", request_id, exc)

    # ------------------------------------------------------------------ the edges

    async def _verdict_heard(self, message: Msg) -> None:
        channel = message.subject.rsplit(".", 1)[-1]
        try:
            verdict = json.loads(message.data)
            if verdict.get("hub") != self.hub.hub_id:
                return
            self.hub.deliver_verdict(
                channel, str(verdict["request_id"]), str(verdict["session"]), str(verdict["behavior"])
            )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("ignored a malformed verdict on %s: %r", message.subject, exc)

    async def request(self, channel: str, payload: Mapping[str, Any], timeout: float) -> Any:
        """Ask the ingress; its ``result``, or :class:`RelayError` saying why there is none."""
        import nats.errors

        try:
            reply = await self.store.connection.request(
                self.subject("relay", channel), json.dumps(payload).encode(), timeout=timeout
            )
        except nats.errors.NoRespondersError:
            raise RelayError(f"no ingress hub answers on NATS ({self.store.servers})") from None
        except nats.errors.TimeoutError:
            raise RelayError(f"the ingress hub did not answer within {timeout:g}s") from None
        except Exception as exc:
            raise RelayError(str(translate(exc, self.store.servers))) from exc
        answer = json.loads(reply.data)
        if "error" in answer:
            raise RelayError(f"the ingress hub: {answer['error']}")
        return answer.get("result")


class EdgeHost:
    """The edge's :class:`~._hub.ChannelHost`: every channel runs at the ingress, reached over NATS.

    The settings a session forwards are not used (the ingress runs each channel with its own);
    files named in a tool call are on this machine, which the ingress cannot read, so a call
    naming files is refused with that reason rather than failing at the ingress.
    """

    def __init__(self, links: NatsLinks) -> None:
        self.links = links
        self.asked: set[str] = set()

    async def restore(self) -> None:
        return None

    async def ensure(self, channel: str, settings: Mapping[str, str], session: SessionInfo) -> None:
        self.asked.add(channel)

    def release(self, channel: str, remaining: Sequence[Attachment]) -> None:
        return None

    async def call_tool(self, channel: str, name: str, arguments: Any) -> dict[str, Any]:
        if isinstance(arguments, dict) and arguments.get("files"):
            return _error(name, "this session runs on an edge hub; the ingress cannot read files of this machine")
        try:
            result = await self.links.request(
                channel, {"op": "call_tool", "name": name, "arguments": arguments}, TOOL_TIMEOUT
            )
        except RelayError as exc:
            return _error(name, str(exc))
        if not isinstance(result, dict):
            return _error(name, "the ingress hub gave no tool result")
        return result

    async def relay_permission(self, channel: str, params: Mapping[str, Any], conversations: Sequence[str]) -> None:
        payload = {"op": "permission", "params": dict(params), "conversations": list(conversations)}
        try:
            await self.links.request(channel, payload, SHORT_TIMEOUT)
        except RelayError as exc:
            log.warning("%s: the permission prompt did not reach the ingress: %s", channel, exc)

    async def say(self, channel: str, conversation: str, text: str) -> bool:
        payload = {"op": "say", "conversation": conversation, "text": text}
        try:
            return bool(await self.links.request(channel, payload, SHORT_TIMEOUT))
        except RelayError as exc:
            log.info("%s: could not answer in %s: %s", channel, conversation, exc)
            return False

    def describe(self) -> list[dict[str, Any]]:
        return [{"name": name, "state": "at the ingress", "error": None, "settings": []} for name in sorted(self.asked)]

    async def shutdown(self) -> None:
        return None


def _error(name: str, reason: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": f"{name} failed: {reason}"}], "isError": True}


__all__ = ["EdgeHost", "NatsLinks"]

"""The ``serve`` shim: what Claude Code runs in each session when the hub is on.

To Claude Code it is the channel's own server: it answers ``initialize`` from the channel's
declaration (its instructions, tools and permission capability; built without starting
anything, so no platform library is imported), with the stdio runner's handshake, readiness
hold and bounded outgoing queue. Behind that it holds one link to the hub:

* events arrive (``hub/event``) and are queued for Claude Code; each is acknowledged
  (``hub/ack``) only once its notification is written to stdout, which happens only after the
  one-second readiness hold; an id already written is dropped (the hub may send it again after
  a crash) and acknowledged when the first copy was written;
* tool calls go to the hub, which runs them on its one copy of the channel; permission requests
  go to the hub and verdicts come back;
* when the link drops (the hub stopped or crashed) it connects again, starting a hub when
  ``--hub auto`` and none answers; tool calls meanwhile wait up to :data:`RECONNECT_WAIT`.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
from typing import Any, Final, Literal

from ..channel import Channel, PermissionRequest, Tool, ToolResult
from ..delivery import DECIDING_VARS
from ..errors import (
    ConfigurationError,
    ConnectionClosed,
    HostDisconnected,
    HubStartError,
    HubUnreachable,
    JsonRpcError,
    ToolError,
    WireError,
)
from . import _declarations, _hosting
from ._daemon import reach_hub, start_once
from ._paths import HubPaths
from ._settings import channel_settings
from ._socket import Link, read_token
from ._store_config import ROLE_VAR
from ._wire import (
    ACK,
    ATTACH,
    CALL_TOOL,
    EVENT,
    NOTICE,
    PERMISSION_REQUEST,
    PERMISSION_VERDICT,
    SESSION_ID_VAR,
    Ack,
    Attach,
    Delivered,
)

HubMode = Literal["auto", "required"]
#: How long a tool call waits for the hub to come back before it fails.
RECONNECT_WAIT: Final = 10.0
#: Ids of events written, remembered to drop a copy the hub sends again.
REMEMBERED_IDS: Final = 10_000
SESSION_NAME_VAR: Final = "MCP_CHANNELS_SESSION_NAME"


class HubSession:
    """The shim's link to the hub, as one task of the proxy channel."""

    def __init__(self, proxy: Channel, channel: str, server: str | None, name: str | None, mode: HubMode) -> None:
        self.proxy = proxy
        self.channel = channel
        self.server = server or channel
        self.name = name or os.environ.get(SESSION_NAME_VAR) or None
        self.mode = mode
        self.paths = HubPaths.from_environ()
        self.log = proxy.log
        self.link: Link | None = None
        self.connected = asyncio.Event()
        self.refused: str | None = None
        self._written: collections.OrderedDict[str, asyncio.Future[None]] = collections.OrderedDict()

    # ------------------------------------------------------------------ the link

    async def run(self) -> None:
        """Attach, and attach again whenever the link drops, for the life of the session."""
        delay = 0.05
        first = True
        while True:
            try:
                link = await reach_hub(
                    self.paths, start=self.mode == "auto", on_notification=self._notified, logger=self.log
                )
                result = await link.peer.request(ATTACH, self._attach().to_json())
            except (HubUnreachable, HubStartError, JsonRpcError, ConnectionClosed, TimeoutError) as exc:
                if first and self.mode == "required":
                    raise ConfigurationError(f"--hub required, but {exc}") from None
                if first:
                    self.log.error("cannot reach the hub: %s; retrying", exc)
                first = False
                await asyncio.sleep(delay)  # nothing to await: the hub is down
                delay = min(delay * 2, 2.0)
                continue
            delay, first = 0.05, False
            self._attached(link, result)
            await link.closed.wait()
            self.connected.clear()
            self.link = None
            self.log.warning("the connection to the hub was lost (%s); reconnecting", link.peer.close_reason)

    def _attach(self) -> Attach:
        env = os.environ
        return Attach(
            channel=self.channel,
            server=self.server,
            pid=os.getpid(),
            environ={key: env[key] for key in (*DECIDING_VARS, SESSION_ID_VAR) if key in env},
            settings=channel_settings(self.channel),
            name=self.name,
            project_dir=env.get("CLAUDE_PROJECT_DIR") or os.getcwd(),
            token=read_token(self.paths),
        )

    def _attached(self, link: Link, result: Any) -> None:
        answer = result if isinstance(result, dict) else {}
        refused = answer.get("refused")
        self.refused = refused if isinstance(refused, str) else None
        if self.refused is not None:
            self.log.error("the hub refused this session: %s", self.refused)
        elif not answer.get("delivering"):
            self.log.info(
                "attached to the hub (pid %s): tools only, this session takes no events", answer.get("hub_pid")
            )
        else:
            self.log.info("attached to the hub (pid %s)", answer.get("hub_pid"))
        self.link = link
        self.connected.set()

    def _notified(self, method: str, params: Any) -> None:
        try:
            if method == EVENT:
                self._event(Delivered.from_json(params))
            elif method == PERMISSION_VERDICT:
                behavior = params.get("behavior") if isinstance(params, dict) else None
                request_id = params.get("request_id") if isinstance(params, dict) else None
                if isinstance(request_id, str) and behavior in ("allow", "deny"):
                    self.proxy.send_permission_verdict(request_id, behavior == "allow")
            elif method == NOTICE and isinstance(params, dict):
                level = logging.INFO if params.get("level") == "info" else logging.WARNING
                self.log.log(level, "%s", str(params.get("message", ""))[:2000])
                if params.get("attached") is True:
                    self.refused = None
        except WireError as exc:
            self.log.warning("ignored a malformed %s from the hub: %s", method, exc)

    # ------------------------------------------------------------------ events

    def _event(self, event: Delivered) -> None:
        earlier = self._written.get(event.id)
        if earlier is not None:  # the hub sent it again (after a crash): one copy reaches Claude
            earlier.add_done_callback(lambda done: self._ack(event, done))
            return
        try:
            written = self.proxy.enqueue(event.content, **event.meta)
        except HostDisconnected:
            return  # Claude Code has gone: nothing is acknowledged, the hub keeps the event
        self._written[event.id] = written
        while len(self._written) > REMEMBERED_IDS:
            self._written.popitem(last=False)
        written.add_done_callback(lambda done: self._ack(event, done))

    def _ack(self, event: Delivered, done: asyncio.Future[None]) -> None:
        if done.cancelled() or done.exception() is not None or self.link is None:
            return
        self.link.peer.notify(ACK, Ack(event.channel, event.conversation, event.seq, event.id).to_json())

    # ------------------------------------------------------------------ tools and permissions

    def tool(self, name: str) -> Any:
        """The handler of tool ``name``: the call, run by the hub's channel."""

        async def forward(**arguments: Any) -> ToolResult:
            try:
                link = await self._ready_link()
            except ToolError as exc:
                return _error(f"{name} failed: {exc}")
            try:
                result = await link.peer.request(CALL_TOOL, {"name": name, "arguments": arguments}, timeout=None)
            except (JsonRpcError, ConnectionClosed) as exc:
                return _error(f"{name} failed: the hub did not answer ({exc})")
            if not isinstance(result, dict) or not isinstance(result.get("content"), list):
                return _error(f"{name} failed: the hub answered something that is not a tool result")
            return ToolResult(result["content"], bool(result.get("isError")))

        return forward

    async def _ready_link(self) -> Link:
        """The link to the hub, once attached; :class:`ToolError` (the call's answer) when it cannot be."""
        if self.refused is not None:
            raise ToolError(self.refused)
        try:
            async with asyncio.timeout(RECONNECT_WAIT):
                await self.connected.wait()
        except TimeoutError:
            raise ToolError(f"the hub is not reachable ({self.paths.directory}); see mcp-channels hub status") from None
        assert self.link is not None
        if self.refused is not None:
            raise ToolError(self.refused)
        return self.link

    async def permission_request(self, request: PermissionRequest) -> None:
        try:
            link = await self._ready_link()
        except ToolError as exc:
            self.log.warning("permission request %s not relayed: %s", request.request_id, exc)
            return
        params = {
            "request_id": request.request_id,
            "tool_name": request.tool_name,
            "description": request.description,
            "input_preview": request.input_preview,
            **request.extra,
        }
        link.peer.notify(PERMISSION_REQUEST, params)


def _error(text: str) -> ToolResult:
    return ToolResult([{"type": "text", "text": text}], is_error=True)


def build_shim(channel: str, server: str | None, session_name: str | None, mode: HubMode) -> Channel:
    """The proxy Claude Code talks to: the channel's declaration, served through the hub.

    The declaration comes from what the hub wrote when it built the channel with the same
    settings (:mod:`._declarations`), so the channel's code is not even imported here; without
    one, the channel is built (not started) to read it.
    """
    from .. import __version__

    paths = HubPaths.from_environ()
    declared = _declarations.load(paths.directory, channel, __version__, channel_settings(channel))
    if declared is None:
        declared = _edge_declaration(paths, channel, __version__, mode) or _hosting.declaration(_hosting.build(channel))
    proxy = Channel(declared.name, instructions=declared.instructions, version=declared.version)
    link = HubSession(proxy, channel, server, session_name, mode)
    for tool in declared.tools:
        proxy.add_tool(Tool(tool["name"], tool["description"], tool["inputSchema"], link.tool(tool["name"])))
    if declared.relays_permissions:
        proxy.on_permission_request(link.permission_request)
    proxy.task(link.run, inbound=False)  # the link carries tool calls too: every session runs it
    return proxy


def _edge_declaration(paths: HubPaths, channel: str, version: str, mode: HubMode) -> _declarations.Declaration | None:
    """On a developer's machine of a team (``MCP_CHANNELS_HUB_ROLE=edge``), the declaration the
    ingress shared: the edge hub is started first (it writes them down before it listens), since
    this machine may lack what building the channel needs (a bot token)."""
    if os.environ.get(ROLE_VAR) != "edge" or mode != "auto":
        return None
    try:
        start_once(paths)
    except (HubStartError, OSError) as exc:
        logging.getLogger(f"mcp_channels.{channel}").warning("cannot start the edge hub: %s", exc)
        return None
    return _declarations.load(paths.directory, channel, version, {})


__all__ = ["SESSION_NAME_VAR", "HubSession", "build_shim"]

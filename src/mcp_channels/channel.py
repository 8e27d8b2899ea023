"""``Channel``: what a channel is, apart from how it is run.

A channel author gives a name, instructions and tools, registers tasks that talk to the platform,
and calls :meth:`Channel.push` whenever something happens. A runner hosts the channel: it hands
it an :class:`~mcp_channels.sink.EventSink` for its events, runs its tasks, answers its host's
requests with :meth:`Channel.call_tool` and :meth:`Channel.relay_permission`, and stops it. The
stdio runner (:mod:`mcp_channels.runners.stdio`) is what ``mcp-channels serve`` and
:meth:`Channel.run` use; the in-memory runner (:mod:`mcp_channels.runners.memory`) hosts a channel
inside a test. A channel never imports a runner.

What this module owns, whatever runs the channel:

* the declaration: instructions (warned about past Claude Code's limit), tools and their schemas,
  tasks and which of them hold the platform's inbound side, the permission handler;
* each event's validity: content a string, meta Claude Code keeps, and a line under Claude Code's
  16 MiB limit (:class:`~mcp_channels.errors.EventTooLarge`), so a refused event fails loudly here
  instead of vanishing in Claude Code;
* tool calls: arguments checked against the tool's schema, and every failure an error result the
  model can act on (``reply failed: invalid arguments: 'chat_id' is required``), never a crash;
* permission answers typed by people (``yes abcde``), recognised and sent as verdicts.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar, overload

from . import _schema
from .errors import EventTooLarge, SchemaError, ToolError
from .jsonrpc import encode_message
from .protocol import INSTRUCTIONS_LIMIT, MAX_LINE_BYTES, METHOD_CHANNEL, parse_permission_reply, validate_meta
from .sink import ChannelEvent, DeliveryStatus, EventSink

ToolHandler = Callable[..., Awaitable[Any]]
PermissionHandler = Callable[["PermissionRequest"], Awaitable[None]]
TaskFunction = Callable[[], Awaitable[None]]
F = TypeVar("F", bound=Callable[..., Any])

#: The ``notifications/permission_request`` params every request carries.
_PERMISSION_FIELDS = ("request_id", "tool_name", "description", "input_preview")


@dataclass
class ToolResult:
    """A tool answer with more than plain text (several parts, images, an explicit error flag)."""

    content: list[dict[str, Any]]
    is_error: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"content": self.content, "isError": self.is_error}


@dataclass
class Tool:
    """A tool the model can call; ``handler`` gets the validated arguments as keywords."""

    name: str
    description: str
    input_schema: dict[str, Any]
    handler: ToolHandler

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "inputSchema": self.input_schema}


@dataclass(frozen=True)
class Task:
    """A coroutine a runner runs beside the channel for its whole life.

    ``inbound`` says whether the task holds the platform's inbound side: it binds a port, polls
    or opens a gateway, watches a database, or greets people whose pairing was approved. A
    session that does not deliver the channel's events must hold none of that (another session
    may need it), so a runner may start only the tasks that are not inbound, which support the
    tools (loading the platform library the tools call).
    """

    function: TaskFunction
    inbound: bool

    @property
    def name(self) -> str:
        return getattr(self.function, "__name__", "task")


@dataclass(frozen=True)
class Place:
    """A conversation on the platform: a chat, and a thread inside it where the platform's threads
    share their chat's id (Slack's ``thread_ts``)."""

    chat: str
    thread: str | None = None


@dataclass(frozen=True)
class PermissionRequest:
    """Claude Code is asking the user to approve a tool call (``permission_request`` params).

    ``places`` are conversations the prompt is shown in besides the channel's own choice (its
    allowlisted DMs): the hub puts there the conversations bound to the session that asks, so the
    people talking to that session see its prompts, in their thread. A channel shows it only in
    group chats it lets talk to Claude (a DM's person has it in their DM already).
    """

    request_id: str
    tool_name: str
    description: str
    input_preview: str
    extra: Mapping[str, Any] = field(default_factory=dict)
    places: tuple[Place, ...] = ()

    @classmethod
    def from_params(cls, params: Any) -> PermissionRequest | None:
        """The request in a notification's params; ``None`` when a field is missing or not a string."""
        if not isinstance(params, dict) or not all(isinstance(params.get(key), str) for key in _PERMISSION_FIELDS):
            return None
        return cls(
            request_id=params["request_id"],
            tool_name=params["tool_name"],
            description=params["description"],
            input_preview=params["input_preview"],
            extra={key: value for key, value in params.items() if key not in _PERMISSION_FIELDS},
        )


class Channel:
    """A channel: its name, instructions, tools, tasks and permission handler, and the events it pushes.

    >>> channel = Channel("alerts", instructions="Alerts arrive as <channel source=...>.")
    >>> @channel.task
    ... async def watch() -> None:
    ...     await channel.push("disk almost full", host="db1")
    >>> channel.run()  # doctest: +SKIP
    """

    def __init__(
        self, name: str, *, instructions: str = "", version: str | None = None, logger: logging.Logger | None = None
    ) -> None:
        from . import __version__

        self.name = name
        self.instructions = instructions
        self.version = version or __version__
        self.log = logger or logging.getLogger(f"mcp_channels.{name}")
        self._tools: dict[str, Tool] = {}
        self._tasks: list[Task] = []
        self._permission_handler: PermissionHandler | None = None
        self._sink: EventSink | None = None
        if len(instructions) > INSTRUCTIONS_LIMIT:
            self.log.warning(
                "instructions are %d characters; Claude Code keeps only the first %d",
                len(instructions),
                INSTRUCTIONS_LIMIT,
            )

    # ------------------------------------------------------------------ declaring

    def tool(self, *, description: str, input_schema: dict[str, Any], name: str | None = None) -> Callable[[F], F]:
        """Register an ``async def`` as a tool; keyword arguments arrive validated."""

        def register(handler: F) -> F:
            self.add_tool(Tool(name or handler.__name__, description, input_schema, handler))
            return handler

        return register

    def add_tool(self, tool: Tool) -> None:
        if tool.name in self._tools:
            raise ValueError(f"tool {tool.name!r} is already registered")
        self._tools[tool.name] = tool

    @property
    def tools(self) -> tuple[Tool, ...]:
        """The tools, in the order they were registered."""
        return tuple(self._tools.values())

    @overload
    def task(self, function: F, /, *, inbound: bool = True) -> F: ...

    @overload
    def task(self, function: None = None, /, *, inbound: bool = True) -> Callable[[F], F]: ...

    def task(self, function: F | None = None, /, *, inbound: bool = True) -> F | Callable[[F], F]:
        """Register a coroutine function for the runner to run for the channel's lifetime.

        ``@channel.task`` declares a task that holds the platform's inbound side (the usual
        case: it receives what becomes events); ``@channel.task(inbound=False)`` one that only
        supports the tools (see :class:`Task`). If a task raises, the runner stops the channel
        at once: a channel that silently lost its platform is worse than one that visibly died.
        """

        def register(target: F) -> F:
            self._tasks.append(Task(target, inbound))
            return target

        return register if function is None else register(function)

    @property
    def tasks(self) -> tuple[Task, ...]:
        return tuple(self._tasks)

    def on_permission_request(self, handler: PermissionHandler) -> PermissionHandler:
        """Handle permission requests; registering one declares ``claude/channel/permission``.

        Declaring it asserts the channel authenticates whoever answers, so only register a
        handler in a channel that only relays prompts to, and takes answers from, trusted people.
        """
        self._permission_handler = handler
        return handler

    @property
    def relays_permissions(self) -> bool:
        return self._permission_handler is not None

    # ------------------------------------------------------------------ the sink

    def attach(self, sink: EventSink) -> None:
        """Called by the runner that hosts the channel: events go to ``sink`` from now on."""
        if self._sink is not None and self._sink is not sink:
            raise RuntimeError(f"channel {self.name!r} is already hosted by another runner")
        self._sink = sink

    def detach(self, sink: EventSink) -> None:
        """Called by the runner when it stops hosting the channel."""
        if self._sink is sink:
            self._sink = None

    @property
    def sink(self) -> EventSink:
        """The sink of the runner hosting the channel; ``RuntimeError`` when none is."""
        if self._sink is None:
            raise RuntimeError(f"channel {self.name!r} is not running: no runner hosts it")
        return self._sink

    @property
    def delivery(self) -> DeliveryStatus:
        """The runner's delivery state now (for a channel that reports it, such as the webhook's ``/healthz``)."""
        return self.sink.status()

    # ------------------------------------------------------------------ pushing events

    def enqueue(self, content: str, **meta: Any) -> asyncio.Future[None]:
        """Queue an event for Claude and return at once.

        The future completes once the event is delivered, so a task that must not acknowledge
        its platform before delivery (Telegram offsets) can await it. Raises ``TypeError`` /
        ``ValueError`` for content or meta Claude Code would drop, and what the sink raises when
        it cannot take the event (:class:`~mcp_channels.errors.EventQueueFull`,
        :class:`~mcp_channels.errors.HostDisconnected`); nothing is queued then.
        """
        return self.sink.enqueue(self.event(content, meta))

    async def push(self, content: str, **meta: Any) -> None:
        """Send an event to Claude, waiting until it is delivered.

        When the outgoing queue is full, waits for room first (in arrival order) rather than
        raising :class:`~mcp_channels.errors.EventQueueFull`, so a task that awaits each push
        slows down to the host's pace. Raises :class:`~mcp_channels.errors.HostDisconnected`
        once the host is gone.
        """
        await self.sink.push(self.event(content, meta))

    def event(self, content: str, meta: Mapping[str, Any]) -> ChannelEvent:
        """``content`` and ``meta`` checked as Claude Code would take them, and encoded once."""
        if not isinstance(content, str):
            raise TypeError(f"content must be a string, not {type(content).__name__}")
        checked = validate_meta(meta)
        line = encode_message(
            {"jsonrpc": "2.0", "method": METHOD_CHANNEL, "params": {"content": content, "meta": checked}}
        )
        if len(line) > MAX_LINE_BYTES:
            raise EventTooLarge(f"event is larger than Claude Code's {MAX_LINE_BYTES}-byte line limit")
        return ChannelEvent(content, checked, line)

    # ------------------------------------------------------------------ permission relay

    def send_permission_verdict(self, request_id: str, allow: bool) -> None:
        """Tell Claude Code the user's answer to a permission request."""
        self.sink.send_permission_verdict(request_id, allow)

    def take_permission_reply(self, text: str) -> tuple[str, bool] | None:
        """If ``text`` is a ``yes abcde`` / ``no abcde`` answer, send the verdict and return it.

        A message this returns non-``None`` for is a verdict and must not be pushed as chat.
        Only call it for messages from people allowed to approve tool use.
        """
        verdict = parse_permission_reply(text)
        if verdict is not None:
            self.send_permission_verdict(*verdict)
        return verdict

    async def relay_permission(self, request: PermissionRequest) -> None:
        """Hand a permission request to the channel's handler (called by the runner)."""
        if self._permission_handler is not None:
            await self._permission_handler(request)

    # ------------------------------------------------------------------ tool calls

    async def call_tool(self, name: str, arguments: Any) -> dict[str, Any]:
        """Run a tool as the host asked; the ``tools/call`` result, an error result for every failure."""
        tool = self._tools.get(name)
        if tool is None:
            return _error_result(f"unknown tool: {name}")
        arguments = arguments or {}
        try:
            _schema.validate(arguments, {"type": "object", **tool.input_schema})
        except SchemaError as exc:
            return _error_result(f"{name} failed: invalid arguments: {exc}")
        declared = tool.input_schema.get("properties", {})
        kwargs = {k: v for k, v in arguments.items() if k in declared and v is not None}
        try:
            result = await tool.handler(**kwargs)
        except ToolError as exc:
            return _error_result(f"{name} failed: {exc}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.log.error("tool %s crashed:\n%s", name, traceback.format_exc().rstrip())
            return _error_result(f"{name} failed: {exc}")
        if isinstance(result, ToolResult):
            return result.to_json()
        return {"content": [{"type": "text", "text": str(result)}]}

    # ------------------------------------------------------------------ running

    def run(self) -> NoReturn:
        """Serve on stdio until done, then exit the process with the right status (never returns).

        A convenience for a channel in a script of its own: ``mcp-channels serve`` uses the stdio
        runner the same way.
        """
        from .runners.stdio import StdioRunner

        StdioRunner(self).run()


def _error_result(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": True}


__all__ = [
    "Channel",
    "PermissionHandler",
    "PermissionRequest",
    "Place",
    "Task",
    "TaskFunction",
    "Tool",
    "ToolHandler",
    "ToolResult",
]

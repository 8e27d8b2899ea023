"""What every two-way chat channel (Telegram, Discord, iMessage, Slack) does the same way, written once.

A chat channel supplies a :class:`ChatPlatform` (send a text, react), a :class:`Progress` (show
that Claude is at work: "typing…") and describes each incoming message; :class:`ChatBridge` runs
the shared inbound path in the official order: gate (pairing replies included), permission-verdict
interception, progress, acknowledgement reaction, then the event for Claude. It also owns the pairing hand-off ("Paired! Say hi to
Claude."), the texts and button protocol of permission prompts, and the ``reply`` bookkeeping
(which chunks thread under ``reply_to``, the ``sent (id: …)`` summaries and partial-failure errors).
:class:`DeferredRuntime` lets a channel answer ``initialize`` before its platform library is imported.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import json
import logging
import os
import re
import sys
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Generic, Protocol, TypeVar

from ._schema import object_schema, string, string_list
from .access import (
    APPROVAL_POLL_INTERVAL,
    PAIRED_MESSAGE,
    AccessStore,
    GateResult,
    InboundMessage,
    gate,
    pairing_reply,
    watch_approvals,
)
from .channel import Channel, PermissionRequest, Place
from .errors import ConfigurationError, ToolError
from .text import fit, text_length

#: Button payloads of permission prompts: ``perm:<allow|deny|more>:<request id>``.
PERMISSION_BUTTON_RE: Final = re.compile(r"^perm:(allow|deny|more):([a-km-z]{5})$")
VERDICT_EMOJI: Final = {True: "✅", False: "❌"}
VERDICT_LABEL: Final = {True: "✅ Allowed", False: "❌ Denied"}
NOT_AUTHORIZED: Final = "Not authorized."
DETAILS_GONE: Final = "Details no longer available."
#: How long a "typing…" indicator is kept alive while Claude works, at most.
TYPING_LIMIT: Final = 120.0

log = logging.getLogger("mcp_channels.messaging")

R = TypeVar("R")


class ChatPlatform(Protocol):
    """The few platform calls the shared path needs. Errors propagate as exceptions."""

    async def send_text(self, chat_id: str, text: str, *, quote: str | None = None) -> None:
        """Send ``text``; ``quote`` is the message it answers, for platforms whose official server
        quotes it (Discord's pairing reply); the others send plainly, as theirs do."""

    async def react(self, chat_id: str, message_id: str, emoji: str) -> None: ...


class Progress(Protocol):
    """Shows a sender that Claude is working on their message, until it replies in that chat.

    "typing…" where the platform has it (:class:`TypingIndicator`); Slack, which gives bots no
    typing indicator, puts a reaction on the message instead. Both calls return at once: showing
    progress is cosmetic and never delays a message or a reply.
    """

    def start(self, incoming: Incoming) -> None: ...

    def stop(self, chat_id: str) -> None: ...


# --------------------------------------------------------------------------- permission prompts


def permission_prompt_text(tool_name: str) -> str:
    """The compact prompt sent with See more / Allow / Deny buttons."""
    return f"🔐 Permission: {tool_name}"


def permission_details_text(request: PermissionRequest) -> str:
    """The "See more" expansion: every field, the input pretty-printed when it is JSON."""
    try:
        pretty = json.dumps(json.loads(request.input_preview), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
        pretty = request.input_preview
    return (
        f"{permission_prompt_text(request.tool_name)}\n\n"
        f"tool_name: {request.tool_name}\ndescription: {request.description}\ninput_preview:\n{pretty}"
    )


def permission_outcome_text(original: str, allow: bool, limit: int | None = None, units: str = "codepoints") -> str:
    """The prompt once answered; the buttons go away so it cannot be answered twice.

    With a message ``limit``, the original is shortened so that the outcome always shows.
    """
    label = f"\n\n{VERDICT_LABEL[allow]}"
    if limit is not None:
        original = fit(original, limit - text_length(label, units), units=units)
    return f"{original}{label}"


def parse_permission_button(data: str) -> tuple[str, str] | None:
    """``("allow"|"deny"|"more", request_id)`` for a permission button payload, else ``None``."""
    match = PERMISSION_BUTTON_RE.match(data)
    return (match.group(1), match.group(2)) if match else None


class PermissionBook:
    """Details of open permission requests, so "See more" can show them.

    Bounded (oldest dropped first) and entries leave when answered by button or by text: the
    official servers keep text-answered entries forever.
    """

    def __init__(self, capacity: int = 256) -> None:
        self._entries: OrderedDict[str, PermissionRequest] = OrderedDict()
        self._capacity = capacity

    def remember(self, request: PermissionRequest) -> None:
        self._entries[request.request_id] = request
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def get(self, request_id: str) -> PermissionRequest | None:
        return self._entries.get(request_id.lower())

    def forget(self, request_id: str) -> None:
        self._entries.pop(request_id.lower(), None)


# --------------------------------------------------------------------------- tool schemas

#: ``reply_to`` as the official servers describe it.
REPLY_TO_HINT: Final = "Message ID to thread under. Use message_id from the inbound <channel> block."
#: ``react(chat_id, message_id, emoji)``: the same arguments on every platform with reactions.
REACT_SCHEMA: Final = object_schema({"chat_id": string(), "message_id": string(), "emoji": string()})


def reply_schema(*, files: str, reply_to: str | None = None, **optional: dict[str, Any]) -> dict[str, Any]:
    """``reply(chat_id, text, [reply_to], files, ...)``; ``reply_to`` only where the platform threads."""
    extra: dict[str, dict[str, Any]] = {} if reply_to is None else {"reply_to": string(reply_to)}
    return object_schema({"chat_id": string(), "text": string()}, {**extra, "files": string_list(files), **optional})


def edit_schema(**optional: dict[str, Any]) -> dict[str, Any]:
    """``edit_message(chat_id, message_id, text, ...)``."""
    return object_schema({"chat_id": string(), "message_id": string(), "text": string()}, optional)


# --------------------------------------------------------------------------- replies


def reply_targets(mode: str, reply_to: str | None, count: int) -> list[str | None]:
    """Which of ``count`` chunks thread under ``reply_to``, per ``replyToMode`` (off|first|all)."""
    if reply_to is None or mode == "off":
        return [None] * count
    if mode == "all":
        return [reply_to] * count
    return [reply_to] + [None] * (count - 1)


def sent_summary(ids: list[str]) -> str:
    """``sent (id: X)`` for one message, ``sent N parts (ids: a, b)`` for several."""
    if len(ids) == 1:
        return f"sent (id: {ids[0]})"
    return f"sent {len(ids)} parts (ids: {', '.join(ids)})"


def partial_failure(sent: int, total: int, error: object) -> str:
    """Say how far a multi-part reply got, so the model does not resend what arrived."""
    return f"reply failed after {sent} of {total} chunk(s) sent: {error}"


# --------------------------------------------------------------------------- inbound


@dataclass(frozen=True)
class Incoming:
    """One platform message, described for the shared path."""

    message: InboundMessage
    message_id: str | None
    content: str
    meta: Mapping[str, str]


@dataclass(frozen=True)
class ButtonAnswer:
    """What the platform should do after a permission button press.

    ``toast``: the short answer to the press (``None`` for none); ``text``: the prompt's new text
    (``None`` leaves it); ``keep_verdict_buttons``: show Allow/Deny only (after "See more"),
    otherwise remove every button.
    """

    toast: str | None
    text: str | None = None
    keep_verdict_buttons: bool = False


def approval_interval(environ: Mapping[str, str] | None = None) -> float:
    """Seconds between looks for pairing approvals: ``MCP_CHANNELS_APPROVAL_INTERVAL`` or 5.

    The official servers look every 5 s; the override lets end-to-end tests (and impatient
    people) see "Paired!" sooner. A value that is not a positive number is ignored.
    """
    raw = (os.environ if environ is None else environ).get("MCP_CHANNELS_APPROVAL_INTERVAL", "")
    try:
        value = float(raw)
    except ValueError:
        return APPROVAL_POLL_INTERVAL
    return value if 0 < value < float("inf") else APPROVAL_POLL_INTERVAL


class TypingIndicator:
    """Keeps "typing…" visible in a chat while Claude works, not just for the platform's 5-10 s.

    Refreshed every ``every`` seconds until :meth:`stop` (the reply went out) or ``limit``.
    """

    def __init__(self, send: Callable[[str], Awaitable[None]], *, every: float, limit: float = TYPING_LIMIT) -> None:
        self._send = send
        self._every = every
        self._limit = limit
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, incoming: Incoming) -> None:
        chat_id = incoming.message.chat_id
        self.stop(chat_id)
        self._tasks[chat_id] = asyncio.get_running_loop().create_task(self._keep(chat_id))

    def stop(self, chat_id: str) -> None:
        task = self._tasks.pop(chat_id, None)
        if task is not None:
            task.cancel()

    async def _keep(self, chat_id: str) -> None:
        deadline = time.monotonic() + self._limit
        try:
            while time.monotonic() < deadline:
                try:
                    await self._send(chat_id)
                except Exception as exc:  # typing is cosmetic; never let it break anything
                    log.debug("typing indicator failed in %s: %s", chat_id, exc)
                    return
                await asyncio.sleep(self._every)
        finally:
            if self._tasks.get(chat_id) is asyncio.current_task():
                del self._tasks[chat_id]


class ChatBridge:
    """The shared inbound path and pairing hand-off of a chat channel.

    ``verdicts_from`` decides who may answer permission prompts by text: by default anyone the
    gate delivers (the official Telegram/Discord behaviour); iMessage narrows it to self-chat.
    ``ack_reactions=False`` ignores ``ackReaction`` for a platform that cannot react to a message
    (iMessage: a "reaction" there is a separate text, fine for a verdict, noise for every message).
    ``progress`` shows that Claude is at work on each delivered message (typing…), until a reply.
    """

    def __init__(
        self,
        channel: Channel,
        store: AccessStore,
        platform: ChatPlatform,
        *,
        progress: Progress | None = None,
        ack_reactions: bool = True,
    ) -> None:
        self.channel = channel
        self.store = store
        self.platform = platform
        self.progress = progress
        self.ack_reactions = ack_reactions
        self.permissions = PermissionBook()

    async def receive(
        self,
        incoming: Incoming,
        *,
        bypass_gate: bool = False,
        verdicts_allowed: bool | None = None,
        enrich: Callable[[], Awaitable[Mapping[str, str]]] | None = None,
    ) -> GateResult | None:
        """Run one message through the shared path; returns the gate's decision (``None`` if bypassed).

        ``enrich`` adds meta that is only worth fetching for a message that will be delivered
        (Telegram downloads a photo only after the gate let it through); it runs just before the
        push, after the typing indicator and acknowledgement reaction.

        ``verdicts_allowed`` says whether a ``yes abcde`` text from this sender answers a
        permission prompt. By default only allowlisted people (``allowFrom``) may, as with the
        buttons: the official servers also took text verdicts from any member of an opted-in group,
        which lets someone who may only chat with Claude approve its tool use.
        """
        result: GateResult | None = None
        if not bypass_gate:
            result = gate(self.store, incoming.message)
            if result.action == "pair" and result.code is not None:
                await self._quietly(
                    self.platform.send_text(
                        incoming.message.chat_id,
                        pairing_reply(self.store.channel, result.code, result.resend),
                        quote=incoming.message_id,
                    ),
                    "pairing reply",
                )
                return result
            if not result.deliver:
                self.channel.log.debug("dropped message from %s: %s", incoming.message.sender_id, result.reason)
                return result
        chat_id = incoming.message.chat_id
        if verdicts_allowed is None:
            verdicts_allowed = incoming.message.sender_id in self.store.load().allow_from
        if verdicts_allowed:
            verdict = self.channel.take_permission_reply(incoming.content)
            if verdict is not None:
                self.permissions.forget(verdict[0])
                if incoming.message_id is not None:
                    await self._quietly(
                        self.platform.react(chat_id, incoming.message_id, VERDICT_EMOJI[verdict[1]]), "verdict reaction"
                    )
                return result
        if self.progress is not None:
            self.progress.start(incoming)
        ack = self.store.load().ack_reaction if self.ack_reactions else None
        if ack and incoming.message_id is not None:
            await self._quietly(self.platform.react(chat_id, incoming.message_id, ack), "ack reaction")
        meta = dict(incoming.meta)
        if enrich is not None:
            meta.update(await enrich())
        await self.channel.push(incoming.content, **meta)
        return result

    async def broadcast_permission(
        self,
        request: PermissionRequest,
        recipients: Iterable[str],
        send_prompt: Callable[[str, PermissionRequest], Awaitable[None]],
        *,
        send_in: Callable[[Place, PermissionRequest], Awaitable[None]] | None = None,
    ) -> None:
        """Send a permission prompt to each recipient (allowlisted DMs), and into the request's
        ``places`` (see :class:`~mcp_channels.channel.PermissionRequest`); a failed send is logged.

        Without ``send_in``, a place that is an opted-in group gets the prompt by ``send_prompt``
        (a chat id is where it goes); with it, ``send_in`` gets every place and shows the prompt
        in those it lets talk to Claude, in their thread (a platform whose threads are not their
        chat's own id, or whose groups are found by lookup).
        """
        self.permissions.remember(request)
        targets = list(dict.fromkeys(recipients))
        if send_in is None and request.places:
            groups = self.store.load().groups
            chats = dict.fromkeys(place.chat for place in request.places)
            targets += [chat for chat in chats if chat in groups and chat not in targets]
        sends: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            (recipient, functools.partial(send_prompt, recipient, request)) for recipient in targets
        ]
        if send_in is not None:
            sends += [
                (
                    f"{place.chat} thread {place.thread}" if place.thread else place.chat,
                    functools.partial(send_in, place, request),
                )
                for place in dict.fromkeys(request.places)
            ]
        for where, send in sends:
            try:
                await send()
            except Exception as exc:
                self.channel.log.warning("permission_request send to %s failed: %s", where, exc)

    def press_permission_button(
        self, user_id: str, data: str, original_text: str, *, limit: int | None = None, units: str = "codepoints"
    ) -> ButtonAnswer | None:
        """Act on a permission button press; ``None`` when ``data`` is not a permission button.

        Only allowlisted users may answer (the prompt may have been forwarded); the answer is
        sent to Claude at once and the prompt loses its buttons. ``limit`` (in ``units``) is the
        platform's message length: the new text is cut to fit, since an over-long edit is refused
        whole and the user would see nothing.
        """
        parsed = parse_permission_button(data)
        if parsed is None:
            return None
        action, request_id = parsed
        if user_id not in self.store.load().allow_from:
            return ButtonAnswer(toast=NOT_AUTHORIZED)
        if action == "more":
            request = self.permissions.get(request_id)
            if request is None:
                return ButtonAnswer(toast=DETAILS_GONE)
            details = permission_details_text(request)
            if limit is not None:
                details = fit(details, limit, units=units)
            return ButtonAnswer(toast=None, text=details, keep_verdict_buttons=True)
        allow = action == "allow"
        self.channel.send_permission_verdict(request_id, allow)
        self.permissions.forget(request_id)
        outcome = permission_outcome_text(original_text, allow, limit, units)
        return ButtonAnswer(toast=VERDICT_LABEL[allow], text=outcome)

    def replied(self, chat_id: str) -> None:
        """A reply went out: stop showing progress in that chat."""
        if self.progress is not None:
            self.progress.stop(chat_id)

    async def watch_approvals(
        self, chat_for: Callable[[str, str], str | None] | None = None, *, interval: float | None = None
    ) -> None:
        """Send "Paired! Say hi to Claude." for each approval the command line records.

        ``chat_for(sender_id, file_contents)`` picks the chat to send to (default: the recorded
        chat id, else the sender id, which is the DM chat on Telegram). ``interval``: seconds
        between looks (default :func:`approval_interval`).
        """

        async def on_approved(sender_id: str, contents: str) -> None:
            chat = chat_for(sender_id, contents) if chat_for else (contents or sender_id)
            if chat:
                await self.platform.send_text(chat, PAIRED_MESSAGE)

        await watch_approvals(self.store, on_approved, interval=approval_interval() if interval is None else interval)

    async def _quietly(self, call: Awaitable[Any], what: str) -> None:
        try:
            await call
        except Exception as exc:
            self.channel.log.warning("%s failed: %s", what, exc)


#: A tool as declared to Claude Code: name, description, input schema.
ToolDeclaration = tuple[str, str, dict[str, Any]]


class DeferredRuntime(Generic[R]):
    """A chat channel's platform objects, made only after the server has answered ``initialize``.

    Importing a platform library (python-telegram-bot, discord.py) takes 100-250 ms, and Claude
    Code waits for the ``initialize`` answer. So ``build()`` declares the tools and the permission
    handler at once, delegating through :meth:`delegate`, and registers the task that imports
    ``module`` in a thread (after the runner's loop has had its turn) and calls ``make`` on the
    loop; the tools need it, so it is not an inbound task. Loops that need the runtime are
    registered with :meth:`task`.

    If the import or ``make`` fails, that task raises, so the server exits 1 with the traceback;
    a tool call or permission request waiting meanwhile gets a :class:`ToolError`, never a hang.
    With ``extra`` (the package extra that installs the platform library), a library that is not
    installed stops the server with one line saying what to install instead.
    """

    def __init__(self, channel: Channel, module: str, make: Callable[[], R], *, extra: str | None = None) -> None:
        self.channel = channel
        self.module = module
        self.extra = extra
        self._make = make
        self._value: R | None = None
        self._settled = asyncio.Event()
        self._start: Callable[[R], Awaitable[None]] | None = None
        channel.task(self.load_platform, inbound=False)

    def start_with(self, start: Callable[[R], Awaitable[None]]) -> None:
        """Await ``start(runtime)`` once it is made, before any tool or task uses it: what the tools
        need before they can work, such as a login. A session that does not deliver the channel's
        events runs it too (it is part of the tool-support task); if it fails, the server exits 1
        with the error, as when making the runtime fails."""
        self._start = start

    async def load_platform(self) -> None:
        """The task that imports the platform library and makes the runtime."""
        await asyncio.sleep(0)  # the initialize answer goes out before the import starts
        try:
            try:
                await asyncio.to_thread(importlib.import_module, self.module)
            except ModuleNotFoundError as exc:
                missing = (exc.name or "").split(".")[0]
                if self.extra is None or not missing or missing == __name__.split(".")[0]:
                    raise
                raise ConfigurationError(
                    f"{missing} is not installed in this Python ({sys.executable}): "
                    f"pip install 'mcp-channels[{self.extra}]'"
                ) from None
            self._value = self._make()
            if self._start is not None:
                try:
                    await self._start(self._value)
                except BaseException:
                    self._value = None  # tools waiting for it get a ToolError, not a half-made runtime
                    raise
        finally:
            self._settled.set()

    async def get(self) -> R:
        """The runtime, once made; :class:`ToolError` if it could not be."""
        await self._settled.wait()
        if self._value is None:
            raise ToolError(f"{self.channel.name} is not available: it failed to start")
        return self._value

    def delegate(self, method: Callable[[R], Callable[..., Awaitable[Any]]]) -> Callable[..., Awaitable[Any]]:
        """A handler to declare now that calls ``method(runtime)`` with its arguments once there is one."""

        async def handler(*args: Any, **kwargs: Any) -> Any:
            return await method(await self.get())(*args, **kwargs)

        return handler

    def declare_tools(self, owner: Callable[[R], object], declarations: Iterable[ToolDeclaration]) -> None:
        """Declare tools now; each one calls the method of its name on ``owner(runtime)`` once made."""
        for name, description, schema in declarations:
            method: Callable[[R], Callable[..., Awaitable[Any]]] = functools.partial(_method_of, owner, name)
            self.channel.tool(name=name, description=description, input_schema=schema)(self.delegate(method))

    def task(self, name: str, loop: Callable[[R], Awaitable[None]], *, inbound: bool) -> None:
        """Run ``loop(runtime)`` as the task ``name`` once the runtime is made (``inbound``: see
        :class:`~mcp_channels.channel.Task`).

        When making it failed, the loop does not run: :meth:`load_platform` has already stopped the server.
        """

        async def run() -> None:
            await self._settled.wait()
            if self._value is not None:
                await loop(self._value)

        run.__name__ = name
        self.channel.task(run, inbound=inbound)


def _method_of(owner: Callable[[Any], object], name: str, runtime: Any) -> Callable[..., Awaitable[Any]]:
    method: Callable[..., Awaitable[Any]] = getattr(owner(runtime), name)
    return method


__all__ = [
    "DETAILS_GONE",
    "NOT_AUTHORIZED",
    "PERMISSION_BUTTON_RE",
    "REACT_SCHEMA",
    "REPLY_TO_HINT",
    "TYPING_LIMIT",
    "VERDICT_EMOJI",
    "VERDICT_LABEL",
    "ButtonAnswer",
    "ChatBridge",
    "ChatPlatform",
    "DeferredRuntime",
    "Incoming",
    "PermissionBook",
    "Progress",
    "ToolDeclaration",
    "TypingIndicator",
    "approval_interval",
    "edit_schema",
    "parse_permission_button",
    "partial_failure",
    "permission_details_text",
    "permission_outcome_text",
    "permission_prompt_text",
    "reply_schema",
    "reply_targets",
    "sent_summary",
]

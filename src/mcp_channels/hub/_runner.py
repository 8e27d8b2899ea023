"""The hub runner: each channel hosted once in the hub, its events committed to the store before anything else.

A hosted channel is the same channel a session would run standalone, built from the settings
the first session forwarded (:mod:`._settings`). Its events go to a :class:`StoreSink` instead
of stdout: ``push``/``enqueue`` complete once the event is committed, so what a channel does
after an event is delivered (confirm a Telegram offset, mark a fakechat message delivered)
happens after the commit. The channel runs as long as the hub, with or without sessions: that
is what keeps messages while no session is open.

* Settings: a channel started with settings S keeps them while a session uses it; a session
  asking for other settings is refused (:class:`~._hub.SettingsConflict`); once no session uses
  it, the next session's settings restart it. The settings last used are saved in
  ``channels.json`` (0600) and the channels started again when the hub restarts.
* Failure: a channel that cannot start (a port in use, a missing token) or whose task crashes
  is marked failed with the reason (``hub status``, a notice to its sessions, tool errors), and
  started again after a back-off.
* ``/sessions`` and ``/switch`` from a person allowed to approve tool use (``allowFrom``; anyone
  on the local fakechat page) are answered in the chat through the channel's ``reply`` and are
  never committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ..access import AccessStore
from ..channel import Channel, Task
from ..errors import ConfigurationError, EventQueueFull, EventTooLarge, SettingsConflict, StoreUnavailable
from ..runners import QueueLimits
from ..runners._tasks import Background, start_tasks
from ..sink import ChannelEvent, DeliveryStatus
from ..state import atomic_write
from . import _declarations, _hosting
from ._attachment import Attachment
from ._conversations import conversation_of, place_of, reply_arguments
from ._settings import apply_to_process, channel_environ, channel_settings, conflict_message, is_secret
from ._wire import SessionInfo
from .store._base import MAX_EVENT_BYTES

if TYPE_CHECKING:
    from ._hub import Hub

#: Back-off before starting a failed channel again.
RESTART_FIRST: Final = 2.0
RESTART_CAP: Final = 60.0
#: Budget for a channel's tasks to stop (a Telegram poller confirms its offset meanwhile).
STOP_GRACE: Final = 1.5

log = logging.getLogger("mcp_channels.hub")


class StoreSink:
    """A hosted channel's :class:`~mcp_channels.sink.EventSink`: an event is delivered once committed.

    ``enqueue`` bounds the commits in flight (``MCP_CHANNELS_QUEUE_EVENTS``/``_BYTES``, as the
    stdio runner bounds what waits for Claude Code) and raises :class:`EventQueueFull` past them;
    its future fails when the commit does (the webhook then answers 503). ``push`` waits out a
    store that is unavailable, retrying, so a platform is never acknowledged for an event that
    was not committed. Its status says ``durable``: a channel that answers its platform only once
    an event is delivered (the webhook's 202) then answers after the commit.
    """

    def __init__(self, runner: HubRunner, name: str, limits: QueueLimits) -> None:
        self.runner = runner
        self.name = name
        self.limits = limits
        self.in_flight = 0
        self.in_flight_bytes = 0
        self.committed = 0

    def enqueue(self, event: ChannelEvent) -> asyncio.Future[None]:
        size = _checked(event)
        if self.in_flight >= self.limits.events or self.in_flight_bytes + size > self.limits.bytes:
            raise EventQueueFull(f"{self.in_flight} events are being committed (bound {self.limits.events})")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.in_flight += 1
        self.in_flight_bytes += size

        async def commit() -> None:
            try:
                await self._take(event)
            except Exception as exc:
                if not done.done():
                    done.set_exception(exc)
                    done.exception()  # a dropped future must not log "never retrieved"
            else:
                if not done.done():
                    done.set_result(None)
            finally:
                self.in_flight -= 1
                self.in_flight_bytes -= size

        self.runner.background.spawn(commit(), f"{self.name} commit")
        return done

    async def push(self, event: ChannelEvent) -> None:
        _checked(event)
        delay = 0.1
        while True:
            try:
                await self._take(event)
                return
            except StoreUnavailable as exc:
                log.warning("%s: the store is unavailable (%s); retrying in %.1fs", self.name, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _take(self, event: ChannelEvent) -> None:
        conversation = conversation_of(self.name, event.meta)
        if self.runner.may_command(self.name, event.meta):
            answer = await self.runner.hub.chat_command(self.name, conversation, event.content)
            if answer is not None:
                await self.runner.say(self.name, conversation, answer)
                return
        await self.runner.hub.commit(self.name, event.content, event.meta)
        self.committed += 1

    def send_permission_verdict(self, request_id: str, allow: bool) -> None:
        self.runner.hub.verdict(self.name, request_id, allow)

    def status(self) -> DeliveryStatus:
        return DeliveryStatus(
            ready=True,
            held=0,
            queued_events=self.in_flight,
            queued_bytes=self.in_flight_bytes,
            max_events=self.limits.events,
            max_bytes=self.limits.bytes,
            delivered=self.committed,
            host_connected=True,
            durable=True,
        )


def _checked(event: ChannelEvent) -> int:
    """The event's size; refused (:class:`EventTooLarge`) past what the store holds."""
    size = len(event.content.encode("utf-8", "surrogatepass"))
    size += sum(len(key) + len(value.encode("utf-8", "surrogatepass")) for key, value in event.meta.items())
    if size > MAX_EVENT_BYTES:
        raise EventTooLarge(f"event is {size} bytes; the hub stores events of at most {MAX_EVENT_BYTES}")
    return size


@dataclass
class Hosted:
    """One channel in the hub."""

    name: str
    settings: dict[str, str]
    holder: str
    channel: Channel | None = None
    sink: StoreSink | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    state: str = "starting"
    error: str | None = None
    claimed: bool = True
    #: Started from the command line (``--channel``): no session's settings replace its own.
    pinned: bool = False
    failures: int = 0
    restart: asyncio.TimerHandle | None = None
    #: The channel's people, read-only (who may type ``/switch``); ``None`` for a channel without.
    access: AccessStore | None = None


class HubRunner:
    """Hosts the channels of one hub (the hub's :class:`~._hub.ChannelHost`)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.hosted: dict[str, Hosted] = {}
        self.background = Background(log)

    # ------------------------------------------------------------------ settings and life

    async def restore(self) -> None:
        """Start the channels named on the command line (``--channel``, with this process's own
        settings, held for good), then those that ran before."""
        for name in self.hub.options.channels:
            hosted = self.hosted[name] = Hosted(name, channel_settings(name), "this hub's own settings", pinned=True)
            await self._start(hosted)
        try:
            saved: Any = json.loads(self.hub.paths.channels.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("cannot read %s (%s): channels start when sessions ask for them", self.hub.paths.channels, exc)
            return
        for name, settings in (saved if isinstance(saved, dict) else {}).items():
            if _hosting.known(name) and isinstance(settings, dict) and name not in self.hosted:
                hosted = Hosted(name, {str(k): str(v) for k, v in settings.items()}, "the previous run", claimed=False)
                self.hosted[name] = hosted
                await self._start(hosted)

    async def ensure(self, channel: str, settings: Mapping[str, str], session: SessionInfo) -> None:
        if not _hosting.known(channel):
            raise SettingsConflict(f"the hub cannot run a channel named {channel!r}")
        hosted = self.hosted.get(channel)
        if hosted is not None and hosted.settings == dict(settings):
            hosted.claimed = True
            return
        if hosted is not None and hosted.claimed:
            raise SettingsConflict(conflict_message(channel, hosted.settings, settings, hosted.holder))
        if hosted is not None:
            log.info("%s: restarting with the settings of session %s", channel, session.label)
            await self._stop(hosted)
        hosted = self.hosted[channel] = Hosted(channel, dict(settings), session.label)
        self._save()
        await self._start(hosted)

    def release(self, channel: str, remaining: Sequence[Attachment]) -> None:
        hosted = self.hosted.get(channel)
        if hosted is not None:
            hosted.claimed = hosted.pinned or any(a.refused is None for a in remaining)

    async def _start(self, hosted: Hosted) -> None:
        hosted.restart = None
        try:
            apply_to_process(hosted.name, hosted.settings)
            channel = _hosting.build(hosted.name, channel_environ(hosted.name, hosted.settings))
        except ConfigurationError as exc:
            self._failed(hosted, str(exc))
            return
        except Exception as exc:
            log.error("%s could not be built:\n%s", hosted.name, traceback.format_exc().rstrip())
            self._failed(hosted, f"{type(exc).__name__}: {exc}")
            return
        directory = hosted.settings.get(f"{hosted.name.upper()}_STATE_DIR")
        if _hosting.has_people(hosted.name) and directory:
            hosted.access = AccessStore(hosted.name, Path(directory), static=False)
        hosted.sink = StoreSink(self, hosted.name, QueueLimits.from_environ(hosted.settings))
        _hosting.host(channel, hosted.sink)
        declaration = _hosting.declaration(channel)
        try:
            _declarations.save(self.hub.paths.directory, declaration, hosted.settings)
        except OSError as exc:  # shims then build the channel themselves: slower, not wrong
            log.warning("cannot save the declaration of %s: %s", hosted.name, exc)
        await self.hub.share_declaration(declaration)
        hosted.channel = channel
        hosted.state, hosted.error = "running", None
        hosted.tasks = start_tasks(channel, lambda task, error: self._crashed(hosted, task, error))
        log.info("%s: running (for %s)", hosted.name, hosted.holder)

    def _crashed(self, hosted: Hosted, task: Task, error: BaseException) -> None:
        """A task of the channel raised (called inside its ``except``): the channel failed."""
        if isinstance(error, ConfigurationError):
            self._failed(hosted, str(error))
        else:
            log.error("%s: %s crashed:\n%s", hosted.name, task.name, traceback.format_exc().rstrip())
            self._failed(hosted, f"{type(error).__name__}: {error}")

    def _failed(self, hosted: Hosted, reason: str) -> None:
        if hosted.state == "failed" or self.hosted.get(hosted.name) is not hosted:
            return
        hosted.state, hosted.error = "failed", reason
        hosted.failures += 1
        delay = min(RESTART_FIRST * 2 ** (hosted.failures - 1), RESTART_CAP)
        log.error("%s failed: %s; starting it again in %gs", hosted.name, reason, delay)
        for attachment in self.hub.attachments:
            if attachment.channel == hosted.name:
                attachment.notice(f"{hosted.name} failed in the hub: {reason}")
        self.background.spawn(self._stop_tasks(hosted), f"{hosted.name} stop")
        hosted.restart = asyncio.get_running_loop().call_later(
            delay, lambda: self.background.spawn(self._start(hosted), f"{hosted.name} restart")
        )

    async def _stop(self, hosted: Hosted) -> None:
        if hosted.restart is not None:
            hosted.restart.cancel()
        hosted.state = "stopped"
        await self._stop_tasks(hosted)
        if hosted.channel is not None and hosted.sink is not None:
            _hosting.release(hosted.channel, hosted.sink)

    async def _stop_tasks(self, hosted: Hosted) -> None:
        current = asyncio.current_task()
        tasks = [task for task in hosted.tasks if task is not current and not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=STOP_GRACE)
            if late:
                log.warning("%s: %d task(s) did not stop in time", hosted.name, len(late))
        hosted.tasks = []

    async def shutdown(self) -> None:
        for hosted in list(self.hosted.values()):
            await self._stop(hosted)
        self.background.cancel()

    def _save(self) -> None:
        """The settings of every channel, for the next start (tokens included: 0600, this machine only)."""
        data = {name: hosted.settings for name, hosted in sorted(self.hosted.items())}
        try:
            atomic_write(self.hub.paths.channels, json.dumps(data, indent=2) + "\n", mode=0o600)
        except OSError as exc:
            log.warning("cannot save %s: %s", self.hub.paths.channels, exc)

    # ------------------------------------------------------------------ calls from sessions

    async def call_tool(self, channel: str, name: str, arguments: Any) -> dict[str, Any]:
        hosted = self.hosted.get(channel)
        if hosted is None or hosted.channel is None or hosted.state != "running":
            reason = hosted.error if hosted is not None and hosted.error else "it is not running in the hub"
            return {"content": [{"type": "text", "text": f"{name} failed: {channel}: {reason}"}], "isError": True}
        return await _hosting.call_tool(hosted.channel, name, arguments)

    async def relay_permission(self, channel: str, params: Mapping[str, Any], conversations: Sequence[str]) -> None:
        hosted = self.hosted.get(channel)
        if hosted is None or hosted.channel is None or hosted.state != "running":
            return
        places = [place_of(channel, conversation) for conversation in conversations]
        if not await _hosting.relay_permission(hosted.channel, params, places):
            log.warning("%s: a malformed permission request was not relayed", channel)

    async def say(self, channel: str, conversation: str, text: str) -> bool:
        """Send ``text`` with the channel's ``reply`` into the conversation (its chat, and its thread)."""
        hosted = self.hosted.get(channel)
        if hosted is None or hosted.channel is None or hosted.state != "running":
            return False
        if not _hosting.has_tool(hosted.channel, "reply"):
            return False
        arguments = {**reply_arguments(channel, conversation), "text": text}
        result = await _hosting.call_tool(hosted.channel, "reply", arguments)
        if result.get("isError"):
            log.info("%s: could not answer in %s: %s", channel, conversation, result["content"][0].get("text"))
            return False
        return True

    def may_command(self, channel: str, meta: Mapping[str, str]) -> bool:
        """Whether this message's sender may use ``/sessions`` and ``/switch`` here."""
        if "chat_id" not in meta:
            return False
        if not _hosting.has_people(channel):
            return True  # fakechat: whoever has the local page is the user
        hosted = self.hosted.get(channel)
        sender = meta.get("user_id")
        if hosted is None or hosted.access is None or not sender:
            return False
        with contextlib.suppress(Exception):  # an unreadable access file lets nobody command
            return sender in hosted.access.load().allow_from
        return False

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "name": hosted.name,
                "state": hosted.state,
                "error": hosted.error,
                "holder": hosted.holder,
                "settings": [key if is_secret(key) else f"{key}={value}" for key, value in hosted.settings.items()],
            }
            for hosted in sorted(self.hosted.values(), key=lambda h: h.name)
        ]


__all__ = ["HubRunner", "StoreSink"]

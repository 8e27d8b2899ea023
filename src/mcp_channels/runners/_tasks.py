"""Starting a channel's tasks, the same way in every runner: each one supervised, a crash reported.

Which tasks start is decided here too: with ``inbound=False`` the tasks that hold the platform's
inbound side (:class:`~mcp_channels.channel.Task`) stay unstarted, as a session that does not
deliver the channel's events needs; with ``tool_support=False`` only those start, so a runner can
start the tools' tasks at once and the inbound ones once it knows its session delivers.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from ..channel import Channel, Task

#: Called, inside the ``except`` block, when a task raises anything but cancellation.
Crashed = Callable[[Task, BaseException], None]


def start_tasks(
    channel: Channel, on_crash: Crashed, *, inbound: bool = True, tool_support: bool = True
) -> list[asyncio.Task[None]]:
    """Start the channel's tasks of the kinds asked for on the running loop, each named after its function."""
    loop = asyncio.get_running_loop()
    started = [task for task in channel.tasks if (inbound if task.inbound else tool_support)]
    return [loop.create_task(_supervised(task, on_crash), name=task.name) for task in started]


async def _supervised(task: Task, on_crash: Crashed) -> None:
    try:
        await task.function()
    except asyncio.CancelledError:
        raise
    except BaseException as exc:
        on_crash(task, exc)


class Background:
    """Coroutines a runner starts beside the channel's tasks (a permission request, a commit).

    A failure is logged with its traceback instead of vanishing with the task; :meth:`cancel`
    stops what is left at shutdown.
    """

    def __init__(self, log: logging.Logger) -> None:
        self._log = log
        self.tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coroutine: Awaitable[Any], what: str) -> None:
        async def guarded() -> None:
            try:
                await coroutine
            except asyncio.CancelledError:
                raise
            except Exception:
                self._log.error("%s failed:\n%s", what, traceback.format_exc().rstrip())

        task = asyncio.get_running_loop().create_task(guarded(), name=what)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def cancel(self) -> None:
        for task in list(self.tasks):
            task.cancel()

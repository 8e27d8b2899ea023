"""Helpers for the hub's tests: a per-test hub directory, the command line as a subprocess, and cleanup.

Every hub a test starts is found through its directory's lock and killed at teardown, so no
test leaves a daemon behind, whatever it did.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp_channels.hub import HubPaths, running_pid
from mcp_channels.hub._socket import Link, connect
from support.chat_session import ChannelSession
from support.processes import HostProcess, channel_config, write_mcp_config

PYTHON = sys.executable


@dataclass
class HubDir:
    """A hub directory of a test's own, and the environment that points every process at it."""

    path: Path
    env: dict[str, str]

    @property
    def paths(self) -> HubPaths:
        return HubPaths.from_environ(self.env)

    def pid(self) -> int | None:
        return running_pid(self.paths)

    def kill(self) -> None:
        pid = self.pid()
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def hub_dir(transport: str = "unix", extra: dict[str, str] | None = None) -> Iterator[HubDir]:
    """A short private directory (Unix socket paths are short), removed with its hub at the end."""
    with tempfile.TemporaryDirectory(prefix="hub-") as tmp:
        directory = Path(tmp) / "h"
        env = {
            **os.environ,
            "MCP_CHANNELS_HUB_DIR": str(directory),
            "MCP_CHANNELS_HUB_TRANSPORT": transport,
            "MCP_CHANNELS_HUB": "auto",
            **(extra or {}),
        }
        hub = HubDir(directory, env)
        try:
            yield hub
        finally:
            hub.kill()


async def cli(env: dict[str, str], *args: str, timeout: float = 30.0) -> tuple[int, str, str]:
    """``mcp-channels <args>`` in a subprocess: exit status, stdout, stderr."""
    proc = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "mcp_channels", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL, env=env,
    )  # fmt: skip
    async with asyncio.timeout(timeout):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def hub_processes(directory: Path) -> list[int]:
    """Pids of ``hub run`` processes whose working directory is ``directory`` (a detached hub's is)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if b"hub" in argv and b"run" in argv and os.readlink(entry / "cwd") == str(directory):
                found.append(int(entry.name))
    return found


async def wait_until(predicate: object, timeout: float = 15.0) -> None:
    """For what has no event to await (another process's exit): look again, backing off."""
    assert callable(predicate)
    delay = 0.01
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)


class WireSession:
    """A session's end of the attachment protocol, spoken directly (the shim's part, without Claude Code).

    Collects the events it is sent; acknowledges each at once unless ``auto_ack`` is off.
    """

    def __init__(self, key: str, *, delivery: str = "delivering", name: str | None = None, project: str | None = None):
        self.key = key
        self.delivery = delivery
        self.name = name
        self.project = project
        self.auto_ack = True
        self.events: list[dict[str, Any]] = []
        self.verdicts: list[dict[str, Any]] = []
        self.notices: list[dict[str, Any]] = []
        self.link: Link | None = None
        self._changed = asyncio.Condition()

    async def attach(
        self, paths: HubPaths, channel: str, settings: dict[str, str] | None = None, server: str | None = None
    ) -> dict[str, Any]:
        self.link = await connect(paths, on_notification=self._notified)
        forced = "deliver" if self.delivery == "delivering" else "tools-only"
        params = {
            "protocol": 1, "channel": channel, "server": server or channel, "pid": os.getpid(),
            "environ": {"CLAUDE_CODE_SESSION_ID": self.key, "MCP_CHANNELS_DELIVERY": forced},
            "settings": settings or {}, "name": self.name, "project_dir": self.project,
        }  # fmt: skip
        result: dict[str, Any] = await self.link.peer.request("hub/attach", params)
        return result

    def _notified(self, method: str, params: Any) -> None:
        if method == "hub/event":
            self.events.append(params)
            if self.auto_ack:
                self.ack(params)
        elif method == "hub/permission_verdict":
            self.verdicts.append(params)
        elif method == "hub/notice":
            self.notices.append(params)
        asyncio.get_running_loop().create_task(self._wake())

    async def _wake(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def ack(self, event: dict[str, Any]) -> None:
        assert self.link is not None
        ack = {
            "channel": event["channel"],
            "conversation": event["conversation"],
            "seq": event["seq"],
            "id": event["id"],
        }
        self.link.peer.notify("hub/ack", ack)

    async def wait_events(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.events) >= count)
        return self.events

    async def wait_for(self, predicate: Callable[[WireSession], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: predicate(self))

    def contents(self) -> list[str]:
        return [event["content"] for event in self.events]

    def close(self) -> None:
        if self.link is not None:
            self.link.close()


class HubSession(ChannelSession):
    """``mcp-channels host`` running ``serve <channel>`` through the hub in ``hub``: one Claude Code session."""

    def __init__(
        self, hub: HubDir, channel: str, workdir: Path, name: str, *, delivering: bool = True, **env: str
    ) -> None:
        self.server = channel
        settings = {
            "MCP_CHANNELS_HUB": "auto",
            "MCP_CHANNELS_HUB_DIR": str(hub.path),
            "MCP_CHANNELS_SESSION_NAME": name,
            "CLAUDE_PROJECT_DIR": f"/projects/{name}",
            **env,
        }
        workdir.mkdir(parents=True, exist_ok=True)
        config = write_mcp_config(workdir, channel_config(channel, env=settings))
        flags = ["--dangerously-load-development-channels", f"server:{channel}"] if delivering else []
        self.host = HostProcess(["--mcp-config", str(config), *flags])

    async def start(self) -> HubSession:
        await self.host.start()
        await self.host.wait_type("ready")
        await self.host.wait_stderr("the hub")  # attached, or refused
        return self

    async def stop(self) -> None:
        await self.host.stop()


class OpenSessions:
    """The sessions a test opens on one hub, each a host of its own (``--name`` ``name``, project
    ``/projects/<name>``) with the channel's settings ``env``; all stopped at the end."""

    def __init__(self, hub: HubDir, channel: str, workdir: Path, **env: str) -> None:
        self.hub, self.channel, self.workdir, self.env = hub, channel, workdir, env
        self.started: list[HubSession] = []

    async def open(self, name: str, **env: str) -> HubSession:
        workdir = self.workdir / f"host-{name}-{len(self.started)}"
        session = HubSession(self.hub, self.channel, workdir, name, **{**self.env, **env})
        self.started.append(session)
        return await session.start()

    async def close(self, session: HubSession) -> None:
        self.started.remove(session)
        await session.stop()

    async def stop(self) -> None:
        for session in self.started:
            await session.stop()

"""The fakechat channel under the host, for the protocol tests and the browser tests.

``FakechatHost`` runs ``mcp-channels host --json`` with fakechat enabled as a development
channel, on a free port and a private state directory, and waits until the page is served.
``Tab`` is a page's websocket; ``multipart`` and ``upload`` post a message with a file.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from support.processes import HostProcess, channel_config, free_port, http_request, write_mcp_config

_barriers = itertools.count()


class FakechatHost:
    def __init__(self, directory: Path, *, port: int | None = None, **env: str) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.state = directory / "state"
        self.env = {"FAKECHAT_PORT": str(self.port), "FAKECHAT_STATE_DIR": str(self.state), **env}
        self.host = HostProcess([])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def inbox(self) -> Path:
        return self.state / "inbox"

    @property
    def outbox(self) -> Path:
        return self.state / "outbox"

    async def start(self) -> FakechatHost:
        config = write_mcp_config(self.directory, channel_config("fakechat", self.env))
        self.host = HostProcess(
            ["--mcp-config", str(config), "--dangerously-load-development-channels", "server:fakechat"]
        )
        await self.host.start()
        await self.host.wait_type("ready")
        await self.host.wait_stderr(f"chat page at http://localhost:{self.port}")
        return self

    async def stop(self) -> None:
        await self.host.stop()

    @property
    def mark(self) -> int:
        """Where the host's output is now: wait for things from here on."""
        return len(self.host.messages)

    async def event(self, content: str, *, start: int = 0) -> dict[str, Any]:
        """The first event with this content."""
        return await self.host.wait_for(lambda m: m.get("type") == "event" and m["content"] == content, start=start)

    def events(
        self, start: int = 0, predicate: Callable[[dict[str, Any]], bool] = lambda m: True
    ) -> list[dict[str, Any]]:
        return [m for m in self.host.messages[start:] if m.get("type") == "event" and predicate(m)]

    async def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        return await self.host.call("fakechat", tool, arguments)

    async def permission(self, tool: str = "Bash", description: str = "list files", **tool_input: Any) -> str:
        """Raise a permission request through the host; returns its id."""
        start = self.mark
        await self.host.command(
            f"/permission {tool} {json.dumps(description)} {json.dumps(tool_input or {'command': 'ls'})}"
        )
        request = await self.host.wait_type("permission_request", start=start)
        assert request["sent_to"] == ["fakechat"]
        return str(request["request_id"])

    def next_barrier(self) -> str:
        return f"barrier {next(_barriers)}"


class Tab:
    """A page's websocket: collects frames so a test can wait for the one it expects."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []

    async def hello(self) -> dict[str, Any]:
        """Say hello as the page does: the history comes back, then every entry.

        Returns the hello frame with ``history`` holding the whole history, gathered from its pieces.
        """
        await self.send(type="hello")
        hello = await self.next(lambda f: f["type"] == "hello")
        piece = hello
        while piece.get("more"):
            piece = await self.next(lambda f: f["type"] == "history")
            hello["history"] += piece["history"]
        return hello

    async def next(self, predicate: Any, timeout: float = 10) -> dict[str, Any]:
        for frame in self.frames:
            if predicate(frame):
                self.frames.remove(frame)
                return frame
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.ws.receive_json()
                if predicate(frame):
                    return frame
                self.frames.append(frame)

    async def entry(self, entry_id: str, **fields: Any) -> dict[str, Any]:
        return await self.next(lambda f: f.get("id") == entry_id and all(f.get(k) == v for k, v in fields.items()))

    async def send(self, **frame: Any) -> None:
        await self.ws.send_str(json.dumps(frame))


def multipart(fields: dict[str, str], file: tuple[str, bytes] | None, boundary: str = "fcboundary") -> bytes:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    if file is not None:
        name, data = file
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


async def upload(
    chat: FakechatHost, fields: dict[str, str], file: tuple[str, bytes] | None, **headers: str
) -> tuple[int, bytes]:
    body = multipart(fields, file)
    status, _, answer = await http_request(
        chat.port,
        "POST",
        "/upload",
        body,
        {"Content-Type": "multipart/form-data; boundary=fcboundary", **headers},
    )
    return status, answer

"""Byte plumbing between asyncio pipes and a :class:`~mcp_channels.jsonrpc.Peer`.

Asyncio protocols are used directly rather than ``StreamReader``: each chunk read is split into
lines in one pass, and a write is one ``transport.write`` with no task or thread hop, which is
what keeps the CPU cost per event near the Bun reference.
"""

from __future__ import annotations

import asyncio
import os
import stat
import sys
import threading
from collections.abc import Callable
from typing import IO


class PipeSink:
    """A write side with flow control: ``write`` never blocks, ``drain`` waits for room."""

    def __init__(self) -> None:
        self.transport: asyncio.WriteTransport | None = None
        self._paused = False
        self._room: asyncio.Future[None] | None = None
        self.broken = False

    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing() or self.broken:
            return
        transport.write(data)

    async def drain(self) -> None:
        if not self._paused or self.broken:
            return
        if self._room is None or self._room.done():
            self._room = asyncio.get_running_loop().create_future()
        await self._room

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._room is not None and not self._room.done():
            self._room.set_result(None)

    def lost(self) -> None:
        self.broken = True
        self.resume_writing()


class _WriteProtocol(asyncio.Protocol):
    def __init__(self, sink: PipeSink) -> None:
        self._sink = sink

    def pause_writing(self) -> None:
        self._sink.pause_writing()

    def resume_writing(self) -> None:
        self._sink.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._sink.lost()


class _ReadProtocol(asyncio.Protocol):
    def __init__(self, on_data: Callable[[bytes], None], on_eof: Callable[[], None]) -> None:
        self._on_data = on_data
        self._on_eof = on_eof

    def data_received(self, data: bytes) -> None:
        self._on_data(data)

    def eof_received(self) -> bool:
        self._on_eof()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_eof()


def _pollable(fd: int) -> bool:
    """Whether the event loop can watch ``fd``: pipes, sockets and terminals, not files or /dev/null."""
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or os.isatty(fd)


async def open_stdout_sink(stream: IO[bytes] | None = None) -> PipeSink:
    """A :class:`PipeSink` on stdout (or ``stream``); blocking writes when it is a file."""
    sink = PipeSink()
    target = stream if stream is not None else sys.stdout.buffer
    if not _pollable(target.fileno()):
        sink.transport = _BlockingFileTransport(target)  # type: ignore[assignment]
        return sink
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_write_pipe(lambda: _WriteProtocol(sink), target)
    sink.transport = transport
    return sink


async def read_stdin(on_data: Callable[[bytes], None], on_eof: Callable[[], None]) -> asyncio.BaseTransport | None:
    """Feed stdin to ``on_data`` until EOF; a thread reads it when it is a file or /dev/null."""
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()
    if _pollable(fd):
        transport, _ = await loop.connect_read_pipe(lambda: _ReadProtocol(on_data, on_eof), sys.stdin.buffer)
    else:

        def pump() -> None:
            while chunk := os.read(fd, 65536):
                loop.call_soon_threadsafe(on_data, chunk)
            loop.call_soon_threadsafe(on_eof)

        threading.Thread(target=pump, name="stdin-reader", daemon=True).start()
        return None
    return transport


class _BlockingFileTransport:
    """Minimal stand-in for a write transport when stdout is a regular file."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def write(self, data: bytes) -> None:
        self._stream.write(data)
        self._stream.flush()

    def is_closing(self) -> bool:
        return self._stream.closed

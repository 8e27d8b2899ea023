"""Byte plumbing between asyncio pipes and a :class:`~mcp_channels.jsonrpc.Peer`.

Asyncio protocols are used directly rather than ``StreamReader``: each chunk read is split into
lines in one pass, and a write is one system call with no task or thread hop, which is what keeps
the CPU cost per event near the Bun reference.

A server's stdout is written by :class:`StdoutWriter` rather than asyncio's pipe transport, which
buffers without bound and cannot say when a given write has left its buffer: a server must know
both, to bound what it holds for a host that stopped reading and to count an event as delivered
only once it is in the pipe.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import os
import stat
import sys
import threading
from collections.abc import Callable
from typing import IO, Final

#: Called once per write: with ``None`` when its last byte is in the pipe, or with the error that
#: broke the pipe first.
WriteCallback = Callable[[BaseException | None], None]
#: Buffers handed to one ``writev`` call.
WRITEV_BATCH: Final = 64
#: ``drain`` returns once the buffer is down to this many bytes.
DRAIN_LOW: Final = 64 * 1024


class PipeSink:
    """A write side on an asyncio transport (the host's pipe to a server's stdin), with flow
    control: ``write`` never blocks, ``drain`` waits for room."""

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


class StdoutWriter:
    """The write side of a server's stdout: never blocks, and accounts for every byte it holds.

    A write goes straight to the pipe when nothing is waiting; what the pipe cannot take yet is
    kept (``buffered`` bytes) and written, in order, when the pipe has room. Each write may carry
    a :data:`WriteCallback`. When the pipe breaks (the reader closed it; noticed at once for pipes
    and sockets, not only on the next write), every pending callback gets the error,
    ``on_broken`` is called, and later writes fail the same way. On a regular file or a device
    the event loop cannot watch (a redirect to a file, ``/dev/null``), writes block instead.
    """

    def __init__(self, fd: int, on_broken: Callable[[BaseException], None] | None = None) -> None:
        self._fd = fd
        self._on_broken = on_broken
        self._loop = asyncio.get_running_loop()
        self._chunks: collections.deque[bytes | memoryview] = collections.deque()
        self._callbacks: collections.deque[WriteCallback | None] = collections.deque()
        self._drained: asyncio.Future[None] | None = None
        self.buffered = 0
        self.error: BaseException | None = None
        self._pollable = _pollable(fd)
        if self._pollable:
            os.set_blocking(fd, False)
            mode = os.fstat(fd).st_mode
            if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
                # The write end of a pipe polls readable when the read end is closed.
                self._loop.add_reader(fd, self._peer_closed)

    def write(self, data: bytes, done: WriteCallback | None = None) -> None:
        if self.error is not None:
            if done is not None:
                done(self.error)
            return
        if not self._chunks:
            try:
                written = self._write_now(data)
            except OSError as exc:
                self._break(exc)
                if done is not None:
                    done(exc)
                return
            if written == len(data):
                if done is not None:
                    done(None)
                return
            self._loop.add_writer(self._fd, self._flush)
            self._keep(memoryview(data)[written:], done)
        else:
            self._keep(data, done)

    def _keep(self, data: bytes | memoryview, done: WriteCallback | None) -> None:
        self._chunks.append(data)
        self._callbacks.append(done)
        self.buffered += len(data)

    def _write_now(self, data: bytes) -> int:
        if self._pollable:
            try:
                return os.write(self._fd, data)
            except (BlockingIOError, InterruptedError):
                return 0
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        return len(data)

    def _flush(self) -> None:
        try:
            written = os.writev(self._fd, list(itertools.islice(self._chunks, WRITEV_BATCH)))
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._break(exc)
            return
        self.buffered -= written
        while written:
            head = self._chunks[0]
            if written < len(head):
                self._chunks[0] = memoryview(head)[written:]
                break
            written -= len(head)
            self._chunks.popleft()
            done = self._callbacks.popleft()
            if done is not None:
                done(None)
        if not self._chunks:
            self._loop.remove_writer(self._fd)
        if self.buffered <= DRAIN_LOW:
            self._wake_drain()

    async def drain(self) -> None:
        """Wait until the buffer is down to :data:`DRAIN_LOW` bytes (or the pipe broke)."""
        if self.buffered <= DRAIN_LOW or self.error is not None:
            return
        if self._drained is None or self._drained.done():
            self._drained = self._loop.create_future()
        await self._drained

    def _wake_drain(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def _peer_closed(self) -> None:
        self._break(BrokenPipeError("the reader closed the pipe"))

    def _break(self, error: BaseException) -> None:
        if self.error is not None:
            return
        self.error = error
        if self._pollable:
            self._loop.remove_reader(self._fd)
            self._loop.remove_writer(self._fd)
        self._chunks.clear()
        self.buffered = 0
        callbacks, self._callbacks = self._callbacks, collections.deque()
        for done in callbacks:
            if done is not None:
                done(error)
        self._wake_drain()
        if self._on_broken is not None:
            self._on_broken(error)


def open_stdout_writer(
    stream: IO[bytes] | None = None, on_broken: Callable[[BaseException], None] | None = None
) -> StdoutWriter:
    """A :class:`StdoutWriter` on stdout (or ``stream``)."""
    target = stream if stream is not None else sys.stdout.buffer
    return StdoutWriter(target.fileno(), on_broken)


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

"""The webhook's HTTP/1.1 receiver on real loopback sockets: keep-alive, pipelining, idle timeout."""

from __future__ import annotations

import asyncio
from typing import Any

from mcp_channels import _http1


def echo(request: _http1.Request) -> _http1.Response:
    return _http1.Response.text(200, f"{request.method} {request.path} {len(request.body)}")


async def start(**limits: Any) -> tuple[_http1.HttpServer, int]:
    server = await _http1.serve("127.0.0.1", 0, echo, limits=_http1.Limits(max_body=1000, **limits))
    return server, server.port


async def test_keep_alive_and_pipelined_requests_are_answered_in_order() -> None:
    server, port = await start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
        )
        await writer.drain()
        answers = []
        for _ in range(2):
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            answers.append(await reader.readexactly(length))
        assert answers == [b"POST /a 3\n", b"POST /b 0\n"]
        writer.close()
    finally:
        server.close()


async def test_an_idle_connection_is_closed_and_an_active_one_is_not() -> None:
    server, port = await start(idle_timeout=0.3)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # Keep the connection busy past its first deadline: requests move the deadline on.
        for _ in range(6):
            writer.write(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 200")
            await reader.readexactly(len(b"POST /x 0\n"))
            await asyncio.sleep(0.1)  # a client pausing between requests (well under the timeout)
        # Then silence: the server closes the connection on its own.
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
    finally:
        server.close()


async def test_a_response_is_encoded_once_and_reused() -> None:
    response = _http1.Response.text(202, "queued")
    assert response.encoded(True) is response.encoded(True)
    assert response.encoded(False).endswith(b"Connection: close\r\n\r\nqueued\n")
    assert response.encoded(True, head=True).endswith(b"\r\n\r\n")


async def read_answer(reader: asyncio.StreamReader, timeout: float = 5.0) -> bytes:
    """The status line the server sends, or ``b""`` if it closes the connection without one."""
    return await asyncio.wait_for(reader.readline(), timeout)


async def test_headers_must_be_complete_within_the_read_timeout_however_steadily_they_trickle() -> None:
    server, port = await start(read_timeout=0.3)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        loop = asyncio.get_running_loop()
        started = loop.time()
        answer = b""
        for byte in b"POST /slow HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 200:
            writer.write(bytes([byte]))
            await writer.drain()
            try:
                answer = await asyncio.wait_for(reader.readline(), 0.02)
                break
            except TimeoutError:
                continue
        assert answer.startswith(b"HTTP/1.1 408")
        assert 0.3 <= loop.time() - started < 1.5
        writer.close()
    finally:
        server.close()


async def test_a_connection_that_sends_nothing_is_closed_after_the_read_timeout() -> None:
    server, port = await start(read_timeout=0.2)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await read_answer(reader) == b""  # closed, without an answer to a request never begun
        writer.close()
    finally:
        server.close()


async def test_a_stalled_body_is_cut_off() -> None:
    server, port = await start(read_timeout=0.2)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf.")
        await writer.drain()
        assert (await read_answer(reader)).startswith(b"HTTP/1.1 408")
        writer.close()
    finally:
        server.close()


async def test_after_a_long_idle_allowance_a_new_request_still_gets_the_short_header_deadline() -> None:
    server, port = await start(read_timeout=0.3, idle_timeout=30)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /one HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        assert (await read_answer(reader)).startswith(b"HTTP/1.1 200")
        await reader.readuntil(b"POST /one 0\n")
        loop = asyncio.get_running_loop()
        started = loop.time()
        writer.write(b"POST /two HTTP/1.1\r\nHost:")  # then nothing: the 30 s idle allowance is over
        await writer.drain()
        assert (await read_answer(reader)).startswith(b"HTTP/1.1 408")
        assert loop.time() - started < 2
        writer.close()
    finally:
        server.close()


async def test_at_the_connection_cap_the_stalest_connection_makes_room() -> None:
    server, port = await start(max_connections=3)
    try:
        slow = []
        for _ in range(3):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST /slow HTTP/1.1\r\nHost: x\r\n")
            await writer.drain()
            slow.append((reader, writer))
        served = []
        for request in range(2):  # each new sender is served; the oldest slow one gives way
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST /now HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            assert (await read_answer(reader)).startswith(b"HTTP/1.1 200")
            served.append(writer)  # kept alive: it is now the most recently active
            assert (await read_answer(slow[request][0])).startswith(b"HTTP/1.1 503")
        assert server.connections == 3 and server.evicted == 2
        assert not slow[2][0].at_eof()  # the newest slow client still holds its connection
        for writer in (*served, *(w for _, w in slow)):
            writer.close()
    finally:
        server.close()


async def test_an_answer_given_later_keeps_pipelined_answers_in_order() -> None:
    """A handler that answers once something is done (the hub's webhook: once the event is stored)."""
    release = asyncio.Event()

    def later_for_slow(request: _http1.Request) -> _http1.Response | asyncio.Future[_http1.Response]:
        if request.path != "/slow":
            return echo(request)

        async def answer() -> _http1.Response:
            await release.wait()
            return _http1.Response.text(202, "stored")

        return asyncio.ensure_future(answer())

    server = await _http1.serve("127.0.0.1", 0, later_for_slow, limits=_http1.Limits(max_body=1000))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
            b"POST /fast HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
        )
        await writer.drain()
        nothing = asyncio.ensure_future(reader.readuntil(b"\r\n\r\n"))
        done, _ = await asyncio.wait([nothing], timeout=0.2)
        assert not done  # the fast answer waits behind the slow one
        release.set()
        answers = []
        for reading in (nothing, None):
            head = await (reading if reading is not None else reader.readuntil(b"\r\n\r\n"))
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            answers.append((head.split(b" ")[1], await reader.readexactly(length)))
        assert answers == [(b"202", b"stored\n"), (b"200", b"POST /fast 0\n")]
        writer.close()
    finally:
        server.close()

"""The webhook's HTTP/1.1 receiver on real loopback sockets: keep-alive, pipelining, idle timeout."""

from __future__ import annotations

import asyncio

from mcp_channels import _http1


def echo(request: _http1.Request) -> _http1.Response:
    return _http1.Response.text(200, f"{request.method} {request.path} {len(request.body)}")


async def start(idle_timeout: float = 75.0) -> tuple[asyncio.Server, int]:
    server = await _http1.serve("127.0.0.1", 0, echo, max_body=1000, idle_timeout=idle_timeout)
    return server, server.sockets[0].getsockname()[1]


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

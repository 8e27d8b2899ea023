"""The JSON-RPC core, two real Peers wired back to back through in-memory pipes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from mcp_channels.errors import JsonRpcError
from mcp_channels.jsonrpc import METHOD_NOT_FOUND, Peer, encode_message


class Wire:
    """A sink that hands every line to the other peer on the next loop turn, like a pipe."""

    def __init__(self) -> None:
        self.target: Peer | None = None
        self.lines: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.lines.append(data)
        target = self.target
        if target is not None:
            asyncio.get_running_loop().call_soon(target.feed, data)

    async def drain(self) -> None:
        return None


def pair(on_request: Any = None, on_notification: Any = None) -> tuple[Peer, Peer, Wire, Wire]:
    a_out, b_out = Wire(), Wire()
    client = Peer(a_out)
    server = Peer(b_out, on_request=on_request, on_notification=on_notification)
    a_out.target, b_out.target = server, client
    return client, server, a_out, b_out


async def test_request_response_and_errors() -> None:
    async def handle(method: str, params: Any) -> Any:
        if method == "add":
            return params["a"] + params["b"]
        if method == "boom":
            raise RuntimeError("kaput")
        raise JsonRpcError(METHOD_NOT_FOUND, f"Method not found: {method}")

    client, *_ = pair(on_request=handle)
    assert await client.request("add", {"a": 1, "b": 2}) == 3
    with pytest.raises(JsonRpcError) as info:
        await client.request("server/discover")
    assert info.value.code == -32601
    with pytest.raises(JsonRpcError) as info:
        await client.request("boom")
    assert info.value.code == -32603 and "kaput" in info.value.message


async def test_concurrent_requests_are_correlated() -> None:
    async def handle(method: str, params: Any) -> Any:
        await asyncio.sleep(0.001 * (10 - params))
        return params * 2

    client, *_ = pair(on_request=handle)
    results = await asyncio.gather(*(client.request("double", i) for i in range(10)))
    assert results == [i * 2 for i in range(10)]


async def test_ping_is_answered_without_a_handler() -> None:
    client, *_ = pair()
    assert await client.request("ping") == {}


async def test_notifications_keep_their_order() -> None:
    seen: list[Any] = []
    client, _server, *_ = pair(on_notification=lambda m, p: seen.append(p))
    for i in range(100):
        client.notify("n", i)
    await asyncio.sleep(0)
    await client.request("ping")
    assert seen == list(range(100))


async def test_timeout_cancels_on_the_other_side() -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def handle(method: str, params: Any) -> Any:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    client, _server, a_out, b_out = pair(on_request=handle)
    with pytest.raises(TimeoutError):
        await client.request("slow", timeout=0.05)
    await asyncio.wait_for(cancelled.wait(), 5)
    assert any(b'"notifications/cancelled"' in line for line in a_out.lines)
    assert not any(b'"id":1' in line for line in b_out.lines), "a cancelled request gets no answer"


async def test_bad_input_gets_standard_errors() -> None:
    out = Wire()
    peer = Peer(out)
    peer.feed(b"not json\n")
    peer.feed(b'{"id": 1, "method": "x"}\n')  # no jsonrpc member
    peer.feed(b"[1, 2]\n")  # batches are not part of MCP 2025-11-25
    peer.feed(b'{"jsonrpc": "2.0", "id": 2, "method": "x"}\n')  # no handler
    await asyncio.sleep(0)
    codes = [json.loads(line)["error"]["code"] for line in out.lines]
    assert codes == [-32700, -32600, -32600, -32601]


async def test_lines_split_across_chunks_and_joined_in_one() -> None:
    seen: list[Any] = []
    peer = Peer(Wire(), on_notification=lambda m, p: seen.append(p))
    line = encode_message({"jsonrpc": "2.0", "method": "n", "params": "é" * 10})
    for i in range(len(line)):
        peer.feed(line[i : i + 1])
    peer.feed(line + line)
    assert seen == ["é" * 10] * 3


async def test_oversize_line_is_skipped_and_the_stream_goes_on() -> None:
    seen: list[Any] = []
    out = Wire()
    peer = Peer(out, on_notification=lambda m, p: seen.append(p), max_line=1000)
    peer.feed(b'{"jsonrpc":"2.0","method":"n","params":"' + b"x" * 600)
    peer.feed(b"x" * 600)
    peer.feed(b'"}\n{"jsonrpc":"2.0","method":"n","params":"ok"}\n')
    assert seen == ["ok"]
    assert json.loads(out.lines[0])["error"]["code"] == -32700


async def test_oversize_line_closes_when_asked() -> None:
    peer = Peer(Wire(), max_line=10, close_on_oversize=True)
    peer.feed(b"x" * 20 + b"\n")
    assert peer.closed.is_set()


async def test_eof_fails_waiting_requests() -> None:
    peer = Peer(Wire())
    waiting = asyncio.ensure_future(peer.request("never"))
    await asyncio.sleep(0)
    peer.feed_eof()
    with pytest.raises(ConnectionError):
        await waiting


def test_lone_surrogates_are_escaped_not_fatal() -> None:
    line = encode_message({"text": "a\ud800b"})
    assert json.loads(line)["text"] == "a\ud800b"


async def test_a_malformed_error_answer_is_still_an_error_and_the_stream_goes_on() -> None:
    seen: list[Any] = []
    peer = Peer(Wire(), on_notification=lambda m, p: seen.append(p))
    waiting = asyncio.ensure_future(peer.request("x"))
    await asyncio.sleep(0)
    peer.feed(
        b'{"jsonrpc":"2.0","id":1,"error":{"code":"oops","message":"bad"}}\n{"jsonrpc":"2.0","method":"n","params":1}\n'
    )
    with pytest.raises(JsonRpcError) as info:
        await waiting
    assert info.value.code == -32603
    assert seen == [1]

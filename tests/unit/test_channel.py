"""The channel declaration's logic, hosted in this process by the in-memory runner.

Tools, validation of what is pushed, the readiness hold, the queue's bound and the permission
relay behave the same under every runner; here they run without a subprocess. What only the
wire can show (the handshake, stdout, signals, exit codes) stays in ``e2e/test_stdio_runner.py``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import AsyncIterator
from types import ModuleType

import pytest

from mcp_channels import Channel, EventQueueFull, HostDisconnected
from mcp_channels.runners import MemoryRunner, QueueLimits
from support import SAMPLES


def load_sample(name: str) -> ModuleType:
    """A sample channel script, imported afresh (each import declares a new channel)."""
    spec = importlib.util.spec_from_file_location(f"sample_{name}", SAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
async def sample() -> AsyncIterator[MemoryRunner]:
    async with MemoryRunner(load_sample("relay_channel").channel) as runner:
        yield runner


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "echo failed: invalid arguments: 'text' is required"),
        ({"text": 3}, "echo failed: invalid arguments: 'text' must be a string"),
        ({"text": "x", "count": 0}, "echo failed: invalid arguments: 'count' must be at least 1"),
        ({"text": "x", "count": "2"}, "echo failed: invalid arguments: 'count' must be an integer"),
        ({"text": "x", "fail": True}, "echo failed: asked to fail"),
    ],
)
async def test_tool_errors_are_results_not_crashes(
    sample: MemoryRunner, arguments: dict[str, object], message: str
) -> None:
    result = await sample.call_tool("echo", **arguments)
    assert result == {"content": [{"type": "text", "text": message}], "isError": True}


async def test_a_tool_call_answers_with_its_text(sample: MemoryRunner) -> None:
    assert await sample.call_tool("echo", text="hi", count=2) == {"content": [{"type": "text", "text": "hi hi"}]}


async def test_unknown_tool(sample: MemoryRunner) -> None:
    result = await sample.call_tool("nope")
    assert result["isError"] and result["content"][0]["text"] == "unknown tool: nope"


@pytest.mark.parametrize(
    ("meta", "message"),
    [({"bad-key": "x"}, "bad-key"), ({"source": "spoof"}, "reserved"), ({"nested": {"a": 1}}, "nested")],
)
async def test_push_refuses_what_claude_code_would_drop(
    sample: MemoryRunner, meta: dict[str, object], message: str
) -> None:
    result = await sample.call_tool("push", content="x", meta=meta)
    assert result["isError"] and message in result["content"][0]["text"]
    assert sample.events == []


async def test_push_stringifies_meta_and_encodes_the_notification_once(sample: MemoryRunner) -> None:
    await sample.call_tool("push", content="x", meta={"n": 5, "ok": True})
    event = await sample.next_event()
    assert (event.content, dict(event.meta)) == ("x", {"n": "5", "ok": "true"})
    assert json.loads(event.line) == {
        "jsonrpc": "2.0",
        "method": "notifications/claude/channel",
        "params": {"content": "x", "meta": {"n": "5", "ok": "true"}},
    }


async def test_permission_requests_reach_the_handler_and_typed_answers_become_verdicts(sample: MemoryRunner) -> None:
    await sample.request_permission("abcde", "Bash", "run ls", "ls")
    event = await sample.next_event()
    assert (event.content, event.meta["request_id"]) == ("permission abcde Bash", "abcde")
    assert await sample.tool_text("answer", text="yes abcde") == "verdict abcde allow"
    assert await sample.tool_text("answer", text="hello") == "not a verdict"
    assert sample.verdicts == [("abcde", True)]


async def test_events_wait_for_the_host_and_go_out_in_order() -> None:
    channel = Channel("held")
    async with MemoryRunner(channel, ready=False) as runner:
        first, second = channel.enqueue("one"), channel.enqueue("two")
        status = channel.delivery
        assert (status.ready, status.held, status.queued_events, status.delivered) == (False, 2, 2, 0)
        runner.become_ready()
        await asyncio.gather(first, second)
        assert [event.content for event in runner.events] == ["one", "two"]
        assert channel.delivery.delivered == 2 and channel.delivery.queued_events == 0


async def test_the_bound_refuses_enqueue_and_makes_push_wait_for_room() -> None:
    channel = Channel("bounded")
    async with MemoryRunner(channel, ready=False, limits=QueueLimits(events=2)) as runner:
        channel.enqueue("one")
        channel.enqueue("two")
        with pytest.raises(EventQueueFull, match="2 events"):
            channel.enqueue("three")
        waiting = asyncio.create_task(channel.push("three"))
        await asyncio.sleep(0)
        assert not waiting.done() and channel.delivery.held == 2
        runner.become_ready()
        await asyncio.wait_for(waiting, 5)
        assert [event.content for event in runner.events] == ["one", "two", "three"]


async def test_a_host_gone_fails_held_events_and_refuses_new_ones() -> None:
    channel = Channel("gone")
    async with MemoryRunner(channel, ready=False) as runner:
        held = channel.enqueue("one")
        runner.disconnect()
        with pytest.raises(HostDisconnected):
            await held
        with pytest.raises(HostDisconnected):
            channel.enqueue("two")
        with pytest.raises(HostDisconnected):
            await channel.push("three")
        assert not channel.delivery.host_connected


async def test_pushing_without_a_runner_says_so() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        await Channel("alone").push("x")


async def test_a_deferred_runtime_serves_tools_once_made() -> None:
    async with MemoryRunner(load_sample("deferred_channel").channel) as runner:
        assert await runner.tool_text("echo", text="hi") == "runtime says hi"


async def test_a_session_that_does_not_deliver_starts_only_the_tasks_the_tools_need() -> None:
    channel = load_sample("deferred_channel").channel
    inbound_ran = asyncio.Event()

    @channel.task
    async def listen() -> None:
        inbound_ran.set()

    assert [(task.name, task.inbound) for task in channel.tasks] == [("load_platform", False), ("listen", True)]
    async with MemoryRunner(channel, inbound=False) as runner:
        assert runner.started_tasks == ["load_platform"]
        assert await runner.tool_text("echo", text="hi") == "runtime says hi"
    assert not inbound_ran.is_set()


async def test_a_crashing_task_is_raised_when_the_runner_stops() -> None:
    channel = Channel("crashing")

    @channel.task
    async def explode() -> None:
        raise RuntimeError("adapter exploded")

    with pytest.raises(RuntimeError, match="adapter exploded"):
        async with MemoryRunner(channel):
            await asyncio.sleep(0)

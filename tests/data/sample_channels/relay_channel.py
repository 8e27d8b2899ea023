"""A tiny channel built on the SDK, used by the tests as a channel author would write one.

Behaviour is chosen by environment variables so one file covers several scenarios:
SAMPLE_PUSH_AT_START=N  push N events as soon as the adapter starts (before the host is ready)
SAMPLE_PUSH_CONCURRENTLY=N  push N events at start from N tasks at once (as a chat adapter's
                        handlers do), logging how many are held once each has tried
SAMPLE_CRASH=1          the adapter raises after starting
SAMPLE_PRINT=1          the adapter print()s to stdout (must not reach the wire)
SAMPLE_NO_RELAY=1       do not register a permission handler
"""

from __future__ import annotations

import asyncio
import os

from mcp_channels import Channel, PermissionRequest, ToolError

channel = Channel("sample", instructions="Sample channel for tests.")


@channel.tool(
    description="Echo text back; fails on request.",
    input_schema={
        "type": "object",
        "properties": {
            "text": {"type": "string"},
            "fail": {"type": "boolean"},
            "count": {"type": "integer", "minimum": 1},
        },
        "required": ["text"],
    },
)
async def echo(text: str, fail: bool = False, count: int = 1) -> str:
    if fail:
        raise ToolError("asked to fail")
    return " ".join([text] * count)


@channel.tool(
    description="Push an event with the given content and meta.",
    input_schema={
        "type": "object",
        "properties": {"content": {"type": "string"}, "meta": {"type": "object"}},
        "required": ["content"],
    },
)
async def push(content: str, meta: dict[str, object] | None = None) -> str:
    try:
        await channel.push(content, **(meta or {}))
    except (TypeError, ValueError) as exc:
        raise ToolError(str(exc)) from None
    return "pushed"


@channel.tool(
    description="Answer a permission request as a phone user would.",
    input_schema={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
)
async def answer(text: str) -> str:
    verdict = channel.take_permission_reply(text)
    return "not a verdict" if verdict is None else f"verdict {verdict[0]} {'allow' if verdict[1] else 'deny'}"


if not os.environ.get("SAMPLE_NO_RELAY"):

    @channel.on_permission_request
    async def relay(request: PermissionRequest) -> None:
        await channel.push(f"permission {request.request_id} {request.tool_name}", request_id=request.request_id)


@channel.task
async def adapter() -> None:
    at_start = int(os.environ.get("SAMPLE_PUSH_AT_START", "0"))
    for index in range(at_start):
        channel.enqueue(f"early {index}", seq=index)
    if at_start:
        channel.log.info("queued %d event(s) at start", at_start)
    concurrent = int(os.environ.get("SAMPLE_PUSH_CONCURRENTLY", "0"))
    if concurrent:
        pushes = [asyncio.create_task(channel.push(f"pushed {i}", seq=i)) for i in range(concurrent)]
        await asyncio.sleep(0)  # every push has run up to its first wait
        channel.log.info("pushing %d events concurrently: %d held", concurrent, channel.delivery.held)
        await asyncio.gather(*pushes)
        channel.log.info("all %d pushes returned", concurrent)
    if os.environ.get("SAMPLE_PRINT"):
        print("this must not reach the protocol stream")
    if os.environ.get("SAMPLE_CRASH"):
        await asyncio.sleep(0)
        raise RuntimeError("adapter exploded")
    await asyncio.Event().wait()


if __name__ == "__main__":
    channel.run()

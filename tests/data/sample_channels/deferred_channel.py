"""A channel whose platform runtime is made after the handshake (messaging.DeferredRuntime).

DEFERRED_MODULE names the "platform library" to import: a real module makes the runtime, a
missing one makes the start fail (the server must exit 1 and a waiting tool call must not hang).
"""

from __future__ import annotations

import os

from mcp_channels import Channel
from mcp_channels.messaging import DeferredRuntime


class Runtime:
    async def echo(self, text: str) -> str:
        return f"runtime says {text}"


channel = Channel("deferred", instructions="Deferred runtime sample.")
runtime = DeferredRuntime(channel, os.environ.get("DEFERRED_MODULE", "json"), Runtime)
channel.tool(
    name="echo",
    description="Echo through the runtime.",
    input_schema={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
)(runtime.delegate(lambda r: r.echo))

if __name__ == "__main__":
    channel.run()

"""Asks ``detect_delivery`` what a server in this place of the process tree would decide.

``delivery_probe.py <channel> [--name N] [--managed-settings FILE]`` prints the answer as one JSON
object and exits; with ``--mcp`` it is a channel server whose ``delivery`` tool returns it, so
the host emulator can start it like any configured server.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from mcp_channels import Channel
from mcp_channels.delivery import detect_delivery, identify_server


def answer(options: argparse.Namespace) -> str:
    identity = identify_server(options.channel, options.name)
    delivery = detect_delivery(identity, managed_settings=options.managed_settings)
    return json.dumps({**dataclasses.asdict(delivery), "server": identity.name, "marketplace": identity.marketplace})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("channel")
    parser.add_argument("--name")
    parser.add_argument("--managed-settings", type=Path)
    parser.add_argument("--mcp", action="store_true")
    options = parser.parse_args()
    if not options.mcp:
        print(answer(options), flush=True)
        return
    channel = Channel("probe", instructions="Says whether its session delivers.")

    @channel.tool(description="What detect_delivery says.", input_schema={"type": "object", "properties": {}})
    async def delivery() -> str:
        return answer(options)

    channel.run()


if __name__ == "__main__":
    main()

"""A hand-written MCP server (standard library only) whose answers tests choose by environment.

It is deliberately not built on our SDK, so the host can be tested against behaviour our SDK
never produces: no channel capability, accepting the modern-era probe, malformed events.

SCRIPTED_CAPS       JSON for capabilities.experimental (default {"claude/channel": {}})
SCRIPTED_DISCOVER   "refuse" (default, -32601) or "modern" (accept the 2026-07-28 probe)
SCRIPTED_EVENTS     JSON list of params objects sent as channel notifications when a tool is
                    called (any name), so a test sends them once the host has registered it
SCRIPTED_AFTER_LIST "1": send SCRIPTED_EVENTS right after answering tools/list instead, as a
                    server that takes tools/list for "the host is ready" would
SCRIPTED_EAGER      "1": also send one event the moment notifications/initialized arrives (the
                    registration race: Claude Code has no handler yet and loses it)
"""

import json
import os
import sys

caps = json.loads(os.environ.get("SCRIPTED_CAPS", '{"claude/channel": {}}'))
events = json.loads(os.environ.get("SCRIPTED_EVENTS", "[]"))


def send(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def send_events() -> None:
    for params in events:
        send({"jsonrpc": "2.0", "method": "notifications/claude/channel", "params": params})


for line in sys.stdin:
    message = json.loads(line)
    method, request_id = message.get("method"), message.get("id")
    if method == "server/discover" and os.environ.get("SCRIPTED_DISCOVER") == "modern":
        send(
            {
                "jsonrpc": "2.0",
                "id": request_id,
                "result": {"supportedVersions": ["2026-07-28"], "capabilities": {"experimental": caps}},
            }
        )
    elif method == "initialize":
        result = {
            "protocolVersion": "2025-11-25",
            "capabilities": {"experimental": caps, "tools": {}},
            "serverInfo": {"name": "scripted", "version": "0"},
        }
        send({"jsonrpc": "2.0", "id": request_id, "result": result})
    elif method == "notifications/initialized" and os.environ.get("SCRIPTED_EAGER") == "1":
        send({"jsonrpc": "2.0", "method": "notifications/claude/channel", "params": {"content": "too early"}})
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": request_id, "result": {"tools": []}})
        if os.environ.get("SCRIPTED_AFTER_LIST") == "1":
            send_events()
    elif method == "tools/call":
        send({"jsonrpc": "2.0", "id": request_id, "result": {"content": [{"type": "text", "text": "sent"}]}})
        send_events()
    elif request_id is not None:
        send({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32601, "message": "Method not found"}})

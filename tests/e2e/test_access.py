"""The shared access machinery in a running channel: pairing through the command line, and a path that is not a file."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

from mcp_channels.access import (
    MAX_FILE_BYTES,
    PAIRED_MESSAGE,
)
from support import DATA
from support.processes import PYTHON, HostProcess, write_mcp_config


async def start_gated_channel(tmp_path: Path, state: Path) -> HostProcess:
    """The host running ``gated_channel.py``, a channel on the shared access machinery, on ``state``."""
    config = write_mcp_config(
        tmp_path,
        {
            "gated": {
                "command": PYTHON,
                "args": [str(DATA / "access" / "gated_channel.py")],
                "env": {"TELEGRAM_STATE_DIR": str(state)},
            }
        },
    )
    host = await HostProcess(
        ["--mcp-config", str(config), "--dangerously-load-development-channels", "server:gated"]
    ).start()
    await host.wait_type("ready")
    return host


async def test_pairing_end_to_end_through_a_running_channel_and_the_command_line(tmp_path: Path) -> None:
    """Server process gates and pairs; a separate CLI process approves; the server greets within 5 s."""
    state = tmp_path / "state"
    host = await start_gated_channel(tmp_path, state)
    try:
        hello = {"sender_id": "42", "chat_id": "42", "is_dm": True, "text": "hi"}
        first = json.loads((await host.call("gated", "inbound", hello))["text"])
        assert first["action"] == "pair"
        assert first["reply"] == f"Pairing required — run in Claude Code:\n\n/telegram:access pair {first['code']}"
        again = json.loads((await host.call("gated", "inbound", hello))["text"])
        assert (again["code"], again["reply"].split(" — ")[0]) == (first["code"], "Still pending")
        refused = await host.call("gated", "send", {"chat_id": "42"})
        assert refused["is_error"] and "chat 42 is not allowlisted — add via /telegram:access" in refused["text"]

        cli = await asyncio.create_subprocess_exec(
            PYTHON, "-m", "mcp_channels", "access", "telegram", "pair", first["code"],
            env={**os.environ, "TELEGRAM_STATE_DIR": str(state)}, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await cli.communicate()
        assert cli.returncode == 0 and b"paired 42" in out

        greeting = await host.wait_for(lambda m: m.get("type") == "event" and m["content"] == PAIRED_MESSAGE, timeout=8)
        assert greeting["meta"] == {"chat_id": "42", "user_id": "42"}
        assert not (state / "approved" / "42").exists()

        delivered = json.loads((await host.call("gated", "inbound", hello))["text"])
        assert delivered["action"] == "deliver"  # hot reload: no restart needed
        event = await host.wait_for(lambda m: m.get("type") == "event" and m["content"] == "hi")
        assert event["meta"]["chat_id"] == "42"
        assert (await host.call("gated", "send", {"chat_id": "42"}))["text"] == "would send 0 file(s) to 42"
        disguised = tmp_path / "notes.txt"
        disguised.symlink_to(state / "access.json")
        leak = await host.call("gated", "send", {"chat_id": "42", "files": [str(disguised)]})
        assert leak["is_error"] and f"refusing to send channel state: {disguised}" in leak["text"]
    finally:
        await host.stop()


async def test_a_fifo_or_a_huge_file_at_the_path_never_blocks_or_opens_a_running_channel(tmp_path: Path) -> None:
    """A FIFO used to block the server for good on the next message; now it, like a file over the
    limit, is refused at once: every message is dropped and the file is left as it is."""
    state = tmp_path / "state"
    state.mkdir()
    os.mkfifo(state / "access.json")
    host = await start_gated_channel(tmp_path, state)
    hello = {"sender_id": "42", "chat_id": "42", "is_dm": True, "text": "hi"}
    try:
        answer = json.loads((await host.call("gated", "inbound", hello, timeout=5))["text"])
        assert answer["action"] == "drop"
        await host.wait_stderr("access.json cannot be used: it is not a regular file; every message is dropped")
        assert stat.S_ISFIFO((state / "access.json").lstat().st_mode)

        (state / "access.json").unlink()
        (state / "access.json").write_text(json.dumps({"allowFrom": ["42"], "padding": "x" * MAX_FILE_BYTES}))
        answer = json.loads((await host.call("gated", "inbound", hello, timeout=5))["text"])
        assert answer["action"] == "drop"
        await host.wait_stderr("over the 1,048,576-byte limit; every message is dropped until it is fixed")

        (state / "access.json").write_text(json.dumps({"allowFrom": ["42"]}))
        answer = json.loads((await host.call("gated", "inbound", hello, timeout=5))["text"])
        assert answer["action"] == "deliver"  # fixed: seen at once
    finally:
        await host.stop()

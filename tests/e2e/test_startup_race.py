"""The registration race: Claude Code drops channel events it reads before it is ready for them.

Claude Code sends ``tools/list`` in the same millisecond as ``notifications/initialized`` and
installs its channel handler 5-60 ms later; nothing on the wire marks that moment. The host
reproduces the timing, so these tests lose events exactly where Claude Code would.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from support import SAMPLES
from support.processes import PYTHON, HostProcess, channel_config, free_port, http_request, write_mcp_config

BURST = 200
#: Claude Code's slowest registration seen, so a server that sends too early surely loses events.
WORST_REGISTRATION_MS = "60"
#: Far longer, where a test needs an event sent on notifications/initialized to be read before
#: registration however slow this machine is.
LATE_REGISTRATION_MS = "2000"


async def wait_until_accepting(port: int, timeout: float = 15.0) -> None:
    """Return the moment a listener on 127.0.0.1:``port`` accepts (nothing announces it sooner)."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.002)
                continue
            writer.close()
            await writer.wait_closed()
            return


async def test_a_burst_posted_the_moment_the_webhook_listens_is_delivered_whole(tmp_path: Path) -> None:
    port = free_port()
    settings = {"WEBHOOK_PORT": str(port), "WEBHOOK_STATE_DIR": str(tmp_path / "state")}
    config = write_mcp_config(tmp_path, channel_config("webhook", settings))
    host = await HostProcess(
        ["--mcp-config", str(config), "--dangerously-load-development-channels", "server:webhook",
         "--registration-delay", WORST_REGISTRATION_MS],
    ).start()  # fmt: skip
    try:
        await wait_until_accepting(port)
        answers = await asyncio.gather(
            *(http_request(port, "POST", "/burst", f"event-{i}".encode()) for i in range(BURST))
        )
        assert [status for status, _, _ in answers] == [202] * BURST
        outcomes = await host.wait_count(("event", "event_lost"), BURST, timeout=30)
        lost = [m for m in outcomes if m["type"] == "event_lost"]
        assert not lost, f"{len(lost)} of {BURST} events were read before the channel was registered"
        assert sorted(m["content"] for m in outcomes) == sorted(f"event-{i}" for i in range(BURST))
    finally:
        await host.stop()


def scripted(**env: str) -> dict[str, dict[str, object]]:
    return {"s": {"command": PYTHON, "args": [str(SAMPLES / "scripted_server.py")], "env": env}}


async def test_a_server_that_sends_on_tools_list_loses_its_events_in_the_host(tmp_path: Path) -> None:
    """``tools/list`` comes with ``notifications/initialized``, before registration: no signal."""
    config = write_mcp_config(tmp_path, scripted(SCRIPTED_AFTER_LIST="1", SCRIPTED_EVENTS='[{"content": "too early"}]'))
    host = await HostProcess(
        ["--mcp-config", str(config), "--dangerously-load-development-channels", "server:s",
         "--registration-delay", LATE_REGISTRATION_MS],
    ).start()  # fmt: skip
    try:
        lost = await host.wait_type("event_lost")
        assert lost["server"] == "s"
        await host.wait_type("ready")
        assert host.of_type("event") == []
        await host.call("s", "send", {})  # the same event, sent once the host is registered
        assert (await host.wait_type("event"))["content"] == "too early"
    finally:
        await host.stop()


async def test_registration_delay_must_be_milliseconds(tmp_path: Path) -> None:
    config = write_mcp_config(tmp_path, scripted())
    for bad in ("soon", "-5", "nan", "60001"):
        proc = await asyncio.create_subprocess_exec(
            PYTHON, "-m", "mcp_channels", "host", "--mcp-config", str(config), "--registration-delay", bad,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(proc.communicate(), 15)
        assert proc.returncode == 2
        assert f"expected milliseconds from 0 to 60000, not {bad!r}" in err.decode()

"""A session without the channel flag never takes a conversation (issue 17), under the host emulator.

The host spawns every configured server, also one its flags do not name, and registers no channel
handler for it, as Claude Code does. Such a server finds the host among its parents, runs its gate
on the host's command line, and serves its tools alone: no port, no poller lock, no gateway. A
session with the flag, started before or after it, gets everything.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from fakes.telegram_api import FakeTelegram
from fakes.telegram_session import ALICE, TelegramSession, fake, write_access
from mcp_channels.access import AccessStore, approve_pairing
from mcp_channels.poller_lock import poller_lock_status
from support.discord import open_channel
from support.processes import HostProcess, channel_config, free_port, http_request, write_mcp_config

__all__ = ["fake"]  # fixture

DEV = "--dangerously-load-development-channels"
TOOLS_ONLY = "not enabled as a channel in this session"


def tools_only_line(host: HostProcess, server: str) -> str:
    """The one line a server in a session without its flag writes, as the host relays it."""
    assert host.proc is not None
    return (
        f"[{server}] {server} channel: {TOOLS_ONLY}: mcp-channels host (pid {host.proc.pid}): server {server} "
        "not in --channels list for this session; tools only, receiving nothing"
    )


async def session(workdir: Path, channel: str, env: dict[str, str], *flags: str) -> HostProcess:
    """A host running ``channel`` with ``env``; ``flags`` are its channel flags (none: a plain session)."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = write_mcp_config(workdir, channel_config(channel, env))
    host = await HostProcess(["--mcp-config", str(config), *flags]).start()
    await host.wait_type("ready")
    return host


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def result_text(host: HostProcess, server: str, tool: str, **arguments: Any) -> tuple[bool, str]:
    """``(is_error, text)`` of a tool call through the host."""
    result = await host.call(server, tool, arguments)
    assert result["type"] == "tool_result", result
    return bool(result["is_error"]), str(result["text"])


# --------------------------------------------------------------------------- webhook


def webhook_env(tmp_path: Path, port: int, **env: str) -> dict[str, str]:
    return {"WEBHOOK_PORT": str(port), "WEBHOOK_STATE_DIR": str(tmp_path / "state"), **env}


async def post_and_receive(host: HostProcess, port: int, bodies: list[str]) -> None:
    """POST each body to the webhook; ``host`` receives every one, in order."""
    start = len(host.messages)
    for body in bodies:
        status, _, _ = await http_request(port, "POST", "/ci", body.encode())
        assert status == 202
    await host.wait_for(lambda m: m.get("type") == "event" and m["content"] == bodies[-1], start=start)
    assert [m["content"] for m in host.messages[start:] if m.get("type") == "event"] == bodies


async def test_a_webhook_without_the_flag_holds_no_port_and_a_channel_session_started_after_gets_every_event(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = webhook_env(tmp_path, port)
    plain = await session(tmp_path / "plain", "webhook", env)
    channel = None
    try:
        await plain.wait_stderr(tools_only_line(plain, "webhook"))
        (server,) = plain.of_type("server")
        assert (server["status"], server["tools"]) == ("skipped", ["status"])  # spawned, not registered
        failed, text = await result_text(plain, "webhook", "status")
        report = json.loads(text)
        assert not failed and report["listening"] is False
        assert report["not_listening_because"] == (
            f"this Claude Code session does not receive webhook events (mcp-channels host (pid {plain.proc.pid}): "  # type: ignore[union-attr]
            f"server webhook not in --channels list for this session); the session started with the channel flag "
            f"naming this server listens on http://127.0.0.1:{port}/"
        )
        assert port_is_free(port)

        channel = await session(tmp_path / "channel", "webhook", env, DEV, "server:webhook")
        await channel.wait_stderr("listening on")
        await post_and_receive(channel, port, [f"build {n} passed" for n in range(5)])
        assert json.loads((await result_text(channel, "webhook", "status"))[1])["listening"] is True
        assert plain.of_type("event") == plain.of_type("event_ignored") == []  # nothing reached the plain one
    finally:
        await plain.stop()
        if channel is not None:
            await channel.stop()


async def test_a_channel_session_started_first_keeps_the_webhook_when_a_plain_one_starts_beside_it(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = webhook_env(tmp_path, port)
    channel = await session(tmp_path / "channel", "webhook", env, DEV, "server:webhook")
    plain = None
    try:
        await channel.wait_stderr("listening on")
        await post_and_receive(channel, port, ["before"])
        plain = await session(tmp_path / "plain", "webhook", env)
        await plain.wait_stderr(tools_only_line(plain, "webhook"))
        assert json.loads((await result_text(plain, "webhook", "status"))[1])["listening"] is False
        await post_and_receive(channel, port, ["beside 1", "beside 2"])
        await plain.stop()
        await post_and_receive(channel, port, ["after the plain session quit"])
        assert not any("cannot listen" in line for line in plain.stderr_lines)
    finally:
        await channel.stop()
        if plain is not None:
            await plain.stop()


async def test_a_session_naming_only_other_servers_is_not_this_one_and_the_line_says_how_to_name_it(
    tmp_path: Path,
) -> None:
    """``server:alerts`` names an entry keyed ``alerts``; a webhook that never said its name takes itself
    to be ``webhook``, so it serves tools only, and says how to give it the name."""
    port = free_port()
    workdir = tmp_path / "alerts"
    workdir.mkdir()
    config = write_mcp_config(
        workdir, channel_config("webhook", webhook_env(tmp_path, port, MCP_CHANNELS_SERVER_NAME=""), name="alerts")
    )
    host = await HostProcess(["--mcp-config", str(config), DEV, "server:alerts"]).start()
    try:
        line = await host.wait_stderr(TOOLS_ONLY)
        assert host.proc is not None
        assert line == (
            f"[alerts] webhook channel: {TOOLS_ONLY}: mcp-channels host (pid {host.proc.pid}): server webhook not in "
            "--channels list for this session; tools only, receiving nothing (this server takes itself to be "
            "'webhook' in the MCP config: if its key there differs, give it with serve --name <key> or "
            "MCP_CHANNELS_SERVER_NAME=<key>)"
        )
        assert port_is_free(port)
    finally:
        await host.stop()


@pytest.mark.parametrize(
    ("flags", "forced", "listens"),
    [((), "deliver", True), ((DEV, "server:webhook"), "tools-only", False)],
)
async def test_the_override_decides_either_way(
    tmp_path: Path, flags: tuple[str, ...], forced: str, listens: bool
) -> None:
    port = free_port()
    host = await session(tmp_path, "webhook", webhook_env(tmp_path, port, MCP_CHANNELS_DELIVERY=forced), *flags)
    try:
        if listens:
            await host.wait_stderr("listening on")
            status, _, _ = await http_request(port, "POST", "/ci", b"forced")
            assert status == 202  # taken: the user said this session delivers...
            await host.wait_type("event_ignored", server="webhook")  # ...though this host drops it, as asked
        else:
            await host.wait_stderr(
                f"[webhook] webhook channel: {TOOLS_ONLY}: MCP_CHANNELS_DELIVERY=tools-only; tools only, receiving nothing"
            )
            assert json.loads((await result_text(host, "webhook", "status"))[1])["listening"] is False
            assert port_is_free(port)
    finally:
        await host.stop()


# --------------------------------------------------------------------------- fakechat


def fakechat_env(tmp_path: Path, port: int) -> dict[str, str]:
    return {"FAKECHAT_PORT": str(port), "FAKECHAT_STATE_DIR": str(tmp_path / "state")}


async def chat_through_the_page(host: HostProcess, port: int, text: str) -> None:
    """Type ``text`` in the page; it reaches ``host`` as an event, and the reply reaches the page."""
    async with aiohttp.ClientSession() as client, client.ws_connect(f"http://127.0.0.1:{port}/ws") as ws:
        await ws.send_json({"type": "msg", "id": f"u-{abs(hash(text))}", "text": text})
        await host.wait_type("event", content=text)
        failed, answer = await result_text(host, "fakechat", "reply", text=f"re: {text}")
        assert not failed, answer
        async with asyncio.timeout(10):
            while (await ws.receive_json()).get("text") != f"re: {text}":
                pass


async def test_fakechat_without_the_flag_serves_no_page_and_its_tools_say_where_it_is(tmp_path: Path) -> None:
    port = free_port()
    env = fakechat_env(tmp_path, port)
    plain = await session(tmp_path / "plain", "fakechat", env)
    channel = None
    try:
        await plain.wait_stderr(tools_only_line(plain, "fakechat"))
        assert port_is_free(port)
        assert plain.proc is not None
        refusal = (
            f"this session does not serve the fakechat page (mcp-channels host (pid {plain.proc.pid}): server "
            "fakechat not in --channels list for this session): the Claude Code session started with the channel "
            f"flag naming fakechat serves http://localhost:{port}, and only its replies appear there"
        )
        assert await result_text(plain, "fakechat", "reply", text="hello?") == (True, f"reply failed: {refusal}")
        edit = await result_text(plain, "fakechat", "edit_message", message_id="m1", text="x")
        assert edit == (True, f"edit_message failed: {refusal}")

        channel = await session(tmp_path / "channel", "fakechat", env, DEV, "server:fakechat")
        await channel.wait_stderr(f"chat page at http://localhost:{port}")
        await chat_through_the_page(channel, port, "anyone there?")
        assert plain.of_type("event") == []
    finally:
        await plain.stop()
        if channel is not None:
            await channel.stop()


async def test_a_channel_session_started_first_keeps_the_fakechat_page(tmp_path: Path) -> None:
    port = free_port()
    env = fakechat_env(tmp_path, port)
    channel = await session(tmp_path / "channel", "fakechat", env, DEV, "server:fakechat")
    plain = None
    try:
        await channel.wait_stderr(f"chat page at http://localhost:{port}")
        plain = await session(tmp_path / "plain", "fakechat", env)
        await plain.wait_stderr(tools_only_line(plain, "fakechat"))
        await chat_through_the_page(channel, port, "still you?")
        assert (await result_text(plain, "fakechat", "reply", text="me too"))[0] is True
        assert not any("cannot" in line for line in plain.stderr_lines)
    finally:
        await channel.stop()
        if plain is not None:
            await plain.stop()


# --------------------------------------------------------------------------- telegram


def plain_telegram(fake: FakeTelegram, state: Path, workdir: Path) -> TelegramSession:
    """A Telegram session whose host has no channel flag (the same config as a channel session's)."""
    plain = TelegramSession(fake, state, workdir)
    plain.host = HostProcess(plain.host.args[:2])  # --mcp-config <file>, without the flag after it
    return plain


def telegram_calls(fake: FakeTelegram, *methods: str) -> list[str]:
    return [method for method, _ in fake.calls if method in methods]


async def test_telegram_without_the_flag_polls_nothing_and_a_channel_session_started_after_gets_every_message(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    alice = fake.user(ALICE, "alice")
    carol = fake.user(333, "carol")
    state = tmp_path / "state"
    write_access(state, allowFrom=[str(ALICE)])
    plain = await plain_telegram(fake, state, tmp_path / "plain").start(receiving=False)
    channel = None
    try:
        await plain.host.wait_stderr(tools_only_line(plain.host, "telegram"))
        for n in range(3):
            fake.send_text(alice, f"while nobody receives {n}")
        sent = await plain.ok("reply", chat_id=str(ALICE), text="from the tools-only session")
        message_id = re.fullmatch(r"sent \(id: (\d+)\)", sent)
        assert message_id is not None, sent
        assert await plain.ok("react", chat_id=str(ALICE), message_id=message_id[1], emoji="👍") == "reacted"
        assert "edited" in await plain.ok("edit_message", chat_id=str(ALICE), message_id=message_id[1], text="edited")
        stored = fake.add_file(b"%PDF-1.4 report", "documents/file_9.pdf")
        assert Path(await plain.ok("download_attachment", file_id=stored.file_id)).read_bytes() == b"%PDF-1.4 report"
        assert telegram_calls(fake, "getme", "getupdates") == []  # no poller: no getMe, no getUpdates
        assert poller_lock_status(state, fake.token, "telegram") is None  # and no lock another session would wait for

        fake.send_text(carol, "hi")  # a stranger under pairing: the receiving session answers, later
        await plain.host.command('/permission Bash "ls" {"command": "ls"}')
        assert (await plain.host.wait_type("permission_request"))["sent_to"] == []  # not registered: no prompt

        channel = await TelegramSession(fake, state, tmp_path / "channel").start()
        for n in range(3):
            await channel.event(f"while nobody receives {n}")
        code = (await fake.wait_sent(lambda m: m["chat"]["id"] == 333))["text"].rsplit(" ", 1)[1]
        approve_pairing(AccessStore("telegram", state), code)
        await fake.wait_sent(lambda m: m["chat"]["id"] == 333 and m["text"] == "Paired! Say hi to Claude.")
        fake.send_text(alice, "and after")
        await channel.event("and after")
        assert plain.events() == []
        assert [m["text"] for m in fake.sent if "reply_markup" in m] == []  # the plain session prompted nobody
        assert [m["text"] for m in fake.sent_to(333)][1:] == ["Paired! Say hi to Claude."]  # sent once, by one
    finally:
        await plain.stop()
        if channel is not None:
            await channel.stop()


async def test_a_telegram_channel_session_started_first_keeps_the_bot(fake: FakeTelegram, tmp_path: Path) -> None:
    alice = fake.user(ALICE, "alice")
    state = tmp_path / "state"
    write_access(state, allowFrom=[str(ALICE)])
    channel = await TelegramSession(fake, state, tmp_path / "channel").start()
    plain = None
    try:
        receiver = poller_lock_status(state, fake.token, "telegram")
        fake.send_text(alice, "first")
        await channel.event("first")
        plain = await plain_telegram(fake, state, tmp_path / "plain").start(receiving=False)
        await plain.host.wait_stderr(tools_only_line(plain.host, "telegram"))
        assert "sent (id:" in await plain.ok("reply", chat_id=str(ALICE), text="a tool call from the plain session")
        fake.send_text(alice, "second")
        await channel.event("second")
        assert poller_lock_status(state, fake.token, "telegram") == receiver
        assert not plain.log_has("another session") and not plain.log_has("polling as @")  # it never tried
        assert plain.events() == []
    finally:
        await channel.stop()
        if plain is not None:
            await plain.stop()


# --------------------------------------------------------------------------- discord


async def test_discords_tools_work_without_the_gateway_in_a_session_without_the_flag(tmp_path: Path) -> None:
    discord = await open_channel(tmp_path / "state")
    fake, carol, lounge = discord.fake, discord.member, discord.channel
    host = await session(tmp_path / "plain", "discord", discord.env)
    try:
        await host.wait_stderr(tools_only_line(host, "discord"))
        theirs = fake.post(lounge, carol, "a question")
        attached = fake.attachment(lounge, "notes.txt", b"some notes", "text/plain")
        with_file = fake.post(lounge, carol, "", attachments=[attached])

        failed, sent = await result_text(host, "discord", "reply", chat_id=lounge["id"], text="an answer")
        assert not failed, sent
        mine = fake.bot_messages(lounge)[0]
        assert sent == f"sent (id: {mine['id']})"
        assert await result_text(
            host, "discord", "react", chat_id=lounge["id"], message_id=theirs["id"], emoji="👍"
        ) == (
            False,
            "reacted",
        )
        edited = await result_text(
            host, "discord", "edit_message", chat_id=lounge["id"], message_id=mine["id"], text="better"
        )
        assert edited == (False, f"edited (id: {mine['id']})")
        failed, history = await result_text(host, "discord", "fetch_messages", channel=lounge["id"])
        assert not failed and "carol: a question" in history and "me: better" in history
        failed, downloaded = await result_text(
            host, "discord", "download_attachment", chat_id=lounge["id"], message_id=with_file["id"]
        )
        assert not failed, downloaded
        assert Path(downloaded.split("\n")[1].strip().split("  ")[0]).read_bytes() == b"some notes"

        assert [kind for kind, _ in fake.gateway_log] == []  # never connected: no gateway session to share
        assert not fake.calls_to("GET", r"/gateway/bot")
        assert host.of_type("event") == []
    finally:
        await host.stop()
        await fake.close()

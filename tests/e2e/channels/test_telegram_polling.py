"""Receiving from Telegram: one poller per token, recovery from every error, nothing lost.

Each test drives the real channel (through the host) against the fake Bot API, injecting what
goes wrong in practice: a second session on the same bot, another program polling the token,
dropped connections, 502s, flood control, and a session stopped or killed mid-burst.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections import Counter
from pathlib import Path

import aiohttp

from fakes.telegram_api import FakeTelegram
from fakes.telegram_session import ALICE, TelegramSession, fake, session, state, write_access
from mcp_channels.access import AccessStore, approve_pairing
from mcp_channels.channels.telegram._poller import Backoff
from mcp_channels.poller_lock import poller_lock_status

__all__ = ["fake", "session", "state"]  # fixtures

PTB_AGENT = "python-telegram-bot"


def our_polls(fake: FakeTelegram) -> list[int | None]:
    """The statuses of the getUpdates calls made by the channel (not by a test's own poller)."""
    return [p.status for p in fake.polls if PTB_AGENT in p.agent]


def test_backoff_doubles_up_to_a_cap_and_resets() -> None:
    backoff = Backoff(first=0.5, cap=30.0)
    assert [backoff.next() for _ in range(9)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    backoff.reset()
    assert backoff.next() == 0.5


async def test_second_session_only_sends_then_takes_over(
    fake: FakeTelegram, session: TelegramSession, state: Path, tmp_path: Path
) -> None:
    receiver = poller_lock_status(state, fake.token, "telegram")
    assert receiver is not None and receiver != os.getpid()
    second = await TelegramSession(fake, state, tmp_path / "second").start(receiving=False)
    try:
        await second.host.wait_stderr(
            f"another session (pid {receiver}) is receiving messages for this bot; this one only sends"
        )
        assert "sent (id:" in await second.ok("reply", chat_id=str(ALICE), text="from the second session")
        await second.host.command('/permission Bash "ls" {"command": "ls"}')
        request = await second.host.wait_type("permission_request")
        await second.host.wait_stderr(f"permission request {request['request_id']} not relayed")
        carol = fake.user(333, "carol")
        fake.send_text(carol, "hi")
        code = (await fake.wait_sent(lambda m: m["chat"]["id"] == 333))["text"].rsplit(" ", 1)[1]
        fake.fault("sendMessage", "delay", seconds=0.5)  # a slow "Paired!" leaves time for a second sender
        approve_pairing(AccessStore("telegram", state), code)  # what `mcp-channels access telegram pair` does
        await fake.wait_sent(lambda m: m["chat"]["id"] == 333 and m["text"] == "Paired! Say hi to Claude.")
        fake.send_text(fake.users[ALICE], "who gets this?")
        await session.event("who gets this?")
        assert second.events() == []
        assert [m for m in fake.sent if "reply_markup" in m] == []  # no prompt whose answer would go astray

        await session.stop()
        await second.host.wait_stderr("the other session has exited: this one now receives messages")
        fake.send_text(fake.users[ALICE], "after the hand-over")
        await second.event("after the hand-over")
        assert poller_lock_status(state, fake.token, "telegram") not in (None, receiver)
        assert not session.log_has("409") and not second.log_has("409")  # they never fought over the token
        assert [m["text"] for m in fake.sent_to(333)][1:] == [
            "Paired! Say hi to Claude."
        ]  # once, though both sessions watch
    finally:
        await second.stop()
    assert poller_lock_status(state, fake.token, "telegram") is None


async def test_foreign_poller_gets_backoff_not_a_409_loop(fake: FakeTelegram, session: TelegramSession) -> None:
    stop = asyncio.Event()

    async def foreign_poller() -> None:  # e.g. the official plugin, or the same bot on another machine
        url = f"{fake.base}/bot{fake.token}/getUpdates"
        async with aiohttp.ClientSession(headers={"User-Agent": "another-bot-host"}) as client:
            while not stop.is_set():
                async with client.post(url, json={"timeout": 1}) as response:
                    await response.read()

    intruder = asyncio.create_task(foreign_poller())
    try:
        await session.host.wait_stderr("409 Conflict: another program is polling this bot token")
        await session.host.wait_stderr("409 Conflict again (2 in a row)")
    finally:
        stop.set()
        await intruder
    conflicts = our_polls(fake).count(409)
    assert 2 <= conflicts <= 4  # backing off (0.5 s, 1 s, 2 s ...), not spinning
    fake.send_text(fake.users[ALICE], "anyone home?")
    await session.event("anyone home?")
    await session.host.wait_stderr("polling again: the other poller has stopped")
    assert session.contents().count("anyone home?") == 1


async def test_network_errors_and_flood_control_lose_nothing(fake: FakeTelegram, session: TelegramSession) -> None:
    fake.fault("getUpdates", "disconnect")
    fake.fault("getUpdates", "bad_gateway")
    fake.fault("getUpdates", "flood", retry_after=1)
    fake.send_text(fake.users[ALICE], "before the outage")
    await session.event("before the outage")
    fake.send_text(fake.users[ALICE], "during the outage")
    await session.event("during the outage")
    assert session.contents() == ["before the outage", "during the outage"]
    assert session.log_has("polling error: httpx.RemoteProtocolError")
    assert session.log_has("polling error: Bad Gateway (502)")
    assert session.log_has("flood control: Telegram asks to wait 1s before polling again")
    await fake.wait_confirmed(fake.last_update_id)


async def test_an_unreadable_answer_or_update_is_reported_and_skipped(
    fake: FakeTelegram, session: TelegramSession
) -> None:
    fake.fault("getUpdates", "garbage")
    fake.push_update({"message": {"message_id": 77, "chat": {"id": ALICE, "type": "private"}, "text": "no date"}})
    broken = fake.last_update_id
    fake.send_text(fake.users[ALICE], "next one")
    await session.event("next one")
    assert session.contents() == ["next one"]
    await session.host.wait_stderr(f"update {broken} could not be handled and is skipped")
    await session.host.wait_stderr("polling error: getUpdates answered something that is not a list of updates")
    fake.send_text(fake.users[ALICE], "and after it")
    await session.event("and after it")
    assert not session.log_has("Please use")  # no library warning on stderr


async def burst(fake: FakeTelegram, count: int) -> list[str]:
    texts = [f"burst {n}" for n in range(count)]
    for text in texts:
        fake.send_text(fake.users[ALICE], text)
    return texts


async def test_restart_in_the_middle_of_a_burst_loses_nothing(
    fake: FakeTelegram, session: TelegramSession, state: Path, tmp_path: Path
) -> None:
    write_access(state, allowFrom=[str(ALICE)], ackReaction="👍")
    fake.fault("setMessageReaction", "delay", seconds=0.3, times=1000)  # each message takes a moment
    texts = await burst(fake, 12)
    await session.event("burst 3")
    await session.stop()  # Claude Code closes the session mid-burst
    delivered = session.contents()
    assert 4 <= len(delivered) < 12
    fresh = await TelegramSession(fake, state, tmp_path / "again").start()
    try:
        await fresh.event("burst 11")
        assert delivered + fresh.contents() == texts  # everything, once, in order
    finally:
        await fresh.stop()


async def test_crash_in_the_middle_of_a_burst_loses_nothing(
    fake: FakeTelegram, session: TelegramSession, state: Path, tmp_path: Path
) -> None:
    write_access(state, allowFrom=[str(ALICE)], ackReaction="👍")
    fake.fault("setMessageReaction", "delay", seconds=0.3, times=1000)
    texts = await burst(fake, 12)
    await session.event("burst 3")
    pid = poller_lock_status(state, fake.token, "telegram")
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # no chance to confirm anything
    await session.host.wait_type("server_exited")
    delivered = session.contents()
    fresh = await TelegramSession(fake, state, tmp_path / "again").start()
    try:
        await fresh.event("burst 11")
        seen = Counter(delivered + fresh.contents())
        assert set(seen) == set(texts)  # nothing lost; what was delivered but unconfirmed may repeat
        assert fresh.contents()[-1] == "burst 11" and sorted(fresh.contents(), key=texts.index) == fresh.contents()
    finally:
        await fresh.stop()
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, 0)
        raise AssertionError("the killed server is still running")


# --------------------------------------------------------------------------- a webhook in the way

WEBHOOK = "https://hooks.example.com/telegram/secret-path-7f3a"


async def set_webhook(fake: FakeTelegram, url: str = WEBHOOK) -> dict[str, object]:
    """What another program does to the bot: ``setWebhook`` over HTTP, as any Bot API client would."""
    async with (
        aiohttp.ClientSession() as client,
        client.post(f"{fake.base}/bot{fake.token}/setWebhook", json={"url": url}) as response,
    ):
        answer: dict[str, object] = await response.json()
        return answer


async def channel_is_polling(fake: FakeTelegram) -> None:
    await fake.wait_until(lambda: our_polls(fake) and our_polls(fake)[-1] is None)


async def test_a_webhook_set_mid_session_is_deleted_and_nothing_is_lost(
    fake: FakeTelegram, session: TelegramSession
) -> None:
    fake.send_text(fake.users[ALICE], "before the webhook")
    await session.event("before the webhook")
    await channel_is_polling(fake)
    running = fake.polls[-1]
    fake.fault("getWebhookInfo", "delay", seconds=0.3)  # keeps the webhook in place a moment longer
    answer = await set_webhook(fake)
    assert fake.webhook_url == WEBHOOK
    fake.send_text(fake.users[ALICE], "while the webhook was set")  # pending: it must not be lost
    assert answer == {"ok": True, "result": True, "description": "Webhook was set"}
    await fake.wait_until(lambda: running.status == 409)
    assert running.ended_by == "Conflict: terminated by setWebhook request"
    await session.event("while the webhook was set", timeout=5)
    fake.send_text(fake.users[ALICE], "after the webhook")
    await session.event("after the webhook", timeout=5)
    assert fake.webhook_url == ""
    assert [p for m, p in fake.calls if m == "deletewebhook"] == [{"drop_pending_updates": "false"}]
    assert session.contents() == ["before the webhook", "while the webhook was set", "after the webhook"]
    await session.host.wait_stderr(
        "409 Conflict: terminated by setWebhook request: a webhook (to https://hooks.example.com) is set on this "
        "bot, and Telegram refuses polling while it is; deleting it (pending updates kept) and polling again"
    )
    [told] = [line for line in session.host.stderr_lines if "a webhook (to" in line]
    assert "secret-path" not in told  # the webhook's host only: its path may hold a secret
    assert not session.log_has("another program is polling")  # not mistaken for another poller


async def test_a_webhook_left_on_the_bot_is_deleted_at_start(fake: FakeTelegram, state: Path, tmp_path: Path) -> None:
    fake.user(ALICE, "alice")
    write_access(state, allowFrom=[str(ALICE)])
    assert (await set_webhook(fake, "https://old.example.com:8443/hook"))["ok"] is True
    fake.send_text(fake.users[ALICE], "sent before the session started")
    running = await TelegramSession(fake, state, tmp_path / "host").start()
    try:
        await running.event("sent before the session started", timeout=5)
        assert fake.webhook_url == ""
        await running.host.wait_stderr(
            "409 Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the "
            "webhook first: a webhook (to https://old.example.com:8443) is set on this bot"
        )
    finally:
        await running.stop()


async def test_a_webhook_set_again_and_again_gets_backoff_not_a_tug_of_war(
    fake: FakeTelegram, session: TelegramSession
) -> None:
    await channel_is_polling(fake)
    for _ in range(3):  # a program that sets its webhook again whenever it is gone
        await set_webhook(fake)
        await fake.wait_until(lambda: fake.webhook_url == "")
    await session.host.wait_stderr("409 Conflict: terminated by setWebhook request: a webhook")
    await session.host.wait_stderr(
        "a webhook (to https://hooks.example.com) was set on this bot again (2 times in a row): deleting it again in 0.5s"
    )
    await session.host.wait_stderr("again (3 times in a row): deleting it again in 1.0s")
    fake.send_text(fake.users[ALICE], "once it gives up")
    await session.event("once it gives up", timeout=5)
    assert len([m for m, _ in fake.calls if m == "deletewebhook"]) == 3

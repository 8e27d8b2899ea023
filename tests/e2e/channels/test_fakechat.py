"""Fakechat at the protocol and HTTP level: the real server under the real host, driven over a
real websocket and real HTTP on 127.0.0.1 (aiohttp's client). The browser tests are in
``test_fakechat_browser.py``.

Most tests share one host (module scope) with small limits; each test uses its own message ids
and texts and waits from its own mark in the host's output, so they do not see each other.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from support import planted_secrets
from support.fakechat import FakechatHost, Tab, multipart, upload
from support.processes import PYTHON, RawServer, free_port, http_request

pytestmark = pytest.mark.asyncio(loop_scope="module")

MAX_MESSAGE = 4096
MAX_UPLOAD = 64 * 1024
HISTORY = 60
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def chat(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FakechatHost]:
    server = FakechatHost(
        tmp_path_factory.mktemp("fakechat"),
        FAKECHAT_MAX_MESSAGE=str(MAX_MESSAGE),
        FAKECHAT_MAX_UPLOAD=str(MAX_UPLOAD),
        FAKECHAT_HISTORY=str(HISTORY),
    )
    await server.start()
    yield server
    await server.stop()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def open_tab(session: aiohttp.ClientSession, chat: FakechatHost, **kwargs: Any) -> Tab:
    tab = Tab(await session.ws_connect(chat.ws_url, **kwargs))
    await tab.hello()
    return tab


async def barrier(chat: FakechatHost, tab: Tab) -> int:
    """Send a message and wait for its event: everything sent before it has been handled."""
    text = chat.next_barrier()
    await tab.send(id=f"b{abs(hash(text))}", text=text)
    await chat.event(text)
    return chat.mark


def sent_id(result: dict[str, Any]) -> str:
    """The message id in ``reply``'s answer (``sent (m…)``, perhaps with a note after it)."""
    match = re.match(r"sent \((m\d+-\d+)\)", result["text"])
    assert match, result["text"]
    return match.group(1)


# --------------------------------------------------------------------------- the page


async def test_page_and_assets_are_served_with_a_strict_policy(chat: FakechatHost) -> None:
    status, headers, body = await http_request(chat.port, "GET", "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b'src="/page.js"' in body and b'href="/page.css"' in body
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert b"http://" not in body.replace(b"http://www.w3.org/2000/svg", b""), "no external assets"
    for path, kind in (("/page.js", "text/javascript"), ("/page.css", "text/css")):
        status, headers, _ = await http_request(chat.port, "GET", path)
        assert status == 200 and headers["content-type"].startswith(kind)
    assert (await http_request(chat.port, "GET", "/nothing-here"))[0] == 404


async def test_capabilities_tools_and_instructions() -> None:
    server = await RawServer("fakechat", env={"FAKECHAT_PORT": str(free_port())}).start()
    try:
        result = (await server.handshake())["result"]
        assert result["serverInfo"]["name"] == "fakechat"
        assert result["capabilities"]["experimental"] == {"claude/channel": {}, "claude/channel/permission": {}}
        assert "reply tool" in result["instructions"] and "file_path" in result["instructions"]
        tools = {t["name"]: t for t in (await server.request("tools/list"))["result"]["tools"]}
        assert set(tools) == {"reply", "edit_message"}
        assert tools["reply"]["inputSchema"]["required"] == ["text"]
        assert set(tools["reply"]["inputSchema"]["properties"]) == {"text", "reply_to", "files"}
        assert tools["edit_message"]["inputSchema"]["required"] == ["message_id", "text"]
    finally:
        await server.stop()


# --------------------------------------------------------------------------- messages in


async def test_a_message_becomes_an_event_and_shows_in_every_tab(
    chat: FakechatHost, session: aiohttp.ClientSession
) -> None:
    async with await session.ws_connect(chat.ws_url) as ws1, await session.ws_connect(chat.ws_url) as ws2:
        sender, other = Tab(ws1), Tab(ws2)
        await sender.hello()
        await other.hello()
        start = chat.mark
        await sender.send(id="u-event-1", text="  what is in the build log?  ")
        event = await chat.event("what is in the build log?", start=start)
        assert event["meta"]["chat_id"] == "web"
        assert event["meta"]["message_id"] == "u-event-1"
        assert event["meta"]["user"] == "web"
        assert ISO_MS.match(event["meta"]["ts"])
        assert set(event["meta"]) == {"chat_id", "message_id", "user", "ts"}
        assert event["rendered"].startswith(
            '<channel source="fakechat" chat_id="web" message_id="u-event-1" user="web"'
        )
        for tab in (sender, other):
            echo = await tab.entry("u-event-1", status="delivered")  # maybe "waiting" first, at start-up
            assert echo["from"] == "user" and echo["text"] == "what is in the build log?"


async def test_a_client_that_does_not_say_hello_gets_claudes_side_only(
    chat: FakechatHost, session: aiohttp.ClientSession
) -> None:
    """As with the official server: a plain client sends {id, text} and receives Claude's messages."""
    async with await session.ws_connect(chat.ws_url) as ws:
        plain = Tab(ws)
        start = chat.mark
        await plain.send(id="u-plain", text="from a script")
        await chat.event("from a script", start=start)
        sent = await chat.call("reply", text="to the script")
        frame = await plain.next(lambda f: True)
        assert frame["id"] == sent_id(sent) and frame["from"] == "assistant", "no echo of its own message"


async def test_a_resent_message_is_delivered_once(chat: FakechatHost, session: aiohttp.ClientSession) -> None:
    async with await session.ws_connect(chat.ws_url) as ws:
        tab = Tab(ws)
        await tab.hello()
        start = chat.mark
        await tab.send(id="u-resent", text="only once please")
        await tab.send(id="u-resent", text="only once please")
        await barrier(chat, tab)
        assert len(chat.events(start, lambda m: m["meta"]["message_id"] == "u-resent")) == 1


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "a frame must be a JSON object"),
        (json.dumps({"text": "no id"}), "a message needs an id"),
        (json.dumps({"id": "has spaces", "text": "x"}), "a message needs an id"),
        (json.dumps({"id": "u-empty", "text": "   "}), "empty message"),
        (json.dumps({"id": "u-num", "text": 5}), "text must be a string"),
        (json.dumps({"type": "launch", "id": "u-type"}), "unknown frame type"),
        (json.dumps({"type": "permission", "request_id": "nope!", "behavior": "allow"}), "not a permission request id"),
        (json.dumps({"type": "permission", "request_id": "abcde", "behavior": "maybe"}), "behavior must be"),
        (json.dumps({"type": "permission", "request_id": "zzzzz", "behavior": "allow"}), "no permission request zzzzz"),
    ],
)
async def test_bad_frames_get_an_error_and_deliver_nothing(
    chat: FakechatHost, session: aiohttp.ClientSession, frame: str, error: str
) -> None:
    async with await session.ws_connect(chat.ws_url) as ws:
        tab = Tab(ws)
        await tab.hello()
        start = chat.mark
        await ws.send_str(frame)
        answer = await tab.next(lambda f: f["type"] == "error")
        assert error in answer["message"]
        await barrier(chat, tab)
        assert len(chat.events(start)) == 1, "only the barrier arrived"
        assert all(m["request_id"] not in ("abcde", "zzzzz") for m in chat.host.of_type("permission_resolved"))


async def test_a_lone_surrogate_does_not_break_a_tab(chat: FakechatHost, session: aiohttp.ClientSession) -> None:
    """JSON lets "\\ud800" in, and UTF-8 cannot carry it: the frame goes out escaped instead (it
    used to kill the tab's writer, so the tab heard nothing more)."""
    async with await session.ws_connect(chat.ws_url) as ws:
        tab = Tab(ws)
        await tab.hello()
        sent = await chat.call("reply", text="half \ud83d a pair")
        assert (await tab.entry(sent_id(sent)))["text"] == "half \ud83d a pair"
        after = await chat.call("reply", text="still listening")
        await tab.entry(sent_id(after))


async def test_binary_frames_are_refused(chat: FakechatHost, session: aiohttp.ClientSession) -> None:
    async with await session.ws_connect(chat.ws_url) as ws:
        tab = Tab(ws)
        await tab.hello()
        await ws.send_bytes(b'{"id": "u-bin", "text": "binary"}')
        assert (await tab.next(lambda f: f["type"] == "error"))["message"] == "send JSON text frames"


async def test_an_oversize_frame_closes_the_socket_with_1009_and_delivers_nothing(
    chat: FakechatHost, session: aiohttp.ClientSession
) -> None:
    async with await session.ws_connect(chat.ws_url) as watcher_ws:
        watcher = Tab(watcher_ws)
        await watcher.hello()
        start = chat.mark
        async with await session.ws_connect(chat.ws_url) as ws:
            await ws.send_str(json.dumps({"id": "u-huge", "text": "x" * MAX_MESSAGE}))
            closing = await ws.receive()
            assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 1009
        await chat.host.wait_stderr("closed with 1009")
        await barrier(chat, watcher)
        assert len(chat.events(start)) == 1, "only the barrier arrived"


# --------------------------------------------------------------------------- Claude's side


async def test_reply_with_several_files_serves_all_of_them(
    chat: FakechatHost, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    sources = {
        "report.txt": b"all green\n",
        "chart.png": b"\x89PNG\r\n\x1a\nnot really",
        "data.bin": os.urandom(3000),
    }
    for name, data in sources.items():
        (tmp_path / name).write_bytes(data)
    async with await session.ws_connect(chat.ws_url) as ws1, await session.ws_connect(chat.ws_url) as ws2:
        tabs = [Tab(ws1), Tab(ws2)]
        for tab in tabs:
            await tab.hello()
        result = await chat.call(
            "reply", text="here you go", reply_to="u-event-1", files=[str(tmp_path / n) for n in sources]
        )
        assert not result["is_error"]
        message_id = sent_id(result)
        for tab in tabs:
            frame = await tab.entry(message_id)
            assert frame["from"] == "assistant" and frame["text"] == "here you go" and frame["replyTo"] == "u-event-1"
            assert [f["name"] for f in frame["files"]] == list(sources)
        for attachment, data in zip(frame["files"], sources.values(), strict=True):
            assert attachment["size"] == len(data)
            assert re.fullmatch(r"/files/\d+-[0-9a-z]{6}\.(txt|png|bin)", attachment["url"])
            status, headers, body = await http_request(chat.port, "GET", attachment["url"])
            assert status == 200 and body == data
            assert headers["content-disposition"].startswith("attachment")
            assert "sandbox" in headers["content-security-policy"]
        kinds = [(await http_request(chat.port, "GET", f["url"]))[1]["content-type"] for f in frame["files"]]
        assert kinds[0].startswith("text/plain") and kinds[1] == "image/png" and kinds[2] == "application/octet-stream"


async def test_reply_checks_every_file_before_sending_anything(
    chat: FakechatHost, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    good = tmp_path / "good.txt"
    good.write_text("fine")
    huge = tmp_path / "huge.bin"
    with huge.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024 + 1)
    chat.state.mkdir(parents=True, exist_ok=True)
    (chat.state / ".env").write_text("TOKEN=secret")
    cases = [
        ([str(good), str(tmp_path / "missing.txt")], "reply failed: file not found: "),
        ([str(good), str(chat.state / ".env")], "reply failed: refusing to send channel state: "),
        ([str(good), str(huge)], "reply failed: file too large: "),
        ([str(tmp_path)], "reply failed: not a regular file: "),
    ]
    async with await session.ws_connect(chat.ws_url) as ws:
        tab = Tab(ws)
        await tab.hello()
        before = set(chat.outbox.iterdir()) if chat.outbox.exists() else set()
        for files, message in cases:
            result = await chat.call("reply", text="should not arrive", files=files)
            assert result["is_error"] and result["text"].startswith(message), result["text"]
        assert "(50.0MB, max 50MB)" in (await chat.call("reply", text="x", files=[str(huge)]))["text"]
        await chat.call("reply", text="after the refusals")
        frame = await tab.next(lambda f: f.get("from") == "assistant")
        assert frame["text"] == "after the refusals", "nothing was sent for the refused replies"
        assert set(chat.outbox.iterdir()) == before, "nothing was copied"


async def test_reply_can_send_an_upload_back(chat: FakechatHost, session: aiohttp.ClientSession) -> None:
    """Files in inbox/ are not channel state: Claude may return an upload, e.g. after editing it."""
    chat.inbox.mkdir(parents=True, exist_ok=True)
    (chat.inbox / "returned.txt").write_text("edited by Claude")
    result = await chat.call("reply", text="your file, fixed", files=[str(chat.inbox / "returned.txt")])
    assert not result["is_error"], result["text"]
    message_id = sent_id(result)
    async with await session.ws_connect(chat.ws_url) as ws:
        entry = next(e for e in (await Tab(ws).hello())["history"] if e["id"] == message_id)
    [attachment] = entry["files"]
    assert attachment["name"] == "returned.txt"
    assert (await http_request(chat.port, "GET", attachment["url"]))[2] == b"edited by Claude"


async def test_reply_reports_a_file_it_cannot_copy(chat: FakechatHost, tmp_path: Path) -> None:
    source = tmp_path / "fine.txt"
    source.write_text("fine")
    parked = chat.state / "outbox.parked"
    chat.outbox.rename(parked)
    chat.outbox.write_text("a file where the outbox should be")
    try:
        result = await chat.call("reply", text="x", files=[str(source)])
        assert result["is_error"] and result["text"].startswith(f"reply failed: cannot copy {source}: ")
    finally:
        chat.outbox.unlink()
        parked.rename(chat.outbox)


async def test_reply_refuses_secrets_however_they_are_named(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    """What a stranger steering the model would ask for: the server's environment, another channel's
    token, Claude Code's credentials, by any name. Nothing is copied, nothing reaches the page, and
    no refusal repeats a secret."""
    home = planted_secrets.plant(tmp_path)
    (home.root / "work" / "creds.json").symlink_to(home.credentials)
    chat = await FakechatHost(tmp_path, SERVICE_TOKEN=planted_secrets.MARK, **home.env).start()
    assert chat.host.proc is not None
    host_pid, document = chat.host.proc.pid, home.document
    state, claude = "refusing to send channel state: ", "refusing to send Claude Code's settings and credentials: "
    live = "hold the system's live state"
    cases = {
        "/proc/self/environ": live,
        f"/proc/{host_pid}/environ": live,
        "/dev/fd/0": live,
        f"/proc/self/root{document}": live,
        f"/proc/{host_pid}/cwd/{document}": live,
        str(home.telegram_env): state,
        "~/.claude/channels/telegram/.env": state,
        str(home.claude / "channels" / "telegram" / ".." / "telegram" / ".env"): state,
        str(home.other_state / ".env"): state,
        str(home.hard_link): f"{state}{home.hard_link} is the same file as {home.telegram_env}",
        str(home.credentials): claude,
        "~/.claude/.credentials.json": claude,
        str(home.root / "work" / "creds.json"): claude,
        str(home.claude / "settings.local.json"): claude,
        str(home.home / ".claude.json"): claude,
    }
    try:
        async with await session.ws_connect(chat.ws_url) as ws:
            tab = Tab(ws)
            await tab.hello()
            answers = {
                name: (await chat.call("reply", text="here it is", files=[str(document), name]))["text"]
                for name in cases
            }
            assert {name: text for name, text in answers.items() if cases[name] not in text} == {}
            assert not [text for text in answers.values() if planted_secrets.MARK in text]
            assert not chat.outbox.exists() or not list(chat.outbox.iterdir()), "nothing was copied"
            sent = await chat.call("reply", text="only the report", files=[str(document)])
            assert not sent["is_error"], sent["text"]
            frame = await tab.next(lambda f: f.get("from") == "assistant")
            assert frame["text"] == "only the report", "nothing was sent for the refused replies"
    finally:
        await chat.stop()


async def test_edit_message(chat: FakechatHost, session: aiohttp.ClientSession) -> None:
    async with await session.ws_connect(chat.ws_url) as ws:
        tab = Tab(ws)
        await tab.hello()
        sent = await chat.call("reply", text="building…")
        message_id = sent_id(sent)
        await tab.entry(message_id, text="building…")
        edited = await chat.call("edit_message", message_id=message_id, text="build passed")
        assert edited["text"] == "ok" and not edited["is_error"]
        frame = await tab.entry(message_id, text="build passed")
        assert isinstance(frame["edited"], int) and frame["from"] == "assistant"
        unknown = await chat.call("edit_message", message_id="m0-0", text="x")
        assert unknown["is_error"] and unknown["text"] == (
            "edit_message failed: no message m0-0 in this chat (only messages sent with reply in this session, "
            "while the history keeps them)"
        )
        await tab.send(id="u-not-yours", text="my own words")
        await tab.entry("u-not-yours")
        theirs = await chat.call("edit_message", message_id="u-not-yours", text="rewritten")
        assert theirs["is_error"] and "is the user's" in theirs["text"]


# --------------------------------------------------------------------------- uploads


def inbox_files(chat: FakechatHost) -> set[Path]:
    return set(chat.inbox.iterdir()) if chat.inbox.exists() else set()


async def test_a_bare_upload_is_delivered_with_its_path_in_meta_only(
    chat: FakechatHost, session: aiohttp.ClientSession
) -> None:
    data = b"line one\nline two\n"
    async with await session.ws_connect(chat.ws_url) as ws:
        tab = Tab(ws)
        await tab.hello()
        start = chat.mark
        status, _ = await upload(chat, {"id": "u-up-1", "text": ""}, ("notes [draft].TXT", data))
        assert status == 204
        event = await chat.host.wait_for(
            lambda m: m.get("type") == "event" and m["meta"]["message_id"] == "u-up-1", start=start
        )
        assert event["content"] == "(notes _draft_.TXT)"
        path = Path(event["meta"]["file_path"])
        assert path.parent == chat.inbox and path.suffix == ".txt" and path.read_bytes() == data
        assert str(path) not in event["content"]
        echo = await tab.entry("u-up-1")
        assert echo["files"] == [{"name": "notes _draft_.TXT", "size": len(data)}]
    assert not [p for p in chat.inbox.iterdir() if p.name.startswith(".")], "no temporary file left"


async def test_an_upload_with_text_keeps_the_text_as_content(chat: FakechatHost) -> None:
    start = chat.mark
    status, _ = await upload(chat, {"id": "u-up-2", "text": "  please read this "}, ("../../evil.sh", b"#!/bin/sh\n"))
    assert status == 204
    event = await chat.event("please read this", start=start)
    path = Path(event["meta"]["file_path"])
    assert path.parent == chat.inbox and path.name.endswith("-evil.sh") and path.read_bytes() == b"#!/bin/sh\n"


@pytest.mark.parametrize(
    ("fields", "file", "headers", "status", "reason"),
    [
        ({"text": "no id"}, ("a.txt", b"a"), {}, 400, b"missing id"),
        ({"id": "u-up-empty", "text": " "}, None, {}, 400, b"empty message"),
        ({"id": "u-up-big", "text": ""}, ("big.bin", b"x" * (MAX_UPLOAD + 1)), {}, 413, b"upload too large"),
        ({"id": "u-up-huge", "text": ""}, ("huge.bin", b"x" * (MAX_UPLOAD + 70_000)), {}, 413, b"upload too large"),
        ({"id": "u-up-long", "text": "x" * (MAX_MESSAGE + 1)}, None, {}, 413, b"upload too large"),
        ({"id": "u-up-evil", "text": "hi"}, ("a.txt", b"a"), {"Origin": "http://evil.example"}, 403, b"cross-origin"),
    ],
)
async def test_refused_uploads_deliver_and_keep_nothing(
    chat: FakechatHost,
    session: aiohttp.ClientSession,
    fields: dict[str, str],
    file: tuple[str, bytes] | None,
    headers: dict[str, str],
    status: int,
    reason: bytes,
) -> None:
    before = inbox_files(chat)
    async with await session.ws_connect(chat.ws_url) as ws:
        tab = Tab(ws)
        await tab.hello()
        start = chat.mark
        answer = await upload(chat, fields, file, **headers)
        assert answer[0] == status and reason in answer[1]
        await barrier(chat, tab)
        assert len(chat.events(start)) == 1, "only the barrier arrived"
    assert inbox_files(chat) == before


async def test_a_streamed_upload_is_cut_off_at_the_limit(chat: FakechatHost, session: aiohttp.ClientSession) -> None:
    """No Content-Length (chunked): the size is enforced while reading."""
    body = multipart({"id": "u-up-chunked", "text": ""}, ("stream.bin", b"y" * (MAX_UPLOAD + 1)))

    async def chunks() -> AsyncIterator[bytes]:
        for offset in range(0, len(body), 8192):
            yield body[offset : offset + 8192]

    before = inbox_files(chat)
    start = chat.mark
    headers = {"Content-Type": "multipart/form-data; boundary=fcboundary"}
    async with session.post(f"{chat.url}/upload", data=chunks(), headers=headers) as response:
        assert response.status == 413
    assert inbox_files(chat) == before
    assert not chat.events(start, lambda m: m["meta"]["message_id"] == "u-up-chunked")


async def test_an_upload_that_cannot_be_saved_gets_a_clear_500(
    chat: FakechatHost, session: aiohttp.ClientSession
) -> None:
    parked = chat.state / "inbox.parked"
    chat.inbox.rename(parked)
    chat.inbox.write_text("a file where the inbox should be")
    try:
        async with await session.ws_connect(chat.ws_url) as ws:
            tab = Tab(ws)
            await tab.hello()
            start = chat.mark
            status, answer = await upload(chat, {"id": "u-up-nowhere", "text": "hi"}, ("a.txt", b"a"))
            assert status == 500 and answer.startswith(b"could not save the upload: ")
            await barrier(chat, tab)
            assert len(chat.events(start)) == 1, "only the barrier arrived"
        await chat.host.wait_stderr("could not save an upload in")
    finally:
        chat.inbox.unlink()
        parked.rename(chat.inbox)


def raw_part(headers: str, body: bytes) -> bytes:
    return f"--fcboundary\r\n{headers}\r\n\r\n".encode() + body + b"\r\n"


ID_PART = raw_part('Content-Disposition: form-data; name="id"', b"u-up-malformed")
FILE_PART = raw_part('Content-Disposition: form-data; name="file"; filename="a.txt"', b"a")


@pytest.mark.parametrize(
    ("parts", "reason"),
    [
        ([ID_PART, FILE_PART, FILE_PART], b"malformed upload: one file per message"),
        (
            [ID_PART] + [raw_part(f'Content-Disposition: form-data; name="x{n}"', b"x") for n in range(9)],
            b"more than 8 parts",
        ),
        ([raw_part('Content-Disposition: form-data; name="id"', b"u-\xff\xfe")], b"malformed upload"),
        (
            [
                ID_PART,
                raw_part(
                    'Content-Disposition: form-data; name="nested"\r\nContent-Type: multipart/mixed; boundary=inner',
                    b"--inner--",
                ),
            ],
            b"malformed upload: nested multipart",
        ),
    ],
)
async def test_malformed_upload_forms_are_refused(
    chat: FakechatHost, session: aiohttp.ClientSession, parts: list[bytes], reason: bytes
) -> None:
    before = inbox_files(chat)
    async with await session.ws_connect(chat.ws_url) as ws:
        tab = Tab(ws)
        await tab.hello()
        start = chat.mark
        body = b"".join(parts) + b"--fcboundary--\r\n"
        status, _, answer = await http_request(
            chat.port, "POST", "/upload", body, {"Content-Type": "multipart/form-data; boundary=fcboundary"}
        )
        assert status == 400 and reason in answer, answer
        await barrier(chat, tab)
        assert len(chat.events(start)) == 1, "only the barrier arrived"
    assert inbox_files(chat) == before


async def test_an_upload_that_is_not_multipart_is_refused(chat: FakechatHost) -> None:
    status, _, answer = await http_request(
        chat.port, "POST", "/upload", b"id=1&text=hi", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 400 and b"multipart/form-data" in answer


# --------------------------------------------------------------------------- /files


async def test_files_refuses_everything_outside_the_outbox(chat: FakechatHost, tmp_path: Path) -> None:
    secret = chat.inbox / "secret.txt"
    chat.inbox.mkdir(parents=True, exist_ok=True)
    secret.write_text("top secret")
    chat.outbox.mkdir(parents=True, exist_ok=True)
    (chat.outbox / "link.txt").symlink_to(secret)
    (chat.outbox / ".hidden").write_text("top secret")
    for path in (
        "/files/..%2Finbox%2Fsecret.txt",
        "/files/..%2F..%2F..%2Fetc%2Fpasswd",
        "/files/%2E%2E",
        "/files/.hidden",
        "/files/..",
    ):
        status, _, body = await http_request(chat.port, "GET", path)
        assert status == 400 and b"secret" not in body, path
    for path in ("/files/../inbox/secret.txt", "/files/link.txt", "/files/nothing.txt", "/files/a/b"):
        status, _, body = await http_request(chat.port, "GET", path)
        assert status == 404 and b"secret" not in body, path


# --------------------------------------------------------------------------- who may talk to the server


async def test_a_cross_origin_websocket_is_refused(chat: FakechatHost, session: aiohttp.ClientSession) -> None:
    for origin in (
        "http://evil.example",
        "null",
        f"http://127.0.0.1:{chat.port + 1}",
        f"https://localhost:{chat.port}",
    ):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(chat.ws_url, origin=origin)
        assert refused.value.status == 403, origin
    await chat.host.wait_stderr("403 forbidden: cross-origin request from 'http://evil.example'")
    for origin in (f"http://localhost:{chat.port}", f"http://127.0.0.1:{chat.port}"):
        async with await session.ws_connect(chat.ws_url, origin=origin) as ws:
            assert (await Tab(ws).hello())["type"] == "hello"


async def test_a_foreign_host_header_is_refused(chat: FakechatHost, session: aiohttp.ClientSession) -> None:
    """DNS rebinding: a page on evil.example resolved to 127.0.0.1 says Host: evil.example."""
    for host in (f"evil.example:{chat.port}", "evil.example", f"127.0.0.1:{chat.port + 1}", ""):
        for path in ("/", "/files/x.txt"):
            status, _, body = await http_request(chat.port, "GET", path, headers={"Host": host})
            assert status == 403 and b"is not this server" in body, (host, path)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(chat.ws_url, headers={"Host": host})
        assert refused.value.status == 403
    for host in (f"localhost:{chat.port}", f"LOCALHOST:{chat.port}", f"[::1]:{chat.port}"):
        assert (await http_request(chat.port, "GET", "/", headers={"Host": host}))[0] == 200


# --------------------------------------------------------------------------- history


async def test_history_is_replayed_to_a_new_tab(chat: FakechatHost, session: aiohttp.ClientSession) -> None:
    async with await session.ws_connect(chat.ws_url) as ws:
        tab = Tab(ws)
        first = await tab.hello()
        await tab.send(id="u-history", text="remember me")
        await tab.entry("u-history")
        sent = await chat.call("reply", text="remembered", reply_to="u-history")
    async with await session.ws_connect(chat.ws_url) as ws:
        hello = await Tab(ws).hello()
    assert hello["session"] == first["session"]
    assert hello["limits"] == {"max_message": MAX_MESSAGE, "max_upload": MAX_UPLOAD}
    ids = [entry["id"] for entry in hello["history"]]
    message_id = sent_id(sent)
    assert ids.index("u-history") < ids.index(message_id)
    mine = hello["history"][ids.index("u-history")]
    assert mine["text"] == "remember me" and mine["from"] == "user"
    assert hello["history"][ids.index(message_id)]["replyTo"] == "u-history"


async def test_history_is_bounded(chat: FakechatHost, session: aiohttp.ClientSession) -> None:
    async with await session.ws_connect(chat.ws_url) as ws:
        tab = Tab(ws)
        await tab.hello()
        for n in range(HISTORY + 5):
            await tab.send(id=f"u-bound-{n}", text=f"filler {n}")
        await chat.event(f"filler {HISTORY + 4}")
    async with await session.ws_connect(chat.ws_url) as ws:
        history = (await Tab(ws).hello())["history"]
    assert len(history) == HISTORY
    assert [e["id"] for e in history] == [f"u-bound-{n}" for n in range(5, HISTORY + 5)]


# --------------------------------------------------------------------------- permission relay


async def test_a_permission_card_answered_by_button_resolves_the_request_once(
    chat: FakechatHost, session: aiohttp.ClientSession
) -> None:
    async with await session.ws_connect(chat.ws_url) as ws1, await session.ws_connect(chat.ws_url) as ws2:
        first, second = Tab(ws1), Tab(ws2)
        await first.hello()
        await second.hello()
        request_id = await chat.permission("Bash", "Run the tests", command="pytest -q")
        for tab in (first, second):
            card = await tab.entry(f"perm-{request_id}")
            assert card["type"] == "permission" and card["status"] == "pending"
            assert card["tool_name"] == "Bash" and card["description"] == "Run the tests"
            assert card["input_preview"] == '{ "command": "pytest -q" }'
        start = chat.mark
        await first.send(type="permission", request_id=request_id, behavior="allow")
        await second.send(type="permission", request_id=request_id, behavior="deny")
        resolved = await chat.host.wait_type("permission_resolved", request_id=request_id)
        assert resolved["behavior"] == "allow" and resolved["by"] == "channel fakechat"
        for tab in (first, second):
            outcome = await tab.entry(f"perm-{request_id}", status="allow")
            assert outcome["answered_by"] == "button"
        await barrier(chat, second)
        answers = [m for m in chat.host.messages[start:] if m.get("request_id") == request_id]
        assert [m["type"] for m in answers] == ["permission_resolved"], "the second answer was not sent"


async def test_a_typed_verdict_is_consumed_not_delivered(chat: FakechatHost, session: aiohttp.ClientSession) -> None:
    async with await session.ws_connect(chat.ws_url) as ws:
        tab = Tab(ws)
        await tab.hello()
        request_id = await chat.permission("Write", "Create notes.md", file_path="notes.md")
        await tab.entry(f"perm-{request_id}", status="pending")
        start = chat.mark
        await tab.send(id="u-typed-yes", text=f"  Yes {request_id.upper()} ")
        resolved = await chat.host.wait_type("permission_resolved", request_id=request_id)
        assert resolved["behavior"] == "allow" and resolved["by"] == "channel fakechat"
        card = await tab.entry(f"perm-{request_id}", status="allow")
        assert card["answered_by"] == "typed"
        echo = await tab.entry("u-typed-yes")
        assert echo["answers"] == request_id and "status" not in echo
        await tab.send(id="u-typed-no", text=f"no {request_id}")
        await tab.entry("u-typed-no")
        await barrier(chat, tab)
        assert len(chat.events(start)) == 1, "neither answer was delivered as chat"
        answers = [m for m in chat.host.messages[start:] if m.get("request_id") == request_id]
        assert [m["type"] for m in answers] == ["permission_resolved"], "the late 'no' was not sent"


async def test_a_typed_verdict_for_an_unknown_id_is_still_sent(
    chat: FakechatHost, session: aiohttp.ClientSession
) -> None:
    """As the official servers do: Claude Code decides whether it was waiting for that id."""
    async with await session.ws_connect(chat.ws_url) as ws:
        tab = Tab(ws)
        await tab.hello()
        start = chat.mark
        await tab.send(id="u-typed-stale", text="n qwert")
        stale = await chat.host.wait_type("permission_stale", start=start)
        assert stale["request_id"] == "qwert" and stale["behavior"] == "deny"


# --------------------------------------------------------------------------- lifecycle


async def test_messages_before_claude_code_is_ready_wait_then_arrive(tmp_path: Path) -> None:
    port = free_port()
    server = await RawServer("fakechat", env={"FAKECHAT_PORT": str(port), "FAKECHAT_STATE_DIR": str(tmp_path)}).start()
    try:
        # Events are held until a second after notifications/initialized: not sent yet, so however
        # slow this machine is, the message is surely held.
        initialize = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}
        await server.request("initialize", initialize)
        await server.wait_stderr("chat page at")
        async with aiohttp.ClientSession() as client, client.ws_connect(f"ws://127.0.0.1:{port}/ws") as ws:
            tab = Tab(ws)
            await tab.hello()
            await tab.send(id="u-early", text="are you there?")
            assert (await tab.entry("u-early"))["status"] == "waiting"
            await server.notify("notifications/initialized")
            assert (await tab.entry("u-early"))["status"] == "delivered"
            event = await server.wait_for(lambda m: m.get("method") == "notifications/claude/channel")
            assert event["params"]["content"] == "are you there?"
    finally:
        await server.stop()


async def test_history_lives_for_the_session_and_a_restart_starts_a_new_one(tmp_path: Path) -> None:
    chat = await FakechatHost(tmp_path).start()
    try:
        result = await chat.call("reply", text="nobody is watching")
        assert result["text"].endswith(
            f"no chat page is open, it will show when the user opens http://localhost:{chat.port}"
        )
        async with aiohttp.ClientSession() as client:
            async with client.ws_connect(chat.ws_url) as ws:
                hello = await Tab(ws).hello()
                assert [e["text"] for e in hello["history"]] == ["nobody is watching"]
                await chat.stop()
                closing = await ws.receive()
                assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 1001
            chat = await FakechatHost(tmp_path, port=chat.port).start()
            async with client.ws_connect(chat.ws_url) as ws:
                again = await Tab(ws).hello()
        assert again["session"] != hello["session"] and again["history"] == []
    finally:
        await chat.stop()


async def test_a_port_in_use_stops_the_server_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = await RawServer(
            "fakechat", env={"FAKECHAT_PORT": str(port), "FAKECHAT_STATE_DIR": str(tmp_path)}
        ).start()
        try:
            await server.handshake()
            assert await server.wait_exit() == 1
            assert f"cannot listen on 127.0.0.1:{port}" in server.stderr.decode()
            assert "set FAKECHAT_PORT" in server.stderr.decode()
        finally:
            await server.stop()


async def test_an_unusable_state_directory_stops_the_server_with_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "not-a-directory").write_text("")
    state = tmp_path / "not-a-directory" / "fakechat"
    server = await RawServer(
        "fakechat", env={"FAKECHAT_PORT": str(free_port()), "FAKECHAT_STATE_DIR": str(state)}
    ).start()
    try:
        await server.handshake()
        assert await server.wait_exit() == 1
        assert f"cannot use the state directory {state}: Not a directory" in server.stderr.decode()
        assert "Traceback" not in server.stderr.decode()
    finally:
        await server.stop()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FAKECHAT_PORT": "eighty"}, "FAKECHAT_PORT='eighty' is not a number"),
        ({"FAKECHAT_PORT": "70000"}, "FAKECHAT_PORT=70000 is out of range (1..65535)"),
        ({"FAKECHAT_MAX_UPLOAD": "0"}, "FAKECHAT_MAX_UPLOAD=0 is out of range"),
        ({"FAKECHAT_HISTORY_BYTES": "1000"}, "FAKECHAT_HISTORY_BYTES=1000 is out of range (65536.."),
        ({"FAKECHAT_TAB_BUFFER": "lots"}, "FAKECHAT_TAB_BUFFER='lots' is not a number"),
        ({"FAKECHAT_MAX_TABS": "0"}, "FAKECHAT_MAX_TABS=0 is out of range"),
        ({"FAKECHAT_INBOX_QUOTA": "-1"}, "FAKECHAT_INBOX_QUOTA=-1 is out of range"),
    ],
)
async def test_a_bad_setting_stops_the_server_with_its_name(env: dict[str, str], message: str) -> None:
    server = await RawServer("fakechat", env=env, argv=[PYTHON, "-m", "mcp_channels", "serve", "fakechat"]).start()
    try:
        assert await server.wait_exit() == 1
        assert message in server.stderr.decode()
    finally:
        await server.stop()


async def test_the_demo_runs_fakechat_and_says_where_the_page_is(tmp_path: Path) -> None:
    """``mcp-channels demo``: the host with fakechat, no account or token; the README's first step.

    Run as a newcomer runs it, without the suite's ``MCP_CHANNELS_HUB=off``: the demo's state is
    temporary, so it must start no hub that would outlive it.
    """
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if k != "MCP_CHANNELS_HUB"}
    environ["MCP_CHANNELS_HUB_DIR"] = str(tmp_path / "hub")
    demo = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "mcp_channels", "demo", "--port", str(port),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        start_new_session=True, env=environ,
    )  # fmt: skip
    assert demo.stdout is not None and demo.stderr is not None
    try:
        output = b""
        async with asyncio.timeout(15):
            while f"http://localhost:{port}".encode() not in output:
                output += await demo.stdout.readline()
            errors = b""
            while b"chat page at" not in errors:
                errors += await demo.stderr.readline()
        assert b"cannot tell whether this session delivers" not in errors  # the demo says it delivers
        async with aiohttp.ClientSession() as client, client.ws_connect(f"ws://127.0.0.1:{port}/ws") as ws:
            await ws.send_json({"id": "u-demo", "text": "hello from the demo"})
            async with asyncio.timeout(15):
                while b"hello from the demo" not in output:
                    output += await demo.stdout.readline()
        assert b'<channel source="fakechat" chat_id="web" message_id="u-demo" user="web"' in output
        assert not (tmp_path / "hub").exists()  # no hub started
    finally:
        demo.send_signal(signal.SIGINT)
        async with asyncio.timeout(10):
            await demo.wait()

"""The Telegram channel's tools, end to end: reply, react, edit_message, download_attachment."""

from __future__ import annotations

import re
from pathlib import Path

from fakes.telegram_api import MAX_TEXT, FakeTelegram
from fakes.telegram_session import ALICE, BOB, GROUP, PNG, TelegramSession, fake, session, state, write_access
from support import planted_secrets

__all__ = ["fake", "session", "state"]  # fixtures


def ids_of(result: str) -> list[int]:
    """The message ids in ``sent (id: 5)`` / ``sent 3 parts (ids: 5, 6, 7)``."""
    match = re.fullmatch(r"sent (?:\(id: (\d+)\)|\d+ parts \(ids: ([\d, ]+)\))", result)
    assert match is not None, result
    return [int(i) for i in (match.group(1) or match.group(2)).split(", ")]


# --------------------------------------------------------------------------- reply


async def test_reply_chunks_threads_and_attaches(fake: FakeTelegram, session: TelegramSession, tmp_path: Path) -> None:
    asked = fake.send_text(fake.users[ALICE], "send me the files")
    await session.event("send me the files")
    photo, document = tmp_path / "chart.PNG", tmp_path / "notes.txt"
    photo.write_bytes(PNG)
    document.write_text("notes")
    text = "🙂" * 2048 + "tail"  # 4100 UTF-16 units: Telegram's 4096 limit needs two messages
    result = await session.ok(
        "reply", chat_id=str(ALICE), text=text, reply_to=str(asked["message_id"]), files=[str(photo), str(document)]
    )
    ids = ids_of(result)
    assert result.startswith("sent 4 parts")
    sent = {m["message_id"]: m for m in fake.sent_to(ALICE)}
    first, second, image, doc = (sent[i] for i in ids)
    assert first["text"] + second["text"] == text and first["text"] == "🙂" * 2048
    assert first["reply_to_message"]["message_id"] == asked["message_id"]  # replyToMode "first"
    assert "reply_to_message" not in second
    assert image["method"] == "sendPhoto" and image["upload"] == {"filename": "chart.PNG", "data": PNG}
    assert doc["method"] == "sendDocument" and doc["upload"]["filename"] == "notes.txt"
    assert image["reply_to_message"]["message_id"] == asked["message_id"]  # files are threaded, as officially


async def test_reply_to_modes_and_a_vanished_target(fake: FakeTelegram, session: TelegramSession, state: Path) -> None:
    write_access(state, allowFrom=[str(ALICE)], replyToMode="all", textChunkLimit=5, chunkMode="newline")
    asked = fake.send_text(fake.users[ALICE], "count")
    await session.event("count")
    ids = ids_of(
        await session.ok("reply", chat_id=str(ALICE), text="one\ntwo\nthree", reply_to=str(asked["message_id"]))
    )
    sent = [m for m in fake.sent if m["message_id"] in ids]
    assert [m["text"] for m in sent] == ["one", "two", "three"]
    assert all(m["reply_to_message"]["message_id"] == asked["message_id"] for m in sent)
    write_access(state, allowFrom=[str(ALICE)], replyToMode="off")
    ids = ids_of(await session.ok("reply", chat_id=str(ALICE), text="plain", reply_to=str(asked["message_id"])))
    assert "reply_to_message" not in fake.sent[-1]
    # A reply to a message that no longer exists is still sent, unthreaded.
    write_access(state, allowFrom=[str(ALICE)])
    ids_of(await session.ok("reply", chat_id=str(ALICE), text="still here", reply_to="99999"))
    assert fake.sent[-1]["text"] == "still here"


async def test_reply_formats(fake: FakeTelegram, session: TelegramSession) -> None:
    markdown = "# Result\n\nThe **build** passed (3.2s). Use `make test`!\n\n```sh\nmake -j4\n```\n- done"
    await session.ok("reply", chat_id=str(ALICE), text=markdown, format="markdown")
    shown = fake.sent[-1]
    assert shown["text"] == "Result\n\nThe build passed (3.2s). Use make test!\n\nmake -j4\n• done"
    assert {e["type"] for e in shown["entities"]} == {"bold", "code", "pre"}

    await session.ok("reply", chat_id=str(ALICE), text="*bold* \\.", format="markdownv2")
    assert fake.sent[-1]["text"] == "bold ." and fake.sent[-1]["entities"][0]["type"] == "bold"
    await session.ok("reply", chat_id=str(ALICE), text="**as typed**. (default)")
    assert fake.sent[-1]["text"] == "**as typed**. (default)" and "entities" not in fake.sent[-1]

    error = await session.error("reply", chat_id=str(ALICE), text="1.5", format="markdownv2")
    assert error == (
        "reply failed: reply failed after 0 of 1 chunk(s) sent: Can't parse entities: character '.' is reserved "
        "and must be escaped with the preceding '\\'"
    )
    error = await session.error("reply", chat_id=str(ALICE), text="x", format="html")
    assert error.startswith("reply failed: invalid arguments: 'format' must be one of")


async def test_markdown_with_escapes_telegram_used_to_refuse(fake: FakeTelegram, session: TelegramSession) -> None:
    for markdown, text, italic in [
        ("Run *C:\\tools\\*_setup_ first.", "Run *C:\\tools*setup first.", "setup"),
        ("*\\*.log*", "*.log", "*.log"),
    ]:
        await session.ok("reply", chat_id=str(ALICE), text=markdown, format="markdown")
        shown = fake.sent[-1]
        assert shown["text"] == text
        [entity] = shown["entities"]
        assert entity["type"] == "italic" and text[entity["offset"] :][: entity["length"]] == italic
    assert not session.log_has("as plain text")


PARSE_ERROR = "Bad Request: can't parse entities: Can't find end of Italic entity at byte offset 4"


async def test_markdown_telegram_cannot_parse_goes_as_plain_text(
    fake: FakeTelegram, session: TelegramSession, state: Path
) -> None:
    fake.fault("sendMessage", "error", code=400, description=PARSE_ERROR)
    [sent] = ids_of(
        (await session.ok("reply", chat_id=str(ALICE), text="The **build** passed.", format="markdown")).split(";")[0]
    )
    assert fake.sent[-1]["message_id"] == sent
    assert fake.sent[-1]["text"] == "The **build** passed." and "entities" not in fake.sent[-1]
    tried, fallback = [p for m, p in fake.calls if m == "sendmessage"][-2:]
    assert tried["parse_mode"] == "MarkdownV2" and tried["text"] == "The *build* passed\\."
    assert "parse_mode" not in fallback
    await session.host.wait_stderr(
        "Telegram could not parse the Markdown converted for a message (Can't parse entities: can't find end of "
        "italic entity at byte offset 4); sending it as plain text"
    )

    # Only the refused message of a reply in several goes as plain text; the tool says so.
    write_access(state, allowFrom=[str(ALICE)], textChunkLimit=12, chunkMode="newline")
    fake.fault("sendMessage", "delay", seconds=0)
    fake.fault("sendMessage", "error", code=400, description=PARSE_ERROR)
    result = await session.ok("reply", chat_id=str(ALICE), text="**one** fine\n**two** fine", format="markdown")
    assert result.endswith("; Telegram could not parse the converted Markdown, so the message went as plain text")
    first, second = fake.sent[-2:]
    assert (first["text"], first["entities"][0]["type"]) == ("one fine", "bold")
    assert second["text"] == "**two** fine" and "entities" not in second

    # An edit, likewise.
    fake.fault("editMessageText", "error", code=400, description=PARSE_ERROR)
    assert await session.ok(
        "edit_message", chat_id=str(ALICE), message_id=str(sent), text="done: **3** files", format="markdown"
    ) == (f"edited (id: {sent}); Telegram could not parse the converted Markdown, so the message went as plain text")
    assert fake.edits[-1]["text"] == "done: **3** files" and "entities" not in fake.edits[-1]

    # Other refusals are not taken for a parse error, and MarkdownV2 Claude wrote is not rewritten.
    fake.fault("sendMessage", "error", code=400, description="Bad Request: chat not found")
    assert await session.error("reply", chat_id=str(ALICE), text="**x**", format="markdown") == (
        "reply failed: reply failed after 0 of 1 chunk(s) sent: Chat not found"
    )
    fake.fault("sendMessage", "error", code=400, description=PARSE_ERROR)
    assert "Can't parse entities" in await session.error("reply", chat_id=str(ALICE), text="*x*", format="markdownv2")


async def test_reply_markdown_code_block_split_across_messages(
    fake: FakeTelegram, session: TelegramSession, state: Path
) -> None:
    write_access(state, allowFrom=[str(ALICE)], textChunkLimit=40, chunkMode="newline")
    code = "\n".join(f"line_{n} = {n}" for n in range(6))
    ids = ids_of(
        await session.ok("reply", chat_id=str(ALICE), text=f"Here:\n```python\n{code}\n```\nbye", format="markdown")
    )
    sent = [m for m in fake.sent if m["message_id"] in ids]
    assert len(sent) > 1
    assert all(any(e["type"] == "pre" for e in m.get("entities", [])) for m in sent)
    assert "".join(m["text"] for m in sent).replace("\n", "") == ("Here:" + code + "bye").replace("\n", "")


async def test_reply_refusals(fake: FakeTelegram, session: TelegramSession, state: Path, tmp_path: Path) -> None:
    assert await session.error("reply", chat_id=str(BOB), text="hi") == (
        f"reply failed: chat {BOB} is not allowlisted — add via /telegram:access"
    )
    (state / ".env").write_text("TELEGRAM_BOT_TOKEN=secret\n")
    assert await session.error("reply", chat_id=str(ALICE), text="hi", files=[str(state / ".env")]) == (
        f"reply failed: refusing to send channel state: {state / '.env'}"
    )
    big = tmp_path / "big.bin"
    with big.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024 + 1)
    assert await session.error("reply", chat_id=str(ALICE), text="hi", files=[str(big)]) == (
        f"reply failed: file too large: {big} (50.0MB, max 50MB)"
    )
    assert await session.error("reply", chat_id=str(ALICE), text="hi", reply_to="latest") == (
        "reply failed: reply_to must be a Telegram message id (a number), not 'latest'"
    )
    assert await session.error("reply", chat_id=str(ALICE), text="  ") == (
        "reply failed: nothing to send: text is empty and there are no files"
    )
    assert fake.sent_to(ALICE) == [] and fake.sent_to(BOB) == []
    # A group that is opted in is a valid target, even though nobody there is in allowFrom.
    assert ids_of(await session.ok("reply", chat_id=str(GROUP), text="hello group"))


async def test_reply_refuses_secrets_of_the_machine(fake: FakeTelegram, state: Path, tmp_path: Path) -> None:
    """The token in the server's environment, another channel's, Claude Code's credentials, a hard link."""
    home = planted_secrets.plant(tmp_path)
    fake.user(ALICE, "alice")
    write_access(state, allowFrom=[str(ALICE)])
    running = await TelegramSession(fake, state, tmp_path / "host", **home.env).start()
    try:
        refusals = {
            "/proc/self/environ": "hold the system's live state",
            str(home.other_state / ".env"): "refusing to send channel state: ",
            str(home.hard_link): f"is the same file as {home.telegram_env}",
            str(home.credentials): "refusing to send Claude Code's settings and credentials: ",
        }
        for name, refusal in refusals.items():
            text = await running.error("reply", chat_id=str(ALICE), text="hi", files=[str(home.document), name])
            assert refusal in text and fake.token not in text and planted_secrets.MARK not in text, text
        assert fake.sent_to(ALICE) == []
        assert ids_of(await running.ok("reply", chat_id=str(ALICE), text="hi", files=[str(home.document)]))
    finally:
        await running.stop()


async def test_reply_partial_failure_says_how_far_it_got(
    fake: FakeTelegram, session: TelegramSession, state: Path, tmp_path: Path
) -> None:
    write_access(state, allowFrom=[str(ALICE)], textChunkLimit=3)
    fake.fault("sendMessage", "delay", seconds=0)  # the first chunk goes through
    fake.fault("sendMessage", "error", code=403, description="Forbidden: bot was blocked by the user")
    error = await session.error("reply", chat_id=str(ALICE), text="abcdefghi")
    assert error == "reply failed: reply failed after 1 of 3 chunk(s) sent: Forbidden: bot was blocked by the user"
    assert [m["text"] for m in fake.sent_to(ALICE)] == ["abc"]


async def test_reply_waits_out_flood_control(fake: FakeTelegram, session: TelegramSession) -> None:
    fake.fault("sendMessage", "flood", retry_after=1)
    ids = ids_of(await session.ok("reply", chat_id=str(ALICE), text="patience"))
    assert fake.sent[-1]["message_id"] == ids[0] and fake.sent[-1]["text"] == "patience"
    assert sum(1 for method, _ in fake.calls if method == "sendmessage") == 2


async def test_image_refused_as_photo_goes_as_document(
    fake: FakeTelegram, session: TelegramSession, tmp_path: Path
) -> None:
    fake_png = tmp_path / "not-really.png"
    fake_png.write_bytes(b"this is text, not an image")
    ids = ids_of(await session.ok("reply", chat_id=str(ALICE), text="see attached", files=[str(fake_png)]))
    assert len(ids) == 2 and fake.sent[-1]["method"] == "sendDocument"
    assert session.log_has("Telegram refused not-really.png as a photo")


# --------------------------------------------------------------------------- react and edit


async def test_react(fake: FakeTelegram, session: TelegramSession) -> None:
    message = fake.send_text(fake.users[ALICE], "nice work")
    await session.event("nice work")
    assert await session.ok("react", chat_id=str(ALICE), message_id=str(message["message_id"]), emoji="❤️") == "reacted"
    assert fake.reactions[-1]["reaction"] == [{"type": "emoji", "emoji": "❤"}]  # spelled as Telegram lists it
    error = await session.error("react", chat_id=str(ALICE), message_id=str(message["message_id"]), emoji="✅")
    assert error.startswith(
        "react failed: '✅' is not a Telegram reaction; bots can only use Telegram's fixed set, e.g. 👍 👎 ❤"
    )
    assert await session.error("react", chat_id=str(BOB), message_id="1", emoji="👍") == (
        f"react failed: chat {BOB} is not allowlisted — add via /telegram:access"
    )
    assert await session.error("react", chat_id=str(ALICE), message_id="abc", emoji="👍") == (
        "react failed: message_id must be a Telegram message id (a number), not 'abc'"
    )
    assert await session.error("react", chat_id=str(ALICE), message_id="9999", emoji="👍") == (
        "react failed: Message to react not found"
    )


async def test_edit_message(fake: FakeTelegram, session: TelegramSession) -> None:
    [sent] = ids_of(await session.ok("reply", chat_id=str(ALICE), text="working…"))
    assert await session.ok(
        "edit_message", chat_id=str(ALICE), message_id=str(sent), text="done: **3** files", format="markdown"
    ) == (f"edited (id: {sent})")
    assert fake.edits[-1]["text"] == "done: 3 files" and fake.edits[-1]["entities"][0]["type"] == "bold"
    user_message = fake.send_text(fake.users[ALICE], "edit me")
    await session.event("edit me")
    assert await session.error(
        "edit_message", chat_id=str(ALICE), message_id=str(user_message["message_id"]), text="x"
    ) == ("edit_message failed: Message can't be edited")
    assert await session.error("edit_message", chat_id=str(BOB), message_id=str(sent), text="x") == (
        f"edit_message failed: chat {BOB} is not allowlisted — add via /telegram:access"
    )


# --------------------------------------------------------------------------- download_attachment


async def test_download_attachment(fake: FakeTelegram, session: TelegramSession, state: Path) -> None:
    stored = fake.add_file(b"%PDF-1.4 report", "documents/file_3.pdf")
    path = Path(await session.ok("download_attachment", file_id=stored.file_id))
    assert path.parent == state / "inbox" and path.read_bytes() == b"%PDF-1.4 report"
    assert re.fullmatch(rf"\d+-{stored.file_unique_id}\.pdf", path.name)
    odd = fake.add_file(b"data", "documents/no_extension")
    assert Path(await session.ok("download_attachment", file_id=odd.file_id)).suffix == ".bin"
    long_extension = fake.add_file(b"long", "documents/file." + "x" * 300)  # the name could not be written
    saved = Path(await session.ok("download_attachment", file_id=long_extension.file_id))
    assert saved.suffix == ".bin" and saved.read_bytes() == b"long"

    expired = fake.add_file(b"gone", None)
    assert await session.error("download_attachment", file_id=expired.file_id) == (
        "download_attachment failed: Telegram returned no file_path — file may have expired"
    )
    assert (
        await session.error("download_attachment", file_id="nonsense") == "download_attachment failed: Invalid file_id"
    )
    fake.fault("download", "error", code=404)
    assert await session.error("download_attachment", file_id=stored.file_id) == (
        "download_attachment failed: download failed: HTTP 404"
    )
    huge = fake.add_file(b"\0" * (20 * 1024 * 1024 + 1), "videos/big.mp4")
    downloads = sum(1 for method, _ in fake.calls if method == "download")
    too_big = "download_attachment failed: file is larger than 20 MB, the most Telegram lets bots download"
    assert await session.error("download_attachment", file_id=huge.file_id) == too_big  # Telegram refuses
    # A self-hosted Bot API server serves bigger files: refused from the size it gives, or while
    # downloading when it gives none.
    fake.enforce_download_limit = False
    assert await session.error("download_attachment", file_id=huge.file_id) == too_big
    fake.report_file_sizes = False
    assert await session.error("download_attachment", file_id=huge.file_id) == too_big
    assert sum(1 for method, _ in fake.calls if method == "download") == downloads + 1  # only the last one tried
    assert len(list((state / "inbox").iterdir())) == 3  # failed downloads leave nothing behind


async def test_a_message_of_exactly_the_limit_is_one_message(fake: FakeTelegram, session: TelegramSession) -> None:
    ids = ids_of(await session.ok("reply", chat_id=str(ALICE), text="x" * MAX_TEXT))
    assert len(ids) == 1

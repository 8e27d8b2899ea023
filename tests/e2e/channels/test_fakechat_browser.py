"""The fakechat page in a real browser: Debian's Chromium, headless, driven by Playwright.

One browser for the module; each test opens its own page on one shared fakechat under the host.
The test command installs Chromium (``scripts/bootstrap.sh test``); without it these tests are
skipped with the reason, never silently passed.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from support import REPO
from support.browser import browser, playwright_api
from support.fakechat import FakechatHost

DESKTOP = {"width": 1100, "height": 820}
PHONE = {"width": 390, "height": 780}
RESULTS = REPO / "results"


__all__ = ["browser"]  # fixtures

pytestmark = pytest.mark.asyncio(loop_scope="module")

Page = Any  # playwright.async_api.Page, imported lazily above


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def chat(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FakechatHost]:
    server = FakechatHost(tmp_path_factory.mktemp("fakechat-browser"))
    await server.start()
    yield server
    await server.stop()


async def open_page(browser: Any, url: str, viewport: dict[str, int] = DESKTOP) -> Page:
    page = await browser.new_page(viewport=viewport)
    page.set_default_timeout(10_000)
    await page.goto(url)
    await wait_connected(page)
    return page


async def wait_connected(page: Page) -> None:
    await playwright_api.expect(page.locator("#status")).to_have_attribute("data-state", "online")


def message(page: Page, text: str) -> Any:
    return page.locator("article.msg", has_text=text)


def sent_id(result: dict[str, Any]) -> str:
    match = re.match(r"sent \((m\d+-\d+)\)", result["text"])
    assert match, result["text"]
    return match.group(1)


async def test_typing_and_enter_sends_the_message_to_claude(browser: Any, chat: FakechatHost) -> None:
    page = await open_page(browser, f"http://localhost:{chat.port}")  # the URL the server prints
    try:
        start = chat.mark
        box = page.locator("#text")
        await box.click()
        await box.type("first line")
        await box.press("Shift+Enter")
        await box.type("second line")
        await box.press("Enter")
        event = await chat.event("first line\nsecond line", start=start)
        assert event["meta"]["chat_id"] == "web" and event["meta"]["message_id"].startswith("u")
        bubble = message(page, "second line")
        await playwright_api.expect(bubble.locator(".who")).to_have_text("You")
        await playwright_api.expect(bubble.locator(".state")).to_have_text("✓ delivered")
        await playwright_api.expect(bubble.locator("time")).to_have_text(re.compile(r"\d\d:\d\d"))
        await playwright_api.expect(box).to_have_value("")
    finally:
        await page.close()


async def test_the_page_warns_instead_of_sending_a_message_over_the_limit(browser: Any, chat: FakechatHost) -> None:
    page = await open_page(browser, chat.url)
    try:
        start = chat.mark
        await page.locator("#text").fill("x" * (256 * 1024))
        await page.locator("#text").press("Enter")
        await playwright_api.expect(page.locator("#notice")).to_contain_text("That message is too long")
        await playwright_api.expect(page.locator("#text")).not_to_have_value("")
        await page.locator("#text").fill("a short one")
        await page.locator("#text").press("Enter")
        await chat.event("a short one", start=start)
        assert len(chat.events(start)) == 1, "the long message was not sent"
        await playwright_api.expect(page.locator("#status")).to_have_attribute("data-state", "online")
    finally:
        await page.close()


async def test_a_reply_appears_with_its_quote_and_files(browser: Any, chat: FakechatHost, tmp_path: Path) -> None:
    page = await open_page(browser, chat.url)
    try:
        start = chat.mark
        await page.locator("#text").fill("can you summarise the log?")
        await page.locator("#send").click()
        event = await chat.event("can you summarise the log?", start=start)
        (tmp_path / "summary.txt").write_text("3 warnings, 0 errors\n")
        (tmp_path / "trace.log").write_text("trace\n")
        await chat.call(
            "reply",
            text="Done: **no errors**, see `summary.txt`.",
            reply_to=event["meta"]["message_id"],
            files=[str(tmp_path / "summary.txt"), str(tmp_path / "trace.log")],
        )
        bubble = message(page, "Done:")
        await playwright_api.expect(bubble.locator(".who")).to_have_text("Claude")
        await playwright_api.expect(bubble.locator(".quote")).to_have_text("↳ can you summarise the log?")
        await playwright_api.expect(bubble.locator("strong")).to_have_text("no errors")
        await playwright_api.expect(bubble.locator(".body code")).to_have_text("summary.txt")
        links = bubble.locator("a.file")
        await playwright_api.expect(links).to_have_count(2)
        await playwright_api.expect(links.nth(0)).to_have_attribute("download", "summary.txt")
        async with page.expect_download() as download_info:
            await links.nth(0).click()
        download = await download_info.value
        assert Path(await download.path()).read_text() == "3 warnings, 0 errors\n"
    finally:
        await page.close()


async def test_uploading_a_file_delivers_its_path(browser: Any, chat: FakechatHost, tmp_path: Path) -> None:
    page = await open_page(browser, chat.url)
    try:
        upload = tmp_path / "screenshot-notes.md"
        upload.write_text("# notes\nthe button is misaligned\n")
        await page.locator("#file").set_input_files(str(upload))
        await playwright_api.expect(page.locator("#chip-name")).to_have_text("screenshot-notes.md")
        start = chat.mark
        await page.locator("#send").click()
        event = await chat.host.wait_for(lambda m: m.get("type") == "event" and "file_path" in m["meta"], start=start)
        assert event["content"] == "(screenshot-notes.md)"
        path = Path(event["meta"]["file_path"])
        assert path.parent == chat.inbox and path.read_text() == upload.read_text()
        bubble = message(page, "screenshot-notes.md")
        await playwright_api.expect(bubble.locator(".state")).to_have_text("✓ delivered")
        await playwright_api.expect(page.locator("#chip")).to_be_hidden()
        dropped = await page.evaluate_handle(
            "() => { const d = new DataTransfer(); d.items.add(new File(['x'], 'dropped.txt')); return d; }"
        )
        await page.dispatch_event("main", "drop", {"dataTransfer": dropped})
        await playwright_api.expect(page.locator("#chip-name")).to_have_text("dropped.txt")
        await page.locator("#chip-clear").click()
        await playwright_api.expect(page.locator("#chip")).to_be_hidden()
        await playwright_api.expect(page.locator("#send")).to_be_disabled()
    finally:
        await page.close()


async def test_an_edit_changes_the_message_in_place(browser: Any, chat: FakechatHost) -> None:
    page = await open_page(browser, chat.url)
    try:
        sent = await chat.call("reply", text="Running the tests…")
        await playwright_api.expect(message(page, "Running the tests…")).to_be_visible()
        await chat.call("edit_message", message_id=sent_id(sent), text="Tests passed: 212 of 212.")
        bubble = message(page, "Tests passed: 212 of 212.")
        await playwright_api.expect(bubble.locator(".edited")).to_have_text("edited")
        await playwright_api.expect(message(page, "Running the tests…")).to_have_count(0)
    finally:
        await page.close()


async def test_a_reload_keeps_the_history_and_tabs_stay_in_sync(browser: Any, chat: FakechatHost) -> None:
    first = await open_page(browser, chat.url)
    second = await open_page(browser, chat.url, PHONE)
    try:
        start = chat.mark
        await first.locator("#text").fill("kept across reloads")
        await first.locator("#text").press("Enter")
        await chat.event("kept across reloads", start=start)
        await chat.call("reply", text="noted, it stays")
        for page in (first, second):
            await playwright_api.expect(message(page, "kept across reloads")).to_be_visible()
            await playwright_api.expect(message(page, "noted, it stays")).to_be_visible()
        await first.reload()
        await wait_connected(first)
        await playwright_api.expect(message(first, "kept across reloads").locator(".who")).to_have_text("You")
        await playwright_api.expect(message(first, "noted, it stays").locator(".who")).to_have_text("Claude")
    finally:
        await first.close()
        await second.close()


async def test_clicking_allow_on_a_permission_card_resolves_the_request(browser: Any, chat: FakechatHost) -> None:
    page = await open_page(browser, chat.url)
    other = await open_page(browser, chat.url, PHONE)
    try:
        request_id = await chat.permission("Bash", "Run the migration", command="alembic upgrade head")
        card = page.locator(f'article.card[data-request-id="{request_id}"]')
        await playwright_api.expect(card.locator(".title")).to_have_text("Claude wants to use Bash")
        await playwright_api.expect(card.locator(".desc")).to_have_text("Run the migration")
        await playwright_api.expect(card.locator(".preview")).to_contain_text('"command": "alembic upgrade head"')
        await playwright_api.expect(card.locator(".or")).to_have_text(f"or type yes {request_id}")
        await card.get_by_role("button", name="Allow").click()
        resolved = await chat.host.wait_type("permission_resolved", request_id=request_id)
        assert resolved["behavior"] == "allow" and resolved["by"] == "channel fakechat"
        for view in (page, other):
            outcome = view.locator(f'article.card[data-request-id="{request_id}"] .outcome')
            await playwright_api.expect(outcome).to_contain_text("✓ Allowed")
            await playwright_api.expect(
                view.locator(f'article.card[data-request-id="{request_id}"] button')
            ).to_have_count(0)
    finally:
        await page.close()
        await other.close()


async def test_typing_yes_and_the_id_answers_a_card(browser: Any, chat: FakechatHost) -> None:
    page = await open_page(browser, chat.url)
    try:
        request_id = await chat.permission("Write", "Create CHANGELOG.md", file_path="CHANGELOG.md")
        start = chat.mark
        await page.locator("#text").fill(f"no {request_id}")
        await page.locator("#text").press("Enter")
        resolved = await chat.host.wait_type("permission_resolved", request_id=request_id)
        assert resolved["behavior"] == "deny"
        outcome = page.locator(f'article.card[data-request-id="{request_id}"] .outcome')
        await playwright_api.expect(outcome).to_contain_text("✗ Denied · by a typed answer")
        assert not chat.events(start), "the answer was not delivered as chat"
    finally:
        await page.close()


async def test_the_page_reconnects_by_itself_after_a_server_restart(browser: Any, tmp_path: Path) -> None:
    chat = await FakechatHost(tmp_path).start()
    page = None
    try:
        page = await open_page(browser, chat.url)
        await chat.call("reply", text="before the restart")
        await playwright_api.expect(message(page, "before the restart")).to_be_visible()
        await chat.stop()
        await playwright_api.expect(page.locator("#status")).to_have_attribute("data-state", "offline")
        chat = await FakechatHost(tmp_path, port=chat.port).start()
        await wait_connected(page)
        await playwright_api.expect(page.locator(".divider")).to_contain_text("new session")
        await playwright_api.expect(message(page, "before the restart")).to_be_visible()
        start = chat.mark
        await page.locator("#text").fill("still here after the restart")
        await page.locator("#text").press("Enter")
        await chat.event("still here after the restart", start=start)
    finally:
        if page is not None:
            await page.close()
        await chat.stop()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def tight(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FakechatHost]:
    """A fakechat with the smallest tab buffer, a 1 MiB history and a 1 kB inbox."""
    server = FakechatHost(
        tmp_path_factory.mktemp("fakechat-tight"),
        FAKECHAT_TAB_BUFFER=str(64 * 1024),
        FAKECHAT_HISTORY_BYTES=str(1024 * 1024),
        FAKECHAT_INBOX_QUOTA="1000",
    )
    await server.start()
    yield server
    await server.stop()


async def test_a_page_that_falls_behind_reconnects_and_catches_up(browser: Any, tight: FakechatHost) -> None:
    """The page's script is held in the debugger, so Chromium stops reading its socket; the server
    closes it (1013) and lets go of its backlog, and the page, once running again, reconnects by
    itself and gets the last reply, which only the history still had."""
    page = await open_page(browser, tight.url)
    try:
        debugger = await page.context.new_cdp_session(page)
        await debugger.send("Debugger.enable")
        await debugger.send("Debugger.pause")
        sent = 0
        while not any("fell more than 65536 bytes behind" in line for line in tight.host.stderr_lines):
            sent += 1
            await tight.call("reply", text=f"burst {sent} " + "y" * (256 * 1024))
            assert sent < 400, "the page was never closed"
        await debugger.send("Debugger.resume")
        # Megabytes of text to draw twice (before the close and from the history): give it time.
        await playwright_api.expect(message(page, f"burst {sent} ")).to_be_visible(timeout=30_000)
        await wait_connected(page)
        start = tight.mark
        await page.locator("#text").fill("caught up")
        await page.locator("#text").press("Enter")
        await tight.event("caught up", start=start)
    finally:
        await page.close()


async def test_an_upload_past_the_inbox_quota_shows_why_it_was_refused(
    browser: Any, tight: FakechatHost, tmp_path: Path
) -> None:
    page = await open_page(browser, tight.url)
    try:
        big = tmp_path / "big.log"
        big.write_bytes(b"x" * 2000)
        await page.locator("#file").set_input_files(str(big))
        start = tight.mark
        await page.locator("#send").click()
        refusal = message(page, "big.log").locator(".state.error")
        await playwright_api.expect(refusal).to_contain_text("the inbox is full")
        await playwright_api.expect(refusal).to_contain_text("delete files there or raise the quota")
        await tight.host.wait_stderr("refused POST /upload: 507 the inbox is full")
        assert not tight.events(start)
    finally:
        await page.close()


async def test_screenshot_of_a_conversation_with_a_permission_card(
    browser: Any, chat: FakechatHost, tmp_path: Path
) -> None:
    """Saves results/fakechat.png (desktop) and results/fakechat-phone.png for people to look at."""
    (tmp_path / "coverage.txt").write_text("92%\n")
    page = await browser.new_page(viewport=DESKTOP)
    phone = await browser.new_page(viewport=PHONE)
    try:
        page.set_default_timeout(10_000)
        await page.goto(chat.url)
        await wait_connected(page)
        await page.evaluate(
            "() => document.querySelectorAll('#log > article, #log > .divider').forEach(n => n.remove())"
        )
        start = chat.mark
        await page.locator("#text").fill("Can you run the test suite and tell me what fails?")
        await page.locator("#text").press("Enter")
        event = await chat.event("Can you run the test suite and tell me what fails?", start=start)
        await chat.call(
            "reply",
            text=(
                "Sure. Two tests fail, both in `test_upload.py`:\n\n"
                "```\nFAILED test_upload.py::test_large_file - 413 != 200\n"
                "FAILED test_upload.py::test_resume - TimeoutError\n```\n\n"
                "The limit is **50 MB**; the fixture sends 64 MB. Coverage is attached."
            ),
            reply_to=event["meta"]["message_id"],
            files=[str(tmp_path / "coverage.txt")],
        )
        await chat.permission(
            "Bash", "Raise the upload limit in the test fixture", command="sed -i 's/64/32/' conftest.py"
        )
        await playwright_api.expect(page.locator("article.card .actions")).to_be_visible()
        await phone.goto(chat.url)
        await wait_connected(phone)
        await playwright_api.expect(phone.locator("article.card .actions")).to_be_visible()
        RESULTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(RESULTS / "fakechat.png"))
        await phone.screenshot(path=str(RESULTS / "fakechat-phone.png"))
        assert (RESULTS / "fakechat.png").stat().st_size > 10_000
        width = await phone.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], "nothing overflows sideways on a phone"
    finally:
        await page.close()
        await phone.close()

"""A web page in a real browser (Debian's Chromium, headless) tries to type into the session.

Browsers let any page send a POST to 127.0.0.1: ``fetch`` with ``mode: "no-cors"``, a beacon, a
form aimed at a hidden frame. None of them may become an event; the webhook must refuse each
with 403. A page on an origin the user allowed (``WEBHOOK_ALLOWED_ORIGINS``) may post.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from support.browser import browser
from support.processes import free_port, http_request
from support.webhook import start_host

__all__ = ["browser"]  # fixtures

pytestmark = pytest.mark.asyncio(loop_scope="module")

#: Every way a page can send a POST without the receiver's consent. ``cors`` is a "simple"
#: request (text/plain), sent without a preflight: the browser only hides the answer.
ATTACK = """
async (target) => {
  const sent = [];
  for (const mode of ["no-cors", "cors"]) {
    try {
      await fetch(target, {method: "POST", mode, body: `fetch ${mode} from ${location.origin}`});
      sent.push(mode);
    } catch (error) {
      sent.push(`${mode} (answer hidden)`);
    }
  }
  navigator.sendBeacon(target, `beacon from ${location.origin}`);
  sent.push("beacon");
  const frame = document.createElement("iframe");
  frame.name = "sink";
  document.body.append(frame);
  const form = document.createElement("form");
  form.method = "POST";
  form.action = target;
  form.target = "sink";
  form.enctype = "text/plain";
  const field = document.createElement("input");
  field.name = "form from " + location.origin;
  field.value = "";
  form.append(field);
  document.body.append(form);
  await new Promise((resolve) => { frame.onload = resolve; form.submit(); });
  sent.push("form");
  return sent;
}
"""
REQUESTS_PER_ATTACK = 4


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def page_port() -> AsyncIterator[int]:
    """A site of its own, on another port: any page the user happens to have open."""

    async def blank(request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><title>a page</title>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", blank)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield port
    await runner.cleanup()


async def attack_from(browser: Any, page_url: str, webhook_port: int) -> list[str]:
    page = await browser.new_page()
    try:
        page.set_default_timeout(10_000)
        await page.goto(page_url)
        return list(await page.evaluate(ATTACK, f"http://127.0.0.1:{webhook_port}/hook"))
    finally:
        await page.close()


async def wait_rejected(port: int, count: int) -> dict[str, int]:
    """The webhook's refusal counters once ``count`` requests have been refused (beacons are async)."""
    async with asyncio.timeout(10):
        while True:
            _, _, body = await http_request(port, "GET", "/healthz")
            rejected: dict[str, int] = json.loads(body)["rejected"]
            if sum(rejected.values()) >= count:
                return rejected
            await asyncio.sleep(0.05)  # the requests come from another process: poll its counters


async def test_no_request_from_a_web_page_becomes_an_event(browser: Any, page_port: int, tmp_path: Path) -> None:
    host, port = await start_host(tmp_path)
    try:
        # localhost is another site than 127.0.0.1; 127.0.0.1 on another port is the same site.
        for page_url in (f"http://localhost:{page_port}/", f"http://127.0.0.1:{page_port}/"):
            sent = await attack_from(browser, page_url, port)
            assert sent == ["no-cors", "cors (answer hidden)", "beacon", "form"]
        rejected = await wait_rejected(port, 2 * REQUESTS_PER_ATTACK)
        assert rejected == {"403": 2 * REQUESTS_PER_ATTACK}
        await host.wait_stderr(f"403 cross-site request from Origin 'http://localhost:{page_port}'")
        assert host.of_type("event") == []
    finally:
        await host.stop()


async def test_a_page_on_an_allowed_origin_may_post(browser: Any, page_port: int, tmp_path: Path) -> None:
    allowed = f"http://localhost:{page_port}"
    host, port = await start_host(tmp_path, WEBHOOK_ALLOWED_ORIGINS=allowed)
    try:
        await attack_from(browser, f"{allowed}/", port)
        events: list[dict[str, Any]] = await host.wait_count("event", REQUESTS_PER_ATTACK)
        assert sorted(e["content"].split(" from ")[0] for e in events) == [
            "beacon",
            "fetch cors",
            "fetch no-cors",
            "form",
        ]
        assert all(allowed in e["content"] for e in events)
    finally:
        await host.stop()

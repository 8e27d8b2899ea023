"""A real browser for the web-page tests: Debian's Chromium, headless, driven by Playwright.

Importing this module skips the importing test module, with the reason, when Playwright or
Chromium is missing (``./test`` installs both): never a silent pass. ``browser`` is a
module-scoped fixture, one browser per test module.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="Playwright is not installed (./test installs it with the test extra)"
)
if shutil.which(CHROMIUM) is None:
    pytest.skip(f"{CHROMIUM} is missing (./test installs Debian's chromium)", allow_module_level=True)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Any]:
    async with playwright_api.async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        await chromium.close()

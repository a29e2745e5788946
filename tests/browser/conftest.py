"""A real browser on the demo: Playwright drives Debian's Chromium (/usr/bin/chromium,
headless), never a browser build Playwright downloads. Without Chromium the tests skip,
unless NPSBOT_REQUIRE_BROWSER=1 (CI), where they fail."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.demo.runner import Demo, DemoOptions

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}


def _unavailable(reason: str) -> None:
    if os.environ.get("NPSBOT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and NPSBOT_REQUIRE_BROWSER=1 requires the browser tests")
    pytest.skip(f"{reason}: install Debian's chromium (apt-get install chromium)")


def _installed(program: Path) -> bool:
    return program.is_file() and os.access(program, os.X_OK)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Headless Chromium; Playwright's plain launch gives it a fresh temporary profile."""
    if not _installed(CHROMIUM):
        _unavailable(f"{CHROMIUM} is absent")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Demo]:
    """The whole demo in-process (the real page server, bot and emulator), on a free port."""
    running = Demo(DemoOptions(port=0, data=tmp_path / "data"))
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where screenshots go: NPSBOT_SCREENSHOTS, else the test's temporary folder."""
    folder = Path(os.environ.get("NPSBOT_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder

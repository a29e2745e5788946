"""A survey link in a real browser: Debian's Chromium (the `browser` fixture of
tests/browser/conftest.py) on a 360×740 phone with JavaScript off answers a whole survey,
and each page is checked for size (no sideways scrolling, big tap targets) and saved as a
screenshot (`screenshots`: NPSBOT_SCREENSHOTS or the test's folder)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import BotApp, start_application
from bot.web.server import HttpServer, serve_http
from storage.models import Response
from tests.browser.conftest import PHONE
from tests.conftest import fresh_database
from tests.link_helpers import LINK_SETTINGS, invite, link_path
from tests.web.conftest import ME, web_settings

REVIEW_URL = "https://maps.example.com/acme/reviews"


@pytest.fixture
async def link_server(
    tmp_path: Path, sqlite_template: Path, pg_template: str | None
) -> AsyncIterator[tuple[BotApp, HttpServer]]:
    """The application with survey links on, served on a free local port."""
    async with fresh_database("sqlite", tmp_path, sqlite_template, pg_template) as url:
        app = await start_application(web_settings(url, **LINK_SETTINGS), ME)
        async with app.db.transaction() as store:
            survey = await store.surveys.default()
            assert survey is not None
            await store.surveys.update(survey.id, subject="Acme", review_url=REVIEW_URL)
        try:
            async with serve_http(app, app.settings) as server:
                yield app, server
        finally:
            await app.close()


async def _fits_the_phone(page: Any) -> None:
    """Nothing wider than the screen; every button and the text box big enough to tap."""
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide"
    for control in await page.query_selector_all("button, textarea, a.button"):
        box = await control.bounding_box()
        assert box is not None and box["height"] >= 44 and box["width"] >= 44, box


async def test_a_promoter_answers_a_link_on_a_phone_without_javascript(
    browser: Any, link_server: tuple[BotApp, HttpServer], screenshots: Path
) -> None:
    app, server = link_server
    _, url = await invite(app, phone="+37369123456", attributes={"agent": "olga"})
    assert url is not None
    context = await browser.new_context(
        viewport=PHONE, java_script_enabled=False, device_scale_factor=2, is_mobile=True
    )
    try:
        page = await context.new_page()
        outside: list[str] = []
        page.on(
            "request",
            lambda request: (
                outside.append(request.url) if not request.url.startswith(server.url) else None
            ),
        )
        await page.goto(server.url + link_path(url))
        assert await page.locator("h1").inner_text() == (
            "Cât de probabil este să recomandați Acme unui prieten sau coleg?"
        )
        assert await page.locator(".scale button").count() == 11
        await _fits_the_phone(page)
        await page.screenshot(path=str(screenshots / "link-1-question.png"), full_page=True)

        await page.locator(".scale button", has_text="10").first.click()
        await page.wait_for_selector("textarea")
        assert "Ce vă place cel mai mult la Acme?" in await page.locator("h1").inner_text()
        await page.fill("textarea", "Livrare rapidă și curieri politicoși")
        await _fits_the_phone(page)
        await page.screenshot(path=str(screenshots / "link-2-why.png"), full_page=True)
        await page.get_by_role("button", name="Trimite").click()

        await page.wait_for_selector("textarea")
        await page.screenshot(path=str(screenshots / "link-3-improve.png"), full_page=True)
        await page.get_by_role("button", name="Omite").click()

        review = page.locator("a.button")
        await review.wait_for()
        assert await review.get_attribute("href") == REVIEW_URL
        assert "Mulțumim" in await page.locator(".card").inner_text()
        await _fits_the_phone(page)
        await page.screenshot(path=str(screenshots / "link-4-thanks.png"), full_page=True)

        await page.goto(server.url + link_path(url))  # opened again later
        assert "ați răspuns deja" in await page.locator(".card").inner_text()
        await page.screenshot(path=str(screenshots / "link-5-answered.png"), full_page=True)
        assert outside == []  # nothing was loaded from another host
    finally:
        await context.close()
    async with app.db.snapshot() as store:
        [row] = (await store.responses._session.scalars(select(Response))).all()
    assert (row.score, row.why, row.improve, row.agent, row.messenger) == (
        10,
        "Livrare rapidă și curieri politicoși",
        None,
        "olga",
        "web",
    )


async def test_an_expired_link_is_a_clear_page_on_a_phone(
    browser: Any, link_server: tuple[BotApp, HttpServer], screenshots: Path
) -> None:
    _, server = link_server
    context = await browser.new_context(
        viewport=PHONE, java_script_enabled=False, locale="ru-RU", is_mobile=True
    )
    try:
        page = await context.new_page()
        response = await page.goto(f"{server.url}/s/abcdefghij.zz.{'A' * 22}")
        assert response is not None and response.status == 404
        text = await page.locator(".card").inner_text()
        assert text.startswith("Эта ссылка на опрос недействительна")  # the browser's language
        await _fits_the_phone(page)
        await page.screenshot(path=str(screenshots / "link-6-invalid.png"), full_page=True)
    finally:
        await context.close()

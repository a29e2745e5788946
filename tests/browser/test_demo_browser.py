"""The demo in a real browser: a customer answers by tapping and typing, the owner reads
/nps, sees /chart, downloads /export, broadcasts and watches the progress; at desktop and
phone size, with screenshots (NPSBOT_DOCS_SCREENSHOTS=1 also refreshes docs/demo*.png)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from bot.demo.runner import Demo
from tests.browser.conftest import DESKTOP, PHONE

pytest.importorskip("playwright", reason="the playwright package is not installed")
from playwright.async_api import Page, expect

QUESTION = "How likely are you to recommend Acme"
WHY = "The courier was late twice"
IMPROVE = "Deliver on time and send tracking"
SLOW = 60_000  # ms: a chart, an export, a simulated history, a broadcast
DOCS = Path(__file__).resolve().parents[2] / "docs"
DOCS_LIMIT = 300 * 1024

expect.set_options(timeout=15_000)


def _watch(page: Page) -> list[str]:
    """Collects the page's script errors (there must be none)."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


async def _send(page: Page, text: str) -> None:
    await page.locator("#text").fill(text)
    await page.locator("#text").press("Enter")
    await expect(page.locator(".msg.out").last).to_contain_text(text)


async def _open(page: Page, person_id: int) -> None:
    await page.locator(f'.person[data-id="{person_id}"]').click()
    await expect(page.locator("#chat-head")).to_be_visible()


async def _picture_loaded(page: Page) -> None:
    """The newest picture from the bot is shown (loaded, not a broken image)."""
    await page.wait_for_function(
        """() => {
            const all = [...document.querySelectorAll('.msg.in img.photo')];
            const img = all[all.length - 1];
            return img !== undefined && img.complete && img.naturalWidth > 0;
        }""",
        timeout=SLOW,
    )


async def _answer_survey(page: Page, score: str, follow_up: str, answers: list[str]) -> None:
    """Taps a score on the newest question and types the answers to the follow-ups."""
    question = page.locator(".msg.in", has_text=QUESTION).last
    await question.get_by_role("button", name=score, exact=True).click()
    # The question is edited: the score is written in and its keyboard is gone.
    await expect(question).to_contain_text(f"your answer: {score}")
    await expect(question.locator(".ikb-btn")).to_have_count(0)
    await expect(page.locator(".msg.in").last).to_contain_text(follow_up)
    for text in answers:
        asked = await page.locator(".msg.in").count()
        await _send(page, text)
        await expect(page.locator(".msg.in")).not_to_have_count(asked)


async def _fits(page: Page) -> None:
    """Nothing sticks out sideways on a 360 px phone."""
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a 360 px phone"


def _docs_copy(shot: Path, name: str) -> None:
    """Copies a screenshot for the README in 256 colours (a flat page loses nothing to the
    eye; the file stays well under 300 KB)."""
    if os.environ.get("NPSBOT_DOCS_SCREENSHOTS") != "1":
        return
    from PIL import Image

    target = DOCS / name
    DOCS.mkdir(exist_ok=True)
    with Image.open(shot) as image:
        image.convert("RGB").quantize(colors=256).save(target, optimize=True)
    assert target.stat().st_size < DOCS_LIMIT, f"{target} is 300 KB or more"


def _cells(path: Path) -> list[Any]:
    workbook = openpyxl.load_workbook(path, read_only=True)
    assert "Summary" in workbook.sheetnames
    return [
        cell for sheet in workbook for row in sheet.iter_rows(values_only=True) for cell in row
    ]


async def test_a_customer_and_the_owner_on_a_desktop(
    browser: Any, demo: Demo, screenshots: Path
) -> None:
    context = await browser.new_context(viewport=DESKTOP, accept_downloads=True)
    page = await context.new_page()
    errors = _watch(page)
    await page.goto(demo.url)
    assert page.url == demo.web.origin + "/"  # the key left the address bar
    await expect(page.locator(".person")).to_have_count(9)

    # Emily, a customer, answers the survey she got through her link.
    await _open(page, 1001)
    await _answer_survey(page, "3", "What disappointed you the most?", [WHY, IMPROVE])
    await expect(page.locator(".msg.in").last).to_contain_text("Thank you, Emily")
    await page.locator("#sticker-btn").click()
    await page.locator("#stickers button").first.click()
    await expect(page.locator(".msg.out .sticker")).to_have_count(1)
    await page.screenshot(path=screenshots / "customer-desktop.png")

    # The owner: the alert with its buttons, then /nps counts her answer.
    await _open(page, 100)
    alert = page.locator(".msg.in", has_text="Detractor").filter(has_text=WHY).last
    await expect(alert.get_by_role("button", name=re.compile("Reply"))).to_be_visible()
    await expect(alert.get_by_role("button", name=re.compile("Resolved"))).to_be_visible()
    await _send(page, "/nps")
    report = page.locator(".msg.in", has_text="NPS · Main survey").last
    await expect(report).to_contain_text("Detractors 1 (100%)")

    # A history of answers, then the score and the chart over it.
    await page.locator("#traffic").click()
    await expect(page.locator("#toast")).to_contain_text("answers added", timeout=SLOW)
    await _send(page, "/nps")
    await expect(page.locator(".msg.in").last).to_contain_text("Promoters", timeout=SLOW)
    await _send(page, "/chart")
    await _picture_loaded(page)
    await expect(page.locator("#toast")).to_be_hidden()  # the simulation's summary went
    owner_shot = screenshots / "owner-desktop.png"
    await page.screenshot(path=owner_shot)
    _docs_copy(owner_shot, "demo.png")

    # The export downloads and opens, with Emily's answer in it.
    await _send(page, "/export")
    link = page.locator("a.doc").last
    await expect(link).to_be_visible(timeout=SLOW)
    async with page.expect_download() as info:
        await link.click()
    download = await info.value
    saved = screenshots / download.suggested_filename
    await download.save_as(saved)
    assert saved.suffix == ".xlsx" and WHY in _cells(saved)

    # James, another customer: the questions he has had so far — the demo's start, and one
    # more when the simulation picked him to answer live (its draw depends on the day).
    await _open(page, 1002)
    await expect(page.locator("#chat-head")).to_contain_text("James")
    questions = page.locator(".msg.in", has_text=QUESTION)
    await expect(questions.first).to_be_visible(timeout=SLOW)
    before = await questions.count()
    await _open(page, 100)
    await expect(page.locator("#chat-head")).not_to_contain_text("James")

    # A broadcast: the preview's Confirm, then the same message shows the progress.
    await _send(page, "/broadcast nps")
    preview = page.locator(".msg.in", has_text="Broadcast preview").last
    confirm = preview.get_by_role("button", name=re.compile("Send to"))
    await expect(confirm).to_be_visible(timeout=SLOW)
    message_id = await preview.get_attribute("data-id")
    await page.evaluate(
        """(id) => {
            window.progressTexts = [];
            new MutationObserver(() => {
                const node = document.querySelector(`.msg[data-id="${id}"] .text`);
                const text = node ? node.textContent : "";
                if (window.progressTexts.at(-1) !== text) window.progressTexts.push(text);
            }).observe(document.getElementById("messages"), {childList: true, subtree: true});
        }""",
        message_id,
    )
    await confirm.click()
    progress = page.locator(f'.msg[data-id="{message_id}"]')
    await expect(progress).to_contain_text("Finished", timeout=SLOW)
    seen: list[str] = await page.evaluate("window.progressTexts")
    assert any("Sending…" in text for text in seen), seen  # watched while it went
    await page.screenshot(path=screenshots / "owner-broadcast-desktop.png")

    # James, another customer, got the broadcast's question.
    await _open(page, 1002)
    await expect(page.locator("#chat-head")).to_contain_text("James")
    await expect(questions).to_have_count(before + 1, timeout=SLOW)
    await expect(
        page.locator(".msg.in", has_text=QUESTION).last.get_by_role("button", name="10")
    ).to_be_visible()
    assert errors == []
    await context.close()


async def test_a_phone_shows_the_list_or_one_chat(
    browser: Any, demo: Demo, screenshots: Path
) -> None:
    context = await browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    page = await context.new_page()
    errors = _watch(page)
    await page.goto(demo.url)
    await expect(page.locator(".person")).to_have_count(9)
    await expect(page.locator("#chat")).to_be_hidden()
    await _fits(page)
    await page.screenshot(path=screenshots / "people-phone.png")

    # Алексей, in Russian: the list gives way to his chat, with a back button.
    await _open(page, 1003)
    await expect(page.locator(".sidebar")).to_be_hidden()
    question = page.locator(".msg.in", has_text="порекомендуете").last
    await expect(question.locator(".ikb-btn")).to_have_count(11)  # 0 to 10
    await _fits(page)
    asked = screenshots / "question-phone.png"
    await page.screenshot(path=asked)
    _docs_copy(asked, "demo-phone.png")
    await question.get_by_role("button", name="9", exact=True).click()
    await expect(question).to_contain_text("9")
    await expect(question.locator(".ikb-btn")).to_have_count(0)
    await _send(page, "Быстрая доставка")
    # What people type is shown as text, never run as markup.
    sneaky = '<img src="/nothing" onerror="window.pwned = 1"><b>bold?</b>'
    await _send(page, sneaky)
    assert await page.locator(".msg.out .text").last.text_content() == sneaky
    assert await page.evaluate("window.pwned === undefined")
    await page.locator("#photo-btn").click()
    await expect(page.locator(".msg.out img.photo")).to_have_count(1)
    await _fits(page)
    await page.screenshot(path=screenshots / "customer-phone.png")

    await page.locator("#back").click()
    await expect(page.locator(".sidebar")).to_be_visible()
    await _open(page, 100)
    await page.locator("#chips button", has_text="/chart").click()
    await _picture_loaded(page)
    await page.screenshot(path=screenshots / "owner-phone.png")
    assert errors == []
    await context.close()

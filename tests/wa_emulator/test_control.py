"""The standalone control API: acting as customers over HTTP, and a caller's slips
answered with a 4xx and a one-line reason, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.wa_emulator import CloudApiEmulator
from bot.wa_emulator.__main__ import control_routes
from tests.wa_emulator.conftest import (
    ANA,
    APP_SECRET,
    PHONE_ID,
    TOKEN,
    VERIFY_TOKEN,
    BotEndpoint,
    buttons,
    post,
)


@pytest.fixture
async def standalone() -> AsyncIterator[CloudApiEmulator]:
    """The emulator as `python -m bot.wa_emulator` runs it (with the control routes)."""
    emulator = CloudApiEmulator(TOKEN, PHONE_ID, APP_SECRET)
    emulator.add_routes(control_routes(emulator))
    async with emulator:
        yield emulator


async def _call(
    http: aiohttp.ClientSession, emulator: CloudApiEmulator, method: str, route: str, **kwargs: Any
) -> tuple[int, Any]:
    url = f"http://{emulator.host}:{emulator.port}/_emulator{route}"
    async with http.request(method, url, **kwargs) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def test_play_a_customer(
    standalone: CloudApiEmulator, bot: BotEndpoint, http: aiohttp.ClientSession
) -> None:
    emulator = standalone
    status, _ = await _call(
        http, emulator, "POST", "/webhook", json={"url": bot.url, "verify_token": VERIFY_TOKEN}
    )
    assert status == 200 and emulator.webhook_url == bot.url
    status, sent = await _call(
        http, emulator, "POST", "/send", json={"wa_id": ANA, "name": "Ana", "text": "hi"}
    )
    assert status == 200 and sent["id"].startswith("wamid.")
    _, answer = await post(http, emulator, buttons(ANA, ["Yes", "No"]))
    wamid = answer["messages"][0]["id"]
    status, pressed = await _call(
        http, emulator, "POST", "/press", json={"wa_id": ANA, "message_id": wamid, "button": "Yes"}
    )
    assert status == 200
    status, listed = await _call(http, emulator, "GET", f"/messages?wa_id={ANA}")
    assert listed["messages"][0]["buttons"] == [
        {"id": "yes", "title": "Yes"},
        {"id": "no", "title": "No"},
    ]
    status, transcript = await _call(http, emulator, "GET", f"/transcript?wa_id={ANA}")
    assert transcript.splitlines() == ["Ana: hi", "bot: Pick one [Yes] [No]", "Ana: [Yes]"]
    await emulator.wait_until(lambda: pressed["id"] in [m["id"] for m in bot.messages()])
    status, _ = await _call(http, emulator, "POST", "/clock", json={"seconds": 90000})
    assert status == 200 and not emulator.customers[ANA].window_open
    status, state = await _call(http, emulator, "GET", "/")
    assert state["customers"] == [ANA] and state["webhook"] == bot.url


SLIPS = [
    ("POST", "/send", "not json", 400, "the body must be a JSON object"),
    ("POST", "/send", [1], 400, "the body must be a JSON object"),
    ("POST", "/send", {"wa_id": ANA}, 400, "text is required"),
    ("POST", "/send", {"wa_id": ANA, "text": "   "}, 400, "text must be a non-empty string"),
    ("POST", "/send", {"wa_id": "+373", "text": "x"}, 400, "wa_id must be the number's digits"),
    ("POST", "/send", {"wa_id": ANA, "text": "x" * 4097}, 400, "text is longer than 4096"),
    (
        "POST",
        "/press",
        {"wa_id": "37399999999", "message_id": "wamid.x", "button": "Yes"},
        404,
        "no customer 37399999999",
    ),
    (
        "POST",
        "/press",
        {"wa_id": ANA, "message_id": "wamid.x", "button": "Yes"},
        404,
        "no message wamid.x",
    ),
    ("POST", "/clock", {"seconds": -1}, 400, "seconds must be a non-negative number"),
    (
        "POST",
        "/image",
        {"wa_id": ANA, "data_base64": "%%%"},
        400,
        "data_base64 is not valid base64",
    ),
    (
        "POST",
        "/templates",
        {"name": "t", "language": "en", "body": "{{2}}"},
        400,
        "placeholders must be",
    ),
    (
        "POST",
        "/webhook",
        {"url": "ftp://x", "verify_token": "v"},
        400,
        "url must be an http(s) URL",
    ),
    (
        "POST",
        "/webhook",
        {"url": "http://127.0.0.1:9/none", "verify_token": "v"},
        400,
        "could not be reached",
    ),
    ("GET", "/transcript", None, 400, "wa_id must be the number's digits"),
]


@pytest.mark.parametrize(("method", "route", "body", "status", "reason"), SLIPS)
async def test_slips_are_4xx_with_a_reason(
    standalone: CloudApiEmulator,
    http: aiohttp.ClientSession,
    method: str,
    route: str,
    body: Any,
    status: int,
    reason: str,
) -> None:
    standalone.customer(ANA, "Ana").send_text("hi")
    kwargs: dict[str, Any] = {"data": body} if isinstance(body, str) else {"json": body}
    got, text = await _call(http, standalone, method, route, **kwargs)
    assert got == status
    assert isinstance(text, str) and reason in text and "\n" not in text.strip()


async def test_press_a_missing_button_is_a_slip(
    standalone: CloudApiEmulator, http: aiohttp.ClientSession
) -> None:
    standalone.customer(ANA, "Ana").send_text("hi")
    _, answer = await post(http, standalone, buttons(ANA, ["Yes"]))
    wamid = answer["messages"][0]["id"]
    body = {"wa_id": ANA, "message_id": wamid, "button": "Maybe"}
    status, text = await _call(http, standalone, "POST", "/press", json=body)
    assert status == 400 and text.startswith("no button 'Maybe'")
    status, text = await _call(http, standalone, "POST", "/choose", json={**body, "row": "1"})
    assert status == 400 and "is not a list" in text

"""The demo's page server over real HTTP: the key and its cookie, acting as people, live
events, files; against the real bot on the emulator."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import aiohttp
import openpyxl
import pytest

from bot.demo.runner import Demo, DemoOptions, demo_settings
from tests.demo.conftest import CUSTOMER, OWNER, client, get_json, post_json, wait_message
from tests.scenario import wait_for

QUESTION = "How likely are you to recommend Acme"


def _question(m: dict[str, Any]) -> bool:
    return QUESTION in m["text"] and bool(m["keyboard"])


def _greeting_after(seen: int) -> Any:
    return lambda m: m["from_bot"] and "Hi Emily" in m["text"] and m["id"] > seen


def _button(message: dict[str, Any], label: str) -> dict[str, int]:
    """The row and column of a button, as the page sends them."""
    for r, row in enumerate(message["keyboard"]):
        for c, button in enumerate(row):
            if button["text"] == label:
                return {"message_id": message["id"], "row": r, "column": c}
    raise AssertionError(f"no button {label!r} in {message['keyboard']}")


async def test_the_key_sets_a_strict_http_only_cookie_and_a_clean_address(demo: Demo) -> None:
    async with client(demo) as session:
        async with session.get(f"/?key={demo.key}", allow_redirects=False) as landing:
            assert landing.status == 303
            assert landing.headers["Location"] == "/"
            cookie = landing.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        async with session.get("/") as index:
            assert index.status == 200
            html = await index.text()
            assert "npsbot demo" in html
            # Only this server's files: no CDN, no web fonts from elsewhere.
            assert "http://" not in html and "https://" not in html
            assert "default-src 'self'" in index.headers["Content-Security-Policy"]


@pytest.mark.parametrize("cookie", [None, "wrong-key"])
async def test_every_route_but_the_landing_needs_the_cookie(
    demo: Demo, cookie: str | None
) -> None:
    async with client(demo) as session:
        if cookie is not None:
            session.cookie_jar.update_cookies({demo.web.guard.cookie: cookie})
        for path in ("/", "/static/demo.js", "/api/people", f"/api/chats/{CUSTOMER}",
                     "/api/events", "/api/files/anything"):  # fmt: skip
            async with session.get(path) as response:
                assert response.status == 401, path
        async with session.post(f"/api/chats/{CUSTOMER}/send", json={"text": "hi"}) as sent:
            assert sent.status == 401
        async with session.post("/api/traffic", json={}) as traffic:
            assert traffic.status == 401
    assert demo.api.users[CUSTOMER].messages[-1].text != "hi"  # nothing was sent


async def test_a_wrong_key_gets_no_cookie(demo: Demo) -> None:
    async with client(demo) as session:
        async with session.get("/?key=guess", allow_redirects=False) as landing:
            assert landing.status == 401
            assert "Set-Cookie" not in landing.headers
        async with session.get("/api/people") as response:
            assert response.status == 401


async def test_changes_are_json_posts_from_this_page(
    demo: Demo, page: aiohttp.ClientSession
) -> None:
    path = f"/api/chats/{CUSTOMER}/send"
    async with page.post(path, data={"text": "a form"}) as form:
        assert form.status == 415  # what a form on another site would send
    async with page.post(
        path, json={"text": "hi"}, headers={"Origin": "http://evil.example"}
    ) as foreign:
        assert foreign.status == 403
    async with page.put(path, json={"text": "hi"}) as put:
        assert put.status == 405
    async with page.post(path, json={"text": "  "}) as empty:
        assert empty.status == 400
    async with page.post("/api/chats/4242/send", json={"text": "hi"}) as stranger:
        assert stranger.status == 400  # not one of the page's people
    texts = [m.text for m in demo.api.users[CUSTOMER].messages]
    assert "a form" not in texts and "hi" not in texts


async def test_people_are_the_owner_and_customers_who_pressed_start(
    page: aiohttp.ClientSession,
) -> None:
    data = await get_json(page, "/api/people")
    people = {p["id"]: p for p in data["people"]}
    assert people[OWNER]["role"] == "owner"
    customers = [p for p in data["people"] if p["role"] == "customer"]
    assert len(customers) >= 8
    assert {p["language"] for p in customers} >= {"en", "ru", "ro", "pl"}
    # Each was asked the question (their deep link) and the owner got /help.
    for p in customers:
        chat = await get_json(page, f"/api/chats/{p['id']}")
        assert any(m["keyboard"] for m in chat["messages"]), p
    owner = await get_json(page, f"/api/chats/{OWNER}")
    assert any("/nps" in m["text"] for m in owner["messages"] if m["from_bot"])


async def _next_change(stream: aiohttp.StreamReader, chat: int) -> dict[str, Any]:
    """Reads server-sent events until a `change` names the chat."""
    event = ""
    while True:
        line = (await stream.readline()).decode()
        assert line, "the stream ended"
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event == "change":
            change: dict[str, Any] = json.loads(line.split(":", 1)[1])
            if chat in change["chats"]:
                return change


@pytest.mark.parametrize("demo", ["aiogram", "ptb"], indirect=True)
async def test_a_customer_answers_and_the_page_hears_of_each_change(
    demo: Demo, page: aiohttp.ClientSession
) -> None:
    async with page.get("/api/events") as events:
        assert events.headers["Content-Type"].startswith("text/event-stream")
        question = await wait_message(page, CUSTOMER, _question)
        pressed = await post_json(page, f"/api/chats/{CUSTOMER}/press", _button(question, "3"))
        assert pressed["answer"] is not None  # the bot answered the press in time
        async with asyncio.timeout(10):
            await _next_change(events.content, CUSTOMER)
        edited = await wait_message(
            page, CUSTOMER, lambda m: m["id"] == question["id"] and m["edited"]
        )
        assert edited["keyboard"] == [] and "3" in edited["text"]
        await wait_message(page, CUSTOMER, lambda m: "disappointed" in m["text"])
        await post_json(page, f"/api/chats/{CUSTOMER}/send", {"text": "The courier was late"})
        async with asyncio.timeout(10):
            await _next_change(events.content, OWNER)  # the detractor alert
    alert = await wait_message(
        page, OWNER, lambda m: "Detractor" in m["text"] and "courier was late" in m["text"]
    )
    labels = [b["text"] for row in alert["keyboard"] for b in row]
    assert any("Reply" in label for label in labels)
    assert any("Resolved" in label for label in labels)
    # Entities come as data, never as HTML: the page builds the bold from them.
    assert "<b>" not in alert["text"] and any(e["type"] == "bold" for e in alert["entities"])


async def test_a_sticker_and_a_photo_reach_the_bot(page: aiohttp.ClientSession) -> None:
    await post_json(page, f"/api/chats/{CUSTOMER}/sticker", {"emoji": "🎉"})
    await post_json(page, f"/api/chats/{CUSTOMER}/photo", {})
    photo = await wait_message(page, CUSTOMER, lambda m: "photo" in m and not m["from_bot"])
    async with page.get(photo["photo"]["url"]) as picture:
        assert picture.status == 200 and picture.content_type == "image/png"
        assert (await picture.read()).startswith(b"\x89PNG")
    sticker = await wait_message(page, CUSTOMER, lambda m: m.get("sticker") == "🎉")
    assert not sticker["from_bot"]
    async with page.post(f"/api/chats/{CUSTOMER}/sticker", json={"emoji": "<b>"}) as odd:
        assert odd.status == 400
    # At the score step the bot asks for a number again, below what was sent.
    await wait_message(page, CUSTOMER, lambda m: m["from_bot"] and m["id"] > photo["id"])


async def test_the_owner_gets_a_chart_inline_and_an_export_to_download(
    page: aiohttp.ClientSession,
) -> None:
    await post_json(page, f"/api/chats/{OWNER}/send", {"text": "/chart"})
    chart = await wait_message(page, OWNER, lambda m: "photo" in m and m["from_bot"], 30)
    async with page.get(chart["photo"]["url"]) as picture:
        assert picture.status == 200 and picture.content_type == "image/png"
        assert picture.headers["Content-Disposition"] == "inline"
    await post_json(page, f"/api/chats/{OWNER}/send", {"text": "/export"})
    export = await wait_message(page, OWNER, lambda m: "document" in m, 30)
    name = export["document"]["name"]
    assert name.endswith(".xlsx")
    async with page.get(export["document"]["url"] + "?download=1") as download:
        assert download.status == 200
        assert download.headers["Content-Disposition"] == f'attachment; filename="{name}"'
        workbook = openpyxl.load_workbook(io.BytesIO(await download.read()), read_only=True)
    assert "Summary" in workbook.sheetnames
    async with page.get("/api/files/no-such-file") as missing:
        assert missing.status == 404


async def test_a_wrong_button_is_a_slip_not_a_press(
    demo: Demo, page: aiohttp.ClientSession
) -> None:
    question = await wait_message(page, CUSTOMER, _question)
    calls = len(demo.api.calls)
    for body in (
        {**_button(question, "3"), "row": 9},
        {"message_id": question["id"], "row": "0", "column": 0},
        {"message_id": 99999, "row": 0, "column": 0},
    ):
        async with page.post(f"/api/chats/{CUSTOMER}/press", json=body) as response:
            assert response.status == 400, body
    assert not demo.api.pending_updates and len(demo.api.calls) - calls < 3  # polls only


async def test_simulated_traffic_shows_in_the_owners_nps(page: aiohttp.ClientSession) -> None:
    summary = await post_json(page, "/api/traffic", {})
    assert summary["answers"] >= 100
    await post_json(page, f"/api/chats/{OWNER}/send", {"text": "/nps 90d"})
    report = await wait_message(page, OWNER, lambda m: m["text"].startswith("NPS ·"), 30)
    assert "answers" in report["text"]


def test_the_demo_ignores_the_users_environment_and_env_file(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A DATABASE_URL, a webhook or a short API token in .env must not reach the demo."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("DATABASE_URL=mysql://nope\nAPI_TOKEN=short\n")
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.com/hook")
    monkeypatch.setenv("BOT_TOKEN", "not a token")
    settings = demo_settings("http://127.0.0.1:1", "sqlite+aiosqlite:///demo.db", "ptb")
    assert settings.database_url == "sqlite+aiosqlite:///demo.db"
    assert not settings.webhook_url and not settings.api_token
    assert settings.bot_framework == "ptb" and settings.admin_ids == [OWNER]


async def test_the_reply_keyboard_shares_the_persons_own_number(
    page: aiohttp.ClientSession,
) -> None:
    async with page.post(f"/api/chats/{CUSTOMER}/contact", json={}) as early:
        assert early.status == 400  # no share button on screen yet
    await post_json(page, f"/api/chats/{CUSTOMER}/send", {"text": "/phone"})

    async def keyboard() -> Any:
        return (await get_json(page, f"/api/chats/{CUSTOMER}"))["reply_keyboard"]

    rows = await wait_for(keyboard, "the share-my-number keyboard")
    assert any(b["request_contact"] for row in rows for b in row)
    await post_json(page, f"/api/chats/{CUSTOMER}/contact", {})
    saved = await wait_message(page, CUSTOMER, lambda m: "is saved" in m["text"])
    assert "+373" in saved["text"]
    contact = await wait_message(page, CUSTOMER, lambda m: "contact" in m)
    assert not contact["from_bot"] and contact["contact"]["phone_number"].startswith("373")


async def test_a_kept_data_folder_goes_on_in_a_new_run(tmp_path: Any) -> None:
    """--data DIR: the second run knows everyone (no seeding again), and its emulator's
    update ids, which start over, are not taken for redeliveries of the first run's."""
    for run in (1, 2):
        demo = Demo(DemoOptions(port=0, data=tmp_path / "kept"))
        await demo.start()
        try:
            async with client(demo) as session:
                async with session.get(f"/?key={demo.key}", allow_redirects=False):
                    pass
                chat = await get_json(session, f"/api/chats/{CUSTOMER}")
                seen = len(chat["messages"])
                assert bool(seen) == (run == 1)  # seeded in a new database only
                await post_json(session, f"/api/chats/{CUSTOMER}/send", {"text": "/start"})
                await wait_message(session, CUSTOMER, _greeting_after(seen))
        finally:
            await demo.stop()

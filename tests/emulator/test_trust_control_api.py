"""Issue 9, item 23: the standalone control API answers a caller's slip with a 4xx (never a
500) and lets a caller set a user's language, send a sticker, photo or file, and list the
files the bot sent."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.emulator import BotApiEmulator
from bot.emulator.__main__ import control_routes
from tests.emulator.conftest import TOKEN


@pytest.fixture
async def standalone() -> AsyncIterator[BotApiEmulator]:
    """The emulator as `python -m bot.emulator` runs it (with the control routes)."""
    api = BotApiEmulator(token=TOKEN)
    api.add_routes(control_routes(api))
    async with api:
        yield api


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _call(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, Any]:
    async with http.request(method, url, **kwargs) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "reason"),
    [
        ("GET", "/transcript", {"params": {"chat_id": "404"}}, 404, "no chat 404"),
        ("GET", "/transcript", {}, 400, "chat_id is required"),
        ("GET", "/transcript", {"params": {"chat_id": "x"}}, 400, "chat_id must be an integer"),
        ("GET", "/files", {"params": {"chat_id": "404"}}, 404, "no chat 404"),
        ("GET", "/files/nope", {}, 404, "no such file"),
        ("POST", "/send", {"json": {"user_id": 5, "text": ""}}, 400, "text is empty"),
        ("POST", "/send", {"json": {"user_id": 5, "text": "  "}}, 400, "text is empty"),
        ("POST", "/send", {"json": {"user_id": 5}}, 400, "text is required"),
        ("POST", "/send", {"json": {"text": "hi"}}, 400, "user_id is required"),
        ("POST", "/send", {"json": {"user_id": "abc", "text": "hi"}}, 400, "user_id must be"),
        ("POST", "/send", {"json": {"user_id": -3, "text": "hi"}}, 400, "user_id must be"),
        ("POST", "/send", {"json": {"user_id": 5, "text": 7}}, 400, "text must be a string"),
        ("POST", "/send", {"data": "not json"}, 400, "the body must be a JSON object"),
        ("POST", "/send", {"json": [1, 2]}, 400, "the body must be a JSON object"),
        (
            "POST",
            "/send",
            {"json": {"user_id": 5, "text": "hi", "chat_id": 404}},
            404,
            "no chat 404",
        ),
        (
            "POST",
            "/press",
            {"json": {"user_id": 5, "chat_id": 404, "message_id": 1, "button": "9"}},
            404,
            "no chat 404",
        ),
        (
            "POST",
            "/press",
            {"json": {"user_id": 5, "message_id": 99, "button": "9"}},
            404,
            "no message #99",
        ),
        ("POST", "/press", {"json": {"user_id": 5, "message_id": 1}}, 400, "button"),
        (
            "POST",
            "/language",
            {"json": {"user_id": 5, "language_code": "not a language"}},
            400,
            "language_code must be",
        ),
        ("POST", "/language", {"json": {"user_id": 5}}, 400, "language_code is required"),
        ("POST", "/document", {"json": {"user_id": 5}}, 400, "a document needs content"),
        (
            "POST",
            "/document",
            {"json": {"user_id": 5, "data_base64": "%%%"}},
            400,
            "not valid base64",
        ),
        ("POST", "/document", {"json": {"user_id": 5, "content": ""}}, 400, "the file is empty"),
        ("POST", "/sticker", {"json": {"user_id": 5, "emoji": 3}}, 400, "emoji must be"),
    ],
)
async def test_a_callers_slip_is_a_4xx_with_the_reason_never_a_500(
    standalone: BotApiEmulator,
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    reason: str,
) -> None:
    status_seen, body = await _call(
        http, method, f"{standalone.base_url}/_emulator{path}", **kwargs
    )
    assert (status_seen, reason in body) == (status, True), body
    # Nothing reached the bot.
    assert standalone.pending_updates == []


async def test_language_sticker_photo_and_document_reach_the_bot_as_updates(
    standalone: BotApiEmulator, http: aiohttp.ClientSession
) -> None:
    base = f"{standalone.base_url}/_emulator"
    status, body = await _call(
        http, "POST", f"{base}/language", json={"user_id": 5, "language_code": "ru"}
    )
    assert (status, body) == (200, {"user_id": 5, "language_code": "ru"})
    status, body = await _call(http, "POST", f"{base}/send", json={"user_id": 5, "text": "/start"})
    assert status == 200
    [update] = standalone.pending_updates
    assert update["message"]["from"]["language_code"] == "ru"
    # Sent with a message, the language applies from that message on.
    await _call(
        http, "POST", f"{base}/send", json={"user_id": 5, "text": "hi", "language_code": "pl"}
    )
    assert standalone.pending_updates[-1]["message"]["from"]["language_code"] == "pl"
    status, body = await _call(http, "POST", f"{base}/sticker", json={"user_id": 5, "emoji": "🔥"})
    assert status == 200 and isinstance(body["update_id"], int)
    assert standalone.pending_updates[-1]["message"]["sticker"]["emoji"] == "🔥"
    status, body = await _call(
        http, "POST", f"{base}/photo", json={"user_id": 5, "caption": "my receipt"}
    )
    assert status == 200
    message = standalone.pending_updates[-1]["message"]
    assert message["photo"] and message["caption"] == "my receipt"
    csv = "id,language\n1001,ru\n"
    status, body = await _call(
        http,
        "POST",
        f"{base}/document",
        json={"user_id": 5, "content": csv, "file_name": "list.csv", "mime_type": "text/csv"},
    )
    assert status == 200
    document = standalone.pending_updates[-1]["message"]["document"]
    assert (document["file_name"], document["mime_type"]) == ("list.csv", "text/csv")
    assert standalone.files[document["file_id"]].data == csv.encode()
    raw = b"\x00\x01binary"
    status, body = await _call(
        http,
        "POST",
        f"{base}/document",
        json={"user_id": 5, "data_base64": base64.b64encode(raw).decode(), "file_name": "b.bin"},
    )
    assert status == 200
    document = standalone.pending_updates[-1]["message"]["document"]
    assert standalone.files[document["file_id"]].data == raw
    # Clearing the language: the next update carries none (some clients send none).
    await _call(http, "POST", f"{base}/language", json={"user_id": 5, "language_code": None})
    await _call(http, "POST", f"{base}/send", json={"user_id": 5, "text": "again"})
    assert "language_code" not in standalone.pending_updates[-1]["message"]["from"]


async def test_the_files_the_bot_sent_are_listed_and_downloadable(
    standalone: BotApiEmulator, http: aiohttp.ClientSession
) -> None:
    base = standalone.base_url
    for user_id in (5, 6):
        await _call(
            http, "POST", f"{base}/_emulator/send", json={"user_id": user_id, "text": "/start"}
        )
    form = aiohttp.FormData()
    form.add_field("chat_id", "5")
    form.add_field("caption", "Your export")
    form.add_field("document", b"a,b\n1,2\n", filename="export.csv", content_type="text/csv")
    status, _ = await _call(http, "POST", f"{base}/bot{TOKEN}/sendDocument", data=form)
    assert status == 200
    form = aiohttp.FormData()
    form.add_field("chat_id", "6")
    form.add_field("photo", _png(), filename="chart.png")
    status, _ = await _call(http, "POST", f"{base}/bot{TOKEN}/sendPhoto", data=form)
    assert status == 200
    # A file the user sent is not one the bot sent.
    await _call(http, "POST", f"{base}/_emulator/document", json={"user_id": 5, "content": "x"})

    status, body = await _call(http, "GET", f"{base}/_emulator/files")
    assert status == 200
    listed = [(f["chat_id"], f["kind"], f["file_name"], f["caption"]) for f in body["files"]]
    assert listed == [
        (5, "document", "export.csv", "Your export"),
        (6, "photo", "chart.png", None),
    ]
    status, body = await _call(http, "GET", f"{base}/_emulator/files", params={"chat_id": "5"})
    [export] = body["files"]
    assert export["mime_type"] == "text/csv" and export["size"] == 8
    async with http.get(f"{base}{export['url']}") as response:
        assert response.status == 200 and await response.read() == b"a,b\n1,2\n"


def _png() -> bytes:
    # The smallest valid PNG (1×1), as a chart would be.
    return base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )

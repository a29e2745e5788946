"""The HTTP surface with a plain aiohttp client: routing, body formats, error shapes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.emulator import BotApiEmulator, EmulatedUser
from bot.emulator.__main__ import control_routes
from tests.emulator.conftest import TOKEN


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP client."""
    async with aiohttp.ClientSession() as session:
        yield session


async def _post(
    http: aiohttp.ClientSession, url: str, **kwargs: object
) -> tuple[int, dict[str, object]]:
    async with http.post(url, **kwargs) as response:  # type: ignore[arg-type]
        return response.status, await response.json()


async def test_wrong_token_and_unknown_paths(
    api: BotApiEmulator, http: aiohttp.ClientSession
) -> None:
    """A wrong token is 401; an unknown method 404; both in the real error shape."""
    status, body = await _post(http, f"{api.base_url}/bot1:wrong/getMe")
    assert (status, body) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    status, body = await _post(http, f"{api.base_url}/bot{TOKEN}/sendTelepathy")
    assert (status, body) == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found: method not found"},
    )
    async with http.get(f"{api.base_url}/file/bot{TOKEN}/documents/nothing.txt") as response:
        assert response.status == 404
    assert [c.status for c in api.calls] == [401, 404]


async def test_case_insensitive_get_with_query(
    api: BotApiEmulator, http: aiohttp.ClientSession, anna: EmulatedUser
) -> None:
    """Method names ignore case; GET with a query string works like the real API."""
    async with http.get(
        f"{api.base_url}/bot{TOKEN}/SENDMESSAGE", params={"chat_id": anna.id, "text": "q"}
    ) as response:
        body = await response.json()
    assert body["ok"] is True and body["result"]["text"] == "q"
    assert api.calls[-1].method == "sendMessage"


async def test_json_and_form_bodies(
    api: BotApiEmulator, http: aiohttp.ClientSession, anna: EmulatedUser
) -> None:
    """JSON bodies carry objects; form bodies carry them JSON-encoded."""
    keyboard = {"inline_keyboard": [[{"text": "Yes", "callback_data": "y"}]]}
    url = f"{api.base_url}/bot{TOKEN}/sendMessage"
    status, body = await _post(
        http, url, json={"chat_id": anna.id, "text": "json", "reply_markup": keyboard}
    )
    assert status == 200 and body["result"]["reply_markup"] == keyboard  # type: ignore[index]
    status, body = await _post(
        http,
        url,
        data={"chat_id": str(anna.id), "text": "form", "reply_markup": json.dumps(keyboard)},
    )
    assert status == 200 and body["result"]["reply_markup"] == keyboard  # type: ignore[index]
    assert [m.text for m in anna.bot_messages] == ["json", "form"]
    # Message ids are per chat and shared by both directions: /start was #1.
    assert [m.message_id for m in anna.messages] == [1, 2, 3]


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"text": "x"}, "Bad Request: chat_id is empty"),
        ({"chat_id": 1001}, "Bad Request: message text is empty"),
        (
            {"chat_id": 1001, "text": "x", "colour": "red"},
            'Bad Request: unknown parameter "colour"',
        ),
        ({"chat_id": 1001, "text": "x", "reply_markup": "{oops"}, "Bad Request: can't parse"),
        ({"chat_id": 1001, "text": "x", "parse_mode": "BBCode"}, "unsupported parse_mode"),
        ({"chat_id": 1001, "text": "<b>x", "parse_mode": "HTML"}, "can't parse entities"),
        ({"chat_id": 1001, "text": "a.", "parse_mode": "MarkdownV2"}, "is reserved"),
        ({"chat_id": "@nobody", "text": "x"}, "Bad Request: chat not found"),
    ],
)
async def test_bad_requests(
    api: BotApiEmulator,
    http: aiohttp.ClientSession,
    anna: EmulatedUser,
    params: dict[str, object],
    description: str,
) -> None:
    """Invalid calls answer 400 with a Telegram-style description."""
    status, body = await _post(http, f"{api.base_url}/bot{TOKEN}/sendMessage", json=params)
    assert status == 400 and body["ok"] is False and body["error_code"] == 400
    assert str(body["description"]).startswith(description) or description in str(
        body["description"]
    )
    assert anna.bot_messages == []


async def test_keyboard_limits(
    api: BotApiEmulator, http: aiohttp.ClientSession, anna: EmulatedUser
) -> None:
    """≤ 8 buttons a row, ≤ 100 in all, callback_data 1–64 bytes, no action-less buttons."""
    url = f"{api.base_url}/bot{TOKEN}/sendMessage"

    async def send(rows: list[list[dict[str, str]]]) -> tuple[int, str]:
        status, body = await _post(
            http,
            url,
            json={"chat_id": anna.id, "text": "x", "reply_markup": {"inline_keyboard": rows}},
        )
        return status, str(body.get("description", ""))

    button = {"text": "b", "callback_data": "d"}
    assert (await send([[button] * 8] * 12 + [[button] * 4]))[0] == 200
    assert await send([[button] * 9]) == (400, "Bad Request: REPLY_MARKUP_TOO_LONG")
    assert await send([[button] * 8] * 13) == (400, "Bad Request: REPLY_MARKUP_TOO_LONG")
    assert await send([[{"text": "b", "callback_data": "x" * 65}]]) == (
        400,
        "Bad Request: BUTTON_DATA_INVALID",
    )
    assert (await send([[{"text": "b", "callback_data": "x" * 64}]]))[0] == 200
    assert (await send([[{"text": "b"}]]))[1].endswith("unallowed in the inline keyboard")


async def test_unsupported_method_passes_validation_first(
    api: BotApiEmulator, http: aiohttp.ClientSession
) -> None:
    """Known but unimplemented methods validate, then say they are not supported."""
    url = f"{api.base_url}/bot{TOKEN}/sendDice"
    status, body = await _post(http, url, json={})
    assert (status, body["description"]) == (400, "Bad Request: chat_id is empty")
    status, body = await _post(http, url, json={"chat_id": 1})
    assert body["description"] == "Bad Request: method not supported by the emulator"


async def test_control_api(http: aiohttp.ClientSession) -> None:
    """The standalone control routes let a person act as a user."""
    standalone = BotApiEmulator(token=TOKEN)
    standalone.add_routes(control_routes(standalone))
    async with standalone:
        base = standalone.base_url
        status, body = await _post(
            http, f"{base}/_emulator/send", json={"user_id": 5, "text": "/start"}
        )
        assert status == 200 and body["update_id"] == 100_001
        status, body = await _post(
            http, f"{base}/bot{TOKEN}/sendMessage", json={"chat_id": 5, "text": "Hi there"}
        )
        assert status == 200
        async with http.get(f"{base}/_emulator/transcript", params={"chat_id": "5"}) as response:
            assert "bot (#2): Hi there" in await response.text()
        # A button that is not (or no longer) on the message: a clear 400, not a crash.
        async with http.post(
            f"{base}/_emulator/press", json={"user_id": 5, "message_id": 2, "button": "9"}
        ) as response:
            assert response.status == 400
            assert await response.text() == "no button '9' on message #2 in chat 5; buttons: []"

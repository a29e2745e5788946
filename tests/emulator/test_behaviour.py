"""Polling semantics, fault injection, rate limits, groups and the test helpers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.emulator import BotApiEmulator, EmulatedUser
from tests.emulator.conftest import TOKEN


class Client:
    """A minimal Bot API client, so these tests do not depend on either framework."""

    def __init__(self, api: BotApiEmulator, session: aiohttp.ClientSession) -> None:
        self.api = api
        self.session = session

    async def raw(self, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
        """POST JSON; return (status, body)."""
        url = f"{self.api.base_url}/bot{TOKEN}/{method}"
        async with self.session.post(url, json=params) as response:
            return response.status, await response.json()

    async def ok(self, method: str, **params: Any) -> Any:
        """Call and return ``result``; fail the test on an error answer."""
        status, body = await self.raw(method, **params)
        assert status == 200, body
        return body["result"]


@pytest.fixture
async def client(api: BotApiEmulator) -> AsyncIterator[Client]:
    """A plain JSON client for the running emulator."""
    async with aiohttp.ClientSession() as session:
        yield Client(api, session)


async def _in_flight(api: BotApiEmulator) -> None:
    """Wait until a getUpdates request has arrived and is still waiting."""
    await api.wait_until(lambda: any(c.status == 0 for c in api.calls_for("getUpdates")))


async def test_close_does_not_hang_with_poll_in_flight(client: Client) -> None:
    """close() answers a pending long poll and returns quickly."""
    api = client.api
    poll = asyncio.create_task(client.raw("getUpdates", timeout=30))
    await _in_flight(api)
    started = time.monotonic()
    await asyncio.wait_for(api.close(), timeout=3)
    assert time.monotonic() - started < 1.5
    status, body = await asyncio.wait_for(poll, timeout=1)
    assert (status, body) == (200, {"ok": True, "result": []})


async def test_poll_times_out_empty(client: Client) -> None:
    """With nothing to deliver, a poll waits about ``timeout`` seconds and returns []."""
    started = time.monotonic()
    assert await client.ok("getUpdates", timeout=1) == []
    assert 0.9 <= time.monotonic() - started < 2


async def test_offset_limit_and_redeliver(client: Client, anna: EmulatedUser) -> None:
    """Offsets confirm updates; redeliver() brings one back with the same id and payload."""
    second = anna.send("one")
    anna.send("two")
    batch = await client.ok("getUpdates", limit=2)
    assert [u["update_id"] for u in batch] == [second - 1, second]
    # Without a new offset the same updates come again (they are not confirmed yet).
    assert len(await client.ok("getUpdates")) == 3
    last = (await client.ok("getUpdates", offset=second + 1))[-1]
    assert last["message"]["text"] == "two"
    assert await client.ok("getUpdates", offset=last["update_id"] + 1) == []

    client.api.redeliver(second)
    again = await client.ok("getUpdates", offset=last["update_id"] + 1)
    assert [u["update_id"] for u in again] == [second]
    assert again[0] == batch[1]
    assert await client.ok("getUpdates", offset=last["update_id"] + 1) == []


async def test_negative_offset_and_allowed_updates(client: Client, anna: EmulatedUser) -> None:
    """offset=-1 keeps the newest update; allowed_updates drops other kinds."""
    anna.send("a")
    anna.send("b")
    assert [u["message"]["text"] for u in await client.ok("getUpdates", offset=-1)] == ["b"]
    anna.block_bot()
    anna.unblock_bot()
    anna.send("c")
    texts = await client.ok("getUpdates", allowed_updates=["message"])
    assert [next(k for k in u if k != "update_id") for u in texts] == ["message", "message"]
    anna.block_bot()
    kinds = await client.ok("getUpdates", allowed_updates=[], offset=texts[-1]["update_id"] + 1)
    assert [u["my_chat_member"]["new_chat_member"]["status"] for u in kinds] == ["kicked"]


async def test_second_poller_conflicts(client: Client) -> None:
    """Two bots polling at once: the older request gets 409 Conflict."""
    first = asyncio.create_task(client.raw("getUpdates", timeout=5))
    await _in_flight(client.api)
    second = asyncio.create_task(client.raw("getUpdates", timeout=0))
    status, body = await asyncio.wait_for(first, timeout=2)
    assert status == 409 and "terminated by other getUpdates request" in body["description"]
    assert (await second)[0] == 200


async def test_webhook_is_recorded_and_blocks_polling(client: Client) -> None:
    """setWebhook is recorded; getUpdates then conflicts until deleteWebhook."""
    assert await client.ok("setWebhook", url="https://example.com/hook", secret_token="s3")
    assert client.api.webhook["secret_token"] == "s3"
    info = await client.ok("getWebhookInfo")
    assert info["url"] == "https://example.com/hook"
    status, body = await client.raw("getUpdates")
    assert status == 409 and "webhook is active" in body["description"]
    assert await client.ok("deleteWebhook", drop_pending_updates=True)
    assert await client.ok("getUpdates") == []


async def test_rate_limits(client: Client) -> None:
    """Above the per-chat or global rate, sends answer 429 retry_after=1."""
    api = client.api
    users = [api.user(100 + i, first_name=f"U{i}") for i in range(3)]
    for user in users:
        user.send("/start")
    api.set_rate_limits(global_per_second=2, per_chat_per_second=1)
    await client.ok("sendMessage", chat_id=100, text="1")
    status, body = await client.raw("sendMessage", chat_id=100, text="2")
    assert status == 429 and body["parameters"] == {"retry_after": 1}
    assert body["description"] == "Too Many Requests: retry after 1"
    await client.ok("sendMessage", chat_id=101, text="1")
    status, _ = await client.raw("sendMessage", chat_id=102, text="1")
    assert status == 429
    assert api.too_many_requests_sent == 2
    assert (api.deliveries(100), api.deliveries(101), api.deliveries(102)) == (1, 1, 0)
    api.set_rate_limits(None, None)
    await client.ok("sendMessage", chat_id=102, text="1")


async def test_faults_and_delays(client: Client, anna: EmulatedUser) -> None:
    """Injected faults match method/chat and count down; delays slow the answer."""
    api = client.api
    api.inject_fault(method="sendMessage", status=500, times=2, chat_id=anna.id)
    api.inject_fault(method="getChat", status=400, description="Bad Request: nope")
    assert (await client.raw("sendMessage", chat_id=anna.id, text="x"))[1]["description"] == (
        "Internal Server Error"
    )
    assert (await client.raw("sendMessage", chat_id=anna.id, text="x"))[0] == 500
    await client.ok("sendMessage", chat_id=anna.id, text="x")
    assert (await client.raw("getChat", chat_id=anna.id))[1]["description"] == "Bad Request: nope"
    api.inject_fault(method=None, status=403)
    assert (await client.raw("getMe"))[1][
        "description"
    ] == "Forbidden: bot was blocked by the user"

    api.inject_delay(method="sendMessage", seconds=0.3)
    started = time.monotonic()
    await client.ok("sendMessage", chat_id=anna.id, text="slow")
    assert time.monotonic() - started >= 0.3

    # A delay after processing: the client may give up, yet the message was delivered.
    api.inject_delay(method="sendMessage", seconds=5, after_processing=True)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.raw("sendMessage", chat_id=anna.id, text="late"), 0.2)
    assert anna.bot_messages[-1].text == "late"


async def test_group_chat(client: Client, anna: EmulatedUser) -> None:
    """Groups: the bot posts, members write and press buttons there."""
    api = client.api
    olga = api.user(1002, first_name="Olga", username="olga")
    staff = api.group(-100123, title="Staff", members=[anna, olga])
    assert staff.type == "group" and api.group(-100123) is staff
    keyboard = {"inline_keyboard": [[{"text": "Take", "callback_data": "take:1"}]]}
    sent = await client.ok(
        "sendMessage", chat_id=staff.id, text="Detractor alert", reply_markup=keyboard
    )
    assert sent["chat"] == {"id": -100123, "type": "group", "title": "Staff"}
    alert = await staff.wait_for_message(lambda m: "alert" in m.text)
    olga.send_in(staff, "on it")
    query_id = olga.press(alert, "Take")
    updates = await client.ok("getUpdates")
    group_message = updates[-2]["message"]
    assert group_message["chat"]["type"] == "group" and group_message["from"]["id"] == 1002
    assert updates[-1]["callback_query"]["message"]["chat"]["id"] == -100123
    assert updates[-1]["callback_query"]["id"] == query_id
    # Olga never wrote to the bot privately, so the bot cannot DM her.
    status, body = await client.raw("sendMessage", chat_id=olga.id, text="hi")
    assert (status, body["description"]) == (
        403,
        "Forbidden: bot can't initiate conversation with a user",
    )
    staff.kick_bot()
    assert (await client.raw("sendMessage", chat_id=staff.id, text="x"))[0] == 403


async def test_helpers_fail_with_transcript(client: Client, anna: EmulatedUser) -> None:
    """wait_for_message and press fail with a readable transcript, fast, no sleeps."""
    keyboard = {"inline_keyboard": [[{"text": "Yes", "callback_data": "y"}]]}
    await client.ok("sendMessage", chat_id=anna.id, text="Continue?", reply_markup=keyboard)
    with pytest.raises(AssertionError) as caught:
        await anna.wait_for_message(lambda m: "never" in m.text, timeout=0.2)
    assert "bot (#2): Continue?" in str(caught.value) and "[Yes]" in str(caught.value)
    assert "user 1001 (#1): /start" in anna.transcript()
    message = await anna.wait_for_message()
    with pytest.raises(AssertionError, match=r"no button 'No'.*\['Yes'\]"):
        anna.press(message, "No")
    forged = anna.press_data(message, "forged")
    assert (await client.ok("getUpdates"))[-1]["callback_query"]["data"] == "forged"
    with pytest.raises(AssertionError, match="not answered"):
        await anna.wait_callback_answer(forged, timeout=0.1)
    await client.ok("deleteMessage", chat_id=anna.id, message_id=message.message_id)
    assert message.deleted
    with pytest.raises(AssertionError, match="is gone"):
        anna.press(message, "Yes")


async def test_edit_history_and_reply(client: Client, anna: EmulatedUser) -> None:
    """Edits keep the ChatMessage current; replies embed the replied-to message."""
    sent = await client.ok("sendMessage", chat_id=anna.id, text="Score?")
    message = await anna.wait_for_message()
    edited = await client.ok(
        "editMessageText", chat_id=anna.id, message_id=sent["message_id"], text="Score: 9"
    )
    assert edited["edit_date"] >= edited["date"]
    assert (message.text, message.edit_count, message.history) == ("Score: 9", 1, ["Score?"])
    anna.send("because", reply_to=message)
    updates = await client.ok("getUpdates")
    assert updates[-1]["message"]["reply_to_message"]["text"] == "Score: 9"
    reply = await client.ok(
        "sendMessage", chat_id=anna.id, text="ok", reply_parameters={"message_id": 3}
    )
    assert reply["reply_to_message"]["text"] == "because"
    status, body = await client.raw(
        "sendMessage", chat_id=anna.id, text="x", reply_parameters={"message_id": 99}
    )
    assert (status, body["description"]) == (400, "Bad Request: message to be replied not found")


async def test_writing_to_the_bot_unblocks_it(client: Client, anna: EmulatedUser) -> None:
    """A blocked user who writes again unblocks the bot first, as Telegram clients do."""
    anna.block_bot()
    assert (await client.raw("sendMessage", chat_id=anna.id, text="x"))[0] == 403
    anna.send("/start")
    assert not anna.blocked
    updates = await client.ok("getUpdates", allowed_updates=["message", "my_chat_member"])
    statuses = [u["my_chat_member"]["new_chat_member"]["status"] for u in updates[1:3]]
    assert statuses == ["kicked", "member"] and updates[-1]["message"]["text"] == "/start"
    await client.ok("sendMessage", chat_id=anna.id, text="welcome back")

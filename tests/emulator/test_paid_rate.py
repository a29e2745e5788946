"""The emulator's paid-broadcast limit: sends with allow_paid_broadcast count against their
own per-second limit (Telegram: 1000/s), not against the free ~30/s."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.emulator import BotApiEmulator
from tests.emulator.test_behaviour import Client


@pytest.fixture
async def client(api: BotApiEmulator) -> AsyncIterator[Client]:
    """A plain JSON client for the running emulator."""
    async with aiohttp.ClientSession() as session:
        yield Client(api, session)


def _started(api: BotApiEmulator, ids: range) -> None:
    for uid in ids:
        api.user(uid, first_name=f"U{uid}").send("/start")


async def test_paid_sends_have_their_own_limit(client: Client) -> None:
    api = client.api
    _started(api, range(100, 110))
    api.set_rate_limits(global_per_second=2, per_chat_per_second=None, paid_per_second=3)
    for chat in (100, 101):
        await client.ok("sendMessage", chat_id=chat, text="free")
    status, body = await client.raw("sendMessage", chat_id=102, text="free")
    assert status == 429 and body["parameters"] == {"retry_after": 1}
    # The free limit is reached, yet paid sends go through up to their own limit.
    for chat in (103, 104, 105):
        await client.ok("sendMessage", chat_id=chat, text="paid", allow_paid_broadcast=True)
    status, _ = await client.raw(
        "sendMessage", chat_id=106, text="paid", allow_paid_broadcast=True
    )
    assert status == 429
    assert api.too_many_requests_sent == 2
    assert [api.deliveries(c) for c in range(100, 107)] == [1, 1, 0, 1, 1, 1, 0]
    paid = [c.params.get("allow_paid_broadcast") for c in api.calls_for("sendMessage")]
    assert paid == [None, None, None, True, True, True, True]


async def test_paid_sends_obey_the_per_chat_limit_and_the_window_slides(
    client: Client,
) -> None:
    api = client.api
    _started(api, range(200, 202))
    api.set_rate_limits(global_per_second=1, per_chat_per_second=1, paid_per_second=1000)
    await client.ok("sendMessage", chat_id=200, text="1", allow_paid_broadcast=True)
    status, _ = await client.raw("sendMessage", chat_id=200, text="2", allow_paid_broadcast=True)
    assert status == 429  # one a second per chat, paid or not
    first = time.monotonic()
    await client.ok("sendMessage", chat_id=201, text="free")
    # The free window holds one send: the next free one passes once a second has gone by.
    deadline = first + 5
    while (await client.raw("sendMessage", chat_id=201, text="again"))[0] == 429:
        assert time.monotonic() < deadline, "the window never slid"
    assert time.monotonic() - first >= 0.95
    assert api.deliveries(201) == 2


async def test_default_limits_are_telegrams(client: Client) -> None:
    """set_rate_limits() with no arguments: 30/s free, 1/s per chat, 1000/s paid."""
    api = client.api
    _started(api, range(1000, 1040))
    api.set_rate_limits()
    for chat in range(1000, 1030):
        await client.ok("sendMessage", chat_id=chat, text="free")
    assert (await client.raw("sendMessage", chat_id=1030, text="free"))[0] == 429
    for chat in range(1030, 1040):
        await client.ok("sendMessage", chat_id=chat, text="paid", allow_paid_broadcast=True)
    assert api.too_many_requests_sent == 1

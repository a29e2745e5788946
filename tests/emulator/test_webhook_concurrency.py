"""Webhook delivery as Telegram's server does it: up to max_connections chats at once, each
chat's updates one at a time in order, a failing chat holding back only itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.emulator import BotApiEmulator
from tests.emulator.test_behaviour import Client


@dataclass
class HeldReceiver:
    """A webhook that holds every POST until the test opens the gate; it records the
    concurrency it saw and answers 500 to the update ids listed in `refuse` (once each)."""

    url: str = ""
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: int = 0
    most: int = 0
    posts: list[dict[str, Any]] = field(default_factory=list)
    refuse: list[int] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        update = await request.json()
        self.posts.append(update)
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await self.gate.wait()
        finally:
            self.in_flight -= 1
        if update["update_id"] in self.refuse:
            self.refuse.remove(update["update_id"])
            return web.json_response({}, status=500)
        return web.json_response({})

    def chat_ids(self, chat: int) -> list[int]:
        return [u["update_id"] for u in self.posts if u["message"]["chat"]["id"] == chat]


@pytest.fixture
async def held() -> AsyncIterator[HeldReceiver]:
    found = HeldReceiver()
    app = web.Application()
    app.router.add_post("/hook", found.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    found.url = f"http://127.0.0.1:{port}/hook"
    yield found
    found.gate.set()
    await runner.cleanup()


@pytest.fixture
async def client(api: BotApiEmulator) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield Client(api, session)


def _two_messages_each(api: BotApiEmulator, chats: range) -> dict[int, list[int]]:
    sent: dict[int, list[int]] = {}
    for chat in chats:
        user = api.user(chat, first_name=f"U{chat}")
        sent[chat] = [user.send("one"), user.send("two")]
    return sent


async def test_up_to_max_connections_chats_at_once_each_chat_in_order(
    client: Client, held: HeldReceiver
) -> None:
    api = client.api
    sent = _two_messages_each(api, range(2001, 2006))  # 5 chats, 2 updates each
    assert await client.ok("setWebhook", url=held.url, max_connections=3)
    await api.wait_until(lambda: held.in_flight == 3)
    # Three chats' first updates are held; nothing else was posted meanwhile.
    assert len(held.posts) == 3 and {u["message"]["text"] for u in held.posts} == {"one"}
    info = await client.ok("getWebhookInfo")
    assert info["max_connections"] == 3 and info["pending_update_count"] == 10
    held.gate.set()
    await api.wait_until(lambda: not api.pending_updates)
    assert held.most == 3 and len(held.posts) == 10
    for chat, ids in sent.items():
        assert held.chat_ids(chat) == ids  # a chat's second update only after its first


async def test_a_refused_update_holds_its_chat_only(client: Client, held: HeldReceiver) -> None:
    api = client.api
    sent = _two_messages_each(api, range(3001, 3003))
    stuck, free = sent[3001], sent[3002]
    held.refuse = [stuck[0], stuck[0]]  # refused twice, then accepted
    held.gate.set()
    assert await client.ok("setWebhook", url=held.url)
    await api.wait_until(lambda: not api.pending_updates)
    assert held.chat_ids(3001) == [stuck[0], stuck[0], stuck[0], stuck[1]]
    assert held.chat_ids(3002) == free
    # The free chat was done before the stuck one got past its retries.
    order = [u["update_id"] for u in held.posts]
    assert order.index(free[1]) < order.index(stuck[1])
    assert (await client.ok("getWebhookInfo"))["max_connections"] == 40  # Telegram's default


async def test_max_connections_out_of_range_is_refused(client: Client) -> None:
    for value in (0, 101):
        status, body = await client.raw(
            "setWebhook", url="http://127.0.0.1:1/x", max_connections=value
        )
        assert status == 400 and "max_connections" in body["description"]
    assert client.api.webhook == {}

"""Webhook delivery: updates POSTed to a real HTTP receiver, in order, retried until 2xx."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.emulator import BotApiEmulator, EmulatedUser
from tests.emulator.test_behaviour import Client

SECRET = "s3cret_token-1"


@dataclass
class Receiver:
    """A bot's webhook stand-in: records each POST and answers the queued statuses (then 200)."""

    url: str = ""
    posts: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.posts.append(
            (await request.json(), request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        )
        status = self.statuses.pop(0) if self.statuses else 200
        return web.json_response({}, status=status)

    def ids(self) -> list[int]:
        return [update["update_id"] for update, _ in self.posts]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A real aiohttp server on a free port, serving POST /hook."""
    found = Receiver()
    app = web.Application()
    app.router.add_post("/hook", found.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    found.url = f"http://127.0.0.1:{port}/hook"
    yield found
    await runner.cleanup()


@pytest.fixture
async def client(api: BotApiEmulator) -> AsyncIterator[Client]:
    """A plain JSON client for the running emulator."""
    async with aiohttp.ClientSession() as session:
        yield Client(api, session)


async def test_updates_are_posted_in_order_with_the_secret(
    client: Client, receiver: Receiver, anna: EmulatedUser
) -> None:
    """Queued and later updates arrive one by one, in update_id order, with the secret."""
    api = client.api
    second = anna.send("hello")
    assert await client.ok("setWebhook", url=receiver.url, secret_token=SECRET)
    third = anna.send("again")
    await api.wait_until(lambda: len(receiver.posts) == 3 and not api.pending_updates)
    assert receiver.ids() == [second - 1, second, third]
    assert [secret for _, secret in receiver.posts] == [SECRET] * 3
    assert receiver.posts[2][0]["message"]["text"] == "again"
    info = await client.ok("getWebhookInfo")
    assert info["url"] == receiver.url and info["pending_update_count"] == 0
    assert "last_error_date" not in info
    status, body = await client.raw("getUpdates")
    assert status == 409 and "webhook is active" in body["description"]


async def test_refused_update_is_posted_again_and_holds_the_rest(
    client: Client, receiver: Receiver, anna: EmulatedUser
) -> None:
    """Non-2xx answers: the same update_id again after a pause; later ones wait behind it."""
    api = client.api
    receiver.statuses = [500, 401]
    assert await client.ok("setWebhook", url=receiver.url, secret_token=SECRET)
    await api.wait_until(lambda: len(receiver.posts) == 2)
    info = await client.ok("getWebhookInfo")
    assert info["pending_update_count"] == 1
    assert info["last_error_message"] == "Wrong response from the webhook: 401 Unauthorized"
    assert isinstance(info["last_error_date"], int)
    later = anna.send("later")
    await api.wait_until(lambda: not api.pending_updates)
    first = later - 1
    assert receiver.ids() == [first, first, first, later]
    assert [a.status for a in api.webhook_attempts] == [500, 401, 200, 200]
    # The pause before a retry doubles (0.05 s, then 0.1 s): lower bounds cannot flake.
    at = [attempt.at for attempt in api.webhook_attempts]
    pauses = [later - earlier for earlier, later in itertools.pairwise(at)]
    assert pauses[0] >= 0.05 and pauses[1] >= 0.1


async def test_unreachable_webhook_keeps_updates_for_polling(
    client: Client, receiver: Receiver, anna: EmulatedUser
) -> None:
    """A URL nobody listens on: updates stay queued; after deleteWebhook, polling gets them."""
    api = client.api
    dead = receiver.url.replace("/hook", "/nowhere")  # 404: the receiver has no such route
    assert await client.ok("setWebhook", url=dead)
    await api.wait_until(lambda: len(api.webhook_attempts) >= 2)
    info = await client.ok("getWebhookInfo")
    assert info["last_error_message"].startswith("Wrong response from the webhook: 404")
    assert await client.ok("setWebhook", url="http://127.0.0.1:1/closed")
    attempts = len(api.webhook_attempts)
    await api.wait_until(lambda: len(api.webhook_attempts) > attempts)
    assert api.webhook_attempts[-1].status == 0
    info = await client.ok("getWebhookInfo")
    assert info["last_error_message"].startswith("Connection failed")
    assert await client.ok("deleteWebhook")
    assert (await client.ok("getWebhookInfo"))["url"] == ""
    assert [u["message"]["text"] for u in await client.ok("getUpdates")] == ["/start"]


async def test_delete_with_drop_pending_forgets_the_queue(
    client: Client, anna: EmulatedUser
) -> None:
    """deleteWebhook(drop_pending_updates=True) empties the queue; stop means no more POSTs."""
    api = client.api
    assert await client.ok("setWebhook", url="http://127.0.0.1:1/closed")
    await api.wait_until(lambda: len(api.webhook_attempts) >= 1)
    assert await client.ok("deleteWebhook", drop_pending_updates=True)
    assert (await client.ok("getWebhookInfo"))["pending_update_count"] == 0
    assert await client.ok("getUpdates") == []


async def test_no_secret_no_header_and_allowed_updates(
    client: Client, receiver: Receiver, anna: EmulatedUser
) -> None:
    """Without secret_token no header is sent; allowed_updates filters what is posted."""
    api = client.api
    assert await client.ok("setWebhook", url=receiver.url, allowed_updates=["callback_query"])
    anna.block_bot()
    anna.unblock_bot()
    question = anna.send("hi")
    assert question
    await api.wait_until(lambda: not api.pending_updates)
    assert receiver.posts == []  # messages and my_chat_member were not subscribed to
    assert await client.ok("setWebhook", url=receiver.url, allowed_updates=["message"])
    anna.send("posted")
    await api.wait_until(lambda: len(receiver.posts) == 1)
    update, secret = receiver.posts[0]
    assert update["message"]["text"] == "posted" and secret is None


async def test_redeliver_posts_the_same_update_again(
    client: Client, receiver: Receiver, anna: EmulatedUser
) -> None:
    """redeliver() in webhook mode posts an accepted update once more, unchanged."""
    api = client.api
    assert await client.ok("setWebhook", url=receiver.url, secret_token=SECRET)
    await api.wait_until(lambda: len(receiver.posts) == 1)
    api.redeliver(receiver.ids()[0])
    await api.wait_until(lambda: len(receiver.posts) == 2)
    assert receiver.posts[0] == receiver.posts[1]


async def test_secret_with_forbidden_characters_is_refused(client: Client) -> None:
    """Telegram allows only A-Z, a-z, 0-9, _ and - in secret_token."""
    status, body = await client.raw("setWebhook", url="http://127.0.0.1:1/x", secret_token="a b")
    assert status == 400 and "secret token" in body["description"]
    assert client.api.webhook == {}

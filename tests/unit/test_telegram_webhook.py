"""The webhook route over real HTTP, and when WebhookUpdates lets a request be answered.

End to end with both runtimes: tests/e2e/test_webhook_mode.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.web.telegram_webhook import (
    SECRET_HEADER,
    WebhookUpdates,
    until_stopped,
    webhook_path,
    webhook_route,
)
from tests.conftest import next_loop_turn

SECRET = "webhook-secret_1"
UPDATE = {"update_id": 7, "message": {"message_id": 1, "text": "hi"}}


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """The route on a real local server; yields its URL and what was fed."""
    fed: list[dict[str, Any]] = []

    async def feed(update: dict[str, Any]) -> None:
        fed.append(update)

    app = web.Application()
    app.add_routes([webhook_route("/tg/hook", SECRET, feed)])
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/tg/hook")), fed
    finally:
        await server.close()


async def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as response,
    ):
        return response.status, await response.json()


@pytest.mark.parametrize(
    "headers",
    [{}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: SECRET + "x"}, {SECRET_HEADER: ""}],
    ids=["missing", "wrong", "longer", "empty"],
)
async def test_without_the_secret_401_and_nothing_fed(
    served: tuple[str, list[dict[str, Any]]], headers: dict[str, str]
) -> None:
    url, fed = served
    status, body = await _post(url, b'{"update_id": 7}', headers)
    assert status == 401 and body["error"] == "unauthorized"
    assert SECRET not in str(body)
    assert fed == []


@pytest.mark.parametrize(
    "body",
    [b"not json", b"\xff\xfe", b"", b"[1, 2]", b'{"message": {}}', b'{"update_id": "7"}'],
    ids=["text", "bytes", "empty", "array", "no-update-id", "string-id"],
)
async def test_not_an_update_400(served: tuple[str, list[dict[str, Any]]], body: bytes) -> None:
    url, fed = served
    status, answer = await _post(url, body, {SECRET_HEADER: SECRET})
    assert status == 400 and answer["error"] == "invalid"
    assert fed == []


async def test_an_update_is_fed_and_answered_200(
    served: tuple[str, list[dict[str, Any]]],
) -> None:
    url, fed = served
    status, body = await _post(url, b'{"update_id": 7, "message": {}}', {SECRET_HEADER: SECRET})
    assert status == 200 and body == {"ok": True}
    assert fed == [{"update_id": 7, "message": {}}]
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 405


def test_path_and_secret() -> None:
    assert webhook_path("https://bot.example.com/telegram/hook?x=1") == "/telegram/hook"
    assert webhook_path("https://bot.example.com") == "/"
    with pytest.raises(ValueError, match="WEBHOOK_SECRET"):
        webhook_route("/hook", "", lambda update: asyncio.sleep(0))


async def test_feed_returns_once_settled_and_drain_waits_for_the_rest() -> None:
    """The request is answered when the update is settled; the replies go on after it."""
    release = asyncio.Event()
    finished: list[int] = []
    updates: WebhookUpdates

    async def process(update: dict[str, Any]) -> None:
        updates.settled(update["update_id"])  # the transaction committed
        await release.wait()  # sending the replies, e.g. waiting on a 429
        finished.append(update["update_id"])

    updates = WebhookUpdates(process)
    await asyncio.wait_for(updates.feed(UPDATE), timeout=2)
    assert finished == [] and updates.in_flight == 1
    drained = asyncio.create_task(updates.drain())
    await next_loop_turn()
    assert not drained.done()
    release.set()
    await asyncio.wait_for(drained, timeout=2)
    assert finished == [7] and updates.in_flight == 0


async def test_feed_returns_when_processing_ends_without_settling() -> None:
    """Updates the pipeline never sees (kinds npsbot ignores), and ones that fail."""
    calls: list[int] = []

    async def ignore(update: dict[str, Any]) -> None:
        calls.append(update["update_id"])

    async def fail(update: dict[str, Any]) -> None:
        raise RuntimeError("cannot parse")

    await asyncio.wait_for(WebhookUpdates(ignore).feed(UPDATE), timeout=2)
    assert calls == [7]
    failing = WebhookUpdates(fail)
    await asyncio.wait_for(failing.feed(UPDATE), timeout=2)
    assert failing.in_flight == 0


async def test_cancelled_request_does_not_cancel_the_processing() -> None:
    """The server stopping (or Telegram hanging up) mid-request: the update is still handled."""
    release = asyncio.Event()
    finished: list[int] = []

    async def process(update: dict[str, Any]) -> None:
        await release.wait()
        finished.append(update["update_id"])

    updates = WebhookUpdates(process)
    request = asyncio.create_task(updates.feed(UPDATE))
    await next_loop_turn()
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    release.set()
    await asyncio.wait_for(updates.drain(), timeout=2)
    assert finished == [7]


async def test_until_stopped_ends_on_sigterm_and_gives_the_signal_back() -> None:
    """Webhook mode without a stop event (`npsbot run`) ends on SIGTERM, as polling does."""
    before = signal.getsignal(signal.SIGTERM)
    waiting = asyncio.create_task(until_stopped(None))
    async with asyncio.timeout(5):
        while signal.getsignal(signal.SIGTERM) == before:  # the handler is installed
            await next_loop_turn()
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(waiting, timeout=5)
    assert signal.getsignal(signal.SIGTERM) == before


async def test_until_stopped_with_an_event_waits_for_it() -> None:
    stop = asyncio.Event()
    waiting = asyncio.create_task(until_stopped(stop))
    await next_loop_turn()
    assert not waiting.done()
    stop.set()
    await asyncio.wait_for(waiting, timeout=2)


async def test_a_closed_webhook_answers_503_and_processes_nothing() -> None:
    """Stopping (stop_webhook): Telegram gets 503 and posts the update again later."""
    processed: list[int] = []

    async def process(update: dict[str, Any]) -> None:
        processed.append(update["update_id"])

    updates = WebhookUpdates(process)
    app = web.Application()
    app.add_routes([webhook_route("/tg/hook", SECRET, updates.feed)])
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        url = str(server.make_url("/tg/hook"))
        body = b'{"update_id": 7}'
        assert (await _post(url, body, {SECRET_HEADER: SECRET}))[0] == 200
        updates.closed = True
        status, answer = await _post(url, b'{"update_id": 8}', {SECRET_HEADER: SECRET})
        assert (status, answer["error"]) == (503, "unavailable")
        await updates.drain()
        assert processed == [7]
    finally:
        await server.close()

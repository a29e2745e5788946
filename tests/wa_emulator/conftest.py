"""Fixtures: a running emulator, a bot's webhook endpoint that records what Meta posts,
and an HTTP client that calls the emulator as the bot's channel code would."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.wa_emulator import CloudApiEmulator, Customer

TOKEN = "EAAtest-token"
PHONE_ID = "106540352242922"
APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "verify-me"
ANA = "37360000001"


class BotEndpoint:
    """The bot's webhook: answers the handshake and records every POST's raw bytes."""

    def __init__(self) -> None:
        self.posts: list[tuple[bytes, dict[str, str]]] = []
        self.answers: deque[int] = deque()  # statuses to answer POSTs with (then 200)
        self.challenge_override: str | None = None
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/webhook", self._verify)
        app.router.add_post("/webhook", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/webhook"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _verify(self, request: web.Request) -> web.Response:
        query = request.query
        if query.get("hub.mode") != "subscribe" or query.get("hub.verify_token") != VERIFY_TOKEN:
            return web.Response(status=403, text="forbidden")
        return web.Response(text=self.challenge_override or query["hub.challenge"])

    async def _receive(self, request: web.Request) -> web.Response:
        self.posts.append((await request.read(), dict(request.headers)))
        status = self.answers.popleft() if self.answers else 200
        return web.Response(status=status, text="ok")

    def bodies(self) -> list[dict[str, Any]]:
        """Each POST's JSON."""
        return [json.loads(raw) for raw, _ in self.posts]

    def values(self) -> list[dict[str, Any]]:
        """Each POST's ``entry[0].changes[0].value``."""
        return [b["entry"][0]["changes"][0]["value"] for b in self.bodies()]

    def messages(self) -> list[dict[str, Any]]:
        """Every customer message posted, in order."""
        return [m for v in self.values() for m in v.get("messages", [])]

    def statuses(self, wamid: str | None = None) -> list[dict[str, Any]]:
        """Every status posted (for one message when ``wamid`` is given), in order."""
        found = [s for v in self.values() for s in v.get("statuses", [])]
        return [s for s in found if wamid is None or s["id"] == wamid]


@pytest.fixture
async def emulator() -> AsyncIterator[CloudApiEmulator]:
    async with CloudApiEmulator(TOKEN, PHONE_ID, APP_SECRET) as started:
        yield started


@pytest.fixture
async def bot() -> AsyncIterator[BotEndpoint]:
    endpoint = BotEndpoint()
    await endpoint.start()
    yield endpoint
    await endpoint.stop()


@pytest.fixture
async def hooked(emulator: CloudApiEmulator, bot: BotEndpoint) -> CloudApiEmulator:
    """The emulator with the bot's webhook verified and set."""
    await emulator.set_webhook(bot.url, VERIFY_TOKEN)
    return emulator


@pytest.fixture
def ana(emulator: CloudApiEmulator) -> Customer:
    """A customer who has just written, so the window is open."""
    customer = emulator.customer(ANA, "Ana")
    customer.send_text("hello")
    return customer


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post(
    http: aiohttp.ClientSession,
    emulator: CloudApiEmulator,
    body: Any,
    *,
    token: str | None = TOKEN,
    path: str | None = None,
) -> tuple[int, Any]:
    """POST a body to ``/{phone_number_id}/messages`` as the bot would."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    url = f"{emulator.base_url}/{path or PHONE_ID + '/messages'}"
    async with http.post(url, json=body, headers=headers) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


def text(to: str, body: str) -> dict[str, Any]:
    """A text send body."""
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"body": body},
    }


def buttons(to: str, titles: list[str], body: str = "Pick one") -> dict[str, Any]:
    """An interactive reply-button send body (ids are the titles lower-cased)."""
    return {
        "messaging_product": "whatsapp",
        "to": to,
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": body},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": t.lower() or "x", "title": t}}
                    for t in titles
                ]
            },
        },
    }


def list_message(to: str, sections: list[dict[str, Any]], label: str = "Choose") -> dict[str, Any]:
    """An interactive list send body."""
    return {
        "messaging_product": "whatsapp",
        "to": to,
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": "How likely are you to recommend us?"},
            "action": {"button": label, "sections": sections},
        },
    }


def rows(count: int, prefix: str = "r") -> list[dict[str, str]]:
    """``count`` list rows with ids ``r0``… and titles ``Row 0``…."""
    return [{"id": f"{prefix}{i}", "title": f"Row {prefix}{i}"} for i in range(count)]


def template(to: str, name: str, language: str, *params: str) -> dict[str, Any]:
    """A template send body with body parameters."""
    tpl: dict[str, Any] = {"name": name, "language": {"code": language}}
    if params:
        tpl["components"] = [
            {"type": "body", "parameters": [{"type": "text", "text": p} for p in params]}
        ]
    return {"messaging_product": "whatsapp", "to": to, "type": "template", "template": tpl}

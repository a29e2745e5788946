"""The demo running in-process on a free port, and HTTP clients with and without its key."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.demo.runner import Demo, DemoOptions
from tests.scenario import wait_for

OWNER = 100
CUSTOMER = 1001  # Emily, English, arrives through a shop link of agent olga


@pytest.fixture
async def demo(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Demo]:
    """`npsbot demo --port 0 --data <tmp>`: emulator, bot and page, people seeded; on
    aiogram unless a test asks for a framework (`indirect` parametrization)."""
    framework = getattr(request, "param", "aiogram")
    running = Demo(DemoOptions(port=0, data=tmp_path / "data", framework=framework))
    await running.start()
    yield running
    await running.stop()


def client(demo: Demo) -> aiohttp.ClientSession:
    """A browser-like session without the key's cookie (cookies from an IP are kept)."""
    return aiohttp.ClientSession(
        base_url=demo.web.origin, cookie_jar=aiohttp.CookieJar(unsafe=True)
    )


@pytest.fixture
async def page(demo: Demo) -> AsyncIterator[aiohttp.ClientSession]:
    """A session that opened the printed address: it holds the cookie."""
    async with client(demo) as session:
        async with session.get(f"/?key={demo.key}", allow_redirects=False) as landing:
            assert landing.status == 303
        yield session


async def get_json(session: aiohttp.ClientSession, path: str) -> Any:
    """GET a JSON answer that must succeed."""
    async with session.get(path) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def post_json(session: aiohttp.ClientSession, path: str, body: Any) -> Any:
    """POST a JSON body the way the page does; the answer must succeed."""
    async with session.post(path, json=body) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def wait_message(
    session: aiohttp.ClientSession,
    chat: int,
    predicate: Callable[[dict[str, Any]], bool],
    within: float = 10.0,
) -> dict[str, Any]:
    """The latest message of a chat, as the page reads it, that matches `predicate`."""

    async def find() -> dict[str, Any] | None:
        data = await get_json(session, f"/api/chats/{chat}")
        found = [m for m in data["messages"] if predicate(m)]
        return found[-1] if found else None

    result: Awaitable[Any] = wait_for(find, f"a matching message in chat {chat}", within)
    return dict(await result)

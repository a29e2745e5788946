"""A CRM's receiver of npsbot's events for the tests: a real aiohttp server on 127.0.0.1
that checks every signature, and can answer errors or be down (connection refused)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.events.signing import HEADER, verify


@dataclass
class Receiver:
    """Records each request; accepts (200) the signed ones while `status` is 200."""

    secret: str
    status: int = 200
    # The receiver's clock for the signature's freshness (a test with a fake clock sets it).
    now: Callable[[], float] = time.time
    delay: float = 0.0  # seconds before answering (a slow receiver)
    requests: list[dict[str, Any]] = field(default_factory=list)  # every request's body
    accepted: list[dict[str, Any]] = field(default_factory=list)  # bodies answered 2xx
    bad_signatures: int = 0
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Where npsbot posts (a path, as a real receiver would have)."""
        return f"http://127.0.0.1:{self.port}/hooks/npsbot"

    async def start(self) -> None:
        """Listens (on a free port the first time, on the same port after a stop)."""
        app = web.Application()
        app.router.add_post("/hooks/npsbot", self._handle)
        # A slow answer still in progress must not hold a stop (or the test) up.
        self._runner = web.AppRunner(app, shutdown_timeout=0.1, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        """Stops listening: connections are refused until `start` again."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not verify(self.secret, body, request.headers.get(HEADER), now=self.now()):
            self.bad_signatures += 1
            return web.Response(status=401)
        event = json.loads(body)
        self.requests.append(event)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.status != 200:
            return web.Response(status=self.status)
        self.accepted.append(event)
        return web.Response(status=200, text="ok")

    def ids(self) -> list[str]:
        """The ids of the events accepted, in arrival order."""
        return [event["id"] for event in self.accepted]

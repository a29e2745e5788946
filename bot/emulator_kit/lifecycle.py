"""The lifecycle and public wiring both emulators' entry points share: start on a (free)
port, close, ``async with``, the base address, request logging, extra routes, waiting for a
change and dropping injected faults."""

from __future__ import annotations

from typing import Any, Self

from aiohttp import web

from bot.emulator_kit.changes import Changes, WaitUntil
from bot.emulator_kit.faults import Injections
from bot.emulator_kit.http import HttpServer


class EmulatorLifecycle:
    """An emulator's server on ``host:port``; a subclass builds ``_transport`` and ``_faults``
    in its ``__init__`` and stops its own parts in ``close()`` before calling this one."""

    _transport: HttpServer
    _faults: Injections[Any, Any]

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._changes = Changes()
        # wait_until(condition, timeout=5.0, message=None): poll ``condition`` until true
        # (re-checked on each state change), else AssertionError.
        self.wait_until: WaitUntil = self._changes.wait_until

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server."""
        if not self._transport.running:
            raise RuntimeError("emulator is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def log_requests(self) -> bool:
        """Whether each request is logged (the standalone emulator does)."""
        return self._transport.log_requests

    @log_requests.setter
    def log_requests(self, value: bool) -> None:
        self._transport.log_requests = value

    def add_routes(self, routes: list[web.RouteDef]) -> None:
        """Add extra aiohttp routes before ``start()`` (used by the standalone control API)."""
        self._transport.add_routes(routes)

    async def start(self) -> Self:
        """Start listening; with ``port=0`` a free port is chosen."""
        self.port = await self._transport.start(self.host, self.port)
        self._changes.open()
        return self

    async def close(self) -> None:
        """Stop the server."""
        await self._transport.stop()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def clear_faults(self) -> None:
        """Drop all pending injected faults and delays."""
        self._faults.clear()

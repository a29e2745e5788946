"""``python -m`` for an emulator: the command line (``--host``, ``--port`` and the
emulator's own options), request logging, and running until Ctrl+C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiohttp import web

from bot.emulator_kit.lifecycle import EmulatorLifecycle


def main(
    description: str,
    port: int,
    options: Callable[[argparse.ArgumentParser], None],
    serve: Callable[[argparse.Namespace], Coroutine[Any, Any, None]],
    argv: list[str] | None,
) -> None:
    """Parse ``argv`` (``options`` adds the emulator's own), then ``serve`` until Ctrl+C."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    options(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))


async def run_forever(
    emulator: EmulatorLifecycle,
    control: list[web.RouteDef],
    log: logging.Logger,
    name: str,
    started: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Start the emulator with its control routes, log where it listens, run ``started``,
    then run until cancelled."""
    emulator.add_routes(control)
    async with emulator:
        log.info("%s on %s", name, emulator.base_url)
        if started is not None:
            await started()
        await asyncio.Event().wait()

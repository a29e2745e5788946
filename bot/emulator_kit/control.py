"""The control APIs' common ground: routes under ``/_emulator``, JSON object bodies, and a
caller's slip answered 400 or 404 with a one-line reason as the body, never a 500."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from aiohttp import web

PREFIX = "/_emulator"

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def bad(reason: str) -> web.HTTPBadRequest:
    """A 400 with ``reason`` as the body."""
    return web.HTTPBadRequest(text=reason)


def not_found(reason: str) -> web.HTTPNotFound:
    """A 404 with ``reason`` as the body."""
    return web.HTTPNotFound(text=reason)


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object (400 when it is not one)."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise bad("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise bad("the body must be a JSON object")
    return body


def act(action: Callable[[], T]) -> T:
    """An emulated person's act; a missing button or row (AssertionError) is the caller's
    slip, answered with the assertion's first line."""
    try:
        return action()
    except AssertionError as missing:
        raise bad(str(missing).splitlines()[0]) from None


def _guarded(handler: Handler) -> Handler:
    """Turns a slip the routes' checks did not foresee into a 400, never a 500."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except (KeyError, ValueError, TypeError) as error:
            raise bad(str(error).strip("'\"") or type(error).__name__) from None

    return guarded


def control_table(routes: Sequence[tuple[str, str, Handler]]) -> list[web.RouteDef]:
    """``(method, path, handler)`` rows as aiohttp routes under ``PREFIX``, each guarded."""
    return [
        web.route(method, PREFIX + path, _guarded(handler)) for method, path, handler in routes
    ]

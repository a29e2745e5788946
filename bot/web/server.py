"""The bot's one HTTP server: the probes and /metrics (bot/web/probes.py), the API (/api/v1)
and the caller's routes.

Runs in the bot's process beside the update loop (aiohttp, already there for the Telegram
clients). The API exists only with API_TOKEN; every /api/v1 call but the OpenAPI document
needs `Authorization: Bearer <API_TOKEN>`; /metrics exists only with METRICS_TOKEN. Every
error, including aiohttp's own 404 and 405, is a JSON `ErrorBody`; an unexpected exception
is logged and answered 500 with no details. Routes given by the caller (the Telegram
webhook) are served as they are, and so are the survey links' HTML pages (/s/<token>, with
PUBLIC_URL: bot/web/survey_routes.py).
"""

from __future__ import annotations

import asyncio
import errno
import importlib
import json
import logging
import socket
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from bot.app import BotApp, StartupError
from bot.settings import Settings
from bot.web.api import ApiCall, ApiError, Endpoint, ErrorBody, authorized
from bot.web.openapi import openapi_endpoint
from bot.web.probes import PROBES, metrics_routes
from bot.web.survey_routes import survey_link_routes

log = logging.getLogger(__name__)

# The modules whose `ENDPOINTS` make up /api/v1, in the order the document lists them.
RESOURCE_MODULES = ("bot.web.api_read", "bot.web.api_responses", "bot.web.api_invitations")
# In-flight requests get this long to finish when the bot stops; then they are cancelled.
SHUTDOWN_TIMEOUT = 3.0
# Any route's body limit (the webhook's Telegram updates too); API endpoints set their own.
CLIENT_MAX_SIZE = 1024 * 1024
_ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    500: "internal",
    503: "unavailable",
}
_MESSAGES = {
    404: "There is nothing at this path.",
    405: "This path does not take this method.",
    413: "The request body is too large.",
}


def resource_endpoints() -> list[Endpoint]:
    """The `ENDPOINTS` of every module in RESOURCE_MODULES that exists."""
    endpoints: list[Endpoint] = []
    for name in RESOURCE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the module exists but imports something missing
                raise
            continue  # a resource not written yet
        endpoints.extend(module.ENDPOINTS)
    return endpoints


def _error(status: int, body: ErrorBody, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=body.model_dump_json(),
        content_type="application/json",
        headers=headers,
    )


def _api_error(exc: ApiError) -> web.Response:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return _error(exc.status, exc.body, headers)


@web.middleware
async def json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Turns every error into a JSON ErrorBody; unexpected ones are logged, answered 500."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except ApiError as exc:
        return _api_error(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _ERROR_CODES.get(exc.status, "error")
        message = _MESSAGES.get(exc.status, f"{exc.reason}.")
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return _error(exc.status, ErrorBody(error=code, message=message), headers)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("HTTP %s %s failed", request.method, request.path)
        body = ErrorBody(error="internal", message="Something went wrong on our side.")
        return _error(500, body)


def _is_json(content_type: str) -> bool:
    """application/json or a JSON-based type such as application/merge-patch+json."""
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


def _field(location: Sequence[int | str]) -> str | None:
    """A pydantic error location as a dotted field name ("attributes.agent", "items.3")."""
    return ".".join(str(part) for part in location) or None


def _invalid(exc: ValidationError, what: str) -> ApiError:
    """A 422 naming the first offending field."""
    first = exc.errors(include_url=False)[0]
    if first["type"] == "json_invalid":
        return ApiError(422, "invalid", "The body is not valid JSON.")
    field = _field(first["loc"])
    where = f"{field}: " if field else f"the {what}: "
    return ApiError(422, "invalid", f"{where}{first['msg']}", field=field)


def _nul_at(value: object, path: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """Where a JSON value holds a NUL character (PostgreSQL cannot store one in text)."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    items: list[tuple[str, object]] = []
    if isinstance(value, dict):
        items = [(str(k), v) for k, v in value.items()]
        for key in value:
            if "\x00" in key:
                return (*path, key)
    elif isinstance(value, list):
        items = [(str(i), v) for i, v in enumerate(value)]
    for key, item in items:
        found = _nul_at(item, (*path, key))
        if found is not None:
            return found
    return None


def _no_nul(value: object, what: str) -> None:
    """Refuses a NUL character anywhere in the input with a 422 naming the field: no text
    column takes one, so it would otherwise fail deep in the database as a 500."""
    found = _nul_at(value)
    if found is not None:
        field = ".".join(found) or None
        raise ApiError(422, "invalid", f"The {what} holds a NUL character.", field=field)


def _query_values(request: web.Request) -> dict[str, str | list[str]]:
    """The query string as a dict; a repeated parameter becomes a list (which a scalar
    field then refuses, naming it)."""
    values: dict[str, str | list[str]] = {}
    for key in request.query:
        found = request.query.getall(key)
        values[key] = found[0] if len(found) == 1 else list(found)
    return values


async def _body(request: web.Request, endpoint: Endpoint) -> tuple[BaseModel, bytes]:
    """The validated body: JSON only (415), at most max_body bytes (413), valid (422)."""
    assert endpoint.body is not None
    if not _is_json(request.content_type):
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    too_large = ApiError(413, "too_large", f"The body is larger than {endpoint.max_body} bytes.")
    if request.content_length is not None and request.content_length > endpoint.max_body:
        raise too_large
    raw = await request.read()
    if len(raw) > endpoint.max_body:
        raise too_large
    try:
        body = endpoint.body.model_validate_json(raw)
    except ValidationError as exc:
        raise _invalid(exc, "body") from None
    if b"\x00" in raw or b"\\u0000" in raw.lower():  # cheap: the walk runs when it may hit
        _no_nul(json.loads(raw), "body")
    return body, raw


def _serve(app: BotApp, token: str, endpoint: Endpoint) -> Any:
    """The aiohttp handler of one endpoint: token, body, query, then the endpoint's own."""

    async def handle(request: web.Request) -> web.Response:
        if not endpoint.public and not authorized(request.headers.get("Authorization"), token):
            raise ApiError(401, "unauthorized", "Send Authorization: Bearer <API_TOKEN>.")
        _no_nul(dict(request.match_info), "path")
        body, raw = None, b""
        if endpoint.body is not None:
            body, raw = await _body(request, endpoint)
        query = None
        if endpoint.query is not None:
            values = _query_values(request)
            _no_nul(values, "query")
            try:
                query = endpoint.query.model_validate(values)
            except ValidationError as exc:
                raise _invalid(exc, "query") from None
        call = ApiCall(app, body, query, dict(request.match_info), request.headers, raw)
        reply = await endpoint.handler(call)
        return web.Response(
            status=reply.status, text=reply.body.model_dump_json(), content_type="application/json"
        )

    return handle


def api_endpoints(settings: Settings) -> list[Endpoint]:
    """Everything served through the endpoint machinery: the probes always, the API (and
    its document, which describes the probes too) only with API_TOKEN."""
    if not settings.api_token:
        return [*PROBES]
    api = [*PROBES, *resource_endpoints()]
    return [*api, openapi_endpoint(api)]


def build_web_app(
    app: BotApp, settings: Settings, *, extra_routes: Sequence[web.RouteDef] = ()
) -> web.Application:
    """The aiohttp application: the probes, the API when API_TOKEN is set, /metrics when
    METRICS_TOKEN is, the extra routes."""
    endpoints = api_endpoints(settings)
    largest = max(endpoint.max_body for endpoint in endpoints)
    web_app = web.Application(
        middlewares=[json_errors], client_max_size=max(CLIENT_MAX_SIZE, largest)
    )
    for endpoint in endpoints:
        handler = _serve(app, settings.api_token, endpoint)
        web_app.router.add_route(endpoint.method, endpoint.path, handler)
    web_app.router.add_routes(metrics_routes(app, settings.metrics_token))
    web_app.router.add_routes(survey_link_routes(app))  # /s/<token> with PUBLIC_URL
    web_app.router.add_routes(extra_routes)
    return web_app


@dataclass(frozen=True)
class HttpServer:
    """The running server: where it listens (`port` is the bound one, also for port 0)."""

    web_app: web.Application
    host: str
    port: int

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:8080."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def _bind_failure(settings: Settings, exc: OSError) -> str:
    """One line for the operator when the server cannot listen."""
    reason = exc.strerror or str(exc)
    if exc.errno == errno.EADDRINUSE:
        return (
            f"HTTP_PORT {settings.http_port} is in use ({reason}): stop the program that "
            "listens there or choose another HTTP_PORT."
        )
    return (
        f"HTTP_HOST {settings.http_host} with HTTP_PORT {settings.http_port} cannot be "
        f"listened on ({reason}): use an address of this machine (e.g. 127.0.0.1 or "
        "0.0.0.0) and a free port."
    )


def check_listen(settings: Settings) -> None:
    """Raises StartupError (one line) when HTTP_HOST:HTTP_PORT cannot be listened on, so
    `npsbot run` stops before it migrates or polls. Binds and releases at once; the server
    binds again later (and says the same should the port be taken in between)."""
    if not settings.http_port:
        return  # any free port: nothing to check
    try:
        addresses = socket.getaddrinfo(
            settings.http_host or None,
            settings.http_port,
            type=socket.SOCK_STREAM,
            flags=socket.AI_PASSIVE,
        )
        for family, kind, protocol, _, address in addresses:
            with socket.socket(family, kind, protocol) as probe:
                # As asyncio binds: a port only in TIME_WAIT is free, a listening one is not.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(address)
    except OSError as exc:
        raise StartupError(_bind_failure(settings, exc)) from None


@asynccontextmanager
async def serve_http(
    app: BotApp, settings: Settings, *, extra_routes: Sequence[web.RouteDef] = ()
) -> AsyncIterator[HttpServer]:
    """Listens on HTTP_HOST:HTTP_PORT while the block runs, then stops gracefully.

    A port that is taken (or an address that is not this machine's) raises StartupError
    with one line.
    """
    web_app = build_web_app(app, settings, extra_routes=extra_routes)
    runner = web.AppRunner(web_app, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.http_host, settings.http_port)
        try:
            await site.start()
        except OSError as exc:
            raise StartupError(_bind_failure(settings, exc)) from None
        server = HttpServer(web_app, settings.http_host, runner.addresses[0][1])
        log.info("HTTP server on %s (API %s)", server.url, "on" if settings.api_token else "off")
        yield server
    finally:
        await runner.cleanup()


@asynccontextmanager
async def serve_http_if_enabled(
    app: BotApp, settings: Settings, *, extra_routes: Sequence[web.RouteDef] = ()
) -> AsyncIterator[HttpServer | None]:
    """`serve_http` when WEBHOOK_URL, API_TOKEN, EVENTS_URLS or METRICS_TOKEN is set;
    else nothing."""
    if not settings.http_enabled:
        yield None
        return
    async with serve_http(app, settings, extra_routes=extra_routes) as server:
        yield server

"""The HTTP server's own behaviour: health, the bearer token, body and query checks, and
every error as a JSON ErrorBody, through a real client against the real server."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bot.app import BotApp, StartupError
from bot.web.api import MAX_BODY_BYTES
from bot.web.server import HttpServer, check_listen, serve_http
from tests.web.conftest import API_TOKEN, AUTH

ORDER = {"customer": "Olga", "lines": [{"sku": "A-1", "qty": 2}]}


async def _json(response: aiohttp.ClientResponse) -> dict[str, object]:
    assert response.content_type == "application/json", await response.text()
    body = await response.json()
    assert isinstance(body, dict)
    return body


async def _error(response: aiohttp.ClientResponse, status: int, error: str) -> dict[str, object]:
    """The response is the given status with an ErrorBody of that error code."""
    body = await _json(response)
    assert response.status == status, body
    assert body["error"] == error and isinstance(body["message"], str) and body["message"]
    assert set(body) == {"error", "message", "field"}
    return body


async def test_healthz_answers_ok_without_a_token(
    server: HttpServer, client: aiohttp.ClientSession
) -> None:
    async with client.get(f"{server.url}/healthz") as response:
        assert response.status == 200
        assert await _json(response) == {"status": "ok"}


async def test_the_api_needs_the_bearer_token(
    server: HttpServer, client: aiohttp.ClientSession
) -> None:
    url = f"{server.url}/api/v1/surveys"
    wrong = [
        {},
        {"Authorization": f"Bearer {API_TOKEN[:-1]}x"},
        {"Authorization": f"Bearer {API_TOKEN}extra"},
        {"Authorization": f"Basic {API_TOKEN}"},
        {"Authorization": API_TOKEN},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer ünïcode"},
    ]
    for headers in wrong:
        async with client.get(url, headers=headers) as response:
            await _error(response, 401, "unauthorized")
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert API_TOKEN not in await response.text()
    async with client.get(url, headers={"Authorization": f"bearer  {API_TOKEN}"}) as response:
        assert response.status == 200


async def test_without_api_token_there_is_no_api_but_health_stays(
    bot_app: BotApp, client: aiohttp.ClientSession
) -> None:
    settings = bot_app.settings.model_copy(update={"api_token": ""})
    async with serve_http(bot_app, settings) as server:
        for path in ("/api/v1/surveys", "/api/v1/openapi.json", "/api/v1/responses"):
            async with client.get(f"{server.url}{path}", headers=AUTH) as response:
                await _error(response, 404, "not_found")
        async with client.get(f"{server.url}/healthz") as response:
            assert response.status == 200


async def test_unknown_routes_and_methods_are_json_errors(
    server: HttpServer, client: aiohttp.ClientSession
) -> None:
    for path in ("/", "/nope", "/api/v1/nope", "/api/v2/surveys"):
        async with client.get(f"{server.url}{path}", headers=AUTH) as response:
            await _error(response, 404, "not_found")
    async with client.delete(f"{server.url}/api/v1/surveys", headers=AUTH) as response:
        await _error(response, 405, "method_not_allowed")
        assert "GET" in response.headers["Allow"]


@pytest.mark.usefixtures("echo_endpoints")
async def test_a_body_is_validated_and_reaches_the_handler(
    server: HttpServer, client: aiohttp.ClientSession
) -> None:
    async with client.post(f"{server.url}/api/v1/echo/7", json=ORDER, headers=AUTH) as response:
        body = await _json(response)
        assert response.status == 201, body
    assert body == {"id": "7", "order": ORDER, "bytes": len(json.dumps(ORDER))}
    # A JSON-based media type with a charset is JSON too.
    headers = {**AUTH, "Content-Type": "application/merge-patch+json; charset=utf-8"}
    data = json.dumps(ORDER)
    async with client.post(f"{server.url}/api/v1/echo/8", data=data, headers=headers) as response:
        assert response.status == 201


@pytest.mark.usefixtures("echo_endpoints")
async def test_a_body_that_is_not_json_is_415(
    server: HttpServer, client: aiohttp.ClientSession
) -> None:
    url = f"{server.url}/api/v1/echo/1"
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {**AUTH, **({"Content-Type": content_type} if content_type else {})}
        async with client.post(url, data=json.dumps(ORDER).encode(), headers=headers) as response:
            await _error(response, 415, "unsupported_media_type")
    # The token comes first: no hint about the body to a caller without it.
    async with client.post(url, data="x", headers={"Content-Type": "text/plain"}) as response:
        await _error(response, 401, "unauthorized")


@pytest.mark.usefixtures("echo_endpoints")
async def test_a_body_over_64_kb_is_413(server: HttpServer, client: aiohttp.ClientSession) -> None:
    url = f"{server.url}/api/v1/echo/1"
    big = json.dumps({**ORDER, "customer": "x" * MAX_BODY_BYTES}).encode()
    async with client.post(
        url, data=big, headers={**AUTH, "Content-Type": "application/json"}
    ) as response:
        await _error(response, 413, "too_large")

    async def chunks(data: bytes) -> AsyncIterator[bytes]:  # no Content-Length
        for start in range(0, len(data), 4096):
            yield data[start : start + 4096]

    # Counted as read; and far over aiohttp's own limit for any route, still a JSON 413.
    huge = b"[" + b"1," * (1024 * 1024) + b"1]"
    for data in (big, huge):
        async with client.post(
            url, data=chunks(data), headers={**AUTH, "Content-Type": "application/json"}
        ) as response:
            await _error(response, 413, "too_large")


@pytest.mark.usefixtures("echo_endpoints")
async def test_invalid_json_and_invalid_fields_are_422_naming_the_field(
    server: HttpServer, client: aiohttp.ClientSession
) -> None:
    url = f"{server.url}/api/v1/echo/1"
    headers = {**AUTH, "Content-Type": "application/json"}
    cases = [
        (b"{not json", None),
        (b"", None),
        (b"[1, 2]", None),
        (json.dumps({"lines": []}).encode(), "customer"),
        (
            json.dumps({**ORDER, "lines": [{"sku": "A", "qty": 1}, {"sku": "B"}]}).encode(),
            "lines.1.qty",
        ),
        (json.dumps({**ORDER, "lines": [{"sku": "A", "qty": "many"}]}).encode(), "lines.0.qty"),
        (json.dumps({**ORDER, "coupon": "FREE"}).encode(), "coupon"),
        (json.dumps({**ORDER, "customer": "Ol\x00ga"}).encode(), "customer"),
        (json.dumps({**ORDER, "lines": [{"sku": "A\x00", "qty": 1}]}).encode(), "lines.0.sku"),
    ]
    for data, field in cases:
        async with client.post(url, data=data, headers=headers) as response:
            body = await _error(response, 422, "invalid")
            assert body["field"] == field, (data, body)
    async with client.post(f"{server.url}/api/v1/echo/a%00", json=ORDER, headers=AUTH) as response:
        body = await _error(response, 422, "invalid")
        assert body["field"] == "id"


async def test_queries_are_validated_naming_the_field(
    server: HttpServer, client: aiohttp.ClientSession
) -> None:
    cases = [
        ("/api/v1/responses?limit=0", "limit"),
        ("/api/v1/responses?limit=1001", "limit"),
        ("/api/v1/responses?limit=ten", "limit"),
        ("/api/v1/responses?limit=1&limit=2", "limit"),
        ("/api/v1/responses?since=yesterday", "since"),
        ("/api/v1/responses?since=2026-01-01T10:00:00", "since"),  # no time zone
        ("/api/v1/responses?since=0001-01-01T00:00:00%2B05:00", "since"),
        ("/api/v1/responses?cursor=bm90LWEtY3Vyc29y", "cursor"),
        ("/api/v1/responses?colour=red", "colour"),
        ("/api/v1/nps?by=planet", "by"),
        ("/api/v1/nps?period=someday", "period"),
        ("/api/v1/nps?period=2099-01", "period"),
        # No text column takes a NUL character: refused before it reaches the database.
        ("/api/v1/nps?survey=a%00b", "survey"),
    ]
    for path, field in cases:
        async with client.get(f"{server.url}{path}", headers=AUTH) as response:
            body = await _error(response, 422, "invalid")
            assert body["field"] == field, (path, body)


@pytest.mark.usefixtures("echo_endpoints")
async def test_an_unexpected_exception_is_a_logged_500_without_internals(
    server: HttpServer, client: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="bot.web.server"):
        async with client.get(f"{server.url}/api/v1/explode", headers=AUTH) as response:
            body = await _error(response, 500, "internal")
    text = json.dumps(body)
    assert "hunter2" not in text and "RuntimeError" not in text
    [record] = [r for r in caplog.records if r.name == "bot.web.server"]
    assert record.exc_info is not None and "GET /api/v1/explode" in record.getMessage()


async def test_extra_routes_are_served_and_their_errors_are_json(
    bot_app: BotApp, client: aiohttp.ClientSession
) -> None:
    async def hook(request: web.Request) -> web.Response:
        if request.headers.get("X-Secret") != "s3cret":
            raise web.HTTPUnauthorized()
        return web.json_response({"ok": True})

    routes = [web.post("/telegram/hook", hook)]
    async with serve_http(bot_app, bot_app.settings, extra_routes=routes) as server:
        url = f"{server.url}/telegram/hook"
        async with client.post(url, json={}, headers={"X-Secret": "s3cret"}) as response:
            assert (response.status, await response.json()) == (200, {"ok": True})
        async with client.post(url, json={}) as response:
            await _error(response, 401, "unauthorized")


async def test_port_zero_gives_the_bound_port_and_a_taken_port_is_one_line(
    bot_app: BotApp, client: aiohttp.ClientSession
) -> None:
    async with serve_http(bot_app, bot_app.settings) as first:
        assert first.port > 0 and first.url == f"http://127.0.0.1:{first.port}"
        taken = bot_app.settings.model_copy(update={"http_port": first.port})
        with pytest.raises(StartupError) as caught:
            async with serve_http(bot_app, taken):
                pass
        assert str(caught.value).startswith(f"HTTP_PORT {first.port} is in use (")
        assert "\n" not in str(caught.value)
        # `npsbot run` checks the same before it starts anything.
        with pytest.raises(StartupError, match=f"^HTTP_PORT {first.port} is in use"):
            check_listen(taken)
        check_listen(bot_app.settings)  # port 0: any free port will do
        elsewhere = taken.model_copy(update={"http_host": "192.0.2.1"})  # not this machine's
        with pytest.raises(StartupError, match=r"^HTTP_HOST 192\.0\.2\.1 with HTTP_PORT"):
            check_listen(elsewhere)
        # The first server is unharmed.
        async with client.get(f"{first.url}/healthz") as response:
            assert response.status == 200
    # Stopped: the port is free again and nothing answers.
    with socket.create_server(("127.0.0.1", first.port)):
        pass

"""The OpenAPI document: valid OpenAPI 3.1 generated from the endpoints, served without the
token; and schemathesis, a property-based API tester, against the live server: no 5xx and
every response as the document says, for whatever endpoints the resource modules register."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import aiohttp
import hypothesis
import pytest
import schemathesis
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from bot.app import BotApp
from bot.web.api_responses import SETTLE
from bot.web.openapi import OPENAPI_PATH, error_statuses, openapi_path
from bot.web.server import HttpServer, api_endpoints
from nps.scope import SEGMENTS
from storage.models import utcnow
from tests.conftest import BACKENDS
from tests.web.conftest import AUTH
from tests.web.data import add_survey, answered, default_survey

# Per operation and generation mode: enough to find a crash, quick enough for every run.
EXAMPLES = 15


async def _document(server: HttpServer, client: aiohttp.ClientSession) -> dict[str, Any]:
    async with client.get(f"{server.url}{OPENAPI_PATH}") as response:  # no token
        assert response.status == 200
        assert response.content_type == "application/json"
        document = await response.json()
    assert isinstance(document, dict)
    return document


@pytest.mark.usefixtures("echo_endpoints")  # an endpoint with a body and a path parameter
async def test_the_document_is_valid_openapi_3_1_and_describes_every_endpoint(
    bot_app: BotApp, server: HttpServer, client: aiohttp.ClientSession
) -> None:
    document = await _document(server, client)
    schema = schemathesis.openapi.from_dict(document)
    schema.validate()  # against the OpenAPI 3.1 meta-schema; raises when invalid
    assert document["openapi"] == "3.1.0"
    endpoints = api_endpoints(bot_app.settings)
    documented = {
        (method.upper(), path) for path, methods in document["paths"].items() for method in methods
    }
    assert documented == {(e.method, openapi_path(e.path)) for e in endpoints}
    assert len(list(schema.get_all_operations())) == len(endpoints)
    for endpoint in endpoints:
        operation = document["paths"][openapi_path(endpoint.path)][endpoint.method.lower()]
        errors = {int(status) for status in operation["responses"]} - set(endpoint.responses)
        assert errors == set(error_statuses(endpoint)), endpoint.path
        assert (operation.get("security") == []) == endpoint.public
    echo = document["paths"]["/api/v1/echo/{id}"]["post"]
    assert {"401", "413", "415", "422", "201"} == set(echo["responses"])
    assert echo["parameters"] == [
        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    ]
    assert echo["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Order"
    }
    nps = document["paths"]["/api/v1/nps"]["get"]
    by = next(p for p in nps["parameters"] if p["name"] == "by")
    assert by["schema"] == {"type": "string", "enum": list(SEGMENTS)} and not by["required"]
    limit = next(
        p
        for p in document["paths"]["/api/v1/responses"]["get"]["parameters"]
        if p["name"] == "limit"
    )
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}
    for path in ("/api/v1/invitations", "/api/v1/invitations/batch"):
        (key,) = (
            p
            for p in document["paths"][path]["post"]["parameters"]
            if p["name"] == "Idempotency-Key"
        )
        assert key["in"] == "header" and not key["required"], path
        assert key["schema"] == {"type": "string"} and "200 characters" in key["description"]
    assert all(
        p["in"] != "header"
        for p in document["paths"]["/api/v1/invitations/{id}"]["get"]["parameters"]
    )
    assert document["components"]["securitySchemes"] == {
        "bearerAuth": {"type": "http", "scheme": "bearer"}
    }
    assert document["paths"]["/healthz"]["get"]["security"] == []


def _fuzz(base_url: str, document: dict[str, Any]) -> list[str]:
    """Runs schemathesis on every operation, valid and invalid inputs; the labels run."""
    schema = schemathesis.openapi.from_dict(document)
    checks = [not_a_server_error, response_schema_conformance, status_code_conformance]
    ran = []
    for result in schema.get_all_operations():
        operation = result.ok()
        declared = document["paths"][operation.path][operation.method.lower()]
        modes = [schemathesis.GenerationMode.POSITIVE]
        if "parameters" in declared or "requestBody" in declared:  # else nothing to break
            modes.append(schemathesis.GenerationMode.NEGATIVE)
        for mode in modes:

            @hypothesis.settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(hypothesis.HealthCheck),
            )
            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            def call(case: schemathesis.Case) -> None:
                response = case.call(base_url=base_url, headers=AUTH, timeout=10)
                case.validate_response(response, checks=checks)

            call()
            ran.append(f"{operation.label} {mode.value}")
    return ran


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_schemathesis_finds_no_server_error_and_no_undocumented_response(
    bot_app: BotApp,
    server: HttpServer,
    client: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = bot_app.db
    # Answers to list and count, eNPS ones included (a full group, listed after its day).
    nps_id = await default_survey(db)
    pulse = await add_survey(db, "pulse", "Team pulse", kind="enps")
    now = utcnow()
    for user in range(6):
        await answered(db, nps_id, 100 + user, user + 5, at=now - timedelta(days=user), agent="o")
        await answered(db, pulse, 200 + user, 10 - user, at=now - timedelta(days=3))
    monkeypatch.setattr(bot_app, "clock", lambda: utcnow() + SETTLE)
    document = await _document(server, client)
    # schemathesis calls with `requests` (blocking): from a thread, the server runs here.
    ran = await asyncio.to_thread(_fuzz, server.url, document)
    assert "GET /api/v1/responses negative" in ran and "GET /api/v1/nps positive" in ran
    assert len({label.rsplit(" ", 1)[0] for label in ran}) == len(api_endpoints(bot_app.settings))

"""The OpenAPI 3.1 document, generated from the endpoints' declarations (bot/web/api.py).

Nothing here is written by hand per endpoint: paths, parameters, bodies and responses come
from each `Endpoint` and the JSON Schema pydantic gives its models, so the document says
what the server validates and answers. The server adds the same error statuses it documents
here (`error_statuses`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, RootModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from bot.web.api import ApiCall, Endpoint, ErrorBody, Reply

OPENAPI_PATH = "/api/v1/openapi.json"
REF_TEMPLATE = "#/components/schemas/{model}"
SECURITY_SCHEME = "bearerAuth"
JSON = "application/json"
# {name} or {name:regex} in an aiohttp route.
_PLACEHOLDER = re.compile(r"\{(\w+)(?::[^{}]*)?\}")


class OpenApiDocument(RootModel[dict[str, Any]]):
    """The OpenAPI 3.1 document of this API (what GET /api/v1/openapi.json answers)."""


def error_statuses(endpoint: Endpoint) -> dict[int, str]:
    """The error statuses an endpoint can answer, with what each means."""
    errors: dict[int, str] = {}
    if not endpoint.public:
        errors[401] = "The bearer token is missing or wrong."
    if endpoint.body is not None:
        errors[413] = f"The body is larger than {endpoint.max_body} bytes."
        errors[415] = "The body is not JSON (Content-Type: application/json)."
    if endpoint.body is not None or endpoint.query is not None or "{" in endpoint.path:
        errors[422] = "The body, query or path is invalid; `field` names what is wrong."
    if endpoint.headers:
        errors[422] = "The body, query, path or a header is invalid; `field` names what is wrong."
    errors.update(endpoint.errors)
    return dict(sorted(errors.items()))


def openapi_path(path: str) -> str:
    """An aiohttp route as an OpenAPI path: `{id:\\d+}` becomes `{id}`."""
    return _PLACEHOLDER.sub(lambda match: "{" + match.group(1) + "}", path)


def operation_id(endpoint: Endpoint) -> str:
    """The endpoint's operationId (its handler's name unless it names one)."""
    return endpoint.operation_id or endpoint.handler.__name__


def _models(endpoints: Sequence[Endpoint]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    """Every model the endpoints use, once, with the side of the wire it is on."""
    models: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {}
    for endpoint in endpoints:
        if endpoint.body is not None:
            models[(endpoint.body, "validation")] = None
        if endpoint.query is not None:
            models[(endpoint.query, "validation")] = None
        for model in endpoint.responses.values():
            models[(model, "serialization")] = None
    models[(ErrorBody, "serialization")] = None
    return list(models)


def _ref_name(ref: dict[str, Any]) -> str:
    return str(ref["$ref"]).rsplit("/", 1)[-1]


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema: a query string cannot carry null, only leave it out."""
    # Title and description belong to the parameter, not to its value's schema.
    schema = {k: v for k, v in schema.items() if k not in ("title", "description")}
    if schema.get("default", ...) is None:
        del schema["default"]
    options = schema.get("anyOf")
    if isinstance(options, list):
        kept = [option for option in options if option != {"type": "null"}]
        if len(kept) == 1:
            del schema["anyOf"]
            schema = {**kept[0], **schema}
        else:
            schema["anyOf"] = kept
    return schema


def _parameters(
    endpoint: Endpoint, refs: dict[Any, Any], schemas: dict[str, Any]
) -> list[dict[str, Any]]:
    """Path placeholders (strings), the query model's fields and the optional headers."""
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PLACEHOLDER.findall(endpoint.path)
    ]
    if endpoint.query is not None:
        model = schemas[_ref_name(refs[(endpoint.query, "validation")])]
        required = set(model.get("required", ()))
        for name, schema in model.get("properties", {}).items():
            parameter: dict[str, Any] = {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": _without_null(schema),
            }
            if "description" in schema:
                parameter["description"] = schema["description"]
            parameters.append(parameter)
    parameters.extend(
        {
            "name": name,
            "in": "header",
            "required": False,
            "description": description,
            "schema": {"type": "string"},
        }
        for name, description in endpoint.headers.items()
    )
    return parameters


def _content(ref: dict[str, Any]) -> dict[str, Any]:
    return {JSON: {"schema": ref}}


def _describe(model: type[BaseModel], status: int) -> str:
    """A response's description: the model's docstring's first line, else the status."""
    doc = (model.__doc__ or "").strip().splitlines()
    return doc[0] if doc else HTTPStatus(status).phrase


def _operation(
    endpoint: Endpoint, refs: dict[Any, Any], schemas: dict[str, Any]
) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, model in sorted(endpoint.responses.items()):
        responses[str(status)] = {
            "description": _describe(model, status),
            "content": _content(refs[(model, "serialization")]),
        }
    error = refs[(ErrorBody, "serialization")]
    for status, meaning in error_statuses(endpoint).items():
        responses[str(status)] = {"description": meaning, "content": _content(error)}
    if "401" in responses:
        responses["401"]["headers"] = {
            "WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}
        }
    operation: dict[str, Any] = {
        "operationId": operation_id(endpoint),
        "summary": endpoint.summary,
        "responses": responses,
    }
    parameters = _parameters(endpoint, refs, schemas)
    if parameters:
        operation["parameters"] = parameters
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": _content(refs[(endpoint.body, "validation")]),
        }
    if endpoint.public:
        operation["security"] = []
    return operation


def build_document(endpoints: Sequence[Endpoint], *, version: str = "1") -> dict[str, Any]:
    """The OpenAPI 3.1 document of these endpoints."""
    seen: dict[str, Endpoint] = {}
    for endpoint in endpoints:
        name = operation_id(endpoint)
        if name in seen:
            raise ValueError(f"two endpoints share the operationId {name!r}")
        seen[name] = endpoint
    refs, top = models_json_schema(_models(endpoints), ref_template=REF_TEMPLATE)
    schemas: dict[str, Any] = top.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        path = paths.setdefault(openapi_path(endpoint.path), {})
        path[endpoint.method.lower()] = _operation(endpoint, refs, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "npsbot API",
            "version": version,
            "description": "Health, NPS figures, answers and survey invitations of an npsbot. "
            "Every /api/v1 call but this document needs `Authorization: Bearer <API_TOKEN>`; "
            "errors are JSON objects with `error`, `message` and, when one is to blame, `field`.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {SECURITY_SCHEME: {"type": "http", "scheme": "bearer"}},
        },
        "security": [{SECURITY_SCHEME: []}],
    }


@dataclass
class _Document:
    """The document once built (it describes the endpoint serving it too)."""

    value: dict[str, Any]

    async def openapi(self, call: ApiCall) -> Reply:
        """Answers the OpenAPI document."""
        return Reply(200, OpenApiDocument(self.value))


def openapi_endpoint(endpoints: Sequence[Endpoint]) -> Endpoint:
    """`GET /api/v1/openapi.json` (no token needed), documenting `endpoints` and itself."""
    document = _Document({})
    endpoint = Endpoint(
        method="GET",
        path=OPENAPI_PATH,
        summary="This document: the API's OpenAPI 3.1 description.",
        handler=document.openapi,
        responses={200: OpenApiDocument},
        public=True,
        operation_id="openapi",
    )
    document.value = build_document([*endpoints, endpoint])
    return endpoint

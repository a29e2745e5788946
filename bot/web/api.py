"""What an API endpoint is: a handler with the pydantic types of what it takes and gives.

Each resource module (e.g. `bot/web/api_invitations.py`) lists its `ENDPOINTS`; the server
(`bot/web/server.py`) validates the body and the query string with the declared models,
checks the bearer token unless the endpoint is public, turns `ApiError` into a JSON error,
and the OpenAPI document (`bot/web/openapi.py`) is generated from the same declarations,
so the document cannot drift from the code.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from bot.app import BotApp

#: Request bodies above this many bytes are refused with 413 (an endpoint may allow more).
MAX_BODY_BYTES = 64 * 1024


class ErrorBody(BaseModel):
    """Every error the API answers: a machine-readable code and a sentence for people."""

    model_config = ConfigDict(extra="forbid")

    error: str  # e.g. "unauthorized", "not_found", "invalid", "conflict", "too_large"
    message: str
    field: str | None = None  # the offending field of the body or query, when one is


class ApiError(Exception):
    """Raised by a handler (or the server) to answer with an `ErrorBody`."""

    def __init__(self, status: int, error: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.body = ErrorBody(error=error, message=message, field=field)


def authorized(header: str | None, token: str) -> bool:
    """An Authorization header carrying `Bearer <token>`, compared in constant time."""
    scheme, _, value = (header or "").strip().partition(" ")
    given = value.strip().encode("utf-8", "replace")
    # Compared even for a wrong scheme, so the time says nothing about the header.
    same = hmac.compare_digest(given, token.encode())
    return scheme.lower() == "bearer" and same


@dataclass(frozen=True)
class ApiCall:
    """One validated request, as a handler sees it."""

    app: BotApp
    body: BaseModel | None  # an instance of Endpoint.body, when it declares one
    query: BaseModel | None  # an instance of Endpoint.query, when it declares one
    path: Mapping[str, str]  # the route's {placeholders}
    headers: Mapping[str, str]  # case-insensitive (aiohttp's CIMultiDictProxy)
    raw_body: bytes = b""  # exactly as received (idempotency compares bodies)


@dataclass(frozen=True)
class Reply:
    """What a handler answers: a status and a body of one of the declared response types."""

    status: int
    body: BaseModel


Handler = Callable[[ApiCall], Awaitable[Reply]]


@dataclass(frozen=True)
class Endpoint:
    """One operation of the API, declared with its types (the OpenAPI document's source)."""

    method: str  # "GET", "POST", "DELETE"
    path: str  # aiohttp's pattern, e.g. "/api/v1/invitations/{id}"
    summary: str  # one line, shown in the OpenAPI document
    handler: Handler
    # Success statuses and their body types; the server adds the error statuses itself.
    responses: Mapping[int, type[BaseModel]]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    # Extra error statuses this endpoint itself raises (404, 409…), with what they mean.
    errors: Mapping[int, str] = field(default_factory=dict)
    public: bool = False  # no bearer token needed (the OpenAPI document itself)
    operation_id: str = ""  # defaults to the handler's name
    # The largest body this endpoint takes (413 above it); a batch may need more.
    max_body: int = MAX_BODY_BYTES
    # Optional request headers the handler reads (strings): name → what it does.
    headers: Mapping[str, str] = field(default_factory=dict)

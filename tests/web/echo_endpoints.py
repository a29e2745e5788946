"""Endpoints that exist only in tests: one taking a JSON body (the server's 413, 415 and
422 for bodies are tested with it, whatever resource modules exist) and one that fails."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from bot.web.api import ApiCall, Endpoint, Reply


class Line(BaseModel):
    """One line of an order."""

    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=20)
    qty: int = Field(ge=1, le=100)


class Order(BaseModel):
    """An order to echo back."""

    model_config = ConfigDict(extra="forbid")

    customer: str = Field(min_length=1, max_length=40)
    lines: list[Line] = Field(max_length=10)


class Echoed(BaseModel):
    """What was received, and the path's id."""

    id: str
    order: Order
    bytes: int


async def echo(call: ApiCall) -> Reply:
    """Answers the validated body."""
    assert isinstance(call.body, Order)
    return Reply(201, Echoed(id=call.path["id"], order=call.body, bytes=len(call.raw_body)))


async def explode(call: ApiCall) -> Reply:
    """Fails the way a bug would."""
    raise RuntimeError("secret internals: postgresql://user:hunter2@db/x")


ENDPOINTS = [
    Endpoint(
        method="POST",
        path="/api/v1/echo/{id}",
        summary="Echoes an order.",
        handler=echo,
        responses={201: Echoed},
        body=Order,
    ),
    Endpoint(
        method="GET",
        path="/api/v1/explode",
        summary="Fails.",
        handler=explode,
        responses={200: Echoed},
    ),
]

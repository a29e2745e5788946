"""Typed access to the models' tables for Core statements (update, delete, insert ... select)."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Result, Table
from sqlalchemy.orm import DeclarativeBase


def table_of(model: type[DeclarativeBase]) -> Table:
    """The model's `Table`: SQLAlchemy types `__table__` as a FromClause, which `update()`,
    `delete()` and `insert()` do not accept, though a declarative model's is always a Table."""
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a single table")
    return table


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE matched (`execute` is typed as returning a plain
    Result, but for those statements it is a CursorResult, which has the count)."""
    return cast(CursorResult[Any], result).rowcount

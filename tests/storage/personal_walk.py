"""The schema walk: every column of every row of every table, searched for a person."""

from __future__ import annotations

import importlib
import pkgutil
import re
from types import ModuleType
from typing import Any

from sqlalchemy import select

import storage
from storage.db import Database
from storage.models import Base


def model_modules() -> list[ModuleType]:
    """Every storage module that defines tables (models.py, *_models.py), imported."""
    return [
        importlib.import_module(f"storage.{info.name}")
        for info in pkgutil.iter_modules(storage.__path__)
        if info.name == "models" or info.name.endswith("_models")
    ]


def _mentions(value: Any, user_id: int, names: tuple[str, ...]) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int):
        return value == user_id
    text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    text = text.lower()
    # The id as a whole token: "105" inside a random hex secret ("…e105f…") is not the person.
    whole = re.search(rf"(?<![0-9a-z]){user_id}(?![0-9a-z])", text) is not None
    return whole or any(name.lower() in text for name in names)


def _is_person_column(table: str, column: str) -> bool:
    """Columns that hold a person's internal id (respondents.id, every respondent_id)."""
    return column == "respondent_id" or (table, column) == ("respondents", "id")


async def rows_about(
    db: Database, user_id: int, names: tuple[str, ...], person_id: int | None = None
) -> list[str]:
    """ "table.column = value" for every stored value that holds the Telegram id or one of
    the names, and every person column that holds the person's internal id `person_id`
    (a small number: searched only where a person's id is stored)."""
    model_modules()
    found: list[str] = []
    async with db.snapshot() as store:
        session = store.responses._session
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                for column, value in zip(table.columns, row, strict=True):
                    person = person_id is not None and value == person_id
                    if _mentions(value, user_id, names) or (
                        person and _is_person_column(table.name, column.name)
                    ):
                        found.append(f"{table.name}.{column.name} = {value!r:.120}")
    return found

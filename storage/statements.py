"""Driver statements (storage/driver.py), built once from Core and compiled for each dialect.

Each `Statement` is written once, as a Core construct on the tables' metadata, and compiled
here for PostgreSQL (asyncpg: `$1::TYPE` parameters) and SQLite (`?`): no SQL text is
written twice or rewritten from one dialect's syntax to the other's. Callers pass the
values positionally, in the order the statement declares (`params`); each dialect's text
takes them in its own order (SQLite's `?` repeats a value used twice), and constants the
construct holds (a LIMIT) are filled in here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import Executable

# The dialects the engine itself uses (storage/db.py), so types render as it renders them.
_DIALECTS: dict[str, Dialect] = {
    "postgresql": PGDialect_asyncpg(),
    "sqlite": SQLiteDialect_aiosqlite(),
}
_MISSING = object()


@dataclass(frozen=True, slots=True)
class Compiled:
    """One dialect's text, and where each of its parameters comes from."""

    text: str
    # Per parameter of the text: the caller's argument index, or -1 for a constant.
    sources: tuple[int, ...]
    constants: tuple[Any, ...]
    # True when the text takes the caller's arguments exactly as passed.
    direct: bool

    def args(self, values: Sequence[Any]) -> Sequence[Any]:
        """The caller's values in the text's order."""
        if self.direct:
            return values
        return tuple(
            values[i] if i >= 0 else constant
            for i, constant in zip(self.sources, self.constants, strict=True)
        )


def _compile(construct: Executable, dialect: Dialect, params: tuple[str, ...]) -> Compiled:
    compiled = construct.compile(dialect=dialect)  # type: ignore[attr-defined]
    names = tuple(compiled.positiontup or ())
    given = compiled.params
    sources: list[int] = []
    constants: list[Any] = []
    for name in names:
        if name in params:
            sources.append(params.index(name))
            constants.append(None)
        elif given.get(name, _MISSING) not in (None, _MISSING):
            sources.append(-1)  # a value the construct holds (LIMIT 1)
            constants.append(given[name])
        else:
            raise ValueError(f"parameter {name!r} is not among the declared {params}")
    unused = set(params) - set(names)
    if unused:
        raise ValueError(f"declared parameters the statement never takes: {sorted(unused)}")
    direct = tuple(sources) == tuple(range(len(params)))
    return Compiled(str(compiled), tuple(sources), tuple(constants), direct)


class _NotOnSQLite(Compiled):
    """The SQLite side of a PostgreSQL-only statement: running it is a bug, said loudly."""

    __slots__ = ()

    def args(self, values: Sequence[Any]) -> Sequence[Any]:
        """Refuses: SQLite has no form of this statement."""
        raise NotImplementedError(f"a PostgreSQL-only statement run on SQLite: {self.text}")


class Statement:
    """A statement compiled once per dialect; `params` names its positional arguments."""

    __slots__ = ("params", "postgresql", "sqlite")

    def __init__(
        self, build: Callable[[str], Executable], *params: str, sqlite: bool = True
    ) -> None:
        """`build(dialect)` returns the Core construct (dialect-specific for ON CONFLICT);
        `sqlite=False` for a statement SQLite has no form of (a data-modifying CTE)."""
        self.params = params
        self.postgresql = _compile(build("postgresql"), _DIALECTS["postgresql"], params)
        if sqlite:
            self.sqlite = _compile(build("sqlite"), _DIALECTS["sqlite"], params)
        else:
            self.sqlite = _NotOnSQLite(self.postgresql.text, (), (), direct=False)

    def for_dialect(self, sqlite: bool) -> Compiled:
        """The text for SQLite (True) or PostgreSQL."""
        return self.sqlite if sqlite else self.postgresql

    def __repr__(self) -> str:
        return f"Statement({self.postgresql.text!r})"


def same(construct: Executable, *params: str) -> Statement:
    """A statement whose construct is the same on both dialects."""
    return Statement(lambda _dialect: construct, *params)

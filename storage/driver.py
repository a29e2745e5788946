"""The survey path's statements, sent straight to the database driver.

Why: SQLAlchemy's execution of one statement (cache key, execution context, the asyncpg
adapter, result processing) cost 80–250 µs of CPU; the driver call alone costs about 60 µs
on PostgreSQL and 10 µs on SQLite. A completed survey runs about 36 statements, which made
SQLAlchemy the largest cost of the survey path (bench/e2e_throughput.py, bench/README.md).

The statements run on the unit of work's own connection, inside its transaction, so they
commit or roll back with everything else of it. Only public interfaces are used (pinned by
tests/storage/test_adapter_surface.py): the connection comes from SQLAlchemy's
`get_raw_connection().driver_connection`; on PostgreSQL the transaction is asyncpg's own
`Connection.transaction()`, owned by the unit of work (`owned_transaction`) while
SQLAlchemy runs that connection in AUTOCOMMIT mode, so ORM statements join it too; on
SQLite SQLAlchemy begins it (BEGIN / BEGIN IMMEDIATE, storage/db.py) on the stdlib
connection the driver statements use (storage/sqlite_inline.py).

Statements are `storage.statements.Statement`s, built from Core and compiled for both
dialects in one place; values are converted the way SQLAlchemy's column types store them
(`DriverSQL.stamp`, `.moment`, `.json`, `.day`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any

import asyncpg
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from storage.models import UTCDateTime
from storage.statements import Statement

# How SQLAlchemy's SQLite DateTime type writes values; reports compare these strings.
_SQLITE_STAMP = "%Y-%m-%d %H:%M:%S.%f"
_UTC_TYPE = UTCDateTime()  # the one rule for moments: naive UTC stored, aware UTC read


_DRIVER_ERRORS = (sqlite3.Error, asyncpg.PostgresError)
# A connection that broke mid-transaction: its rollback cannot reach the server either.
_CONNECTION_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


def _as_sqlalchemy(error: Exception, sql: str, params: Any) -> DBAPIError:
    """The driver's error as SQLAlchemy raises it, so callers catch one family of errors."""
    integrity = isinstance(
        error, sqlite3.IntegrityError | asyncpg.IntegrityConstraintViolationError
    )
    return (IntegrityError if integrity else DBAPIError)(sql, params, error)


def _status_count(status: str) -> int:
    """Rows a PostgreSQL command changed, from its status ("UPDATE 1", "INSERT 0 1")."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


@asynccontextmanager
async def owned_transaction(connection: AsyncConnection) -> AsyncIterator[None]:
    """PostgreSQL: one asyncpg transaction (its public `transaction()`) around a unit of
    work on `connection`, which SQLAlchemy runs in AUTOCOMMIT mode (storage/db.py): the
    driver's and SQLAlchemy's statements all run inside it; committed when the block
    ends, rolled back on any error (a connection that broke is invalidated instead)."""
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None  # a checked-out connection
    transaction = raw.transaction()
    try:
        await transaction.start()
    except _DRIVER_ERRORS as error:
        raise _as_sqlalchemy(error, "BEGIN", ()) from error
    try:
        yield
    except BaseException:
        try:
            await transaction.rollback()
        except _CONNECTION_ERRORS:
            await connection.invalidate()  # the pool never hands it out again
        raise
    try:
        await transaction.commit()
    except _DRIVER_ERRORS as error:
        raise _as_sqlalchemy(error, "COMMIT", ()) from error
    except (asyncpg.InterfaceError, OSError) as error:  # the connection broke
        await connection.invalidate()
        raise DBAPIError("COMMIT", (), error, connection_invalidated=True) from error


class DriverSQL:
    """Runs statements on the unit of work's connection and transaction, without
    SQLAlchemy's per-statement machinery. One per unit of work (the Store's)."""

    def __init__(self, session: AsyncSession, dialect: str, connection: AsyncConnection) -> None:
        self._session = session
        self.dialect = dialect
        self.sqlite = dialect == "sqlite"
        self._unit_connection = connection  # its transaction has begun (storage/db.py)
        self._conn: Any = None

    async def _connection(self) -> Any:
        """The driver connection (the stdlib one on SQLite, asyncpg's on PostgreSQL), with
        the session's unwritten changes flushed (as SQLAlchemy's autoflush would)."""
        session = self._session
        if session.new or session.dirty or session.deleted:
            await session.flush()
        if self._conn is None:
            pooled = await self._unit_connection.get_raw_connection()
            driver = pooled.driver_connection
            assert driver is not None  # a checked-out connection
            self._conn = driver.sqlite_connection if self.sqlite else driver
        return self._conn

    def _text(self, statement: Statement, args: Sequence[Any]) -> tuple[str, Sequence[Any]]:
        """The statement's text for this dialect and its arguments in the text's order."""
        compiled = statement.sqlite if self.sqlite else statement.postgresql
        return compiled.text, compiled.args(args)

    async def fetchrow(self, statement: Statement, *args: Any) -> tuple[Any, ...] | None:
        """The first row, or None."""
        conn = await self._connection()
        sql, params = self._text(statement, args)
        try:
            if self.sqlite:
                return conn.execute(sql, params).fetchone()
            row = await conn.fetchrow(sql, *params)
        except _DRIVER_ERRORS as error:
            raise _as_sqlalchemy(error, sql, params) from error
        return tuple(row) if row is not None else None

    async def fetch(self, statement: Statement, *args: Any) -> list[tuple[Any, ...]]:
        """Every row."""
        conn = await self._connection()
        sql, params = self._text(statement, args)
        try:
            if self.sqlite:
                return conn.execute(sql, params).fetchall()
            return [tuple(row) for row in await conn.fetch(sql, *params)]
        except _DRIVER_ERRORS as error:
            raise _as_sqlalchemy(error, sql, params) from error

    async def execute(self, statement: Statement, *args: Any) -> int:
        """Runs one statement; the number of rows it changed."""
        conn = await self._connection()
        sql, params = self._text(statement, args)
        try:
            if self.sqlite:
                return int(conn.execute(sql, params).rowcount)
            return _status_count(await conn.execute(sql, *params))
        except _DRIVER_ERRORS as error:
            raise _as_sqlalchemy(error, sql, params) from error

    async def executemany(self, statement: Statement, rows: list[tuple[Any, ...]]) -> None:
        """Runs one statement once per row of parameters."""
        conn = await self._connection()
        compiled = statement.sqlite if self.sqlite else statement.postgresql
        sql = compiled.text
        ordered = rows if compiled.direct else [compiled.args(row) for row in rows]
        try:
            if self.sqlite:
                conn.executemany(sql, ordered)
            else:
                await conn.executemany(sql, ordered)
        except _DRIVER_ERRORS as error:
            raise _as_sqlalchemy(error, sql, rows) from error

    # Values in and out, stored as SQLAlchemy's column types store them.

    def stamp(self, moment: datetime | None) -> Any:
        """A UTC moment as a parameter, normalised as the UTCDateTime column type does."""
        naive = _UTC_TYPE.process_bind_param(moment, None)  # type: ignore[arg-type]
        if naive is None or not self.sqlite:
            return naive
        return naive.strftime(_SQLITE_STAMP)

    def moment(self, value: Any) -> datetime | None:
        """A stored moment read back: aware UTC, as the UTCDateTime column type reads it."""
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return _UTC_TYPE.process_result_value(value, None)  # type: ignore[arg-type]

    def json(self, value: Any) -> Any:
        """A JSON column read back (SQLAlchemy's asyncpg codec decodes; SQLite keeps text)."""
        return json.loads(value) if isinstance(value, str) else value

    def day(self, value: date) -> Any:
        """A calendar day as a parameter."""
        return value.isoformat() if self.sqlite else value

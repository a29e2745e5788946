"""The survey path's statements, sent straight to the database driver.

Why: SQLAlchemy's execution of one statement (cache key, execution context, the asyncpg
adapter, result processing) cost 80–250 µs of CPU; the driver call alone costs about 60 µs
on PostgreSQL and 10 µs on SQLite. A completed survey runs about 36 statements, which made
SQLAlchemy the largest cost of the survey path (bench/e2e_throughput.py, bench/README.md).

The statements run on the session's own connection, inside its transaction, so they commit
or roll back with everything else of the unit of work. Only plain SQL that reads the same
on both databases lives here: one text with `$1`-style parameters (SQLite's `?1`), values
converted the way SQLAlchemy's column types store them (`DriverSQL.stamp`, `.moment`).
"""

from __future__ import annotations

import functools
import json
import sqlite3
from datetime import date, datetime
from typing import Any

import asyncpg
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from storage.models import UTCDateTime

# How SQLAlchemy's SQLite DateTime type writes values; reports compare these strings.
_SQLITE_STAMP = "%Y-%m-%d %H:%M:%S.%f"
_UTC_TYPE = UTCDateTime()  # the one rule for moments: naive UTC stored, aware UTC read


@functools.cache
def _sqlite_text(sql: str) -> str:
    """`$1` → `?1`: SQLite's numbered parameters take the same positions."""
    return sql.replace("$", "?")


_DRIVER_ERRORS = (sqlite3.Error, asyncpg.PostgresError)


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


class DriverSQL:
    """Runs plain SQL on the session's connection and transaction, without SQLAlchemy's
    per-statement machinery. One per unit of work (the Store's)."""

    def __init__(
        self, session: AsyncSession, dialect: str, connection: AsyncConnection | None = None
    ) -> None:
        self._session = session
        self.dialect = dialect
        self.sqlite = dialect == "sqlite"
        # The unit of work's connection when it has one (write transactions); else the
        # session's, asked for on first use (read snapshots).
        self._unit_connection = connection
        self._conn: Any = None

    async def _connection(self) -> Any:
        """The driver connection, with the session's transaction begun on it, and the
        session's unwritten changes flushed (as SQLAlchemy's autoflush would)."""
        session = self._session
        if session.new or session.dirty or session.deleted:
            await session.flush()
        if self._conn is not None:
            return self._conn
        # Joins (or begins) the session's transaction; on SQLite that emits BEGIN or
        # BEGIN IMMEDIATE through the engine's "begin" event (storage/db.py).
        connection = self._unit_connection or await session.connection()
        pooled = await connection.get_raw_connection()
        if self.sqlite:
            self._conn = pooled.driver_connection._open()  # storage/sqlite_inline.py
        else:
            adapted = pooled.dbapi_connection
            # SQLAlchemy's asyncpg adapter sends BEGIN with its first statement; a unit of
            # work that starts here begins it the same way, so both share one transaction.
            if adapted._transaction is None:
                async with adapted._execute_mutex:
                    if adapted._transaction is None:
                        await adapted._start_transaction()
            self._conn = pooled.driver_connection
        return self._conn

    async def fetchrow(self, sql: str, *args: Any) -> tuple[Any, ...] | None:
        """The first row, or None."""
        conn = await self._connection()
        try:
            if self.sqlite:
                return conn.execute(_sqlite_text(sql), args).fetchone()  # type: ignore[no-any-return]
            row = await conn.fetchrow(sql, *args)
        except _DRIVER_ERRORS as error:
            raise _as_sqlalchemy(error, sql, args) from error
        return tuple(row) if row is not None else None

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Every row."""
        conn = await self._connection()
        try:
            if self.sqlite:
                return conn.execute(_sqlite_text(sql), args).fetchall()  # type: ignore[no-any-return]
            return [tuple(row) for row in await conn.fetch(sql, *args)]
        except _DRIVER_ERRORS as error:
            raise _as_sqlalchemy(error, sql, args) from error

    async def execute(self, sql: str, *args: Any) -> int:
        """Runs one statement; the number of rows it changed."""
        conn = await self._connection()
        try:
            if self.sqlite:
                return conn.execute(_sqlite_text(sql), args).rowcount  # type: ignore[no-any-return]
            return _status_count(await conn.execute(sql, *args))
        except _DRIVER_ERRORS as error:
            raise _as_sqlalchemy(error, sql, args) from error

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Runs one statement once per row of parameters."""
        conn = await self._connection()
        try:
            if self.sqlite:
                conn.executemany(_sqlite_text(sql), rows)
            else:
                await conn.executemany(sql, rows)
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

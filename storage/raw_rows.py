"""Rows as the database driver returns them (tuples, asyncpg records), read by blocking
calls from one worker thread, in constant memory: the CSV export's path (its cells are
computed by the database, storage/csv_cells.py)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from asyncpg import Record
from asyncpg.cursor import Cursor
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from storage.streams import SessionSource

# Rows per fetch: 5 000 rows of CSV are well under a megabyte, and batches from 1 000 to
# 20 000 measured the same speed at 10^6 answers.
ROWS_BATCH = 5000


class _SqliteRows:
    """A SELECT on a connection of its own, stepped by the worker thread that reads it.

    The stdlib driver in the reading thread means no event-loop hop per batch and no second
    thread fighting over the GIL (aiosqlite plus a writer thread measured a quarter slower).
    """

    def __init__(self, connection: sqlite3.Connection, sql: str, batch: int) -> None:
        self._connection = connection
        self._sql = sql
        self._batch = batch
        self._cursor: sqlite3.Cursor | None = None

    def fetch(self) -> list[tuple[Any, ...]]:
        """The next batch of rows; empty once all were read (the first call runs the query)."""
        if self._cursor is None:
            self._cursor = self._connection.execute(self._sql)
        return self._cursor.fetchmany(self._batch)

    def interrupt(self) -> None:
        """Aborts a fetch in progress (the first can sort for seconds); thread-safe."""
        self._connection.interrupt()


class _AsyncpgRows:
    """An asyncpg cursor read from a worker thread, the next batch fetched while it writes."""

    def __init__(
        self, cursor: Cursor[Record], batch: int, loop: asyncio.AbstractEventLoop
    ) -> None:
        self._cursor = cursor
        self._batch = batch
        self._loop = loop
        self._next: concurrent.futures.Future[list[Record]] | None = None

    def _request(self) -> concurrent.futures.Future[list[Record]]:
        return asyncio.run_coroutine_threadsafe(self._cursor.fetch(self._batch), self._loop)

    def fetch(self) -> list[Record]:
        """The next batch of records; empty once all were read. Call from a worker thread."""
        rows = (self._next or self._request()).result()
        # Asked for now, so the database and the loop work while the caller writes this one.
        self._next = self._request() if rows else None
        return rows

    def interrupt(self) -> None:
        """Cancels the fetch in flight, if any; thread-safe."""
        pending = self._next
        if pending is not None:
            pending.cancel()

    async def settle(self) -> None:
        """Waits for a fetch still in flight, so the cursor is idle before it is closed."""
        if self._next is not None:
            await asyncio.wait([asyncio.wrap_future(self._next)])


def _engine(session: AsyncSession) -> AsyncEngine:
    """The engine a session of a Database is bound to."""
    bind = session.bind
    if not isinstance(bind, AsyncEngine):
        raise TypeError(f"raw rows need a session bound to an engine, got {bind!r}")
    return bind


@asynccontextmanager
async def open_rows(
    source: SessionSource, statement: Select[Any], *, batch: int = ROWS_BATCH
) -> AsyncIterator[_SqliteRows | _AsyncpgRows]:
    """The statement's rows as its driver returns them, in one read-only snapshot.

    Nothing runs until the block is entered. The statement is compiled with its values
    inline (the column types render them, e.g. datetimes in the stored text form), so it
    must only carry values the application chose, never raw user input. Rows are fetched
    `batch` at a time by `fetch()` calls from one worker thread; leave the block only once
    that thread is done.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    # A session (it checks nothing out until asked) says which engine and dialect to use.
    async with source.new_session() as session:
        engine = _engine(session)
        dialect = engine.sync_engine.dialect
        sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        if dialect.name == "sqlite":
            args, kwargs = dialect.create_connect_args(engine.url)
            if not args or args[0] in ("", ":memory:"):
                raise ValueError("raw rows need a SQLite file, not a private in-memory database")
            # Opened, read and closed by different threads, never by two at once.
            kwargs = {**kwargs, "check_same_thread": False}

            def connect() -> sqlite3.Connection:
                # SQLAlchemy's pysqlite arguments: the file, then keywords only.
                (database,) = args
                return sqlite3.connect(database, **kwargs)

            reader = await asyncio.to_thread(connect)
            try:
                # A reader never writes; a single SELECT is its own consistent snapshot.
                reader.execute("PRAGMA query_only = ON")
                yield _SqliteRows(reader, sql, batch)
            finally:
                # Off the loop: closing the last connection checkpoints the WAL.
                await asyncio.to_thread(reader.close)
            return
        # The session only lends its pooled connection: SQLAlchemy starts no transaction
        # on it until a statement goes through SQLAlchemy, and none does.
        lent = await session.connection()
        driver = (await lent.get_raw_connection()).driver_connection
        assert driver is not None  # a checked-out connection
        async with driver.transaction(readonly=True, isolation="repeatable_read"):
            # prepare(), not cursor(sql): every export's text differs (its period inline),
            # and would push the bot's own statements out of asyncpg's statement cache.
            prepared = await driver.prepare(sql)
            rows = _AsyncpgRows(await prepared.cursor(), batch, asyncio.get_running_loop())
            try:
                yield rows
            finally:
                await rows.settle()

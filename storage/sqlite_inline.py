"""SQLite for the async engine without a thread hop per call.

aiosqlite runs every call (cursor, execute, fetch, close: four per statement) in a worker
thread and wakes the event loop for each result. A statement on a local file in WAL mode
takes a few microseconds; the hand-offs took about 200 µs of CPU per statement, which made
them the largest single cost of a survey answer (bench/e2e_throughput.py). These classes
give SQLAlchemy's aiosqlite dialect (`async_creator`) the same coroutine interface, but run
the stdlib `sqlite3` calls directly on the event loop.

That is safe here because nothing waits inside SQLite: this process's writers queue for
the write lock in `storage.db.Database` before they reach SQLite, and readers never wait in
WAL mode. Another *process* holding the write lock (`sqlite3` in a shell, a backup, a
second bot) must not pause the loop either, so connections have no busy timeout: SQLite
answers SQLITE_BUSY at once, and the statement is tried again after an `asyncio.sleep`
(1 ms, doubling up to 50 ms) until `busy_timeout` seconds have passed (`_retry_busy`).
Polling and other tasks run meanwhile; the normal, unlocked path pays nothing for it. The
longest read, the CSV export, reads the file in a thread of its own (storage/raw_rows.py);
other large reads (the XLSX export) fetch in batches of a few milliseconds each.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

BUSY_TIMEOUT = 15.0  # seconds a statement waits for another process's lock, by default
# Rows changed by a transaction from which its commit runs in a thread (InlineConnection).
LARGE_COMMIT_ROWS = 2000
_FIRST_PAUSE = 0.001
_LONGEST_PAUSE = 0.05
# SQLITE_BUSY_SNAPSHOT: a read transaction's snapshot is stale; only a new one can write.
_HOPELESS = 517


def _busy(exc: sqlite3.OperationalError) -> bool:
    """True when SQLite answered SQLITE_BUSY (another connection holds the lock)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:  # Python < 3.11: the message is all there is
        return "database is locked" in str(exc)
    return code & 0xFF == sqlite3.SQLITE_BUSY and code != _HOPELESS


async def _retry_busy(
    statement: Callable[[], object], first: sqlite3.OperationalError, seconds: float
) -> None:
    """Runs `statement` again, pausing between tries without blocking the loop, until it
    gets past the lock or `seconds` are over (then the last error is raised)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    pause = _FIRST_PAUSE
    error = first
    while loop.time() < deadline:
        await asyncio.sleep(min(pause, max(deadline - loop.time(), 0)))
        pause = min(pause * 2, _LONGEST_PAUSE)
        try:
            statement()
            return
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
            error = exc
    raise error


class InlineCursor:
    """The slice of aiosqlite's Cursor that SQLAlchemy uses, run synchronously."""

    __slots__ = ("_busy_timeout", "_cursor")

    def __init__(self, cursor: sqlite3.Cursor, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self._cursor = cursor
        self._busy_timeout = busy_timeout

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        """Runs one statement; while another process holds the lock, waits off the loop."""
        cursor = self._cursor
        try:
            if parameters is None:
                cursor.execute(sql)
            else:
                cursor.execute(sql, parameters)
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
            # A statement that failed with SQLITE_BUSY changed nothing: run it again.
            if parameters is None:
                await _retry_busy(lambda: cursor.execute(sql), exc, self._busy_timeout)
            else:
                await _retry_busy(lambda: cursor.execute(sql, parameters), exc, self._busy_timeout)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        """Runs one statement once per parameter set."""
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        """The next row, or None."""
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        """Up to `size` rows (the cursor's arraysize by default)."""
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        """The remaining rows."""
        return self._cursor.fetchall()

    async def close(self) -> None:
        """Releases the statement."""
        self._cursor.close()

    @property
    def description(self) -> Any:
        """Column descriptions of the last query (None for statements without rows)."""
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        """Rows changed by the last statement."""
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        """The rowid of the last inserted row."""
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        """Default row count of fetchmany()."""
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class InlineConnection:
    """aiosqlite's public Connection interface, as far as SQLAlchemy's aiosqlite adapter
    uses it, run synchronously.

    One private name remains, because SQLAlchemy's adapter reads it from aiosqlite's
    connection: `_connection` (is it still open?) before a commit or rollback. The adapter's
    other private use, aiosqlite's worker queue for setting `isolation_level`, is never
    reached: the stdlib connection is opened with `isolation_level=None` (SQLAlchemy's
    "begin" event emits BEGIN itself, storage/db.py) and nothing sets it afterwards.
    tests/storage/test_adapter_surface.py fails if the adapter starts using anything else.
    """

    __slots__ = ("_busy_timeout", "_changes", "_db")

    def __init__(self, connection: sqlite3.Connection, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self._db: sqlite3.Connection | None = connection
        self._busy_timeout = busy_timeout
        self._changes = connection.total_changes  # rows changed up to the last commit

    @property
    def _connection(self) -> sqlite3.Connection | None:
        # Read by SQLAlchemy's aiosqlite adapter (aiosqlite's own attribute of this name).
        return self._db

    @property
    def sqlite_connection(self) -> sqlite3.Connection:
        """The stdlib connection, for driver statements (storage/driver.py)."""
        return self._open()

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            raise ValueError("no active connection")
        return self._db

    def cursor(self) -> InlineCursor:
        """A new cursor (SQLAlchemy enters it with `async with`/`__aenter__`)."""
        return InlineCursor(self._open().cursor(), self._busy_timeout)

    async def commit(self) -> None:
        """Commits the open transaction (waiting, off the loop, if SQLite says busy)."""
        connection = self._open()
        # A large transaction (an /import of 100,000 contacts) writes megabytes to the WAL
        # and may checkpoint into the database file: tens to hundreds of milliseconds of
        # disk work that would hold every other chat's update. It commits in a thread; the
        # survey path's small commits stay inline (a thread hop would cost more than they do).
        large = connection.total_changes - self._changes >= LARGE_COMMIT_ROWS
        try:
            if large:
                await asyncio.to_thread(connection.commit)
            else:
                connection.commit()
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
            await _retry_busy(connection.commit, exc, self._busy_timeout)
        finally:
            self._changes = connection.total_changes

    async def rollback(self) -> None:
        """Rolls the open transaction back."""
        self._open().rollback()

    async def close(self) -> None:
        """Closes the connection (again: nothing happens)."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def stop(self) -> None:
        """Closes at once (SQLAlchemy's terminate)."""
        if self._db is not None:
            self._db.close()
            self._db = None

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        """Registers a SQL function."""
        self._open().create_function(*args, **kwargs)

    @property
    def isolation_level(self) -> str | None:
        """The sqlite3 module's transaction mode (None: SQLAlchemy emits BEGIN itself)."""
        return self._open().isolation_level


def inline_creator(path: Path | str, busy_timeout: float = BUSY_TIMEOUT) -> Callable[[], Any]:
    """An `async_creator` for create_async_engine opening the SQLite file at `path`.

    The connection itself never waits for a lock (timeout=0, and storage/db.py sets
    `PRAGMA busy_timeout=0`): statements wait up to `busy_timeout` seconds by retrying.
    """

    async def connect() -> InlineConnection:
        # check_same_thread=False: the pool may close a connection from the garbage
        # collector's thread; every statement still runs on the event loop's thread.
        # isolation_level=None: the stdlib module begins no transaction of its own;
        # SQLAlchemy's "begin" event emits BEGIN / BEGIN IMMEDIATE (storage/db.py).
        connection = sqlite3.connect(
            str(path), check_same_thread=False, timeout=0, isolation_level=None
        )
        return InlineConnection(connection, busy_timeout)

    return connect

"""Engines, transactions and migrations: the boundary where sessions open and commit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.driver import owned_transaction
from storage.repos.anonymity import SaltMemo
from storage.schema import (  # noqa: F401 - alembic_config: tests import it from here
    MIGRATION_LOCK_KEY,
    SchemaState,
    UnknownRevision,
    alembic_config,
    schema_state,
    upgrade,
)
from storage.sqlite_inline import inline_creator
from storage.store import Store

log = logging.getLogger(__name__)
BUSY_TIMEOUT = 15.0  # seconds a SQLite writer waits for the write lock
# PostgreSQL connections per process unless told (POOL_SIZE; max_connections is 100 by
# default, so replicas × pool must stay below it).
POOL_SIZE = 20


# Per event loop and SQLite file: every Database of this process on one file shares it.
_WRITE_TURNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _write_turn(sqlite_file: str) -> asyncio.Lock:
    """The lock this process's writers to the file queue on."""
    turns = _WRITE_TURNS.setdefault(asyncio.get_running_loop(), {})
    return turns.setdefault(sqlite_file, asyncio.Lock())


class DatabaseError(Exception):
    """The database cannot be reached or prepared; the message is one line."""


def _prepare_sqlite(engine: AsyncEngine) -> None:
    """WAL + busy timeout, and BEGIN IMMEDIATE for write transactions.

    A deferred SQLite transaction that reads and then writes fails at once with
    SQLITE_BUSY when another writer committed in between (the busy timeout does not
    apply to that upgrade), so every write unit of work takes the write lock up front.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy's "begin" event emits BEGIN itself (pysqlite would defer it): the
        # connection is opened with isolation_level=None (storage/sqlite_inline.py).
        cursor = dbapi_connection.cursor()
        # No waiting inside SQLite: its busy handler would sleep on the event loop's thread
        # (another process holding the lock froze polling); statements wait by retrying
        # with asyncio sleeps instead, up to BUSY_TIMEOUT (storage/sqlite_inline.py).
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("npsbot_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _drop_closed_connections(engine: AsyncEngine) -> None:
    """Hands out no pooled connection the server has closed (a restart, a terminated
    backend): the pool replaces it before the transaction starts.

    Instead of `pool_pre_ping`, whose round trip on every checkout was seven per survey:
    asyncpg marks a connection closed as soon as the server drops it, so asking costs
    nothing.
    """

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("the server closed this connection")


class LazySession:
    """An AsyncSession made on first use, on the unit of work's connection.

    Most survey answers run only driver SQL (storage/driver.py); an ORM session that
    nobody uses cost more than the answer's statements. Repositories hold this object and
    use it like the session (attribute access creates the real one).
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        self._session: AsyncSession | None = None

    def _real(self) -> AsyncSession:
        if self._session is None:
            # Joins the connection's transaction: the unit of work commits, not the session.
            self._session = AsyncSession(
                bind=self._connection,
                expire_on_commit=False,
                join_transaction_mode="rollback_only",
            )
        return self._session

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)

    # Asked before every driver statement (autoflush): no session, nothing to flush.
    @property
    def new(self) -> Any:
        """Entities added and not yet written."""
        return self._session.new if self._session is not None else ()

    @property
    def dirty(self) -> Any:
        """Entities changed and not yet written."""
        return self._session.dirty if self._session is not None else ()

    @property
    def deleted(self) -> Any:
        """Entities deleted and not yet written."""
        return self._session.deleted if self._session is not None else ()

    async def finish(self) -> None:
        """Writes what the session holds, before the unit of work commits."""
        if self._session is not None:
            await self._session.flush()

    async def close(self) -> None:
        """Lets go of the session (the transaction is the unit of work's)."""
        if self._session is not None:
            await self._session.close()


class Database:
    """Owns the engine; hands out one transaction (a Store) per unit of work."""

    def __init__(
        self,
        url: str,
        *,
        tz: tzinfo = UTC,
        echo: bool = False,
        anonymity_salt: str = "",
        event_urls: Sequence[str] = (),
        pool_size: int = POOL_SIZE,
    ) -> None:
        self.url = url
        self.pool_size = pool_size
        self.tz = tz  # reporting days are local days in this zone
        # EVENTS_URLS, each once: every emitted event gets one delivery row per URL
        # (storage/repos/events.py).
        self.event_urls = tuple(dict.fromkeys(event_urls))
        # Keys eNPS anonymity hashes; empty: a salt generated once and kept in the database.
        self.anonymity_salt = anonymity_salt
        self._salt_memo = SaltMemo()
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo}
        # The file whose write turn this process's writers share (None on PostgreSQL).
        self._sqlite_file: str | None = None
        if self.dialect == "sqlite":
            database = parsed.database or ":memory:"
            if database != ":memory:":
                database = str(Path(database).expanduser().resolve())
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self._sqlite_file = database
            # Statements run on the event loop, not in aiosqlite's thread (why: the module).
            kwargs["async_creator"] = inline_creator(database, BUSY_TIMEOUT)
        else:
            # Every connection stays open: an "overflow" connection is closed when it is
            # returned, and under load that meant a new server backend (fork, catalog
            # caches, statements prepared again) every few transactions — more server CPU
            # than the statements (bench/README.md). Beyond the pool, units of work queue
            # for a connection; a transaction holds one for milliseconds (replies are sent
            # after the commit).
            kwargs.update(pool_size=pool_size, max_overflow=0)
        self.engine = create_async_engine(url, **kwargs)
        if self.dialect == "sqlite":
            _prepare_sqlite(self.engine)
        else:
            _drop_closed_connections(self.engine)
        self._reader = async_sessionmaker(self.engine, expire_on_commit=False)
        if self.dialect == "sqlite":
            self._write_engine = self.engine.execution_options(npsbot_write=True)
            self._unit_engine = self.engine
        else:
            # Units of work own their transaction through asyncpg (storage/driver.py,
            # `owned_transaction`): SQLAlchemy's adapter, in AUTOCOMMIT mode, begins and
            # commits nothing itself, and its statements run inside that transaction.
            self._unit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
            self._write_engine = self._unit_engine

    @asynccontextmanager
    async def _unit(self, engine: AsyncEngine) -> AsyncIterator[Store]:
        """One unit of work on a connection of `engine`: its transaction, a Store, and an
        ORM session only if a repository asks for one (LazySession); committed when the
        block ends, rolled back on error."""
        async with engine.connect() as connection:
            session = LazySession(connection)
            owned = (
                contextlib.nullcontext()
                if self.dialect == "sqlite"
                else owned_transaction(connection)
            )
            try:
                # SQLite: SQLAlchemy's begin emits BEGIN (IMMEDIATE) and its commit commits.
                # PostgreSQL: both are no-ops in AUTOCOMMIT; `owned` begins and commits.
                async with owned, connection.begin():
                    store = self._store(session, connection)
                    yield store
                    await store.stats.flush()  # histogram rows last: the contended ones
                    await session.finish()
            finally:
                await session.close()

    def _store(self, session: Any, connection: AsyncConnection) -> Store:
        return Store(
            session,
            self.dialect,
            self.tz,
            anonymity_salt=self.anonymity_salt,
            salt_memo=self._salt_memo,
            connection=connection,
            event_urls=self.event_urls,
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Store]:
        """One write transaction: committed when the block ends, rolled back on error.

        A Core connection and transaction, with an ORM session only if a repository asks
        for one (LazySession): the ORM's own transaction bookkeeping cost ~170 µs per unit
        of work, which most survey answers no longer need (bench/README.md).
        """
        async with self._turn(), self._unit(self._write_engine) as store:
            yield store

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """Waits for this process's SQLite write turn (no-op on PostgreSQL).

        SQLite has one writer at a time. Writers of this process queue here, in order and
        without polling (SQLite's busy handler sleeps up to 100 ms between tries, which
        under load cost more than the transactions), and never reach SQLite's busy
        handler while another one of them holds the lock: statements run on the event
        loop (storage/sqlite_inline.py), so waiting there would stop the very writer it
        waits for. Hence no giving up either: the holder is in this process and finishes.
        """
        if self._sqlite_file is None:
            yield
            return
        turn = _write_turn(self._sqlite_file)
        while True:
            try:
                async with asyncio.timeout(BUSY_TIMEOUT):
                    await turn.acquire()
                break
            except TimeoutError:
                log.warning("waited %ss for the SQLite write turn; still waiting", BUSY_TIMEOUT)
        try:
            yield
        finally:
            turn.release()

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Store]:
        """A read-only transaction (never takes SQLite's write lock)."""
        async with self._unit(self._unit_engine) as store:
            yield store

    async def check(self) -> None:
        """Connects once, turning driver errors into one readable line."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:  # the driver's own error types vary
            safe = make_url(self.url).render_as_string(hide_password=True)
            raise DatabaseError(
                f"DATABASE_URL {safe} cannot be reached ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else 'no details'})"
            ) from None

    async def migrate(self) -> None:
        """Brings the schema to the code's Alembic heads; DatabaseError (one line) when the
        database is at a revision this code does not know.

        On PostgreSQL, replicas starting together migrate once: each takes an advisory lock
        in the migration's own transaction (released with it, even when it fails), so one
        migrates and the others wait, then find the schema current.
        """
        try:
            async with self.engine.begin() as conn:
                if self.dialect == "postgresql":
                    await self._migration_lock(conn)
                await conn.run_sync(upgrade, self.tz)
        except UnknownRevision as exc:
            raise DatabaseError(str(exc)) from None

    @staticmethod
    async def _migration_lock(conn: AsyncConnection) -> None:
        key = {"k": MIGRATION_LOCK_KEY}
        if not await conn.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), key):
            log.info("another process is migrating the database; waiting for it")
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), key)

    async def schema(self) -> SchemaState:
        """The database's schema revision against the code's (raises on a lost database)."""
        async with self.engine.connect() as conn:
            return await conn.run_sync(schema_state)

    def pool_in_use(self) -> int:
        """Connections of this process's pool handed out right now."""
        checkedout = getattr(self.engine.pool, "checkedout", None)
        return int(checkedout()) if callable(checkedout) else 0

    async def dispose(self) -> None:
        """Closes every pooled connection."""
        await self.engine.dispose()

    def new_session(self) -> AsyncSession:
        """A bare read session for streaming exports (caller closes it)."""
        return self._reader()

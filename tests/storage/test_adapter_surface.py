"""The driver and adapter interfaces storage/driver.py and storage/sqlite_inline.py rely on.

Driver statements bypass SQLAlchemy's execution but share its connections and
transactions; these tests fail when an upgrade changes what that sharing relies on
(pyproject.toml pins the versions tested here).
"""

from __future__ import annotations

import inspect
import re
from datetime import UTC, datetime
from importlib.metadata import version

import aiosqlite
import asyncpg
import pytest
import sqlalchemy
from sqlalchemy import select, text
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection

from storage.db import Database
from storage.models import ProcessedUpdate
from storage.sqlite_inline import InlineConnection


def _release(name: str) -> tuple[int, int]:
    major, minor = version(name).split(".")[:2]
    return int(major), int(minor)


def test_the_versions_are_the_tested_ones() -> None:
    # Widen together with pyproject.toml, after running tests/storage on the new release.
    assert (2, 1) <= _release("sqlalchemy") < (2, 2), sqlalchemy.__version__
    assert _release("asyncpg") >= (0, 29)
    assert (0, 20) <= _release("aiosqlite") < (1, 0)


def test_sqlalchemys_aiosqlite_adapter_reads_no_other_private_names() -> None:
    """InlineConnection imitates aiosqlite's public Connection, plus the one private name
    SQLAlchemy's adapter reads on the paths we use (`_connection`); `_conn` and `_tx` are
    read only when something sets `isolation_level` through the adapter, which nothing
    does (the stdlib connection is opened with isolation_level=None)."""
    source = inspect.getsource(AsyncAdapt_aiosqlite_connection)
    private = set(re.findall(r"self\._connection\.(_\w+)", source))
    assert private == {"_connection", "_conn", "_tx"}
    isolation_setter = inspect.getsource(AsyncAdapt_aiosqlite_connection.isolation_level.fset)  # type: ignore[attr-defined]
    assert "_tx" in isolation_setter and "_conn" in isolation_setter
    # Every public name InlineConnection offers is one of aiosqlite's own.
    ours = {name for name in dir(InlineConnection) if not name.startswith("_")}
    assert ours - {"sqlite_connection"} <= set(dir(aiosqlite.Connection))
    assert not hasattr(InlineConnection, "_tx") and not hasattr(InlineConnection, "_conn")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_sqlite_driver_statements_share_sqlalchemys_transaction(db_url: str) -> None:
    db = Database(db_url)
    try:
        async with db.engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert isinstance(driver, InlineConnection)
            assert driver.isolation_level is None  # SQLAlchemy's "begin" event begins
            raw = driver.sqlite_connection
            assert not raw.in_transaction
            transaction = await conn.begin()
            assert raw.in_transaction  # the driver sees SQLAlchemy's transaction
            raw.execute(
                "INSERT INTO processed_updates (update_id, processed_at) VALUES (1, '2026')"
            )
            await transaction.rollback()
            assert not raw.in_transaction
            count = await conn.scalar(text("SELECT count(*) FROM processed_updates"))
            assert count == 0  # rolled back with it
    finally:
        await db.dispose()


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_asyncpg_units_of_work_own_the_transaction(db_url: str) -> None:
    db = Database(db_url)
    try:
        # SQLAlchemy in AUTOCOMMIT mode begins nothing on the driver connection.
        async with db._unit_engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert isinstance(driver, asyncpg.Connection)
            await conn.execute(text("SELECT 1"))
            assert not driver.is_in_transaction()
            assert not driver.is_closed()
            # asyncpg's public transaction API, which SQLAlchemy's statements then join.
            transaction = driver.transaction()
            assert isinstance(transaction, asyncpg.transaction.Transaction)
            await transaction.start()
            await conn.execute(
                text("INSERT INTO processed_updates (update_id, processed_at) VALUES (1, now())")
            )
            assert driver.is_in_transaction()
            await transaction.rollback()
            assert await conn.scalar(text("SELECT count(*) FROM processed_updates")) == 0
        # A unit of work: the driver connection is in its transaction from the start.
        async with db.transaction() as store:
            raw = (await store.driver._unit_connection.get_raw_connection()).driver_connection
            assert raw is not None and raw.is_in_transaction()
    finally:
        await db.dispose()


class Boom(Exception):
    """Raised inside a unit of work to roll it back."""


async def test_orm_then_driver_statements_commit_and_roll_back_together(db: Database) -> None:
    moment = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
    with pytest.raises(Boom):
        async with db.transaction() as store:
            session = store.surveys._session
            session.add(ProcessedUpdate(update_id=811, processed_at=moment))
            await session.flush()  # the ORM's statement first, then the driver's
            assert await store.updates.claim(812)
            raise Boom
    async with db.transaction() as store:
        store.surveys._session.add(ProcessedUpdate(update_id=813, processed_at=moment))
        await store.surveys._session.flush()
        assert await store.updates.claim(814)
    async with db.snapshot() as store:
        ids = await store.surveys._session.scalars(select(ProcessedUpdate.update_id))
        assert sorted(ids.all()) == [813, 814]

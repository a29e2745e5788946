"""Migrations with replicas: several processes starting at once on one PostgreSQL migrate
once (an advisory lock; the others wait, then find the schema current); a release never
migrates a schema a newer release left; POOL_SIZE bounds each process's connections."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage.db import MIGRATION_LOCK_KEY, Database, DatabaseError
from storage.schema import code_heads
from storage.statements import same
from tests.conftest import PG_URL, _asyncpg_dsn, _pg_admin, next_loop_turn
from tests.scenario import wait_for

NEEDS_PG = pytest.mark.skipif(
    not PG_URL and os.environ.get("NPSBOT_REQUIRE_POSTGRES") != "1",
    reason="PostgreSQL not configured: set NPSBOT_TEST_POSTGRES_URL="
    "postgresql+asyncpg://postgres@127.0.0.1:5432/test (CI does)",
)
REPLICAS = 3


@pytest.fixture
async def empty_pg() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database (never migrated): what a first deployment meets."""
    name = f"npsbot_mig_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _versions(url: str) -> set[str]:
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        return {row[0] for row in await conn.fetch("SELECT version_num FROM alembic_version")}
    finally:
        await conn.close()


async def _waiting_for_the_lock(conn: asyncpg.Connection) -> int:
    """How many sessions wait for the migration lock right now."""
    found = await conn.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $1",
        MIGRATION_LOCK_KEY,
    )
    return int(found)


@NEEDS_PG
async def test_replicas_starting_together_migrate_once(
    empty_pg: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Someone (a replica already migrating) holds the lock: every start must wait for it.
    holder = await asyncpg.connect(_asyncpg_dsn(empty_pg))
    await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    replicas = [Database(empty_pg) for _ in range(REPLICAS)]
    try:
        with caplog.at_level(logging.INFO, logger="storage.db"):
            starts = [asyncio.create_task(db.migrate()) for db in replicas]

            async def all_queued() -> bool:
                assert not any(start.done() for start in starts), "one migrated unlocked"
                return await _waiting_for_the_lock(holder) >= REPLICAS

            await wait_for(all_queued, "the replicas queued for the lock", within=30)
            await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
            await asyncio.wait_for(asyncio.gather(*starts), timeout=120)  # no error in any
        waiting = [r for r in caplog.records if "another process is migrating" in r.message]
        assert len(waiting) == REPLICAS
        assert await _versions(empty_pg) == code_heads()
        for db in replicas:
            assert (await db.schema()).current
        # Each table once: a second run of a revision would have failed on CREATE TABLE.
        tables = await holder.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = 'events'"
        )
        assert tables == 1
    finally:
        await holder.close()
        for db in replicas:
            await db.dispose()


@NEEDS_PG
async def test_replicas_racing_on_an_empty_database_all_start(empty_pg: str) -> None:
    # No referee this time: whoever comes first migrates, the rest find it done.
    replicas = [Database(empty_pg) for _ in range(REPLICAS)]
    try:
        await asyncio.wait_for(asyncio.gather(*(db.migrate() for db in replicas)), timeout=120)
        assert await _versions(empty_pg) == code_heads()
    finally:
        for db in replicas:
            await db.dispose()


async def test_an_older_release_refuses_a_schema_a_newer_one_migrated(db: Database) -> None:
    head = max(code_heads())
    async with db.engine.begin() as conn:
        await conn.execute(
            text("UPDATE alembic_version SET version_num = '0099_newer' WHERE version_num = :h"),
            {"h": head},
        )
    with pytest.raises(DatabaseError) as refused:
        await db.migrate()
    line = str(refused.value)
    assert "0099_newer" in line and "newer release" in line and "\n" not in line
    state = await db.schema()
    assert not state.current and "0099_newer" in state.database  # left as it was


@NEEDS_PG
async def test_pool_size_bounds_the_connections_of_a_process(empty_pg: str) -> None:
    db = Database(empty_pg, pool_size=3)
    pids: set[int] = set()
    peak = 0

    async def unit() -> None:
        nonlocal peak
        async with db.transaction() as store:
            row = await store.driver.fetchrow(same(text("SELECT pg_backend_pid()")))
            assert row is not None
            pids.add(row[0])
            peak = max(peak, db.pool_in_use())
            await next_loop_turn()  # holds the connection while the others ask for one

    try:
        await db.migrate()
        await asyncio.gather(*(unit() for _ in range(12)))
        assert len(pids) == peak == 3  # the pool filled up, and no further
        assert db.pool_in_use() == 0
    finally:
        await db.dispose()

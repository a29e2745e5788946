"""Shared fixtures: real SQLite files and real PostgreSQL databases, migrated once."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from storage.db import Database

# CI (.ci/run) sets both; on a developer machine without PostgreSQL those tests skip.
PG_URL = os.environ.get("NPSBOT_TEST_POSTGRES_URL", "")
REQUIRE_PG = os.environ.get("NPSBOT_REQUIRE_POSTGRES") == "1"
BACKENDS = ["sqlite", "postgres"]


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(PG_URL))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await db.migrate()
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies (migrating once saves seconds)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    """A migrated PostgreSQL template database, or None when PostgreSQL is not configured."""
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("NPSBOT_REQUIRE_POSTGRES=1 but NPSBOT_TEST_POSTGRES_URL is not set")
        yield None
        return
    name = f"npsbot_tpl_{os.getpid()}"
    try:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}"'))
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL at {PG_URL} is required in CI but unreachable: {exc}")
        yield None
        return
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_migrate(url))
    yield name
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
async def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path, pg_template: str | None
) -> AsyncIterator[str]:
    """A fresh, migrated database URL per test: a SQLite file or a PostgreSQL database."""
    async with fresh_database(request.param, tmp_path, sqlite_template, pg_template) as url:
        yield url


@asynccontextmanager
async def fresh_database(
    backend: str, tmp_path: Path, sqlite_template: Path, pg_template: str | None
) -> AsyncIterator[str]:
    """A migrated database's URL, copied from the template of `backend` ("sqlite" or
    "postgres"), dropped afterwards; skips when PostgreSQL is not configured."""
    if backend == "sqlite":
        path = tmp_path / "npsbot.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    if pg_template is None:
        pytest.skip(
            "PostgreSQL not configured: set NPSBOT_TEST_POSTGRES_URL="
            "postgresql+asyncpg://postgres@127.0.0.1:5432/test (CI does)"
        )
    name = f"npsbot_t_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """An open Database on the fresh URL."""
    database = Database(db_url)
    yield database
    await database.dispose()


async def next_loop_turn() -> None:
    """Lets every task that is ready run once (a yield, not a timed wait)."""
    loop = asyncio.get_running_loop()
    turn = loop.create_future()
    loop.call_soon(turn.set_result, None)
    await turn

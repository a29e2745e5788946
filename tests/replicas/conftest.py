"""Fixtures of the replicas' tests: the emulator, a fresh PostgreSQL database, the cluster."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.db import Database
from tests.conftest import fresh_database
from tests.e2e.conftest import api  # noqa: F401 - the emulator in the test's process


@pytest.fixture
async def pg_url(tmp_path: Path, pg_template: str | None) -> AsyncIterator[str]:
    """A fresh migrated PostgreSQL database: replicas need one (skips when PostgreSQL is
    not configured, fails when NPSBOT_REQUIRE_POSTGRES=1)."""
    # The SQLite template is not used for "postgres"; any path will do.
    async with fresh_database("postgres", tmp_path, tmp_path, pg_template) as url:
        yield url


@pytest.fixture
async def check_db(pg_url: str) -> AsyncIterator[Database]:
    """The test's own connection, for what the database holds."""
    database = Database(pg_url)
    yield database
    await database.dispose()

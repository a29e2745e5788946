"""Alembic environment: runs on the connection npsbot hands over, or on DATABASE_URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from storage.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_settings() -> None:
    from bot.settings import load_settings

    settings = load_settings(require_token=False)
    # Revisions that count answers per local day read the reporting zone (storage/db.py).
    context.config.attributes.setdefault("tz", settings.tz)
    engine = create_async_engine(settings.database_url)
    async with engine.begin() as conn:
        await conn.run_sync(_run)
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # plain `alembic` command line, e.g. `alembic revision --autogenerate`
    asyncio.run(_run_from_settings())

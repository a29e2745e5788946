"""Migration 0008: eNPS rows stored before it get a public id, lose their tags, keep the day."""

from __future__ import annotations

import re
from datetime import datetime

import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import create_async_engine

from storage.db import alembic_config

_INSERT_SURVEY = sa.text(
    "INSERT INTO surveys (slug, name, kind, is_default, active, texts, created_at) "
    "VALUES (:slug, :slug, :kind, :no, :yes, '{}', :at) RETURNING id"
)
_INSERT_RESPONSE = sa.text(
    "INSERT INTO responses (survey_id, step, language, score, source, agent, campaign, "
    "start_payload, payload_unknown, channel, asked_at, scored_at, completed_at) "
    "VALUES (:survey, 'done', 'en', 3, 'warehouse', 'ivan', 'spring', 'p__a-ivan', :no, "
    "'start', :at, :at, :at) RETURNING id"
)
MOMENT = datetime(2026, 11, 5, 8, 24, 7)


async def test_old_enps_rows_get_public_ids_no_tags_and_their_day_only(db_url: str) -> None:
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0008@0006"))
            ids = {}
            for kind in ("enps", "nps"):
                values = {"slug": f"old-{kind}", "kind": kind, "no": False, "yes": True}
                survey = (await conn.execute(_INSERT_SURVEY, {**values, "at": MOMENT})).scalar()
                row = {"survey": survey, "no": False, "at": MOMENT}
                ids[kind] = (await conn.execute(_INSERT_RESPONSE, row)).scalar()
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "heads"))
            query = sa.text(
                "SELECT public_id, source, agent, campaign, start_payload, scored_at "
                "FROM responses WHERE id = :id"
            )
            enps = (await conn.execute(query, {"id": ids["enps"]})).one()
            nps = (await conn.execute(query, {"id": ids["nps"]})).one()
    finally:
        await engine.dispose()
    assert re.fullmatch(r"anon-[0-9a-f]{16}", enps.public_id)
    assert (enps.source, enps.agent, enps.campaign, enps.start_payload) == (None,) * 4
    scored = enps.scored_at
    scored = datetime.fromisoformat(scored) if isinstance(scored, str) else scored
    assert scored == datetime(2026, 11, 5)
    # Customers' answers are untouched.
    assert nps.public_id is None and (nps.source, nps.agent, nps.campaign) == (
        "warehouse",
        "ivan",
        "spring",
    )

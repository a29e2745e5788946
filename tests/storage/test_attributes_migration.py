"""Migration 0017 on both backends, with rows in the database: down and up again, every
answer is kept, and the campaign histograms it counts from the stored answers are exactly
the ones the repositories counted live (local days of TIMEZONE, replaced answers, questions
counted only with their score), so old answers count in `/nps by campaign`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from alembic import command
from sqlalchemy import Connection, inspect, text

from storage.db import Database, alembic_config
from storage.repos.respondents import Profile
from storage.repos.response_start import AnswerContext
from storage.store import Store

# Nine hours ahead of UTC: 14:30 UTC is 23:30 there, so asking and scoring an hour apart
# falls on two local days.
TOKYO = ZoneInfo("Asia/Tokyo")
LATE = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)


async def _answer(
    store: Store,
    user_id: int,
    *,
    campaign: str | None = None,
    score: int | None = None,
    asked: datetime = LATE,
    scored: datetime | None = None,
    **options: Any,
) -> int:
    """One response opened (and scored) by the current code at the given moments."""
    survey = await store.surveys.ensure_default()
    person = await store.respondents.touch(Profile(user_id, user_id, "U", None, "en"))
    response = await store.responses.start(
        survey_id=survey.id,
        respondent_id=person.id,
        chat_id=user_id,
        language="en",
        context=AnswerContext(campaign=campaign, agent="olga" if user_id % 2 else None),
        asked_at=asked,
        **options,
    )
    if score is not None:
        await store.responses.record_score(response, score, at=scored or asked)
        await store.responses.supersede_replaced(response)
    return response.id


async def _fill(db: Database) -> None:
    """Answers of every kind the campaign counts must get right."""
    hour = timedelta(hours=1)
    async with db.transaction() as store:
        # Asked before local midnight, scored after it: two local days.
        await _answer(store, 1, campaign="dec", score=9, scored=LATE + hour)
        await _answer(store, 2, campaign="dec", score=3, asked=LATE - 3 * hour)
        # Replaced by a newer answer through the same door: only the newer one counts.
        old = await _answer(store, 3, campaign="dec", score=2, asked=LATE - 5 * hour)
        await _answer(store, 3, campaign="dec", score=10, replaces=old)
        # A team member's question counts only once answered.
        await _answer(store, 4, campaign="nov", invite_pending=True)
        await _answer(store, 5, campaign="nov", score=7, invite_pending=True, scored=LATE + hour)
        # A question left for a newer one: asked, so counted.
        await _answer(store, 6, campaign="nov", asked=LATE - 2 * hour)
        await _answer(store, 6, score=8, asked=LATE - hour)
        # No campaign; an invitation with attributes; an eNPS answer; another day.
        await _answer(store, 7, score=6)
        await _answer(store, 8, asked=LATE - timedelta(days=3))
        await _answer(
            store, 9, score=0, attributes={"campaign": "dec", "order_id": "A-17", "zone": "n"}
        )
        pulse = await store.surveys.add(slug="pulse", name="Pulse", kind="enps")
        person = await store.respondents.touch(Profile(10, 10, "E", None, "en"))
        employee = await store.responses.start(
            survey_id=pulse.id,
            respondent_id=person.id,
            chat_id=10,
            language="en",
            context=AnswerContext(campaign="dec"),
            asked_at=LATE,
        )
        await store.responses.record_score(employee, 5, at=LATE)


def _dump(connection: Connection) -> dict[str, list[tuple[Any, ...]]]:
    """The histograms with anything counted, and every answer but its attributes."""
    counts = connection.execute(text("SELECT * FROM score_counts")).all()
    counters = [tuple(row)[4:] for row in counts]
    columns = [c["name"] for c in inspect(connection).get_columns("responses")]
    kept = ", ".join(c for c in columns if c != "attributes")
    return {
        "score_counts": sorted(
            (*map(str, tuple(row)[:4]), *n)
            for row, n in zip(counts, counters, strict=True)
            if any(n)
        ),
        "responses": [
            tuple(row)
            for row in connection.execute(text(f"SELECT {kept} FROM responses ORDER BY id"))
        ],
    }


def _down(connection: Connection) -> None:
    # Only this revision's branch: others may sit on 0015 too.
    command.downgrade(alembic_config(connection, tz=TOKYO), "0017@-1")


def _up(connection: Connection) -> None:
    command.upgrade(alembic_config(connection, tz=TOKYO), "heads")


async def test_down_and_up_keeps_every_answer_and_counts_campaigns_as_they_were_counted(
    db_url: str,
) -> None:
    db = Database(db_url, tz=TOKYO)
    try:
        await _fill(db)
        async with db.engine.begin() as conn:
            live = await conn.run_sync(_dump)
        campaign_rows = [row for row in live["score_counts"] if row[2] == "campaign"]
        assert {row[3] for row in campaign_rows} == {"", "dec", "nov"}
        # The scores of the late answer fell on the next local day.
        assert {row[1] for row in campaign_rows if row[3] == "dec"} == {"2026-11-20", "2026-11-21"}

        async with db.engine.begin() as conn:
            await conn.run_sync(_down)
            columns = await conn.run_sync(
                lambda c: [col["name"] for col in inspect(c).get_columns("responses")]
            )
            left = (
                await conn.execute(
                    text("SELECT count(*) FROM score_counts WHERE dimension = 'campaign'")
                )
            ).scalar()
        assert "attributes" not in columns and left == 0

        async with db.engine.begin() as conn:
            await conn.run_sync(_up)
            again = await conn.run_sync(_dump)
        assert again == live
        async with db.snapshot() as store:
            survey = await store.surveys.ensure_default()
            row = await store.responses.latest_for((await store.respondents.by_telegram(9)).id)  # type: ignore[union-attr]
            # Attributes do not survive a downgrade (the column went); the tags did.
            assert row is not None and row.attributes is None and row.campaign == "dec"
            totals = await store.stats.totals(
                [survey.id],
                LATE.date() - timedelta(days=5),
                LATE.date() + timedelta(days=5),
                "campaign",
            )
            every = await store.stats.totals(
                [survey.id], LATE.date() - timedelta(days=5), LATE.date() + timedelta(days=5)
            )
        # The campaigns add up to the totals the reports show.
        summed = tuple(map(sum, zip(*totals.values(), strict=True)))
        assert summed == every[""]
    finally:
        await db.dispose()


async def test_a_database_counted_in_another_zone_never_gets_negative_counts(
    db_url: str,
) -> None:
    """TIMEZONE changed since the answers were counted: the days cannot be split exactly,
    but no count goes below zero and the campaigns are all there."""
    db = Database(db_url)  # counted in UTC
    try:
        await _fill(db)
        async with db.engine.begin() as conn:
            await conn.run_sync(_down)
            await conn.run_sync(_up)  # in Tokyo time
            rows = (
                await conn.execute(text("SELECT * FROM score_counts WHERE dimension = 'campaign'"))
            ).all()
        assert all(n >= 0 for row in rows for n in tuple(row)[4:])
        assert {row[3] for row in rows} == {"", "dec", "nov"}
    finally:
        await db.dispose()

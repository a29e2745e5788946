"""Migration 0021 on both backends, with rows in the database: down and up again, every
answer is kept (as given in Telegram), and the channel histograms it counts are exactly the
ones the repositories counted live (local days of TIMEZONE across local midnight, replaced
answers, questions counted only with their score, eNPS), equal to a recount from the rows;
the live path counts WhatsApp and web answers in their own rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from alembic import command
from sqlalchemy import Connection, inspect, text

from storage.db import Database, alembic_config
from storage.repos.respondents import Profile
from storage.repos.response_start import AnswerContext
from tests.channel_helpers import answer_through, recount, stored

# Nine hours ahead of UTC: 14:30 UTC is 23:30 there, so asking and scoring an hour apart
# falls on two local days.
TOKYO = ZoneInfo("Asia/Tokyo")
LATE = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)


async def _fill(db: Database, other: str = "telegram") -> None:
    """Answers of every kind the counts must get right; `other`: the messaging channel of
    half of them (what the live path counts; a downgrade forgets it)."""
    tg = "telegram"
    # Asked before local midnight, scored after it: two local days.
    await answer_through(db, other, 1, 9, asked=LATE, scored=LATE + HOUR)
    await answer_through(db, tg, 2, 3, asked=LATE - 3 * HOUR)
    # Replaced by a newer answer through the same door: only the newer one counts.
    old = await answer_through(db, other, 3, 2, asked=LATE - 5 * HOUR)
    await answer_through(db, other, 3, 10, asked=LATE, replaces=old)
    # A team member's question counts only once answered.
    await answer_through(db, tg, 4, None, asked=LATE, invite_pending=True)
    await answer_through(db, other, 5, 7, asked=LATE, scored=LATE + HOUR, invite_pending=True)
    # A question left for a newer one: asked, so counted.
    await answer_through(db, other, 6, None, asked=LATE - 2 * HOUR)
    await answer_through(db, tg, 6, 8, asked=LATE - HOUR)
    # Another day; a question never answered.
    await answer_through(db, other, 7, 6, asked=LATE - timedelta(days=3))
    await answer_through(db, tg, 8, None, asked=LATE - timedelta(days=2))
    async with db.transaction() as store:
        pulse = await store.surveys.add(slug="pulse", name="Pulse", kind="enps")
        person = await store.respondents.touch(Profile(10, 10, "E", None, "en"))
        employee = await store.responses.start(
            survey_id=pulse.id,
            respondent_id=person.id,
            chat_id=10,
            language="en",
            context=AnswerContext(messenger=other),
            asked_at=LATE,
        )
        await store.responses.record_score(employee, 5, at=LATE + HOUR)


def _dump(connection: Connection) -> dict[str, list[tuple[Any, ...]]]:
    """The histograms with anything counted, and every answer but its messenger."""
    counts = connection.execute(text("SELECT * FROM score_counts")).all()
    columns = [c["name"] for c in inspect(connection).get_columns("responses")]
    kept = ", ".join(c for c in columns if c not in ("messenger", "attributes"))
    return {
        "score_counts": sorted(
            (*map(str, tuple(row)[:4]), *tuple(row)[4:]) for row in counts if any(tuple(row)[4:])
        ),
        "responses": [
            tuple(row)
            for row in connection.execute(text(f"SELECT {kept} FROM responses ORDER BY id"))
        ],
    }


def _down(connection: Connection) -> None:
    # Only this revision's branch: others sit on 0015 too.
    command.downgrade(alembic_config(connection, tz=TOKYO), "0021@-1")


def _up(connection: Connection) -> None:
    command.upgrade(alembic_config(connection, tz=TOKYO), "heads")


def _as_channel(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The "all" rows as the "telegram" rows of the channel dimension."""
    return sorted((r[0], r[1], "channel", "telegram", *r[4:]) for r in rows if r[2] == "all")


async def test_down_and_up_keeps_every_answer_and_counts_channels_as_they_were_counted(
    db_url: str,
) -> None:
    db = Database(db_url, tz=TOKYO)
    try:
        await _fill(db)
        async with db.engine.begin() as conn:
            live = await conn.run_sync(_dump)
        channel_rows = [row for row in live["score_counts"] if row[2] == "channel"]
        # The live path counted every answer in Telegram's row, on local days: the late
        # answer's score fell on the next one.
        assert channel_rows == _as_channel(live["score_counts"])
        assert {row[1] for row in channel_rows} >= {"2026-11-20", "2026-11-21"}
        assert await stored(db) == await recount(db, TOKYO)

        async with db.engine.begin() as conn:
            await conn.run_sync(_down)
            columns = await conn.run_sync(
                lambda c: [col["name"] for col in inspect(c).get_columns("responses")]
            )
            left = (
                await conn.execute(
                    text("SELECT count(*) FROM score_counts WHERE dimension = 'channel'")
                )
            ).scalar()
        assert "messenger" not in columns and left == 0

        async with db.engine.begin() as conn:
            await conn.run_sync(_up)
            again = await conn.run_sync(_dump)
        assert again == live
        assert await stored(db) == await recount(db, TOKYO)
        async with db.snapshot() as store:
            survey = await store.surveys.ensure_default()
            period = (LATE.date() - timedelta(days=5), LATE.date() + timedelta(days=5))
            by_channel = await store.stats.totals([survey.id], *period, "channel")
            every = await store.stats.totals([survey.id], *period)
            row = await store.responses.get(await _latest(db, 2))
        assert by_channel == {"telegram": every[""]}
        assert row is not None and row.messenger == "telegram"
    finally:
        await db.dispose()


async def _latest(db: Database, user_id: int) -> int:
    async with db.snapshot() as store:
        person = await store.respondents.by_telegram(user_id)
        assert person is not None
        row = await store.responses.latest_for(person.id)
    assert row is not None
    return row.id


async def test_other_channels_count_apart_and_a_downgrade_gives_them_to_telegram(
    db_url: str,
) -> None:
    db = Database(db_url, tz=TOKYO)
    try:
        await _fill(db, other="whatsapp")
        await answer_through(db, "web", 11, 10, asked=LATE + 2 * HOUR)
        live = await stored(db)
        assert live == await recount(db, TOKYO)
        assert {value for _, _, value in live} == {"telegram", "whatsapp", "web"}
        whatsapp = [n for key, n in live.items() if key[2] == "whatsapp"]
        # Scores 9, 10 (replacing the 2), 7 (a team member's), 6, and 5 (eNPS); invited:
        # those five and the question left for a newer one.
        summed = [sum(column) for column in zip(*whatsapp, strict=True)]
        assert summed == [6, 0, 0, 0, 0, 0, 1, 1, 1, 0, 1, 1]
        async with db.engine.begin() as conn:
            await conn.run_sync(_down)
            await conn.run_sync(_up)
        # The column came back as 'telegram' for every answer, and so did the counts.
        after = await stored(db)
        assert after == await recount(db, TOKYO)
        totals = await stored(db, "all")
        assert after == {(survey, day, "telegram"): n for (survey, day, _), n in totals.items()}
    finally:
        await db.dispose()


async def test_a_database_counted_in_another_zone_keeps_channels_equal_to_the_totals(
    db_url: str,
) -> None:
    """TIMEZONE changed since the answers were counted: a recount could not split those
    days exactly, but the channel rows are the totals' rows, so they still add up."""
    db = Database(db_url)  # counted in UTC
    try:
        await _fill(db)
        async with db.engine.begin() as conn:
            await conn.run_sync(_down)
            await conn.run_sync(_up)  # in Tokyo time
            counts = await conn.run_sync(_dump)
        rows = counts["score_counts"]
        assert [row for row in rows if row[2] == "channel"] == _as_channel(rows)
        assert await stored(db) == await recount(db, UTC)
    finally:
        await db.dispose()

"""Driver SQL (storage/driver.py) shares the session's transaction and stores values exactly
as SQLAlchemy's column types do, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import exc, select, text

from storage.db import Database
from storage.models import ProcessedUpdate, Respondent, ScoreCount
from storage.repos.respondents import Profile
from storage.statements import same

MOMENT = datetime(2026, 11, 25, 9, 30, 0, tzinfo=UTC)  # whole seconds: the tricky format


class Boom(Exception):
    """Raised inside a transaction to roll it back."""


async def test_a_driver_statement_first_in_a_transaction_rolls_back_with_it(db: Database) -> None:
    with pytest.raises(Boom):
        async with db.transaction() as store:
            # The first statement of the unit of work: the driver begins the transaction.
            assert await store.updates.claim(501)
            store.surveys._session.add(ProcessedUpdate(update_id=502, processed_at=MOMENT))
            await store.surveys._session.flush()
            raise Boom
    async with db.transaction() as store:
        # Neither the driver's row nor the ORM's survived the rollback.
        assert await store.updates.claim(501)
        assert await store.updates.claim(502)
        assert not await store.updates.claim(501)


async def test_driver_reads_see_the_sessions_unflushed_changes(db: Database) -> None:
    async with db.transaction() as store:
        session = store.surveys._session
        session.add(ProcessedUpdate(update_id=601, processed_at=MOMENT))  # not flushed
        assert not await store.updates.claim(601)


async def test_moments_and_days_are_stored_as_sqlalchemy_stores_them(db: Database) -> None:
    async with db.transaction() as store:
        session = store.surveys._session
        session.add(ProcessedUpdate(update_id=1, processed_at=MOMENT))
        await session.flush()
        driver = store.driver
        insert = text("INSERT INTO processed_updates (update_id, processed_at) VALUES (:id, :at)")
        await driver.execute(same(insert, "id", "at"), 2, driver.stamp(MOMENT))
        survey_id = (await store.surveys.ensure_default()).id
        await store.stats.count_invited(survey_id, MOMENT, [("all", "")])
    async with db.snapshot() as store:
        session = store.surveys._session
        # The stored text (SQLite) or value (PostgreSQL) is the same whoever wrote it.
        stored = (
            await session.execute(
                text("SELECT CAST(processed_at AS TEXT) FROM processed_updates ORDER BY update_id")
            )
        ).scalars()
        orm_written, driver_written = stored.all()
        assert orm_written == driver_written
        # And SQLAlchemy reads both back as the same aware moment.
        moments = (
            await session.scalars(select(ProcessedUpdate.processed_at).order_by("update_id"))
        ).all()
        assert moments == [MOMENT, MOMENT]
        [row] = (await session.scalars(select(ScoreCount))).all()
        assert (row.survey_id, row.day, row.invited) == (survey_id, date(2026, 11, 25), 1)
        # Reports select days by range: the driver's day compares like SQLAlchemy's.
        in_range = await session.scalar(
            select(ScoreCount.invited).where(ScoreCount.day >= date(2026, 11, 25))
        )
        assert in_range == 1


async def test_touch_returns_what_the_orm_reads(db: Database) -> None:
    profile = Profile(user_id=77, chat_id=77, first_name="Zoë", username=None, language_code="uk")
    async with db.transaction() as store:
        first = await store.respondents.touch(profile)
    async with db.transaction() as store:
        await store.respondents.set_subscribed(first.id, False)
        again = await store.respondents.touch(profile)
        row = await store.respondents._session.get(Respondent, first.id)
        assert isinstance(row, Respondent) and first.id != 77 and first.telegram_id == 77
        assert (again.subscribed, row.subscribed) == (False, False)
        assert again.started_at == first.started_at == row.started_at
        assert again.last_seen_at >= first.last_seen_at
        assert again.started_at.tzinfo is UTC and isinstance(again.unreachable, bool)
        assert (again.first_name, again.telegram_language) == ("Zoë", "uk")


async def test_driver_errors_arrive_as_sqlalchemy_errors(db: Database) -> None:
    with pytest.raises(exc.IntegrityError):
        async with db.transaction() as store:
            # No such survey: the histogram's foreign key refuses the row at the commit.
            await store.stats.count_invited(999_999, MOMENT, [("all", "")])
    with pytest.raises(exc.DBAPIError):
        async with db.transaction() as store:
            await store.driver.execute(same(text("UPDATE no_such_table SET x = :x"), "x"), 1)
    async with db.transaction() as store:
        assert await store.updates.claim(1)  # the connection is usable again


async def test_orm_work_joins_the_unit_of_work_only_when_asked_for(db: Database) -> None:
    async with db.transaction() as store:
        assert await store.updates.claim(701)
        lazy = store.updates._session
        assert lazy._session is None  # driver SQL only: no ORM session was made
        # An entity added and never flushed by hand is written before the commit.
        store.surveys._session.add(ProcessedUpdate(update_id=702, processed_at=MOMENT))
        assert lazy._session is not None
    async with db.snapshot() as store:
        ids = await store.surveys._session.scalars(
            select(ProcessedUpdate.update_id).where(ProcessedUpdate.update_id > 700)
        )
        assert sorted(ids.all()) == [701, 702]


async def test_claim_and_touch_claims_once_and_always_returns_the_profile(db: Database) -> None:
    profile = Profile(user_id=88, chat_id=88, first_name="Ana", username="ana", language_code="ro")
    async with db.transaction() as store:
        claimed, visitor = await store.respondents.claim_and_touch(9001, profile)
        # A new person: an internal id, the Telegram id on their address.
        assert claimed and (visitor.telegram_id, visitor.first_name, visitor.subscribed) == (
            88,
            "Ana",
            True,
        )
        assert visitor.id != 88
        person = visitor.id
    renamed = Profile(
        user_id=88, chat_id=88, first_name="Ana M", username="ana", language_code="ro"
    )
    async with db.transaction() as store:
        claimed, visitor = await store.respondents.claim_and_touch(9001, renamed)
        assert not claimed  # redelivered: handled before
        assert visitor.first_name == "Ana M" and visitor.id == person
        claimed, _ = await store.respondents.claim_and_touch(9002, renamed)
        assert claimed
        assert not await store.updates.claim(9002)  # one log for both ways of claiming

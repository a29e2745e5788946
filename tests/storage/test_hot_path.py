"""The survey path's shortcuts keep the same results: inline SQLite, one look-up for the
interceptors, histogram counts written at the end of the transaction, rows kept current."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import exc, select, text

from storage.admin_models import StaffDialog
from storage.broadcast_models import ImportRequest
from storage.case_models import CaseThread, PendingReply
from storage.db import POOL_SIZE, Database
from storage.models import Response, Step, utcnow
from storage.repos.pending import Pending
from storage.repos.respondents import Person, Profile
from storage.sqlite_inline import InlineConnection
from storage.statements import same
from tests.admin_helpers import seed_invitations
from tests.conftest import _asyncpg_dsn, next_loop_turn

USER = 4242


async def _open_response(db: Database, user_id: int = USER) -> int:
    [response_id] = await seed_invitations(db, 1, first_user=user_id)
    return response_id


@pytest.fixture
async def sqlite_db(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Database]:
    """A migrated SQLite database only (these tests are about its connection adapter)."""
    path = tmp_path / "npsbot.db"
    shutil.copyfile(sqlite_template, path)
    database = Database(f"sqlite+aiosqlite:///{path}")
    yield database
    await database.dispose()


async def test_sqlite_runs_on_the_event_loop_and_maps_driver_errors(sqlite_db: Database) -> None:
    db = sqlite_db
    async with db.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert isinstance(raw.driver_connection, InlineConnection)
    response_id = await _open_response(db)
    # A constraint violation arrives as SQLAlchemy's IntegrityError, and rolls back whole.
    with pytest.raises(exc.IntegrityError):
        async with db.transaction() as store:
            await store.responses.set_prompt_message(response_id, 77)
            session = store.responses._session
            await session.execute(
                text("INSERT INTO processed_updates (update_id, processed_at) VALUES (1, '2026')")
            )
            await session.execute(
                text("INSERT INTO processed_updates (update_id, processed_at) VALUES (1, '2026')")
            )
    async with db.snapshot() as store:
        response = await store.responses.get(response_id)
        assert response is not None and response.prompt_message_id is None


async def test_sqlite_streams_rows_in_batches(sqlite_db: Database) -> None:
    db = sqlite_db
    for user in range(5):
        await _open_response(db, 100 + user)
    session = db.new_session()
    try:
        result = await session.stream(
            select(Response.respondent_id).order_by(Response.id).execution_options(yield_per=2)
        )
        batches = [list(part) async for part in result.partitions()]
    finally:
        await session.close()
    assert [len(b) for b in batches] == [2, 2, 1]
    # Internal person ids (1…5 on a fresh database), not the Telegram ids 100…104.
    assert [row[0] for batch in batches for row in batch] == [1, 2, 3, 4, 5]


async def test_databases_on_one_sqlite_file_take_turns_to_write(sqlite_db: Database) -> None:
    """A second Database on the same file (as tests and the CLI open) waits for the first
    writer's commit in this process's queue, never in SQLite's busy handler, which would
    stop the event loop the first writer needs to finish."""
    other = Database(sqlite_db.url)
    holding, release = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with sqlite_db.transaction() as store:
            assert await store.updates.claim(1)
            holding.set()
            await release.wait()

    async def second() -> None:
        await holding.wait()
        async with other.transaction() as store:
            assert await store.updates.claim(2)

    try:
        writers = [asyncio.create_task(first()), asyncio.create_task(second())]
        await holding.wait()
        for _ in range(5):
            await next_loop_turn()
        assert not writers[1].done()  # queued behind the open transaction
        release.set()
        await asyncio.gather(*writers)
        async with other.transaction() as store:
            assert not await store.updates.claim(1) and not await store.updates.claim(2)
    finally:
        await other.dispose()


async def test_touch_returns_the_row_as_stored(db: Database) -> None:
    async with db.transaction() as store:
        first = await store.respondents.touch(Profile(USER, USER, "Ana", "ana", "ro"))
        await store.respondents.set_language(first.id, "pl")
    async with db.transaction() as store:
        again = await store.respondents.touch(Profile(USER, USER, "Ana M.", None, "en"))
    assert isinstance(first, Person) and first.subscribed and not first.unreachable
    # A person of their own: an internal id, the Telegram id and chat on their address.
    assert first.id != USER and (first.telegram_id, first.chat_id) == (USER, USER)
    assert again.id == first.id
    assert (again.first_name, again.username, again.telegram_language) == ("Ana M.", None, "en")
    assert again.language_override == "pl" and again.started_at == first.started_at


async def test_pending_markers_are_read_in_one_look_up(db: Database) -> None:
    staff, chat, user = 7001, -100500, 7002
    response_id = await _open_response(db, user)
    async with db.transaction() as store:
        respondent = await store.respondents.person_of(user)
        assert respondent is not None and respondent != user
        assert await store.pending.of(staff, chat, None) == Pending(False, False, False, False)
        survey = await store.surveys.ensure_default()
        case = await store.cases.open(response_id, survey.id, respondent)
        session = store.responses._session
        now = utcnow()
        session.add_all(
            [
                PendingReply(staff_id=staff, chat_id=chat, case_id=case.id, started_at=now),
                CaseThread(
                    respondent_id=respondent, case_id=case.id, staff_chat_id=chat, updated_at=now
                ),
                ImportRequest(user_id=staff, requested_at=now),
            ]
        )
        await session.flush()
        assert await store.pending.of(staff, chat, None) == Pending(True, False, False, True)
        # A reply waits in one chat only; the thread belongs to the respondent (a person).
        assert await store.pending.of(staff, chat + 1, None) == Pending(False, False, False, True)
        expected = Pending(False, True, False, False)
        assert await store.pending.of(user, user, respondent) == expected
        assert await store.pending.of(user, user, None) == Pending(False, False, False, False)
        await store.dialogs.start(staff, "new", "name")
        assert (await store.pending.of(staff, chat, None)).dialog
        assert await session.scalar(select(StaffDialog.user_id)) == staff


async def test_histogram_counts_are_written_at_commit_and_seen_inside(db: Database) -> None:
    response_id = await _open_response(db)
    async with db.transaction() as store:
        survey = await store.surveys.ensure_default()
        day = store.stats.local_day(utcnow())
        assert await store.responses.record_score(response_id, 3)
        # Read back in the same transaction: the pending counts are written first.
        totals = await store.stats.totals([survey.id], day, day)
        assert totals[""][1 + 3] == 1 and totals[""][0] == 1  # score 3; one invitation
    async with db.snapshot() as store:
        totals = await store.stats.totals([survey.id], day - timedelta(days=1), day)
        assert totals[""][1 + 3] == 1
    # A transaction that fails writes none of its counts.
    second = await _open_response(db, USER + 1)
    with pytest.raises(RuntimeError):
        async with db.transaction() as store:
            assert await store.responses.record_score(second, 9)
            raise RuntimeError("handler crashed")
    async with db.snapshot() as store:
        totals = await store.stats.totals([survey.id], day, day)
        assert totals[""][1 + 9] == 0 and totals[""][1 + 3] == 1


async def test_recording_a_loaded_response_keeps_it_current(db: Database) -> None:
    response_id = await _open_response(db)
    async with db.transaction() as store:
        response = await store.responses.get(response_id)
        assert response is not None
        assert await store.responses.record_score(response, 8)
        assert (response.step, response.score) == (Step.WHY, 8)
        assert response.scored_at is not None
        assert await store.responses.record_why(response, "fast")
        assert (response.step, response.why) == (Step.IMPROVE, "fast")
        assert not await store.responses.record_why(response, "again")  # the step moved on
        assert await store.responses.record_improve(response, None)
        assert response.step == Step.DONE and response.completed_at is not None
        # Nothing was marked changed: the commit writes no stale copy over the row.
        assert response not in store.responses._session.dirty
    async with db.snapshot() as store:
        stored = await store.responses.get(response_id)
        assert stored is not None
        assert (stored.step, stored.score, stored.why, stored.improve) == (
            Step.DONE,
            8,
            "fast",
            None,
        )


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_connection_the_server_closed_is_replaced_not_used(db_url: str) -> None:
    """No ping per checkout: a pooled connection whose backend was terminated (as by a
    PostgreSQL restart) is dropped at checkout, and the next transaction just works."""
    db = Database(db_url)
    try:
        async with db.transaction() as store:
            session = store.responses._session
            first_pid = await session.scalar(text("SELECT pg_backend_pid()"))
            raw = (await (await session.connection()).get_raw_connection()).driver_connection
        admin = await asyncpg.connect(_asyncpg_dsn(db_url))
        try:
            await admin.execute("SELECT pg_terminate_backend($1)", first_pid)
        finally:
            await admin.close()
        deadline = asyncio.get_running_loop().time() + 10
        while not raw.is_closed():  # the server's goodbye reaches the client's loop
            assert asyncio.get_running_loop().time() < deadline, "never saw the close"
            await next_loop_turn()
        async with db.transaction() as store:
            pid = await store.responses._session.scalar(text("SELECT pg_backend_pid()"))
        assert pid != first_pid
    finally:
        await db.dispose()


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_busy_units_of_work_reuse_the_pools_connections(db_url: str) -> None:
    """More concurrent units of work than pooled connections queue for one; none opens a
    connection that is closed again on return (a new server backend each time)."""
    db = Database(db_url)
    pids: set[int] = set()

    async def unit() -> None:
        async with db.transaction() as store:
            row = await store.driver.fetchrow(same(text("SELECT pg_backend_pid()")))
            assert row is not None
            pids.add(row[0])
            await next_loop_turn()  # holds the connection while the others ask for one

    try:
        for _ in range(3):
            await asyncio.gather(*(unit() for _ in range(2 * POOL_SIZE)))
        assert 1 < len(pids) <= POOL_SIZE
    finally:
        await db.dispose()

"""Issue 13: replies a dead replica kept are taken over by a live one — each row by one
taker, never a live process's rows, every row at a SQLite start — on both backends."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from storage.db import Database
from storage.models import utcnow
from storage.outbox_models import KeptReplies

WINDOW = timedelta(seconds=6)


async def _keep(db: Database, chat_id: int, owner: str | None) -> int:
    async with db.transaction() as store:
        return await store.outbox.keep(chat_id, "[]", owner)


async def _age(db: Database, seconds: float) -> None:
    """Makes every kept row (and heartbeat) `seconds` older, as time passing would."""
    async with db.transaction() as store:
        session = store.responses._session
        for row in (await session.scalars(select(KeptReplies))).all():
            row.created_at = row.created_at - timedelta(seconds=seconds)
        await session.flush()


async def _beat(db: Database, name: str, ago: float = 0.0) -> None:
    async with db.transaction() as store:
        await store.workers.heartbeat(name, utcnow() - timedelta(seconds=ago))


async def _owners(db: Database) -> dict[int, str | None]:
    async with db.snapshot() as store:
        session = store.responses._session
        rows = (await session.execute(select(KeptReplies.chat_id, KeptReplies.owner))).all()
    return {int(chat): owner for chat, owner in rows}


async def test_a_dead_replicas_rows_go_to_one_live_replica_and_a_live_ones_stay(
    db: Database,
) -> None:
    for name in ("alive", "me", "other", "third"):  # a taker beats before it takes
        await _beat(db, name)
    await _beat(db, "dead", ago=30)
    await _keep(db, 1, "alive")
    await _keep(db, 2, "dead")
    await _keep(db, 3, "gone")  # stopped cleanly: no heartbeat row any more
    await _keep(db, 4, "me")
    await _age(db, 10)
    await _keep(db, 5, "dead")  # too young: its owner may just not have beaten yet
    now = utcnow()

    async def take(me: str) -> list[int]:
        async with db.transaction() as store:
            rows = await store.outbox.take_abandoned(me, now - WINDOW)
        return [row.chat_id for row in rows]

    first, second = await asyncio.gather(take("me"), take("other"))
    assert sorted(first + second) == [2, 3]  # each abandoned row once, by one of them
    owners = await _owners(db)
    assert owners[1] == "alive" and owners[4] == "me" and owners[5] == "dead"
    assert {owners[2], owners[3]} <= {"me", "other"}
    assert await take("third") == []  # the takers are alive: nothing more to take


async def test_a_start_takes_unowned_rows_and_on_sqlite_every_earlier_row(
    db: Database,
) -> None:
    await _beat(db, "alive")
    await _keep(db, 1, None)  # written before migration 0024, or by an embedded bot
    await _keep(db, 2, "alive")
    await _keep(db, 3, "gone")
    started = utcnow()
    await _keep(db, 4, None)  # after the start: someone else's, not the earlier run's
    async with db.transaction() as store:
        taken = await store.outbox.take_left("me", started, anyone=False)
    assert sorted(row.chat_id for row in taken) == [1, 3]
    async with db.transaction() as store:
        rest = await store.outbox.take_left("me", started, anyone=True)
    # One process runs the bot on SQLite: the "alive" row is an earlier run's too.
    assert [row.chat_id for row in rest] == [2]
    assert (await _owners(db))[4] is None


async def test_a_row_being_taken_is_skipped_by_the_other_taker(db: Database) -> None:
    await _beat(db, "a")
    await _beat(db, "b")
    await _keep(db, 7, "dead")
    await _age(db, 10)
    now = utcnow()
    results = []
    for me in ("a", "b"):
        async with db.transaction() as store:
            results.append(await store.outbox.take_abandoned(me, now - WINDOW))
    assert [len(r) for r in results] == [1, 0]

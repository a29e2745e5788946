"""Replicas lease their shares of BROADCAST_RATE through their heartbeat rows: the shares
never add up to more than the rate, a lower share waits for its tokens still out, only
replicas with work get one, and a finished or dead one's share goes to the others."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.broadcast.sending_process import LIVE_WINDOW, SendingProcess, fair_share
from bot.settings import Settings
from storage.db import Database
from storage.models import utcnow
from tests.conftest import next_loop_turn


def _process(name: str, rate: float = 30.0) -> SendingProcess:
    settings = Settings(_env_file=None, broadcast_rate=rate, broadcast_paid=rate > 30)  # type: ignore[call-arg]
    return SendingProcess(settings, name=name)


async def _shares(db: Database) -> dict[str, float]:
    async with db.snapshot() as store:
        leases = await store.workers.leases(utcnow() - timedelta(seconds=LIVE_WINDOW))
    return {lease.worker: lease.share for lease in leases}


def test_fair_shares_add_up_to_the_whole_rate() -> None:
    four = ["a", "b", "c", "d"]
    assert [fair_share(30, w, four) for w in four] == [8, 8, 7, 7]
    three = ["x", "y", "z"]
    assert sum(fair_share(1000, w, three) for w in three) == 1000
    assert fair_share(2, "a", four) == 0.5  # fewer messages than replicas: fractions


async def test_a_newcomer_gets_its_share_only_once_the_holder_let_it_go(db: Database) -> None:
    a, b = _process("a"), _process("b")
    assert a.limiter.rate == 0  # nothing may be sent before the first lease
    a.want("broadcasts")
    await a.beat(db, force=True)
    assert a.share == 30 and a.limiter.rate == 30
    for _ in range(20):  # twenty of a's messages answered just now: they count for a second
        await a.limiter.acquire()
        a.limiter.release()
    b.want("broadcasts")
    await b.beat(db, force=True)
    assert b.share == 0 and b.limiter.rate == 0  # a holds the whole rate
    await a.beat(db, force=True)
    assert a.limiter.rate == 15  # a slows down at once…
    assert await _shares(db) == {"a": 20, "b": 0}  # …but keeps what its last second used
    await b.beat(db, force=True)
    assert b.share == 10  # only what nobody holds
    await a.limiter.drained()
    await a.beat(db, force=True)
    await b.beat(db, force=True)
    assert (a.share, b.share) == (15, 15)
    assert sum((await _shares(db)).values()) <= 30


async def test_a_replica_without_work_gives_its_share_back(db: Database) -> None:
    a, b = _process("a", 1000), _process("b", 1000)
    for process in (a, b):
        process.want("broadcasts")
    for process in (a, b, a, b):
        await process.beat(db, force=True)
    assert (a.share, b.share) == (500, 500)
    await a.done(db, "broadcasts")  # no rows left to claim
    assert a.share == 0 and a.limiter.rate == 0
    await b.beat(db, force=True)
    assert b.share == 1000


async def test_a_dead_replicas_share_is_free_after_the_live_window(db: Database) -> None:
    a, b = _process("a"), _process("b")
    for process in (a, b):
        process.want("broadcasts")
    for process in (a, b, a, b):
        await process.beat(db, force=True)
    assert (a.share, b.share) == (15, 15)
    # a is killed: its heartbeat stops; once its row is LIVE_WINDOW old it counts no more.
    async with db.transaction() as store:
        stale = utcnow() - timedelta(seconds=LIVE_WINDOW + 1)
        await store.workers.set_lease("a", stale, share=15, wants=True)
    await b.beat(db, force=True)
    assert b.share == 30 and b.live == ["b"]


async def test_an_unrenewed_lease_stops_sending(db: Database) -> None:
    a = _process("a")
    a.want("reminders")
    await a.beat(db, force=True)
    assert a.limiter.valid_until < float("inf")  # renewed by each heartbeat, or it runs out
    a.limiter.set_rate(30, valid_until=0.0)  # as if the heartbeat had failed for seconds
    waiter = asyncio.ensure_future(a.limiter.acquire())
    await next_loop_turn()
    assert not waiter.done()
    await a.beat(db, force=True)  # renewed: the waiting send goes
    await asyncio.wait_for(waiter, 5)

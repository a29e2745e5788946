"""Issue 11, signed events: the delivery worker against real HTTP receivers (aiohttp on
127.0.0.1) and real databases (SQLite and PostgreSQL) — per-URL order, retries with
exponential backoff and full jitter, dead after 24 hours, at least once across a crash,
and a receiver down for a while that then gets everything once, in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from bot.app import background_jobs
from bot.broadcast.sending_process import SendingProcess
from bot.events import events_job
from bot.events.delivery import Backoff, EventSender
from bot.settings import Settings
from storage.db import Database
from storage.repos.events import EventRepo, UrlStatus
from tests.conftest import BACKENDS
from tests.e2e.events_receiver import Receiver
from tests.scenario import wait_for

SECRET = "whsec-test-0123456789abcdef"
DEADLINE = 10.0  # seconds any condition below may take


# Each test on SQLite and PostgreSQL (the end-to-end tier's db_url is SQLite unless asked).
BOTH = pytest.mark.parametrize("db_url", BACKENDS, indirect=True)


class Killed(Exception):
    """The process dies here (nothing after it runs)."""


class Clock:
    """A clock the test moves: the worker's "now" and the receiver's."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC) + timedelta(seconds=1)  # after the events' creation

    def __call__(self) -> datetime:
        return self.now

    def unix(self) -> float:
        return self.now.timestamp()

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def receivers() -> AsyncIterator[list[Receiver]]:
    """Two receivers, started; stopped at the end."""
    started = [Receiver(SECRET), Receiver(SECRET)]
    for receiver in started:
        await receiver.start()
    yield started
    for receiver in started:
        await receiver.stop()


async def _emit(db: Database, n: int, start: int = 0) -> list[str]:
    ids = []
    for i in range(start, start + n):
        async with db.transaction() as store:
            event_id = await store.events.emit("response.scored", {"n": i, "why": "Ünïcode ✓"})
        assert event_id is not None
        ids.append(event_id)
    return ids


async def _status(db: Database) -> dict[str, UrlStatus]:
    async with db.snapshot() as store:
        return {status.url: status for status in await store.events.status()}


async def _until(condition: Callable[[], object], what: str) -> None:
    await wait_for(condition, what, within=DEADLINE)


@BOTH
async def test_each_url_gets_its_events_in_order_and_a_failing_url_holds_back_only_its_own(
    db_url: str, receivers: list[Receiver], http: aiohttp.ClientSession
) -> None:
    ok, failing = receivers
    clock = Clock()
    ok.now = failing.now = clock.unix
    failing.status = 503
    db = Database(db_url, event_urls=[ok.url, failing.url])
    try:
        ids = await _emit(db, 3)
        sender = EventSender(db, SECRET, http, clock=clock, jitter=lambda: 1.0)
        assert await sender.deliver_due() == 3
        assert ok.ids() == ids  # in order, once each
        assert ok.bad_signatures == failing.bad_signatures == 0
        assert ok.accepted[0] == {
            "id": ids[0],
            "type": "response.scored",
            "created_at": ok.accepted[0]["created_at"],
            "data": {"n": 0, "why": "Ünïcode ✓"},
        }
        assert ok.accepted[0]["created_at"].endswith("Z")
        # The failing URL's head was tried once; the events behind it were not sent.
        assert [event["id"] for event in failing.requests] == ids[:1]
        assert await sender.deliver_due() == 0  # its retry is not due yet
        assert len(failing.requests) == 1
        status = (await _status(db))[failing.url]
        assert (status.backlog, status.last_error, status.head_attempts) == (
            3,
            "HTTP 503 Service Unavailable",
            1,
        )
        failing.status = 200
        clock.advance(1.0)  # the first retry waits at most 1 s (base 1 s, jitter 1.0)
        assert await sender.deliver_due() == 3
        assert failing.ids() == ids
        assert ok.ids() == ids  # nothing sent twice
        assert (await _status(db))[failing.url].backlog == 0
    finally:
        await db.dispose()


@BOTH
@pytest.mark.parametrize("jitter", [1.0, 0.5])
async def test_retries_back_off_exponentially_with_full_jitter_then_die_after_24_hours(
    db_url: str,
    receivers: list[Receiver],
    http: aiohttp.ClientSession,
    jitter: float,
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = receivers[0]
    clock = Clock()
    receiver.now = clock.unix
    receiver.status = 500
    db = Database(db_url, event_urls=[receiver.url])
    caplog.set_level(logging.DEBUG)
    try:
        dying, behind = await _emit(db, 2)
        created = clock.now - timedelta(seconds=1)
        sender = EventSender(db, SECRET, http, clock=clock, jitter=lambda: jitter)
        delays: list[float] = []
        while True:
            await sender.deliver_due()
            status = (await _status(db))[receiver.url]
            if status.dead:
                break
            assert status.next_attempt_at is not None
            delays.append((status.next_attempt_at - clock.now).total_seconds())
            clock.now = status.next_attempt_at
        expected = [jitter * min(3600.0, 2.0**n) for n in range(len(delays))]
        assert delays == pytest.approx(expected)
        # Retried for 24 hours, not more than one longest wait beyond.
        assert timedelta(hours=24) <= clock.now - created < timedelta(hours=25)
        assert [event["id"] for event in receiver.requests] == [dying] * (len(delays) + 1)
        # The dead event stays counted; the URL's next event is now its head.
        assert (status.dead, status.backlog, status.head_attempts) == (1, 1, 0)
        receiver.status = 200
        assert await sender.deliver_due() == 1
        assert receiver.ids() == [behind]
    finally:
        await db.dispose()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "given up after" in logged and SECRET not in logged


@BOTH
async def test_a_crash_between_sending_and_recording_sends_the_event_again(
    db_url: str,
    receivers: list[Receiver],
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver = receivers[0]
    clock = Clock()
    receiver.now = clock.unix
    db = Database(db_url, event_urls=[receiver.url])
    try:
        (event_id,) = await _emit(db, 1)
        sender = EventSender(db, SECRET, http, clock=clock)

        async def killed(self: EventRepo, *args: object) -> bool:
            raise Killed("kill -9 after the receiver's 200, before it was recorded")

        with monkeypatch.context() as patched:
            patched.setattr(EventRepo, "delivered", killed)
            with pytest.raises(Killed):
                await sender.deliver_due()
        assert receiver.ids() == [event_id]
        restarted = EventSender(db, SECRET, http, clock=clock)
        assert await restarted.deliver_due() == 0  # claimed by the dead worker for now
        clock.advance(30)  # its claim (LEASE) runs out
        assert await restarted.deliver_due() == 1
        assert receiver.ids() == [event_id, event_id]  # at least once: same id, twice
        assert await restarted.deliver_due() == 0
        assert receiver.ids() == [event_id, event_id]
    finally:
        await db.dispose()


@BOTH
async def test_a_stopped_worker_gives_its_claim_back(
    db_url: str, receivers: list[Receiver], http: aiohttp.ClientSession
) -> None:
    receiver = receivers[0]
    receiver.delay = 30  # the worker is stopped while the request is in flight
    db = Database(db_url, event_urls=[receiver.url])
    try:
        (event_id,) = await _emit(db, 1)
        task = asyncio.create_task(EventSender(db, SECRET, http, poll=0.02).run())
        await _until(lambda: receiver.requests, "the request reached the receiver")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        receiver.delay = 0
        assert await EventSender(db, SECRET, http).deliver_due() == 1  # no lease to wait for
        assert receiver.ids() == [event_id]
    finally:
        await db.dispose()


@BOTH
@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (301, "HTTP 301 Moved Permanently"),
        (401, "HTTP 401 Unauthorized"),
        ("slow", "no answer within 0.2 s"),
        ("refused", "ClientConnectorError: Cannot connect to host 127.0.0.1"),
    ],
)
async def test_anything_but_2xx_is_a_failed_attempt(
    db_url: str,
    receivers: list[Receiver],
    http: aiohttp.ClientSession,
    answer: int | str,
    error: str,
) -> None:
    receiver = receivers[0]
    if answer == "slow":
        receiver.delay = 1.0
    elif answer == "refused":
        await receiver.stop()
    else:
        assert isinstance(answer, int)
        receiver.status = answer
    db = Database(db_url, event_urls=[receiver.url])
    try:
        await _emit(db, 1)
        sender = EventSender(db, SECRET, http, timeout=0.2)
        assert await sender.deliver_due() == 0
        status = (await _status(db))[receiver.url]
        assert status.last_error is not None and status.last_error.startswith(error)
        assert (status.backlog, status.head_attempts, status.last_success_at) == (1, 1, None)
        assert receiver.accepted == []
    finally:
        await db.dispose()


@BOTH
async def test_a_receiver_down_for_a_while_then_up_gets_every_event_once_in_order(
    db_url: str, receivers: list[Receiver], http: aiohttp.ClientSession
) -> None:
    """The real worker (its loop, the real clock, a short backoff) and a receiver that
    answers 503, then refuses connections, then comes back."""
    receiver, other = receivers
    receiver.status = 503
    db = Database(db_url, event_urls=[receiver.url, other.url])
    backoff = Backoff(base=0.02, cap=0.1)
    sender = EventSender(db, SECRET, http, backoff=backoff, poll=0.02)
    task = asyncio.create_task(sender.run())
    try:
        ids = await _emit(db, 5)
        await _until(lambda: len(receiver.requests) >= 3, "retries while it answers 503")
        await _until(lambda: other.ids() == ids, "the other receiver is not held back")
        await receiver.stop()  # down: connection refused
        ids += await _emit(db, 5, start=5)
        await _until(lambda: other.ids() == ids, "the other receiver gets the new events")

        async def refused() -> bool:
            error = (await _status(db))[receiver.url].last_error
            return error is not None and error.startswith("ClientConnectorError")

        await _until(refused, "a refused connection is recorded")
        receiver.status = 200
        await receiver.start()  # up again, same address
        await _until(lambda: receiver.ids() == ids, "every event, in order")
        ids += await _emit(db, 2, start=10)
        await _until(lambda: receiver.ids() == ids, "new events go straight through")
        await _until(lambda: other.ids() == ids, "and to the other receiver")

        async def recorded() -> bool:  # the last 200s are recorded just after they arrive
            return all(s.backlog == 0 for s in (await _status(db)).values())

        await _until(recorded, "every delivery recorded")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    try:
        assert len(set(receiver.ids())) == len(ids)  # each once
        assert receiver.bad_signatures == other.bad_signatures == 0
        statuses = await _status(db)
        assert [(s.backlog, s.dead) for s in statuses.values()] == [(0, 0), (0, 0)]
        assert all(s.last_success_at is not None for s in statuses.values())
    finally:
        await db.dispose()


def test_the_job_runs_only_with_events_urls() -> None:
    off = Settings(_env_file=None, bot_token="1:x", digest_time="off")
    on = Settings(
        _env_file=None,
        bot_token="1:x",
        digest_time="off",
        events_urls="https://crm.example.com/hook",
        events_secret=SECRET,
    )
    assert events_job not in background_jobs(off, SendingProcess(off))
    assert events_job in background_jobs(on, SendingProcess(on))

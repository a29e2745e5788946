"""Issue 11, signed events: the outbox on both backends — written with the change or not at
all, one delivery per URL, only a URL's head handed out and to one worker at a time,
expired claims taken over, per-URL status, pruning, and forgetting a person."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from nps.event_data import invitation_failed_data, response_data
from storage.db import Database
from storage.event_models import EventDelivery, OutgoingEvent
from storage.models import Address, Channel
from storage.repos.events import Claimed, Identity
from storage.repos.respondents import Profile
from storage.repos.response_start import AnswerContext

A = "http://127.0.0.1:9/a"
B = "http://127.0.0.1:9/b"
LEASE = timedelta(seconds=30)


class Boom(Exception):
    """Raised inside a unit of work to roll it back."""


@pytest.fixture
async def events_db(db_url: str) -> AsyncIterator[Database]:
    """The test's database with two receiver URLs configured."""
    database = Database(db_url, event_urls=[A, B])
    yield database
    await database.dispose()


async def _emit(db: Database, n: int, event_type: str = "response.scored") -> list[str]:
    ids = []
    for i in range(n):
        async with db.transaction() as store:
            event_id = await store.events.emit(event_type, {"n": i, "why": "Ünïcode ✓"})
        assert event_id is not None
        ids.append(event_id)
    return ids


async def _count(db: Database, model: type[OutgoingEvent] | type[EventDelivery]) -> int:
    async with db.snapshot() as store:
        session = store.events._session
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _claim(db: Database, url: str, now: datetime) -> Claimed | None:
    async with db.transaction() as store:
        return await store.events.claim_head(url, now, now + LEASE)


def _now() -> datetime:
    return datetime.now(UTC)


async def test_an_event_is_written_with_the_change_or_not_at_all(events_db: Database) -> None:
    async with events_db.transaction() as store:
        survey = await store.surveys.add(slug="kept", name="Kept")
        kept = await store.events.emit("response.scored", {"survey": survey.slug})
    with pytest.raises(Boom):
        async with events_db.transaction() as store:
            await store.surveys.add(slug="rolled-back", name="Rolled back")
            await store.events.emit("response.scored", {"survey": "rolled-back"})
            raise Boom
    async with events_db.snapshot() as store:
        assert await store.surveys.by_slug("rolled-back") is None
        session = store.events._session
        events = (await session.execute(select(OutgoingEvent.id, OutgoingEvent.data))).all()
        deliveries = (
            await session.execute(select(EventDelivery.event_id, EventDelivery.url))
        ).all()
    assert [(e.id, e.data) for e in events] == [(kept, {"survey": "kept"})]
    assert sorted(deliveries) == [(kept, A), (kept, B)]  # one row per configured URL


async def test_without_urls_nothing_is_written(db_url: str) -> None:
    db = Database(db_url)
    try:
        async with db.transaction() as store:
            assert not store.events.enabled
            assert await store.events.emit("response.scored", {"score": 9}) is None
        assert await _count(db, OutgoingEvent) == 0
    finally:
        await db.dispose()


async def test_only_the_head_of_a_url_is_handed_out_and_a_failing_one_blocks_only_its_url(
    events_db: Database,
) -> None:
    first, second, third = await _emit(events_db, 3)
    now = _now()
    head = await _claim(events_db, A, now)
    assert head is not None and head.event_id == first and head.attempts == 0
    assert head.data == {"n": 0, "why": "Ünïcode ✓"} and head.type == "response.scored"
    assert await _claim(events_db, A, now) is None  # the head is being sent: nothing else
    other = await _claim(events_db, B, now)
    assert other is not None and other.event_id == first  # another URL goes on its own
    async with events_db.transaction() as store:
        assert await store.events.failed(head, now, "HTTP 503 Service Unavailable", now + LEASE)
        assert await store.events.delivered(other, now)
    # A's head waits for its next attempt, and holds A's later events back; B goes on.
    assert await _claim(events_db, A, now + timedelta(seconds=29)) is None
    b_next = await _claim(events_db, B, now)
    assert b_next is not None and b_next.event_id == second
    again = await _claim(events_db, A, now + LEASE)
    assert again is not None and again.event_id == first and again.attempts == 1
    async with events_db.transaction() as store:
        assert await store.events.delivered(again, now + LEASE)
    a_next = await _claim(events_db, A, now + LEASE)
    assert a_next is not None and a_next.event_id == second
    # Dead: given up, and the URL's next event is its head.
    async with events_db.transaction() as store:
        assert await store.events.failed(a_next, now, "timeout", None)
    a_last = await _claim(events_db, A, now + LEASE)
    assert a_last is not None and a_last.event_id == third


@pytest.mark.parametrize("db_url", ["postgres", "sqlite"], indirect=True)
async def test_concurrent_workers_claim_a_head_once(events_db: Database, db_url: str) -> None:
    await _emit(events_db, 2)
    # Other "replicas": their own engines and pools on the same database.
    others = [Database(db_url, event_urls=[A, B]) for _ in range(3)]
    try:
        now = _now()
        claims = await asyncio.gather(
            *(_claim(db, A, now) for db in [events_db, *others] for _ in range(3))
        )
    finally:
        for db in others:
            await db.dispose()
    taken = [claim for claim in claims if claim is not None]
    assert len(taken) == 1, taken


async def test_an_expired_claim_is_taken_over_and_its_late_outcome_ignored(
    events_db: Database,
) -> None:
    (event_id,) = await _emit(events_db, 1)
    now = _now()
    crashed = await _claim(events_db, A, now)
    assert crashed is not None
    assert await _claim(events_db, A, now + LEASE - timedelta(seconds=1)) is None
    taker = await _claim(events_db, A, now + LEASE)  # the lease ran out: sent again
    assert taker is not None and taker.event_id == event_id and taker.token != crashed.token
    async with events_db.transaction() as store:
        assert not await store.events.delivered(crashed, now)  # not its row any more
        assert not await store.events.failed(crashed, now, "late", now)
        assert await store.events.delivered(taker, now + LEASE)
    assert await _claim(events_db, A, now + 2 * LEASE) is None


async def test_a_released_claim_is_sent_at_once(events_db: Database) -> None:
    (event_id,) = await _emit(events_db, 1)
    now = _now()
    claimed = await _claim(events_db, A, now)
    assert claimed is not None
    async with events_db.transaction() as store:
        await store.events.release(claimed)
    again = await _claim(events_db, A, now)
    assert again is not None and again.event_id == event_id and again.attempts == 0


async def test_status_per_url(events_db: Database) -> None:
    await _emit(events_db, 3)
    now = (_now() + timedelta(seconds=1)).replace(microsecond=0)  # after the emits
    head = await _claim(events_db, A, now)
    b_head = await _claim(events_db, B, now)
    assert head is not None and b_head is not None
    async with events_db.transaction() as store:
        await store.events.failed(head, now, "HTTP 502 Bad Gateway", now + timedelta(minutes=2))
        await store.events.delivered(b_head, now)
    b_next = await _claim(events_db, B, now)
    assert b_next is not None
    async with events_db.transaction() as store:
        await store.events.failed(b_next, now + timedelta(seconds=1), "gone", None)
    # Rows left for a URL that is no longer configured are listed too.
    leftover = Database(events_db.url, event_urls=["http://old.example/hook"])
    try:
        async with leftover.transaction() as store:
            await store.events.emit("case.opened", {})
    finally:
        await leftover.dispose()
    async with events_db.snapshot() as store:
        statuses = {s.url: s for s in await store.events.status()}
    assert list(statuses) == [A, B, "http://old.example/hook"]
    a, b, old = statuses[A], statuses[B], statuses["http://old.example/hook"]
    assert (a.backlog, a.dead, a.last_success_at) == (3, 0, None)
    assert (a.last_error, a.last_error_at) == ("HTTP 502 Bad Gateway", now)
    assert (a.next_attempt_at, a.head_attempts) == (now + timedelta(minutes=2), 1)
    assert (b.backlog, b.dead, b.last_success_at, b.last_error) == (1, 1, now, "gone")
    assert b.next_attempt_at is None  # its head has not failed yet
    assert (old.configured, old.backlog) == (False, 1) and a.configured


async def test_prune_deletes_old_finished_events_only(events_db: Database) -> None:
    done, waiting = await _emit(events_db, 2)
    now = _now()
    for url in (A, B):
        claimed = await _claim(events_db, url, now)
        assert claimed is not None and claimed.event_id == done
        async with events_db.transaction() as store:
            await store.events.delivered(claimed, now)
    async with events_db.transaction() as store:
        assert await store.events.prune(now - timedelta(days=1)) == 0  # not old yet
        assert await store.events.prune(now + timedelta(days=8)) == 1  # the delivered one
    async with events_db.snapshot() as store:
        session = store.events._session
        assert list(await session.scalars(select(OutgoingEvent.id))) == [waiting]
        assert set(await session.scalars(select(EventDelivery.event_id))) == {waiting}


async def test_identity_and_forgetting_the_person_deletes_their_events(
    events_db: Database,
) -> None:
    async with events_db.transaction() as store:
        person = await store.respondents.touch(Profile(4242, 4242, "Anna", "anna", "en"))
        await store.events._session.execute(
            insert(Address).values(
                respondent_id=person.id,
                channel=Channel.PHONE.value,
                address="+37369123456",
                created_at=_now(),
            )
        )
        who = await store.events.identity_of(person.id)
        theirs = await store.events.emit(
            "response.scored", {"telegram_user_id": 4242, "why": "Anna here"}, person_id=person.id
        )
        anonymous = await store.events.emit("response.scored", {"kind": "enps"})
        assert await store.events.identity_of(None) == Identity()
    assert who == Identity(telegram_user_id=4242, phone="+37369123456")
    async with events_db.transaction() as store:
        await store.privacy.forget(4242)
    async with events_db.snapshot() as store:
        session = store.events._session
        assert list(await session.scalars(select(OutgoingEvent.id))) == [anonymous]
        assert set(await session.scalars(select(EventDelivery.event_id))) == {anonymous}
        assert theirs not in set(await session.scalars(select(EventDelivery.event_id)))


async def test_an_answers_data_carries_its_attributes_and_the_persons_keys(
    events_db: Database,
) -> None:
    async with events_db.transaction() as store:
        survey = await store.surveys.ensure_default()
        person = await store.respondents.touch(Profile(4343, 4343, "Ivan", None, "ru"))
        await store.events._session.execute(
            insert(Address).values(
                respondent_id=person.id,
                channel=Channel.PHONE.value,
                address="+37369000001",
                created_at=_now(),
            )
        )
        started = await store.responses.start(
            survey_id=survey.id,
            respondent_id=person.id,
            chat_id=4343,
            language="ru",
            context=AnswerContext(),
            attributes={"agent": "olga", "order_id": "A-17", "region": "north", "tier": "gold"},
        )
        assert await store.responses.record_score(started.id, 4)
        response = await store.responses.get(started.id)
        assert response is not None and response.survey is not None
        data = response_data(response.survey, response, await store.events.identity_of(person.id))
    assert data["attributes"] == {
        "agent": "olga",
        "source": None,
        "campaign": None,
        "order_id": "A-17",
        "custom": {"region": "north", "tier": "gold"},
    }
    assert (data["telegram_user_id"], data["phone"], data["group"]) == (
        4343,
        "+37369000001",
        "detractor",
    )


async def test_due_says_whether_a_claim_would_succeed(events_db: Database) -> None:
    async with events_db.snapshot() as store:
        assert not await store.events.due(A, _now())  # nothing waiting
    await _emit(events_db, 2)
    now = _now()
    async with events_db.snapshot() as store:
        assert await store.events.due(A, now)
    head = await _claim(events_db, A, now)
    assert head is not None
    async with events_db.snapshot() as store:
        assert not await store.events.due(A, now)  # being sent
        assert await store.events.due(A, now + LEASE)  # its claim ran out
    async with events_db.transaction() as store:
        await store.events.failed(head, now, "HTTP 500", now + timedelta(minutes=1))
    async with events_db.snapshot() as store:
        assert not await store.events.due(A, now + timedelta(seconds=59))  # not yet
        assert await store.events.due(A, now + timedelta(minutes=1))
        assert await store.events.due(B, now)


async def test_invitation_failed_names_the_person_only_for_nps(events_db: Database) -> None:
    async with events_db.transaction() as store:
        nps = await store.surveys.add(slug="delivery", name="Delivery")
        enps = await store.surveys.add(slug="team", name="Team", kind="enps")
    who = Identity(telegram_user_id=None, phone="+37369000002")
    common = {"invitation_id": "inv_1", "status": "failed", "reason": "blocked"}
    attributes = {"agent": "olga", "order_id": "A-17"}
    customer = invitation_failed_data(survey=nps, attributes=attributes, who=who, **common)
    employee = invitation_failed_data(survey=enps, attributes=attributes, who=who, **common)
    assert customer == {
        "survey": "delivery",
        "kind": "nps",
        **common,
        "error": None,
        "attributes": attributes,
        "telegram_user_id": None,
        "phone": "+37369000002",
    }
    assert employee == {"survey": "team", "kind": "enps", **common, "error": None}

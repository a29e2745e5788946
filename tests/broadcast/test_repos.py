"""Broadcast storage on SQLite and PostgreSQL: claims, crash recovery, finishing once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from storage.broadcast_models import Broadcast, BroadcastRecipient, RecipientStatus
from storage.db import Database
from storage.models import Response, utcnow
from storage.repos.audience import Fatigue, Segment
from storage.repos.broadcast_recipients import Outcome
from tests.admin_helpers import seed_invitations

FATIGUE = Fatigue(90, 7)


def _resolve(chosen: str | None, telegram: str | None) -> str:
    return chosen or telegram or "en"


FIRST_TELEGRAM_ID = 7_000_001


async def _broadcast(db: Database, people: int) -> Broadcast:
    """A running broadcast to `people` respondents."""
    now = utcnow()
    async with db.transaction() as store:
        survey = await store.surveys.ensure_default()
        await store.respondents.add_people(
            [
                {
                    "telegram_id": uid,
                    "telegram_language": "en",
                    "subscribed": True,
                    "unreachable": False,
                    "started_at": now,
                    "last_seen_at": now,
                }
                # Telegram ids far from the internal ids the people get (1, 2, 3…).
                for uid in range(FIRST_TELEGRAM_ID, FIRST_TELEGRAM_ID + people)
            ],
        )
        draft = await store.broadcasts.create_draft(
            survey_id=survey.id, segment="", created_by=1, chat_id=1, language="en", now=now
        )
        assert await store.broadcasts.start(draft.id, Segment(), FATIGUE, now, 1) == people
        broadcast = await store.broadcasts.get(draft.id)
        assert broadcast is not None
        return broadcast


async def _claim(db: Database, broadcast: Broadcast, worker: str, limit: int) -> list[int]:
    async with db.transaction() as store:
        claimed, _ = await store.recipients.claim(
            broadcast, worker=worker, limit=limit, now=utcnow(), fatigue=FATIGUE, resolve=_resolve
        )
    return [c.recipient_id for c in claimed]


async def test_claims_never_overlap(db: Database) -> None:
    broadcast = await _broadcast(db, 12)
    if db.dialect == "postgresql":
        # A second replica claiming while the first one's claim is not yet committed skips
        # the locked rows instead of waiting for them or taking them too.
        async with db.transaction() as first:
            mine, _ = await first.recipients.claim(
                broadcast, worker="a", limit=5, now=utcnow(), fatigue=FATIGUE, resolve=_resolve
            )
            theirs = await _claim(db, broadcast, "b", 5)
        a = [c.recipient_id for c in mine]
    else:
        a = await _claim(db, broadcast, "a", 5)
        theirs = await _claim(db, broadcast, "b", 5)
    assert len(a) == len(theirs) == 5
    assert not set(a) & set(theirs)
    rest = await _claim(db, broadcast, "c", 5)
    assert len(rest) == 2 and not set(rest) & (set(a) | set(theirs))


async def test_a_dead_workers_rows_queued_go_back_and_sending_become_uncertain(
    db: Database,
) -> None:
    broadcast = await _broadcast(db, 4)
    claimed = await _claim(db, broadcast, "dead", 4)
    async with db.transaction() as store:
        marked = await store.recipients.mark_sending(claimed[:2], "dead", utcnow())
    assert marked == set(claimed[:2])
    async with db.transaction() as store:
        assert await store.recipients.recover_stale(["alive"], utcnow()) == 2
    async with db.transaction() as store:
        # The dead worker cannot mark what is no longer its own.
        assert await store.recipients.mark_sending(claimed[2:], "dead", utcnow()) == set()
        rows = {r.id: r for r in await store.recipients.of(broadcast.id)}
        responses = (await store.responses._session.scalars(select(Response))).all()
    assert [rows[i].status for i in claimed] == ["uncertain", "uncertain", "pending", "pending"]
    # Uncertain questions may be on screen: their responses wait for a score.
    assert sorted(r.step for r in responses) == ["score", "score"]
    assert {r.id for r in responses} == {rows[i].response_id for i in claimed[:2]}
    assert rows[claimed[2]].response_id is None and rows[claimed[2]].worker is None
    again = await _claim(db, broadcast, "alive", 10)
    assert sorted(again) == sorted(claimed[2:])


async def test_results_are_recorded_once_and_the_broadcast_finishes_once(db: Database) -> None:
    broadcast = await _broadcast(db, 3)
    claimed = await _claim(db, broadcast, "w", 3)
    async with db.transaction() as store:
        await store.recipients.mark_sending(claimed, "w", utcnow())
        assert not await store.broadcasts.finish(broadcast.id, utcnow())  # still open
    now = utcnow()
    outcomes = [
        Outcome(claimed[0], RecipientStatus.SENT, now, message_id=77),
        Outcome(claimed[1], RecipientStatus.UNREACHABLE, now, detail="Forbidden"),
        Outcome(claimed[2], RecipientStatus.FAILED, now, detail="Bad Request"),
    ]
    async with db.transaction() as store:
        await store.recipients.record(outcomes, "w")
        await store.recipients.record(outcomes, "w")  # a repeat changes nothing
        tally = await store.broadcasts.tally(broadcast.id)
        assert await store.broadcasts.finish(broadcast.id, now)
        assert not await store.broadcasts.finish(broadcast.id, now)
        responses = (await store.responses._session.scalars(select(Response))).all()
        # The person the 403 was for (recipients are claimed in their row order).
        blocked = await store.responses._session.get(BroadcastRecipient, claimed[1])
        assert blocked is not None
        unreachable = await store.respondents.get(blocked.respondent_id)
    assert (tally.delivered, tally.total, tally.remaining) == (1, 3, 0)
    assert [(r.step, r.prompt_message_id) for r in responses] == [("score", 77)]
    assert unreachable is not None and unreachable.unreachable


async def test_a_reminder_is_due_exactly_when_the_claim_would_take_it(db: Database) -> None:
    """The cheap "anything due?" read and the claim agree: an unanswered question to
    someone unsubscribed is neither due nor claimed (the job must not wake for it)."""
    asked = utcnow() - timedelta(hours=30)
    window = {
        "asked_before": utcnow() - timedelta(hours=24),
        "asked_after": asked - timedelta(hours=1),
    }
    _, second = await seed_invitations(db, 2, first_user=7100)
    async with db.transaction() as store:
        session = store.responses._session
        await session.execute(update(Response).values(asked_at=asked))
        first_person = await store.respondents.person_of(7100)
        second_person = await store.respondents.person_of(7101)
        assert first_person is not None and second_person is not None
        await store.respondents.set_subscribed(first_person, False)
        await store.respondents.set_subscribed(second_person, False)
        assert not await store.reminders.any_due(**window)
        await store.respondents.set_subscribed(second_person, True)
        assert await store.reminders.any_due(**window)
        claimed = await store.reminders.claim(
            **window, worker="w1", now=utcnow(), limit=10, resolve=_resolve
        )
        assert [item.response_id for item in claimed] == [second]
        assert not await store.reminders.any_due(**window)  # reminded once, ever

"""Broadcast storage on SQLite and PostgreSQL: claims, crash recovery, finishing once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select, update

from storage.broadcast_models import Broadcast, RecipientStatus
from storage.db import Database
from storage.models import Respondent, Response, utcnow
from storage.repos.audience import Fatigue, Segment
from storage.repos.broadcasts import Outcome
from tests.e2e.admin_helpers import seed_invitations

FATIGUE = Fatigue(90, 7)


def _resolve(chosen: str | None, telegram: str | None) -> str:
    return chosen or telegram or "en"


async def _broadcast(db: Database, people: int) -> Broadcast:
    """A running broadcast to `people` respondents."""
    now = utcnow()
    async with db.transaction() as store:
        survey = await store.surveys.ensure_default()
        await store.responses._session.execute(
            insert(Respondent),
            [
                {
                    "id": uid,
                    "chat_id": uid,
                    "telegram_language": "en",
                    "subscribed": True,
                    "unreachable": False,
                    "started_at": now,
                    "last_seen_at": now,
                }
                for uid in range(1, people + 1)
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
        claimed, _ = await store.broadcasts.claim(
            broadcast, worker=worker, limit=limit, now=utcnow(), fatigue=FATIGUE, resolve=_resolve
        )
    return [c.recipient_id for c in claimed]


async def test_claims_never_overlap(db: Database) -> None:
    broadcast = await _broadcast(db, 12)
    if db.dialect == "postgresql":
        # A second replica claiming while the first one's claim is not yet committed skips
        # the locked rows instead of waiting for them or taking them too.
        async with db.transaction() as first:
            mine, _ = await first.broadcasts.claim(
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
        marked = await store.broadcasts.mark_sending(claimed[:2], "dead", utcnow())
    assert marked == set(claimed[:2])
    async with db.transaction() as store:
        assert await store.broadcasts.recover_stale(["alive"], utcnow()) == 2
    async with db.transaction() as store:
        # The dead worker cannot mark what is no longer its own.
        assert await store.broadcasts.mark_sending(claimed[2:], "dead", utcnow()) == set()
        rows = {r.id: r for r in await store.broadcasts.recipients(broadcast.id)}
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
        await store.broadcasts.mark_sending(claimed, "w", utcnow())
        assert not await store.broadcasts.finish(broadcast.id, utcnow())  # still open
    now = utcnow()
    outcomes = [
        Outcome(claimed[0], RecipientStatus.SENT, now, message_id=77),
        Outcome(claimed[1], RecipientStatus.UNREACHABLE, now, detail="Forbidden"),
        Outcome(claimed[2], RecipientStatus.FAILED, now, detail="Bad Request"),
    ]
    async with db.transaction() as store:
        await store.broadcasts.record(outcomes, "w")
        await store.broadcasts.record(outcomes, "w")  # a repeat changes nothing
        tally = await store.broadcasts.tally(broadcast.id)
        assert await store.broadcasts.finish(broadcast.id, now)
        assert not await store.broadcasts.finish(broadcast.id, now)
        responses = (await store.responses._session.scalars(select(Response))).all()
        unreachable = await store.respondents.get(2)
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
        await store.respondents.set_subscribed(7100, False)
        await store.respondents.set_subscribed(7101, False)
        assert not await store.broadcasts.reminders_due(**window)
        await store.respondents.set_subscribed(7101, True)
        assert await store.broadcasts.reminders_due(**window)
        claimed = await store.broadcasts.claim_reminders(
            **window, worker="w1", now=utcnow(), limit=10, resolve=_resolve
        )
        assert [item.response_id for item in claimed] == [second]
        assert not await store.broadcasts.reminders_due(**window)  # reminded once, ever

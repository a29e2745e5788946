"""Sending invitations, on SQLite and PostgreSQL: claimed exactly once (two claimers racing
on PostgreSQL), the rules checked again, outcomes recorded, a dead sender's rows taken
over, quiet hours deferring what fell due at night."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from storage.broadcast_models import RecipientStatus
from storage.db import Database
from storage.models import Response, Step, utcnow
from storage.repos.broadcast_recipients import Outcome
from storage.repos.invitation_queue import ClaimedInvitation, Ended
from tests.invitation_helpers import FATIGUE, add_people, resolve, response, rows, schedule


async def _survey(db: Database, slug: str = "delivery") -> int:
    async with db.transaction() as store:
        await store.surveys.ensure_default()
        return (await store.surveys.add(slug=slug, name=slug.title())).id


async def _claim(
    db: Database, worker: str = "w1", limit: int = 50
) -> tuple[list[ClaimedInvitation], list[Ended]]:
    async with db.transaction() as store:
        return await store.invitation_queue.claim(
            now=utcnow(), worker=worker, limit=limit, fatigue=FATIGUE, resolve=resolve
        )


async def _invited(db: Database, survey_id: int) -> int:
    today = utcnow().date()
    async with db.snapshot() as store:
        totals = await store.stats.totals(
            [survey_id], today - timedelta(days=1), today + timedelta(days=1)
        )
    return totals[""][0] if "" in totals else 0


async def test_claim_takes_due_rows_once_with_a_closed_response(db: Database) -> None:
    survey = await _survey(db)
    [anna, _] = await add_people(db, [1001, 1002], language="ro")
    attributes = {"agent": "olga", "campaign": "dec", "order_id": "A-17", "region": "north"}
    due = await schedule(db, survey, 1001, utcnow() - timedelta(seconds=1), attributes=attributes)
    await schedule(db, survey, 1002, utcnow() + timedelta(hours=1))  # not yet due
    claimed, ended = await _claim(db)
    assert [c.public_id for c in claimed] == [due] and not ended
    [item] = claimed
    assert (item.respondent_id, item.chat_id, item.language) == (anna, 1001, "ro")
    stored = await response(db, item.response_id)
    assert stored is not None
    # Invisible to the conversation until delivered; the attributes are on the answer.
    assert (stored.step, stored.channel, stored.agent, stored.campaign) == (
        Step.CLOSED,
        "invitation",
        "olga",
        "dec",
    )
    assert stored.attributes == {"order_id": "A-17", "region": "north"}
    assert await _claim(db) == ([], [])  # nobody claims it again
    [first, _] = await rows(db)
    assert (first.status, first.worker, first.chat) == ("claimed", "w1", "1001")


async def test_the_invitations_language_comes_before_the_persons(db: Database) -> None:
    survey = await _survey(db)
    await add_people(db, [1101, 1102], language="ro")
    moment = utcnow() - timedelta(seconds=1)
    polish = await schedule(db, survey, 1101, moment, language="pl")
    await schedule(db, survey, 1102, moment)
    claimed, _ = await _claim(db)
    languages = {item.public_id == polish: item.language for item in claimed}
    assert languages == {True: "pl", False: "ro"}  # without one, the person's as before
    stored = await response(db, next(c.response_id for c in claimed if c.public_id == polish))
    assert stored is not None and stored.language == "pl"


async def test_rules_are_checked_again_when_due(db: Database) -> None:
    survey = await _survey(db)
    other = await _survey(db, "support")
    [_, boris, carl] = await add_people(db, [1101, 1102, 1103])
    now = utcnow()
    # All scheduled while allowed; 1101 then has two due at once, Boris sends /stop and
    # Carl blocks the bot before their turn.
    await schedule(db, survey, 1101, now - timedelta(seconds=4), public_id="inv_1")
    await schedule(db, other, 1101, now - timedelta(seconds=3), public_id="inv_2", checked=False)
    await schedule(db, survey, 1102, now - timedelta(seconds=2), public_id="inv_3")
    await schedule(db, survey, 1103, now - timedelta(seconds=1), public_id="inv_4")
    async with db.transaction() as store:
        await store.respondents.set_subscribed(boris, False)
        await store.respondents.set_reachable(carl, False)
    claimed, ended = await _claim(db)
    assert [c.public_id for c in claimed] == ["inv_1"]
    assert {e.public_id: (e.status.value, e.reason) for e in ended} == {
        "inv_2": ("suppressed", "any_survey_cooldown"),
        "inv_3": ("unreachable", "stopped"),
        "inv_4": ("unreachable", "blocked"),
    }
    assert {r.public_id: (r.status, r.reason) for r in await rows(db)} == {
        "inv_1": ("claimed", None),
        "inv_2": ("suppressed", "any_survey_cooldown"),
        "inv_3": ("unreachable", "stopped"),
        "inv_4": ("unreachable", "blocked"),
    }


async def test_outcomes_are_recorded(db: Database) -> None:
    survey = await _survey(db)
    people = await add_people(db, [1201, 1202, 1203, 1204])
    for uid in (1201, 1202, 1203, 1204):
        await schedule(db, survey, uid, utcnow() - timedelta(seconds=1), public_id=f"inv_{uid}")
    claimed, _ = await _claim(db)
    by_user = {c.chat_id: c for c in claimed}
    async with db.transaction() as store:
        marked = await store.invitation_queue.mark_sending(
            [c.row_id for c in claimed], "w1", utcnow()
        )
        assert (
            await store.invitation_queue.mark_sending([c.row_id for c in claimed], "w2", utcnow())
            == set()
        )
    assert marked == {c.row_id for c in claimed}
    at = utcnow()
    outcomes = [
        Outcome(by_user[1201].row_id, RecipientStatus.SENT, at, message_id=77),
        Outcome(by_user[1202].row_id, RecipientStatus.UNREACHABLE, at, detail="Forbidden"),
        Outcome(by_user[1203].row_id, RecipientStatus.FAILED, at, detail="Bad Request: x"),
        Outcome(by_user[1204].row_id, RecipientStatus.PENDING, at),  # stopped before the call
    ]
    async with db.transaction() as store:
        ended = await store.invitation_queue.record(outcomes, "w1")
    assert {(e.public_id, e.status.value, e.reason, e.error) for e in ended} == {
        ("inv_1202", "unreachable", "blocked", "Forbidden"),
        ("inv_1203", "failed", "send_failed", "Bad Request: x"),
    }
    stored = {r.public_id: r for r in await rows(db)}
    sent = stored["inv_1201"]
    assert (sent.status, sent.message_id, sent.sent_at is not None) == ("sent", 77, True)
    opened = await response(db, by_user[1201].response_id)
    assert opened is not None and (opened.step, opened.prompt_message_id) == (Step.SCORE, 77)
    assert await _invited(db, survey) == 1  # counted as an invitation, like a broadcast's
    for dropped in (1202, 1203, 1204):
        assert await response(db, by_user[dropped].response_id) is None
    assert stored["inv_1204"].status == "scheduled" and stored["inv_1204"].worker is None
    async with db.snapshot() as store:
        blocked = await store.respondents.get(people[1])
    assert blocked is not None and blocked.unreachable
    # The one given back is due again, for anyone.
    again, _ = await _claim(db, "w2")
    assert [c.public_id for c in again] == ["inv_1204"]


async def test_a_dead_senders_rows_are_taken_over(db: Database) -> None:
    survey = await _survey(db)
    await add_people(db, [1301, 1302])
    for uid in (1301, 1302):
        await schedule(db, survey, uid, utcnow() - timedelta(seconds=1), public_id=f"inv_{uid}")
    claimed, _ = await _claim(db, "dead")
    sending = next(c for c in claimed if c.chat_id == 1302)
    async with db.transaction() as store:
        await store.invitation_queue.mark_sending([sending.row_id], "dead", utcnow())
        assert await store.invitation_queue.any_held()
    async with db.transaction() as store:  # "dead" is among the live: nothing happens
        assert await store.invitation_queue.recover_stale(["dead", "alive"], utcnow()) == 0
    async with db.transaction() as store:
        assert await store.invitation_queue.recover_stale(["alive"], utcnow()) == 1
    stored = {r.public_id: r for r in await rows(db)}
    assert (stored["inv_1301"].status, stored["inv_1301"].response_id) == ("scheduled", None)
    assert (stored["inv_1302"].status, stored["inv_1302"].reason) == ("sent", "uncertain")
    # The maybe-delivered question is answerable (and counted); the other is sent again.
    opened = await response(db, sending.response_id)
    assert opened is not None and opened.step == Step.SCORE
    assert await _invited(db, survey) == 1
    again, _ = await _claim(db, "alive")
    assert [c.public_id for c in again] == ["inv_1301"]


async def test_cancel_of_a_claimed_row_stops_its_send(db: Database) -> None:
    survey = await _survey(db)
    await add_people(db, [1401])
    public_id = await schedule(db, survey, 1401, utcnow() - timedelta(seconds=1))
    [item], _ = await _claim(db)
    async with db.transaction() as store:
        cancelled, view = await store.invitations.cancel(public_id)
    assert cancelled and view is not None and view.status == "cancelled"
    assert await response(db, item.response_id) is None
    async with db.transaction() as store:
        assert await store.invitation_queue.mark_sending([item.row_id], "w1", utcnow()) == set()


async def test_quiet_hours_defer_what_fell_due(db: Database) -> None:
    survey = await _survey(db)
    await add_people(db, [1501, 1502])
    now = utcnow()
    await schedule(db, survey, 1501, now - timedelta(hours=2), public_id="inv_due")
    await schedule(db, survey, 1502, now + timedelta(days=2), public_id="inv_later")
    morning = now + timedelta(hours=5)
    async with db.transaction() as store:
        assert await store.invitation_queue.any_due(now)
        assert await store.invitation_queue.defer_due(now, morning) == 1
        assert not await store.invitation_queue.any_due(now)
    stored = {r.public_id: r.send_at for r in await rows(db)}
    assert stored["inv_due"] == morning.replace(microsecond=stored["inv_due"].microsecond)
    assert stored["inv_later"] > morning


# PostgreSQL only: SQLite has one writer, so claims cannot overlap there (the test above).
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_two_claimers_racing_claim_each_row_once(db: Database) -> None:
    survey = await _survey(db)
    ids = list(range(2001, 2121))
    await add_people(db, ids)
    for uid in ids:
        await schedule(db, survey, uid, utcnow() - timedelta(seconds=1), public_id=f"inv_{uid}")
    # One claimer holds its claim uncommitted while the other claims: it skips those rows.
    async with db.transaction() as first:
        mine, _ = await first.invitation_queue.claim(
            now=utcnow(), worker="a", limit=10, fatigue=FATIGUE, resolve=resolve
        )
        theirs, _ = await _claim(db, "b", 10)
    assert len(mine) == len(theirs) == 10
    assert not {c.row_id for c in mine} & {c.row_id for c in theirs}
    # Then four claimers race until nothing is left.
    taken: dict[str, list[int]] = {}

    async def claimer(name: str) -> None:
        while True:
            got, _ = await _claim(db, name, 7)
            if not got:
                return
            taken.setdefault(name, []).extend(c.row_id for c in got)

    await asyncio.gather(*(claimer(f"c{n}") for n in range(4)))
    everyone = [row for got in taken.values() for row in got]
    assert len(everyone) == len(set(everyone)) == len(ids) - 20
    assert len(taken) > 1  # they did race
    statuses = {r.status for r in await rows(db)}
    assert statuses == {"claimed"}
    async with db.snapshot() as store:
        responses = await store.invitations._session.scalar(select(func.count(Response.id)))
    assert responses == len(ids)  # one response per invitation, none twice

"""Invitations as the API stores them, on SQLite and PostgreSQL: who can be reached, the
fatigue rules, idempotency keys, reading back (answered with the score) and cancelling."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import delete, text, update

from storage.db import Database
from storage.invitation_models import Invitation, InvitationStatus
from storage.models import Address, Channel, utcnow
from storage.repos.audience import Fatigue
from storage.repos.invitations import NewInvitation, Stored, Verdict
from storage.repos.response_start import AnswerContext
from tests.conftest import next_loop_turn
from tests.invitation_helpers import FATIGUE, add_people, add_phone, schedule
from tests.scenario import wait_db

TELEGRAM = Channel.TELEGRAM.value
PHONE = Channel.PHONE.value


async def _survey(db: Database, slug: str = "delivery") -> int:
    async with db.transaction() as store:
        await store.surveys.ensure_default()
        return (await store.surveys.add(slug=slug, name=slug.title())).id


async def _verdict(
    db: Database, channel: str, address: str, survey_id: int, fatigue: Fatigue = FATIGUE
) -> Verdict:
    async with db.snapshot() as store:
        return await store.invitations.verdict(channel, address, survey_id, fatigue, utcnow())


async def test_who_can_be_reached_and_why_not(db: Database) -> None:
    survey = await _survey(db)
    [anna] = await add_people(db, [501])
    [stopped] = await add_people(db, [502], subscribed=False)
    [blocked] = await add_people(db, [503], unreachable=True)
    await add_phone(db, anna, "+37369000001")
    # Someone a CRM import knows by phone only: a person with no Telegram address.
    async with db.transaction() as store:
        [phone_only] = await store.respondents.add_people(
            [{"telegram_id": 504, "first_name": "X", "started_at": utcnow()}]
        )
        await store.invitations._session.execute(
            delete(Address).where(Address.respondent_id == phone_only)
        )
    await add_phone(db, phone_only, "+37369000004")

    cases = {
        (TELEGRAM, "501"): (InvitationStatus.SCHEDULED, None, anna),
        (PHONE, "+37369000001"): (InvitationStatus.SCHEDULED, None, anna),
        (TELEGRAM, "999"): (InvitationStatus.UNREACHABLE, "not_started", None),
        (PHONE, "+37369009999"): (InvitationStatus.UNREACHABLE, "no_channel", None),
        (PHONE, "+37369000004"): (InvitationStatus.UNREACHABLE, "no_channel", phone_only),
        (TELEGRAM, "502"): (InvitationStatus.UNREACHABLE, "stopped", stopped),
        (TELEGRAM, "503"): (InvitationStatus.UNREACHABLE, "blocked", blocked),
    }
    for (channel, address), expected in cases.items():
        verdict = await _verdict(db, channel, address, survey)
        assert (verdict.status, verdict.reason, verdict.respondent_id) == expected, address


async def test_fatigue_counts_answers_and_scheduled_invitations(db: Database) -> None:
    survey = await _survey(db)
    other = await _survey(db, "support")
    [anna, boris] = await add_people(db, [601, 602])
    now = utcnow()
    # Anna was asked the survey 10 days ago: within SURVEY_COOLDOWN_DAYS (90), past the 7.
    async with db.transaction() as store:
        await store.responses.start(
            survey_id=survey,
            respondent_id=anna,
            chat_id=601,
            language="en",
            context=AnswerContext(),
            asked_at=now - timedelta(days=10),
        )
    assert (await _verdict(db, TELEGRAM, "601", survey)).reason == "survey_cooldown"
    assert (await _verdict(db, TELEGRAM, "601", other)).status == InvitationStatus.SCHEDULED
    assert (
        await _verdict(db, TELEGRAM, "601", survey, Fatigue(0, 7))
    ).status == InvitationStatus.SCHEDULED
    # Boris has an invitation scheduled in three days: any survey now is within 7 days of it.
    await schedule(db, other, 602, now + timedelta(days=3))
    verdict = await _verdict(db, TELEGRAM, "602", survey)
    assert (verdict.status, verdict.reason) == (InvitationStatus.SUPPRESSED, "any_survey_cooldown")
    assert (await _verdict(db, TELEGRAM, "602", other)).reason == "survey_cooldown"
    assert (await _verdict(db, TELEGRAM, "602", survey, Fatigue(0, 0))).reason is None
    # Suppressed at the moment it would go: 8 days before the scheduled one is fine.
    async with db.snapshot() as store:
        early = await store.invitations.verdict(
            TELEGRAM, "602", survey, FATIGUE, now - timedelta(days=5, hours=1)
        )
    assert early.status == InvitationStatus.SCHEDULED
    assert boris


async def test_an_idempotency_key_is_stored_once(db: Database) -> None:
    survey = await _survey(db)
    await add_people(db, [701])
    new = NewInvitation(
        survey_id=survey,
        key_channel=TELEGRAM,
        key_address="701",
        attributes={"agent": "olga"},
        send_at=utcnow(),
        idempotency_key="crm-17",
        request_hash="h1",
    )
    verdict = Verdict(InvitationStatus.SCHEDULED, None, None)
    async with db.transaction() as store:
        assert await store.invitations.add(Stored(new, verdict, "inv_a", {"x": 1}), utcnow())
    async with db.transaction() as store:
        assert not await store.invitations.add(Stored(new, verdict, "inv_b"), utcnow())
        stored = await store.invitations.by_key("crm-17")
    assert stored is not None
    assert (stored.public_id, stored.request_hash, stored.reply) == ("inv_a", "h1", {"x": 1})
    assert stored.attributes == {"agent": "olga"}


async def test_read_back_answered_with_the_score(db: Database) -> None:
    survey = await _survey(db)
    [anna] = await add_people(db, [801])
    public_id = await schedule(db, survey, 801, utcnow())
    async with db.transaction() as store:
        response = await store.responses.start(
            survey_id=survey,
            respondent_id=anna,
            chat_id=801,
            language="en",
            context=AnswerContext(channel="invitation"),
        )
        await store.invitations._session.execute(
            update(Invitation).values(status="sent", response_id=response.id)
        )
    async with db.snapshot() as store:
        sent = await store.invitations.get(public_id)
    assert sent is not None and (sent.status, sent.score) == ("sent", None)
    async with db.transaction() as store:
        await store.responses.record_score(response.id, 9)
    async with db.snapshot() as store:
        answered = await store.invitations.get(public_id)
        assert await store.invitations.get("inv_nope") is None
    assert answered is not None
    assert (answered.status, answered.score, answered.response_id) == ("answered", 9, response.id)


async def test_cancel_only_what_was_not_sent(db: Database) -> None:
    survey = await _survey(db)
    await add_people(db, [901, 902])
    later = await schedule(db, survey, 901, utcnow() + timedelta(hours=1))
    async with db.transaction() as store:
        cancelled, view = await store.invitations.cancel(later)
    assert cancelled and view is not None and view.status == "cancelled"
    async with db.transaction() as store:  # again: still cancelled, nothing else happens
        assert (await store.invitations.cancel(later))[0]
        assert await store.invitations.cancel("inv_unknown") == (False, None)
    sent = await schedule(db, survey, 902, utcnow())
    async with db.transaction() as store:
        await store.invitations._session.execute(
            update(Invitation).where(Invitation.public_id == sent).values(status="sent")
        )
    async with db.transaction() as store:
        cancelled, view = await store.invitations.cancel(sent)
    assert not cancelled and view is not None and view.status == "sent"


async def test_one_key_inserted_concurrently_is_stored_once(db: Database) -> None:
    survey = await _survey(db)
    new = NewInvitation(
        survey_id=survey,
        key_channel=TELEGRAM,
        key_address="1001",
        attributes={},
        send_at=utcnow(),
        idempotency_key="same",
        request_hash="h",
    )
    verdict = Verdict(InvitationStatus.UNREACHABLE, "not_started", None)
    inserted, release = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with db.transaction() as store:
            assert await store.invitations.add(Stored(new, verdict, "inv_first"), utcnow())
            inserted.set()
            await release.wait()  # not committed until the second one waits for it

    async def second() -> tuple[bool, str | None]:
        await inserted.wait()
        async with db.transaction() as store:
            added = await store.invitations.add(Stored(new, verdict, "inv_second"), utcnow())
            stored = await store.invitations.by_key("same")
        return added, stored.public_id if stored is not None else None

    tasks = asyncio.gather(first(), second())
    await inserted.wait()
    if db.dialect == "postgresql":  # the second INSERT waits on the first one's row lock
        await wait_db(db, _someone_waits_for_a_lock)
    else:  # the second transaction waits for SQLite's write lock
        await next_loop_turn()
    release.set()
    _, (added, winner) = await tasks
    assert (added, winner) == (False, "inv_first")


async def _someone_waits_for_a_lock(db: Database) -> bool:
    async with db.snapshot() as store:
        waiting = await store.invitations._session.scalar(
            text("SELECT count(*) FROM pg_locks WHERE NOT granted")
        )
    return bool(waiting)

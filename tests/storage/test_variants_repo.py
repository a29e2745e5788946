"""A/B broadcast storage on SQLite and PostgreSQL (storage/repos/variants.py): the arms, a
draw stored once, one arm per person, the answers per arm, and forgetting a person."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from handlers.broadcast_split import arms_of, assign_arms
from nps.ab_split import Split, parse_split
from storage.broadcast_models import BroadcastRecipient, RecipientStatus
from storage.db import Database
from storage.models import Response
from storage.repos.broadcasts import HELD_BACK
from storage.repos.response_start import AnswerContext
from storage.tables import table_of

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
SPLIT = parse_split('A:"10% off" B:"Free delivery" control 20%')


HELD = parse_split('A:"10% off" B:"Free delivery" control 20% none')


async def _broadcast(
    db: Database, people: int, split: Split = SPLIT
) -> tuple[int, int, list[int]]:
    """A confirmed split broadcast with `people` recipients: its id, survey id, people."""
    rows = [
        {
            "telegram_id": 60_000 + i,
            "first_name": f"User{i}",
            "telegram_language": "en",
            "subscribed": True,
            "unreachable": False,
            "started_at": NOW,
            "last_seen_at": NOW,
        }
        for i in range(people)
    ]
    async with db.transaction() as store:
        ids = await store.respondents.add_people(rows)
        survey = await store.surveys.ensure_default()
        draft = await store.broadcasts.create_draft(
            survey_id=survey.id, segment="", created_by=1, chat_id=1, language="en", now=NOW
        )
        await store.variants.save_arms(draft.id, arms_of(split))
        store.responses._session.add_all(
            [BroadcastRecipient(broadcast_id=draft.id, respondent_id=p, chat_id=p) for p in ids]
        )
        return draft.id, survey.id, ids


async def test_arms_are_kept_in_order_and_the_draw_is_stored_once(db: Database) -> None:
    broadcast_id, _, people = await _broadcast(db, 50)
    async with db.transaction() as store:
        arms = await store.variants.arms(broadcast_id)
        assert [(a.name, a.text) for a in arms] == [
            ("A", "10% off"),
            ("B", "Free delivery"),
            ("control", None),
        ]
        assert [a.share for a in arms] == pytest.approx([0.4, 0.4, 0.2])
        counts = await assign_arms(store, broadcast_id, random.Random(3))
    assert counts == {"A": 20, "B": 20, "control": 10}
    async with db.transaction() as store:
        first = {p: await store.variants.arm_of(broadcast_id, p) for p in people}
        # Drawn again (a second Confirm, a retry): the stored draw stands.
        assert await assign_arms(store, broadcast_id, random.Random(99)) == counts
        assert {p: await store.variants.arm_of(broadcast_id, p) for p in people} == first
        messages = await store.variants.messages_for(broadcast_id, people)
    assert Counter(messages.values()) == {"10% off": 20, "Free delivery": 20}
    assert {p for p in people if first[p] == "control"}.isdisjoint(messages)
    with pytest.raises(IntegrityError):  # one arm per person and broadcast
        async with db.transaction() as store:
            await store.variants.save_assignments(broadcast_id, {people[0]: "B"})


async def test_a_held_back_control_group_is_drawn_and_skipped_in_the_same_transaction(
    db: Database,
) -> None:
    broadcast_id, _, people = await _broadcast(db, 50, HELD)
    async with db.transaction() as store:
        arms = await store.variants.arms(broadcast_id)
        assert [(a.name, a.held_back) for a in arms] == [
            ("A", False),
            ("B", False),
            ("control", True),
        ]
        counts = await assign_arms(store, broadcast_id, random.Random(5))
        # Before the commit, in the draw's own transaction: nobody of it is pending.
        rows = await store.recipients.of(broadcast_id)
    assert counts == {"A": 20, "B": 20, "control": 10}
    async with db.snapshot() as store:
        drawn = {p: await store.variants.arm_of(broadcast_id, p) for p in people}
        tally = await store.broadcasts.tally(broadcast_id)
    state = {r.respondent_id: (r.status, r.detail) for r in rows}
    for person in people:
        if drawn[person] == "control":
            assert state[person] == (RecipientStatus.SKIPPED, "control")
        else:
            assert state[person] == (RecipientStatus.PENDING, None)
    # The tally keeps them apart: not to be sent, not skipped for a reason, not counted.
    assert tally.held_back == 10 and tally.counts[HELD_BACK] == 10
    assert tally[RecipientStatus.SKIPPED] == 0
    assert tally.total == 40 and tally.remaining == 40 and tally.handled == 0
    async with db.transaction() as store:  # a second draw changes nothing
        assert await assign_arms(store, broadcast_id, random.Random(6)) == counts
        assert (await store.broadcasts.tally(broadcast_id)).counts == tally.counts
        # A person skipped for a reason (/stop) still counts as skipped, not as control.
        somebody = next(p for p in people if drawn[p] == "A")
        await store.responses._session.execute(
            update(table_of(BroadcastRecipient))
            .where(BroadcastRecipient.respondent_id == somebody)
            .values(status=RecipientStatus.SKIPPED, detail="stopped")
        )
        after = await store.broadcasts.tally(broadcast_id)
    assert after[RecipientStatus.SKIPPED] == 1 and after.held_back == 10
    assert after.total == 40 and after.remaining == 39


async def test_a_control_group_that_is_not_held_back_stays_pending(db: Database) -> None:
    broadcast_id, _, _ = await _broadcast(db, 10)
    async with db.transaction() as store:
        assert not any(a.held_back for a in await store.variants.arms(broadcast_id))
        await assign_arms(store, broadcast_id, random.Random(1))
        tally = await store.broadcasts.tally(broadcast_id)
    assert tally.counts == {RecipientStatus.PENDING.value: 10}
    assert tally.held_back == 0 and tally.total == 10


async def test_answers_count_in_their_arm_on_the_day_scored(db: Database) -> None:
    broadcast_id, survey_id, people = await _broadcast(db, 10)
    async with db.transaction() as store:
        await assign_arms(store, broadcast_id, random.Random(1))
        arms = {p: await store.variants.arm_of(broadcast_id, p) for p in people}
    expected: dict[str, list[int]] = {}
    async with db.transaction() as store:
        for index, person in enumerate(people):
            response = await store.responses.start(
                survey_id=survey_id,
                respondent_id=person,
                chat_id=person,
                language="en",
                context=AnswerContext(),
                asked_at=NOW - timedelta(hours=1),
            )
            await store.responses._session.execute(
                update(table_of(BroadcastRecipient))
                .where(BroadcastRecipient.respondent_id == person)
                .values(status=RecipientStatus.SENT, response_id=response.id)
            )
            score = index % 11
            if index == 9:
                continue  # asked, never answered: invited only
            # One answered long ago: outside the period, yet still invited in it.
            at = NOW - timedelta(days=40) if index == 8 else NOW
            await store.responses.record_score(response.id, score, at=at)
            if index == 7:  # replaced by a newer answer: counts nowhere
                await store.responses._session.execute(
                    update(table_of(Response))
                    .where(Response.id == response.id)
                    .values(superseded_by=response.id + 1000)
                )
                continue
            if index != 8:
                expected.setdefault(arms[person], []).append(score)
    async with db.snapshot() as store:
        totals = await store.variants.totals(
            [survey_id], NOW - timedelta(days=1), NOW + timedelta(days=1)
        )
    for arm, scores in expected.items():
        assert totals[arm][1:] == tuple(scores.count(s) for s in range(11)), arm
    invited = Counter(arms[p] for i, p in enumerate(people) if i != 7)
    assert {arm: counts[0] for arm, counts in totals.items()} == dict(invited)
    async with db.snapshot() as store:
        assert await store.variants.totals([survey_id + 1], NOW, NOW + timedelta(days=1)) == {}
        assert await store.variants.totals([], NOW, NOW) == {}


async def test_forgetting_a_person_removes_their_arm(db: Database) -> None:
    broadcast_id, _, people = await _broadcast(db, 5)
    async with db.transaction() as store:
        await assign_arms(store, broadcast_id, random.Random(1))
        await store.privacy.forget_person(people[0])
    async with db.snapshot() as store:
        assert await store.variants.arm_of(broadcast_id, people[0]) is None
        assert await store.variants.arm_of(broadcast_id, people[1]) is not None
        assert sum((await store.variants.counts(broadcast_id)).values()) == 4

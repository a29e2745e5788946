"""An invitation's attributes on the response it opens, on both backends: stored through
`ResponseRepo.start(attributes=…)`, read back on the survey path and through the ORM,
counted per campaign with the answer, kept off eNPS answers, erased with the person."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.i18n import Catalogs
from handlers.export_file import export_attributes, write_export
from nps.periods import Period
from nps.scope import Scope
from storage.attributes import InvalidAttributes, parse_attributes
from storage.db import Database
from storage.models import Response, Step, utcnow
from storage.repos.respondents import Profile
from storage.repos.response_start import AnswerContext
from storage.store import Store
from storage.streams import MAX_ATTRIBUTE_COLUMNS

CRM = {
    "agent": "olga",
    "source": "call",
    "campaign": "dec",
    "order_id": "A-17",
    "region": "north",
}
INVITATION = AnswerContext(channel="invitation")


async def _person(store: Store, user_id: int) -> int:
    return (await store.respondents.touch(Profile(user_id, user_id, "Ann", None, "en"))).id


async def _campaigns(store: Store, survey_id: int) -> dict[str, tuple[int, ...]]:
    today = utcnow().date()
    span = (today - timedelta(days=1), today + timedelta(days=1))
    return await store.stats.totals([survey_id], *span, "campaign")


async def test_the_attributes_are_stored_read_back_and_counted_per_campaign(db: Database) -> None:
    async with db.transaction() as store:
        survey = await store.surveys.ensure_default()
        person = await _person(store, 700)
        response = await store.responses.start(
            survey_id=survey.id,
            respondent_id=person,
            chat_id=700,
            language="en",
            context=INVITATION,
            attributes=CRM,
        )
        assert (response.agent, response.source, response.campaign) == ("olga", "call", "dec")
        assert response.attributes == {"order_id": "A-17", "region": "north"}
        assert await store.responses.record_score(response, 4)
    async with db.snapshot() as store:
        # The survey path's driver statements and the ORM read the same values.
        again = await store.responses.get(response.id)
        assert again is not None and again.attributes == {"order_id": "A-17", "region": "north"}
        assert (again.agent, again.source, again.campaign) == ("olga", "call", "dec")
        latest = await store.responses.latest_for(person)
        assert latest is not None and latest.attributes == again.attributes
        counts = await _campaigns(store, survey.id)
        assert set(counts) == {"dec"}
        assert counts["dec"][0] == 1 and counts["dec"][1 + 4] == 1  # invited, one 4


async def test_given_tags_win_over_the_contexts_and_a_parsed_value_is_taken_as_is(
    db: Database,
) -> None:
    async with db.transaction() as store:
        survey = await store.surveys.ensure_default()
        person = await _person(store, 701)
        deep_link = AnswerContext(source="qr", agent="ivan", campaign="nov", channel="invitation")
        first = await store.responses.start(
            survey_id=survey.id,
            respondent_id=person,
            chat_id=701,
            language="en",
            context=deep_link,
            attributes={"campaign": "dec"},
        )
        assert (first.agent, first.source, first.campaign) == ("ivan", "qr", "dec")
        assert first.attributes is None
        second = await store.responses.start(
            survey_id=survey.id,
            respondent_id=person,
            chat_id=701,
            language="en",
            context=INVITATION,
            attributes=parse_attributes({"order_id": "B-2"}),
        )
        assert second.attributes == {"order_id": "B-2"} and second.campaign is None


async def test_an_enps_answer_stores_no_attribute_at_all(db: Database) -> None:
    async with db.transaction() as store:
        pulse = await store.surveys.add(slug="pulse", name="Pulse", kind="enps")
        person = await _person(store, 702)
        response = await store.responses.start(
            survey_id=pulse.id,
            respondent_id=person,
            chat_id=702,
            language="en",
            context=INVITATION,
            attributes=CRM,
        )
        assert await store.responses.record_score(response.id, 2)
    async with db.snapshot() as store:
        row = await store.responses.get(response.id)
        assert row is not None and row.respondent_id is None
        assert (row.agent, row.source, row.campaign, row.attributes) == (None, None, None, None)
        # Counted without a campaign: no segment names the employee's invitation.
        assert set(await _campaigns(store, pulse.id)) == {""}


async def test_bad_attributes_open_nothing(db: Database) -> None:
    async with db.transaction() as store:
        survey = await store.surveys.ensure_default()
        person = await _person(store, 703)
        before = await store.responses.start(
            survey_id=survey.id,
            respondent_id=person,
            chat_id=703,
            language="en",
            context=INVITATION,
        )
    with pytest.raises(InvalidAttributes) as error:
        async with db.transaction() as store:
            await store.responses.start(
                survey_id=survey.id,
                respondent_id=person,
                chat_id=703,
                language="en",
                context=INVITATION,
                attributes={"order_id": 17},  # type: ignore[dict-item]
            )
    assert error.value.field == "attributes.order_id"
    async with db.snapshot() as store:
        session = store.responses._session
        assert await session.scalar(select(func.count()).select_from(Response)) == 1
        still = await store.responses.open_for(person)
        assert still is not None and still.id == before.id and still.step == Step.SCORE


async def test_a_replaced_answer_leaves_its_campaign_count(db: Database) -> None:
    async with db.transaction() as store:
        survey = await store.surveys.ensure_default()
        person = await _person(store, 704)
        link = AnswerContext(campaign="dec")
        old = await store.responses.start(
            survey_id=survey.id, respondent_id=person, chat_id=704, language="en", context=link
        )
        await store.responses.record_score(old, 3)
        new = await store.responses.start(
            survey_id=survey.id,
            respondent_id=person,
            chat_id=704,
            language="en",
            context=link,
            replaces=old.id,
        )
        await store.responses.record_score(new, 9)
        assert await store.responses.supersede_replaced(new) is not None
    async with db.snapshot() as store:
        counts = await _campaigns(store, survey.id)
        invited, *scores = counts["dec"]
        assert invited == 1 and scores[9] == 1 and sum(scores) == 1


async def test_forgetting_the_person_erases_the_attributes_and_keeps_the_tags(
    db: Database,
) -> None:
    async with db.transaction() as store:
        survey = await store.surveys.ensure_default()
        person = await _person(store, 705)
        response = await store.responses.start(
            survey_id=survey.id,
            respondent_id=person,
            chat_id=705,
            language="en",
            context=INVITATION,
            attributes=CRM,
        )
        await store.responses.record_score(response, 8)
    async with db.transaction() as store:
        mine = await store.privacy.collect(705)
        assert [a.response.attributes for a in mine.answers] == [
            {"order_id": "A-17", "region": "north"}
        ]
        await store.privacy.forget(705)
    async with db.snapshot() as store:
        session = store.responses._session
        row = (await session.execute(select(Response).where(Response.id == response.id))).one()[0]
        # SQL NULL (not JSON null): the order id and custom fields may name the person.
        assert row.attributes is None and row.respondent_id is None
        null = select(func.count()).where(
            Response.id == response.id, Response.attributes.is_(None)
        )
        assert await session.scalar(null) == 1
        assert (row.agent, row.source, row.campaign, row.score) == ("olga", "call", "dec", 8)


async def test_an_export_with_too_many_keys_keeps_the_rest_as_json(
    db: Database, tmp_path: Path
) -> None:
    """A column per key up to MAX_ATTRIBUTE_COLUMNS; beyond, one more column holds every
    attribute as JSON, so no value is left out of the file."""
    stored = []
    async with db.transaction() as store:
        survey = await store.surveys.ensure_default()
        for n in range(3):  # 3 × 20 distinct keys: 60 > 50
            person = await _person(store, 710 + n)
            custom = {f"k{n}_{i:02d}": f"v{i}" for i in range(20)}
            response = await store.responses.start(
                survey_id=survey.id,
                respondent_id=person,
                chat_id=710 + n,
                language="en",
                context=INVITATION,
                attributes={"order_id": f"O-{n}", **custom},
            )
            await store.responses.record_score(response, 9)
            stored.append(response.attributes)
    today = utcnow().date()
    scope = Scope((survey,), Period(today, today), all_surveys=False, default_period=False)
    keys = await export_attributes(db, scope, db.tz)
    assert len(keys) == MAX_ATTRIBUTE_COLUMNS + 1 and keys[-1] == "attributes"
    assert keys[0] == "attr.k0_00" and keys[-2] == "attr.k2_09"
    out = tmp_path / "wide.csv"
    texts = Catalogs().texts("en")
    assert await write_export(db, scope, "csv", texts, out, exported_at=utcnow()) == 3
    header, *rows = csv.reader(io.StringIO(out.read_text("utf-8-sig"), newline=""))
    assert header[-1] == "Attributes (JSON)" and header[-2] == "k2_09"
    assert [json.loads(row[-1]) for row in rows] == stored
    assert [row[header.index("Order ID")] for row in rows] == ["O-0", "O-1", "O-2"]

"""Privacy beyond Telegram: a WhatsApp person's data is erased as a Telegram person's is,
and an owner's /forget takes a phone number or a WhatsApp id (people known only by a
number, from an invitation or a web link, can be erased from chat)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.emulator import BotApiEmulator
from storage.db import Database
from storage.models import Address, Respondent, Response, ScoreCount, Step, utcnow
from storage.repos.response_start import AnswerContext
from tests.conftest import BACKENDS
from tests.dialog_helpers import Talk
from tests.handlers.harness import HandlerBot
from tests.scenario import OWNER_ID

PHONE = "+37360000001"
WA_ID = "447700900001"


async def _answer(
    db: Database, person_id: int, chat_id: int | None, messenger: str, score: int = 3
) -> int:
    """A finished answer of the person with both comments, through `messenger`."""
    async with db.transaction() as store:
        survey = await store.surveys.ensure_default()
        response = await store.responses.start(
            survey_id=survey.id,
            respondent_id=person_id,
            chat_id=chat_id,
            language="en",
            context=AnswerContext(source="call", agent="olga", messenger=messenger),
        )
        await store.responses.record_score(response.id, score)
        await store.responses.record_why(response.id, "The courier was late")
        await store.responses.record_improve(response.id, "Call me: +1 555 0100")
        return response.id


async def _phone_only_person(db: Database) -> int:
    """Someone a web link's answer made: known by the invited number alone."""
    async with db.transaction() as store:
        person_id = await store.survey_links.person_for_phone(PHONE, utcnow())
    await _answer(db, person_id, None, "web")
    return person_id


async def _whatsapp_person(db: Database) -> tuple[int, int]:
    """A WhatsApp customer with one answer: (person id, synthetic chat id)."""
    async with db.transaction() as store:
        chat_id, _ = await store.whatsapp.contact(WA_ID, "Ana", "en")
        person_id = await store.whatsapp.person_of(chat_id)
    assert person_id is not None
    await _answer(db, person_id, chat_id, "whatsapp")
    return person_id, chat_id


async def _rows(db: Database) -> tuple[list[Response], list[tuple[object, ...]], int]:
    """Every response, the histograms, and how many people and addresses exist."""
    async with db.snapshot() as store:
        session = store.responses._session
        responses = list((await session.scalars(select(Response).order_by(Response.id))).all())
        counts = await session.scalars(select(ScoreCount))
        histograms = sorted(
            tuple(getattr(r, c.key) for c in ScoreCount.__table__.columns) for r in counts.all()
        )
        # People and addresses other than the staff's own Telegram profiles.
        telegram = select(Address.respondent_id).where(Address.channel == "telegram")
        people = await session.scalars(select(Respondent.id).where(Respondent.id.not_in(telegram)))
        addresses = await session.scalars(select(Address.id).where(Address.channel != "telegram"))
        return responses, histograms, len(people.all()) + len(addresses.all())


def _assert_erased(response: Response) -> None:
    """As tests/handlers/test_privacy.py checks a Telegram person's detached answer."""
    assert (response.respondent_id, response.chat_id, response.start_payload) == (None, None, None)
    assert (response.why, response.improve, response.step) == (None, None, Step.DONE)
    assert response.source == "call" and response.agent == "olga" and response.score == 3
    assert response.scored_at is not None


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # SQL that differs on PostgreSQL
async def test_forget_by_phone_erases_a_person_known_only_by_the_number(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await _phone_only_person(check_db)
    [before], histograms, _ = await _rows(check_db)
    assert before.why == "The courier was late" and before.messenger == "web"
    owner = Talk(api, OWNER_ID, first_name="Olga")
    confirm = await owner.say(f"/forget {PHONE}", "Erase the personal data of +373 600 00 001?")
    assert "answers (1) are unlinked" in confirm.text
    owner.user.press(confirm, "Cancel")
    await owner.edited(confirm, "Nothing was erased for +373 600 00 001.")
    assert (await _rows(check_db))[0][0].why == "The courier was late"
    confirm = await owner.say("/forget +373-60-000-001", "Erase the personal data of")
    owner.user.press(confirm, "🗑 Erase")
    await owner.edited(confirm, "✅ Erased the data of +373 600 00 001: profile deleted, answers")
    [after], histograms_after, people = await _rows(check_db)
    _assert_erased(after)
    assert histograms_after == histograms and people == 0
    await owner.say(f"/forget {PHONE}", "I store nothing about +373 600 00 001.")


async def test_forget_takes_a_whatsapp_id_and_erases_like_telegram(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await _whatsapp_person(check_db)
    _, histograms, _ = await _rows(check_db)
    owner = Talk(api, OWNER_ID, first_name="Olga")
    # The WhatsApp id, typed with its prefix, as its digits alone, or as its number.
    for typed in (f"wa:{WA_ID}", WA_ID, f"+{WA_ID}"):
        confirm = await owner.say(f"/forget {typed}", "Erase the personal data of Ana")
        assert "WhatsApp +44 7700 900001" in confirm.text
    owner.user.press(confirm, "🗑 Erase")
    await owner.edited(confirm, "✅ Erased the data of Ana (WhatsApp +44 7700 900001)")
    [after], histograms_after, people = await _rows(check_db)
    _assert_erased(after)
    assert histograms_after == histograms and people == 0


async def test_wrong_forget_inputs_get_a_clear_answer(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = Talk(api, OWNER_ID, first_name="Olga")
    usage = await owner.say("/forget", "Use /forget <user id or @username>")
    assert "A phone number (/forget +37369123456) or a WhatsApp id" in usage.text
    for command, reply in [
        ("/forget +12", "“+12” is not a phone number I can read"),
        ("/forget 37360000001", "I store nothing about 37360000001."),
        ("/forget wa:abc", "“wa:abc” is not a WhatsApp id"),
        ("/forget wa:447700900009", "I store nothing about WhatsApp +447700900009."),
        ("/forget +37369999999", "I store nothing about +373 699 99 999."),
    ]:
        await owner.say(command, reply)


async def test_privacy_repo_erases_a_whatsapp_sender_as_a_telegram_one(
    check_db: Database,
) -> None:
    """/forgetme on WhatsApp names the person by the chat's synthetic id (the sender)."""
    person_id, chat_id = await _whatsapp_person(check_db)
    _, histograms, _ = await _rows(check_db)
    async with check_db.transaction() as store:
        mine = await store.privacy.collect(chat_id)
        assert mine.respondent is not None and mine.respondent.id == person_id
        assert [a.response.why for a in mine.answers] == ["The courier was late"]
        assert mine.user_id is None  # no Telegram id to report
        erased = await store.privacy.forget(chat_id)
    assert (erased.profile, erased.answers) == (True, 1)
    [after], histograms_after, people = await _rows(check_db)
    _assert_erased(after)
    assert histograms_after == histograms and people == 0

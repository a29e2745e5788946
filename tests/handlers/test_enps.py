"""eNPS: anonymous answers — nothing identifying on the rows, one answer each, still counted."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.emulator import BotApiEmulator
from storage.admin_models import AnonymousAnswer, AnonymousThread, AppSecret
from storage.db import Database
from storage.models import Response, Step, utcnow
from storage.repos.respondents import Profile
from storage.repos.response_start import AnswerContext
from tests.admin_helpers import make_survey
from tests.conftest import BACKENDS
from tests.dialog_helpers import Talk
from tests.handlers.harness import HandlerBot
from tests.scenario import OWNER_ID, respondent_of, responses_of

QUESTION = "How likely are you to recommend Acme as a place to work to a friend or acquaintance?"
IVAN = 301


async def _rows(db: Database, model: Any) -> list[Any]:
    async with db.snapshot() as store:
        session = store.responses._session
        return list((await session.scalars(select(model))).all())


async def _pulse_responses(db: Database, survey_id: int) -> list[Response]:
    return [r for r in await _rows(db, Response) if r.survey_id == survey_id]


def _columns(row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


async def test_an_enps_answer_carries_nothing_that_identifies_the_employee(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    survey_id = await make_survey(check_db, "pulse", "Team pulse", kind="enps")
    ivan = Talk(api, IVAN, first_name="Ivan", username="ivan_k")
    greeting = await ivan.say("/start pulse__s-warehouse__a-ivan", "anonymous question")
    assert "about working at Acme" in greeting.text and "not linked to you" in greeting.text
    question = await ivan.expect(QUESTION)
    why = await ivan.tap(question, "3", "What bothers you the most at work?")
    answered = next(m for m in ivan.user.bot_messages if m.message_id == question.message_id)
    assert "your answer: 3" in answered.text and answered.keyboard == []
    # The open-conversation pointer is a row: a restart in the middle loses nothing.
    await bot.restart()
    improve = await ivan.say("Too much overtime", "What should change for you to give a 10?")
    assert why.keyboard == []
    thanks = await ivan.say("Plan shifts earlier", "Thank you for your honesty.")
    assert "Your answer is anonymous" in thanks.text and improve.keyboard == []

    [row] = await _pulse_responses(check_db, survey_id)
    values = _columns(row)
    assert (row.score, row.why, row.improve, row.step) == (
        3,
        "Too much overtime",
        "Plan shifts earlier",
        Step.DONE,
    )
    # No tag at all: a source can name a person as well as an agent can (ENPS_MIN_GROUP).
    for column in (
        "respondent_id",
        "chat_id",
        "source",
        "agent",
        "campaign",
        "start_payload",
        "prompt_message_id",
    ):
        assert values[column] is None, column
    assert IVAN not in values.values() and "ivan_k" not in values.values()
    assert not any("ivan" in str(v) for v in values.values())
    # Times are coarsened to the day: they cannot be matched with "last seen" times.
    for moment in (row.asked_at, row.scored_at, row.why_at, row.improve_at, row.completed_at):
        assert moment is not None
        assert (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0)
    assert await responses_of(check_db, IVAN) == []
    # Once finished, no pointer links Ivan to the row; one salted mark says he answered.
    assert await _rows(check_db, AnonymousThread) == []
    [mark] = await _rows(check_db, AnonymousAnswer)
    assert mark.survey_id == survey_id and re.fullmatch(r"[0-9a-f]{64}", mark.answer_key)
    respondent = await respondent_of(check_db, IVAN)
    assert respondent is not None and (respondent.source, respondent.agent) == (None, None)


async def test_a_second_answer_is_refused_politely_and_nps_still_counts_every_answer(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    survey_id = await make_survey(check_db, "pulse", "Team pulse", kind="enps")
    ivan = Talk(api, IVAN, first_name="Ivan")
    question = await ivan.say("/start pulse", QUESTION)
    why = await ivan.tap(question, "9", "What do you value most about working at Acme?")
    improve = await ivan.tap(why, "Skip", "even better place to work")
    await ivan.tap(improve, "Skip", "Your answer is anonymous and helps make Acme")
    refused = await ivan.say("/start pulse", "You have already answered this anonymous survey")
    assert "Everyone answers it once" in refused.text and refused.keyboard == []
    await bot.restart()
    await ivan.say("/start pulse__s-hr", "You have already answered this anonymous survey")
    assert len(await _pulse_responses(check_db, survey_id)) == 1
    # The eNPS wording exists in every language.
    maria = Talk(api, 302, first_name="Мария", language_code="ru")
    await maria.say(
        "/start pulse",
        "Насколько вероятно, что вы порекомендуете Acme как место работы другу или знакомому?",
    )
    await maria.say("3", "Что больше всего мешает вам в работе?")
    # /nps counts both answers although neither names its author; two answers are fewer
    # than ENPS_MIN_GROUP, so their score is withheld (test_trust_enps_anonymity.py).
    owner = Talk(api, OWNER_ID)
    report = await owner.say("/nps pulse", "NPS · Team pulse")
    assert "fewer than 5 answers — hidden to keep them anonymous" in report.text
    assert "NPS 0" not in report.text and "Promoters" not in report.text
    async with check_db.snapshot() as store:
        totals = await store.stats.totals([survey_id], date(2000, 1, 1), date(2100, 1, 1))
    assert totals[""][1:] == (0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0)


async def test_pressing_start_again_reuses_the_question_and_a_new_survey_unlinks_the_old(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    survey_id = await make_survey(check_db, "pulse", "Team pulse", kind="enps")
    ivan = Talk(api, IVAN, first_name="Ivan")
    first = await ivan.say("/start pulse", QUESTION)
    again = await ivan.say("/start pulse", QUESTION)
    # Only the newest copy keeps the buttons (issue 9, item 20).
    assert ivan.user.message(first.message_id).keyboard == []  # type: ignore[union-attr]
    [open_row] = await _pulse_responses(check_db, survey_id)
    assert open_row.step == Step.SCORE and len(await _rows(check_db, AnonymousThread)) == 1
    # Another survey supersedes the open eNPS question: closed, unlinked, its buttons dead.
    await ivan.say("/start", "How likely are you to recommend Acme to a friend or colleague?")
    assert await _rows(check_db, AnonymousThread) == []
    assert await ivan.alert(again, "5") == "This button is not valid."
    [closed] = await _pulse_responses(check_db, survey_id)
    assert (closed.step, closed.score, closed.asked_at.minute) == (Step.CLOSED, None, 0)
    # Not answered yet, so the eNPS survey may be started again.
    question = await ivan.say("/start pulse", QUESTION)
    await ivan.tap(question, "8", "What is the main reason for your score?")
    assert len(await _rows(check_db, AnonymousAnswer)) == 1


async def _start_enps(db: Database, survey_id: int, user_id: int) -> int:
    async with db.transaction() as store:
        person = await store.respondents.touch(Profile(user_id, user_id, "Emp", None, "en"))
        response = await store.responses.start(
            survey_id=survey_id,
            respondent_id=person.id,
            chat_id=user_id,
            language="en",
            context=AnswerContext(agent="boss", start_payload="pulse__a-boss"),
        )
        return response.id


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # SQL that differs on PostgreSQL
async def test_abandoned_enps_conversations_are_unlinked_after_a_day(db: Database) -> None:
    survey_id = await make_survey(db, "pulse", "Team pulse", kind="enps")
    stale = await _start_enps(db, survey_id, 401)
    async with db.transaction() as store:
        assert await store.responses.record_score(stale, 2)
        session = store.responses._session
        await session.execute(
            update(AnonymousThread).values(created_at=utcnow() - timedelta(days=2))
        )
    # Any later start sweeps abandoned pointers (no scheduler needed).
    fresh = await _start_enps(db, survey_id, 402)
    threads = await _rows(db, AnonymousThread)
    assert [t.response_id for t in threads] == [fresh]
    rows = {r.id: r for r in await _rows(db, Response)}
    assert (rows[stale].step, rows[stale].score, rows[stale].scored_at.minute) == (
        Step.CLOSED,
        2,
        0,
    )
    assert rows[stale].agent is None and rows[stale].start_payload is None
    # The abandoned answer still counts, and its author still cannot answer twice.
    async with db.snapshot() as store:
        stale_person = await store.respondents.person_of(401)
        fresh_person = await store.respondents.person_of(402)
        assert stale_person is not None and fresh_person is not None
        assert await store.anonymity.has_answered(survey_id, stale_person)
        assert not await store.anonymity.has_answered(survey_id, fresh_person)
        assert (await store.responses.open_for(stale_person)) is None
        reopened = await store.responses.open_for(fresh_person)
        assert reopened is not None and reopened.id == fresh


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # SQL that differs on PostgreSQL
async def test_anonymity_salt_from_settings_is_used_and_never_stored(db_url: str) -> None:
    configured = Database(db_url, anonymity_salt="a-long-secret-from-the-environment")
    generated = Database(db_url)
    try:
        async with configured.transaction() as store:
            key = await store.anonymity.user_key(IVAN)
        assert await _rows(configured, AppSecret) == []
        async with generated.transaction() as store:
            stored_key = await store.anonymity.user_key(IVAN)
        async with generated.transaction() as store:
            assert await store.anonymity.user_key(IVAN) == stored_key  # generated once
        [secret] = await _rows(generated, AppSecret)
        assert key != stored_key and str(IVAN) not in key
        assert secret.value not in key and len(secret.value) == 64
    finally:
        await configured.dispose()
        await generated.dispose()

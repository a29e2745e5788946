"""Issue 9, items 1, 2 and 4 (invitations): every answer counted once, rates never above 100 %.

Within SURVEY_COOLDOWN_DAYS a person's new answer to a survey through the same door (plain
/start, the same deep link) replaces their previous one; other doors, broadcasts and the
team's own tests are counted as README says.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.emulator import BotApiEmulator
from storage.case_models import DetractorCase
from storage.db import Database
from storage.models import Response, ScoreCount
from storage.repos.respondents import Profile
from storage.repos.response_start import AnswerContext
from tests.admin_helpers import grant
from tests.conftest import BACKENDS
from tests.handlers.conftest import make_settings
from tests.handlers.harness import HandlerBot
from tests.handlers.test_admin_export import csv_rows, export
from tests.scenario import OWNER_ID, QUESTION, responses_of

LIKE_MOST = "What do you like most"
EVEN_BETTER = "Is there anything we could do even better?"
DISAPPOINTED = "What disappointed you the most?"
THANKS = "We are glad"
QUESTION_RU = "порекомендуете Acme другу или коллеге"
MONTHS_EN = "January February March April May June July August September October November December"
MONTHS_RU = "января февраля марта апреля мая июня июля августа сентября октября ноября декабря"


def today_in(months: str) -> str:
    """Today's date as "4 December" with the language's month names (the zone is UTC)."""
    today = datetime.now(UTC).date()
    return f"{today.day} {months.split()[today.month - 1]}"


def as_asked(message: object) -> str:
    """A message's text as first sent (answering edits the question)."""
    history = message.history  # type: ignore[attr-defined]
    return str(history[0] if history else message.text)  # type: ignore[attr-defined]


async def ask(user: object, payload: str = "", question: str = QUESTION) -> object:
    """Sends /start (with a deep-link payload) and returns the question asked after it."""
    before = len(user.bot_messages)  # type: ignore[attr-defined]
    user.send(f"/start {payload}".strip())  # type: ignore[attr-defined]
    return await user.wait_for_message(  # type: ignore[attr-defined]
        lambda m: question in m.text and m in user.bot_messages[before:]  # type: ignore[attr-defined]
    )


async def answer(user: object, score: int, payload: str = "", why: str = "Fast") -> object:
    """/start, a tapped promoter score, a reason, Skip; the question message."""
    question = await ask(user, payload)
    user.press(question, str(score))  # type: ignore[attr-defined]
    follow = await user.wait_for_message(  # type: ignore[attr-defined]
        lambda m: LIKE_MOST in m.text and m.message_id > question.message_id  # type: ignore[attr-defined]
    )
    user.send(why)  # type: ignore[attr-defined]
    improve = await user.wait_for_message(  # type: ignore[attr-defined]
        lambda m: EVEN_BETTER in m.text and m.message_id > follow.message_id
    )
    user.press(improve, "Skip")  # type: ignore[attr-defined]
    await user.wait_for_message(  # type: ignore[attr-defined]
        lambda m: THANKS in m.text and m.message_id > improve.message_id
    )
    return question


async def nps_text(user: object) -> str:
    """The owner's /nps message sent after this call."""
    before = len(user.bot_messages)  # type: ignore[attr-defined]
    user.send("/nps")  # type: ignore[attr-defined]
    message = await user.wait_for_message(  # type: ignore[attr-defined]
        lambda m: m.text.startswith("NPS ·") and m in user.bot_messages[before:]  # type: ignore[attr-defined]
    )
    return str(message.text)  # type: ignore[attr-defined]


async def counters(db: Database, dimension: str = "all") -> dict[str, tuple[int, int]]:
    """Per segment value: (invited, answered) summed over every day and survey."""
    answered = sum(getattr(ScoreCount, f"c{s}") for s in range(11))
    async with db.snapshot() as store:
        rows = await store.responses._session.execute(
            select(ScoreCount.value, func.sum(ScoreCount.invited), func.sum(answered))
            .where(ScoreCount.dimension == dimension)
            .group_by(ScoreCount.value)
        )
        return {value: (int(i), int(a)) for value, i, a in rows}


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # SQL that differs on PostgreSQL
async def test_start_again_replaces_the_answer_in_nps_comments_exports_and_counts(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    user = api.user(7301, first_name="Olga", language_code="en")
    first = await answer(user, 10, why="Fast delivery")
    assert "You already answered" not in as_asked(first)
    second = await answer(user, 10, why="Fast delivery")
    notice = f"You already answered on {today_in(MONTHS_EN)} — your new answer replaces it."
    assert as_asked(second).startswith(notice)
    older, newer = await responses_of(check_db, 7301)
    assert (older.superseded_by, newer.replaces_id) == (newer.id, older.id)
    assert newer.superseded_by is None
    assert await counters(check_db) == {"": (1, 1)}

    owner = api.user(OWNER_ID, first_name="Owner", language_code="en")
    text = await nps_text(owner)
    assert "Promoters 1 (100%)" in text
    assert "Response rate 100% (1 of 1 invited)" in text
    owner.send("/comments")
    listing = await owner.wait_for_message(lambda m: m.text.startswith("💬"))
    assert listing.text.count("Fast delivery") == 1
    _header, *rows = csv_rows(await export(api, owner, "csv"))
    assert [row[0] for row in rows] == [str(newer.id)]  # the replaced answer is not exported


async def test_the_same_deep_link_replaces_and_another_agent_counts_separately(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    user = api.user(7302, first_name="Ivan", language_code="en")
    await answer(user, 9, "nps__a-olga")
    again = await answer(user, 10, "nps__a-olga")
    assert "your new answer replaces it" in as_asked(again)
    other = await answer(user, 10, "nps__a-sasha")
    assert "You already answered" not in as_asked(other)
    plain = await answer(user, 10)  # plain /start is a door of its own
    assert "You already answered" not in as_asked(plain)
    assert await counters(check_db, "agent") == {"olga": (1, 1), "sasha": (1, 1), "": (1, 1)}
    rows = await responses_of(check_db, 7302)
    assert [r.superseded_by is not None for r in rows] == [True, False, False, False]


async def test_a_broadcast_answer_counts_apart_from_a_start_answer(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    async with check_db.transaction() as store:
        survey = await store.surveys.ensure_default()
        person = await store.respondents.touch(Profile(7303, 7303, "Pia", None, "en"))
        sent = await store.responses.start(
            survey_id=survey.id,
            respondent_id=person.id,
            chat_id=7303,
            language="en",
            context=AnswerContext(channel="broadcast"),
        )
        assert await store.responses.record_score(sent, 8)
    user = api.user(7303, first_name="Pia", language_code="en")
    question = await answer(user, 10)
    assert "You already answered" not in as_asked(question)
    await answer(user, 10)  # ...but a second /start replaces the /start answer
    assert await counters(check_db) == {"": (2, 2)}
    rows = await responses_of(check_db, 7303)
    assert [(r.channel, r.superseded_by is not None) for r in rows] == [
        ("broadcast", False),
        ("start", True),
        ("start", False),
    ]


async def test_a_detractor_replaced_by_a_promoter_leaves_no_open_case(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    user = api.user(7304, first_name="Rita", language_code="en")
    question = await ask(user)
    user.press(question, "3")
    await user.wait_for_message(lambda m: DISAPPOINTED in m.text)
    await answer(user, 10)
    older, _newer = await responses_of(check_db, 7304)
    async with check_db.snapshot() as store:
        case = await store.cases.for_response(older.id)
        opened = await store.responses._session.scalar(
            select(func.count()).where(DetractorCase.status == "open")
        )
    assert case is not None and case.status == "superseded"
    assert opened == 0
    owner = api.user(OWNER_ID, first_name="Owner", language_code="en")
    text = await nps_text(owner)
    assert "Detractors 0" in text and "open" not in text


async def test_russian_respondent_is_told_the_date_in_russian(
    api: BotApiEmulator, bot: HandlerBot
) -> None:
    user = api.user(7305, first_name="Саша", language_code="ru")
    question = await ask(user, question=QUESTION_RU)
    user.press(question, "10")
    await user.wait_for_message(lambda m: "Что вам больше всего нравится" in m.text)
    again = await ask(user, question=QUESTION_RU)
    assert as_asked(again).startswith(
        f"Вы уже ответили {today_in(MONTHS_RU)} — новый ответ заменит прежний."
    )


@pytest.fixture
async def no_cooldown_bot(api: BotApiEmulator, db_url: str) -> AsyncIterator[HandlerBot]:
    """npsbot with SURVEY_COOLDOWN_DAYS=0."""
    settings = make_settings(api, db_url, survey_cooldown_days=0)
    running = HandlerBot(settings, api)
    await running.start()
    yield running
    await running.stop()


async def test_with_no_cooldown_every_answer_counts(
    api: BotApiEmulator, no_cooldown_bot: HandlerBot, check_db: Database
) -> None:
    user = api.user(7306, first_name="Uwe", language_code="en")
    await answer(user, 10)
    again = await answer(user, 10)
    assert "You already answered" not in as_asked(again)
    assert await counters(check_db) == {"": (2, 2)}


async def test_an_answer_counts_in_the_language_it_was_asked_in(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    user = api.user(7307, first_name="Lena", language_code="en")
    await ask(user)
    user.send("/language")
    menu = await user.wait_for_message(lambda m: m.text == "Choose your language:")
    user.press(menu, "Русский")
    question = await user.wait_for_message(lambda m: QUESTION_RU in m.text and m.keyboard)
    user.press(question, "10")
    await user.wait_for_message(lambda m: "Что вам больше всего нравится" in m.text)
    assert await counters(check_db, "language") == {"en": (1, 1)}
    owner = api.user(OWNER_ID, first_name="Owner", language_code="en")
    assert "Response rate 100% (1 of 1 invited)" in await nps_text(owner)


async def test_the_team_pressing_start_is_not_invited_and_counts_once_it_answers(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await grant(check_db, 7308, "viewer")
    viewer = api.user(7308, first_name="Vera", language_code="en")
    owner = api.user(OWNER_ID, first_name="Owner", language_code="en")
    await ask(owner)
    await ask(viewer)
    customer = api.user(7309, first_name="Carl", language_code="en")
    await ask(customer)
    assert await counters(check_db) == {"": (1, 0)}  # only the customer is invited
    await answer(owner, 10)  # an owner can still test the survey: asked and answered
    assert await counters(check_db) == {"": (2, 1)}
    rows = [r for r in await responses_of(check_db, OWNER_ID) if r.score is not None]
    assert len(rows) == 1 and isinstance(rows[0], Response)

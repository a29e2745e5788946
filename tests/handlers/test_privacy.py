"""Privacy: /mydata shows what is stored; /forgetme and /forget erase it, totals unchanged."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from bot.emulator import BotApiEmulator
from bot.i18n import Catalogs
from handlers.callbacks import pack
from handlers.context import BotConfig, Hooks, UpdateContext
from handlers.port import Outbox
from handlers.privacy import ForgetUser, erase
from storage.db import Database
from storage.models import Response, ScoreCount, Step, utcnow
from storage.repos.privacy import Erased
from tests.admin_helpers import grant, make_survey, seed_answers
from tests.conftest import BACKENDS
from tests.dialog_helpers import Talk
from tests.handlers.harness import HandlerBot
from tests.scenario import OWNER_ID, respondent_of, responses_of

ANNA = 101
NOT_PERMITTED = "This command is not available to you. /help lists what you can do here."
VIEWER_PRESSING = "This button is for admins and owners; you are a viewer."


async def _answer_as_anna(api: BotApiEmulator) -> Talk:
    """Anna answers the default survey through an agent's link, with both comments."""
    anna = Talk(api, ANNA, first_name="Anna", username="anna")
    question = await anna.say("/start nps__s-call__a-olga", "How likely are you to recommend")
    await anna.tap(question, "6", "What disappointed you the most?")
    await anna.say("The courier was late", "give us a 10?")
    await anna.say("Call me back: +1 555 0100", "Thank you, Anna.")
    return anna


async def _histograms(db: Database) -> list[tuple[object, ...]]:
    async with db.snapshot() as store:
        session = store.responses._session
        rows = await session.scalars(select(ScoreCount))
        return sorted(
            tuple(getattr(r, c.key) for c in ScoreCount.__table__.columns) for r in rows.all()
        )


async def _all_responses(db: Database) -> list[Response]:
    async with db.snapshot() as store:
        session = store.responses._session
        return list((await session.scalars(select(Response).order_by(Response.id))).all())


async def test_mydata_sends_the_profile_the_answers_and_a_json_file(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await make_survey(check_db, "pulse", "Team pulse", kind="enps")
    anna = await _answer_as_anna(api)
    question = await anna.say("/start pulse", "as a place to work")
    await anna.tap(question, "2", "What bothers you the most at work?")
    await anna.say("Secret workplace complaint", "What should change")
    summary = await anna.say("/mydata", "What I store about you")
    text = summary.text
    assert "Profile: Anna · @anna · Telegram id 101" in text
    assert "Last came from: source call · agent olga" in text
    assert "Your answers (1):" in text and "Main survey · score 6" in text
    assert "«The courier was late» · «Call me back: +1 555 0100»" in text
    assert "anonymous survey(s) Team pulse" in text
    assert "An anonymous survey is waiting for your answer" in text
    assert "Secret workplace complaint" not in text and "score 2" not in text
    document = await anna.user.wait_for_message(lambda m: m.document is not None)
    assert document.document is not None and document.document.name == "mydata-101.json"
    data = json.loads(document.document.data)
    assert data["profile"]["username"] == "anna" and data["profile"]["came_from_agent"] == "olga"
    [answer] = data["answers"]
    assert (answer["survey"], answer["score"], answer["why"], answer["agent"]) == (
        "nps",
        6,
        "The courier was late",
        "olga",
    )
    assert data["anonymous_surveys_answered"] == [{"survey": "pulse", "survey_name": "Team pulse"}]
    assert data["anonymous_conversation_open"] is True
    assert "Secret workplace complaint" not in document.document.data.decode()


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # SQL that differs on PostgreSQL
async def test_forgetme_asks_first_then_erases_and_every_total_stays_the_same(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await seed_answers(check_db, [10, 9, 8, 2], agent="olga", first_user=20_000)
    anna = await _answer_as_anna(api)
    owner = Talk(api, OWNER_ID)
    before = (await owner.say("/nps", "NPS ·")).text
    before_by_agent = (await owner.say("/nps by agent", "NPS by agent")).text
    histograms = await _histograms(check_db)

    confirm = await anna.say("/forgetme", "Erase your data?")
    assert "unlink your answers (1)" in confirm.text
    assert confirm.button_texts == ["🗑 Erase", "Cancel"]
    anna.user.press(confirm, "Cancel")
    await anna.edited(confirm, "Nothing was erased.")
    [kept] = await responses_of(check_db, ANNA)
    assert kept.why == "The courier was late"

    confirm = await anna.say("/forgetme", "Erase your data?")
    anna.user.press(confirm, "🗑 Erase")
    done = await anna.edited(confirm, "Done — your data is erased (answers unlinked: 1")
    assert done.keyboard == []
    assert await respondent_of(check_db, ANNA) is None
    assert await responses_of(check_db, ANNA) == []
    [detached] = [r for r in await _all_responses(check_db) if r.agent == "olga" and r.score == 6]
    assert (detached.respondent_id, detached.chat_id, detached.start_payload) == (None, None, None)
    assert (detached.why, detached.improve, detached.step) == (None, None, Step.DONE)
    assert detached.source == "call" and detached.scored_at is not None
    # Every figure is what it was: the histograms were not touched.
    assert await _histograms(check_db) == histograms
    assert (await owner.say("/nps", "NPS ·")).text == before
    assert (await owner.say("/nps by agent", "NPS by agent")).text == before_by_agent
    # Writing again, Anna is a stranger with no answers.
    await anna.say("/mydata", "No answers are linked to you.")


async def test_an_unfinished_survey_is_closed_when_its_respondent_is_forgotten(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    anna = Talk(api, ANNA, first_name="Anna")
    question = await anna.say("/start", "How likely are you to recommend")
    await anna.tap(question, "9", "What do you like most")
    confirm = await anna.say("/forgetme", "Erase your data?")
    anna.user.press(confirm, "🗑 Erase")
    await anna.edited(confirm, "Done — your data is erased")
    [row] = await _all_responses(check_db)
    assert (row.respondent_id, row.step, row.score) == (None, Step.CLOSED, 9)
    await anna.say("Great service", "There is no question waiting for you right now.")


async def test_admins_erase_a_users_data_with_forget(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await _answer_as_anna(api)
    await grant(check_db, 7_001, "admin")
    admin = Talk(api, 7_001, first_name="Olga")
    for command, reply in [
        ("/forget", "Use /forget <user id or @username>"),
        ("/forget @nobody", "I don't know the user “@nobody”"),
        ("/forget 999", "I store nothing about 999."),
    ]:
        await admin.say(command, reply)
    confirm = await admin.say("/forget @anna", "Erase the personal data of Anna (@anna · 101)?")
    assert "answers (1) are unlinked" in confirm.text
    admin.user.press(confirm, "Cancel")
    await admin.edited(confirm, "Nothing was erased for 101.")
    assert await respondent_of(check_db, ANNA) is not None
    confirm = await admin.say("/forget 101", "Erase the personal data of Anna")
    admin.user.press(confirm, "🗑 Erase")
    await admin.edited(confirm, "✅ Erased the data of 101: profile deleted, answers unlinked: 1.")
    assert await respondent_of(check_db, ANNA) is None
    assert await responses_of(check_db, ANNA) == []
    await admin.say("/forget 101", "I store nothing about 101.")


async def test_outsiders_cannot_forget_others(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await _answer_as_anna(api)
    await grant(check_db, 7_003, "viewer")
    viewer = Talk(api, 7_003, first_name="Vic")
    refused = await viewer.say(
        "/forget 101", "/forget is for admins and owners; you are a viewer."
    )
    # A forged confirmation button is refused at every press, too.
    query = viewer.user.press_data(refused, pack(ForgetUser(ANNA, 1)))
    answer = await viewer.user.wait_callback_answer(query)
    assert answer.text == VIEWER_PRESSING and answer.show_alert
    assert await respondent_of(check_db, ANNA) is not None
    assert len(await responses_of(check_db, ANNA)) == 1


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # SQL that differs on PostgreSQL
async def test_features_erase_their_own_data_through_the_forgetters_hook(db: Database) -> None:
    erased_by_feature: list[int] = []

    async def forget_feature_data(ctx: UpdateContext, user_id: int) -> None:
        erased_by_feature.append(user_id)

    async with db.transaction() as store:
        ctx = UpdateContext(
            store=store,
            out=Outbox(),
            catalogs=Catalogs(),
            config=BotConfig(brand="Acme"),
            language="en",
            now=utcnow(),
            hooks=Hooks(forgetters=[forget_feature_data]),
        )
        assert await erase(ctx, 555) == Erased(profile=False, answers=0)
    assert erased_by_feature == [555]

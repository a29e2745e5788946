"""The respondent's conversation at the handler tier."""

from __future__ import annotations

import pytest

from bot.emulator import BotApiEmulator
from storage.db import Database
from storage.models import Step
from tests.conftest import BACKENDS
from tests.handlers.harness import HandlerBot
from tests.scenario import QUESTION, add_survey, give_score, responses_of, start_survey, wait_db


def _rows(message) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return [[b.text for b in row] for row in message.keyboard]


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # SQL that differs on PostgreSQL
async def test_detractor_goes_from_start_to_thanks(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    anna = api.user(101, first_name="Anna", username="anna", language_code="en")
    anna.send("/start")
    greeting = await anna.wait_for_message(lambda m: m.text.startswith("Hi Anna!"))
    assert "One quick question about Acme" in greeting.text
    question = await anna.wait_for_message(lambda m: QUESTION in m.text)
    assert _rows(question) == [["0", "1", "2", "3", "4", "5"], ["6", "7", "8", "9", "10"]]
    assert all(len(b.callback_data.encode()) <= 64 for row in question.keyboard for b in row)

    anna.press(question, "6")
    why = await anna.wait_for_message(lambda m: "What disappointed you the most?" in m.text)
    edited = next(m for m in anna.bot_messages if m.message_id == question.message_id)
    assert edited.edited and "your answer: 6" in edited.text and edited.keyboard == []
    assert _rows(why) == [["Skip"]]
    # The score is stored at once, before any follow-up is answered.
    [response] = await responses_of(check_db, 101)
    assert (response.score, response.step) == (6, Step.WHY)

    anna.send("The courier was late twice")
    improve = await anna.wait_for_message(lambda m: "give us a 10" in m.text)
    anna.send("Deliver on time and send tracking")
    thanks = await anna.wait_for_message(lambda m: m.text.startswith("Thank you, Anna."))
    assert "someone from our team may get in touch" in thanks.text
    # Answered follow-ups lose their Skip buttons.
    for prompt in (why, improve):
        current = next(m for m in anna.bot_messages if m.message_id == prompt.message_id)
        assert current.keyboard == []

    [response] = await responses_of(check_db, 101)
    assert response.step == Step.DONE
    assert response.score == 6
    assert response.why == "The courier was late twice"
    assert response.improve == "Deliver on time and send tracking"
    assert response.language == "en"
    assert None not in (
        response.asked_at,
        response.scored_at,
        response.why_at,
        response.completed_at,
    )
    assert response.asked_at <= response.scored_at <= response.why_at <= response.improve_at


async def test_promoter_skips_both_and_is_invited_to_review(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    async with check_db.transaction() as store:
        survey = await store.surveys.ensure_default()
        await store.surveys.update(survey.id, review_url="https://example.com/review")
    ben = api.user(102, first_name="Ben", language_code="en-GB")
    question = await start_survey(ben)
    ben.press(question, "10")
    why = await ben.wait_for_message(lambda m: "What do you like most about Acme?" in m.text)
    ben.press(why, "Skip")
    improve = await ben.wait_for_message(lambda m: "even better" in m.text)
    skipped = next(m for m in ben.bot_messages if m.message_id == why.message_id)
    assert "skipped" in skipped.text and skipped.keyboard == []
    ben.press(improve, "Skip")
    thanks = await ben.wait_for_message(lambda m: m.text.startswith("Thank you, Ben!"))
    assert "public review" in thanks.text
    assert [[(b.text, b.url) for b in row] for row in thanks.keyboard] == [
        [("Leave a review ↗", "https://example.com/review")]
    ]
    [response] = await responses_of(check_db, 102)
    assert (response.score, response.why, response.improve, response.step) == (
        10,
        None,
        None,
        "done",
    )


async def test_words_and_out_of_range_numbers_get_the_keyboard_again(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    cleo = api.user(103, first_name="Cleo", language_code="en")
    await start_survey(cleo)
    for wrong in ("hello", "11", "-1", "seven"):
        cleo.send(wrong)
        sent = max(x.message_id for x in cleo.messages if x.text == wrong)
        # A plain hint, then the question again with its buttons (issue 9, item 20).
        hint = await cleo.wait_for_message(
            lambda m, n=sent: "Please choose a number from 0 to 10" in m.text and m.message_id > n
        )
        assert hint.keyboard == [] and QUESTION not in hint.text
        retry = await cleo.wait_for_message(
            lambda m, n=hint.message_id: QUESTION in m.text and m.message_id > n
        )
        assert len(retry.keyboard) == 2 and retry.keyboard[1][-1].text == "10"
    [response] = await responses_of(check_db, 103)
    assert response.score is None and response.step == Step.SCORE
    cleo.send("8")
    await cleo.wait_for_message(lambda m: "main reason for your score" in m.text)
    [response] = await responses_of(check_db, 103)
    assert response.score == 8
    # The latest question with buttons is edited to show the typed answer.
    last_prompt = [m for m in cleo.bot_messages if "your answer: 8" in m.text]
    assert len(last_prompt) == 1 and last_prompt[0].keyboard == []


async def test_media_at_a_text_step_asks_for_text_and_keeps_the_state(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    dan = api.user(104, first_name="Dan", language_code="en")
    question = await start_survey(dan)
    dan.send_sticker()
    hint = await dan.wait_for_message(lambda m: "Please choose a number" in m.text)
    asked_again = await dan.wait_for_message(
        lambda m: QUESTION in m.text and m.message_id > hint.message_id
    )
    dan.press(asked_again, "7")
    await dan.wait_for_message(lambda m: "main reason" in m.text)
    # The pressed copy shows the answer; no copy keeps its 0–10 buttons.
    shown = dan.message(asked_again.message_id)
    assert shown is not None and "your answer: 7" in shown.text and shown.keyboard == []
    older = dan.message(question.message_id)
    assert older is not None and older.keyboard == []
    for send_media in (dan.send_sticker, dan.send_photo, dan.send_voice):
        before = len(dan.bot_messages)
        send_media()
        hint = await dan.wait_for_message(
            lambda m, b=before: (
                "I can only read text here" in m.text and dan.bot_messages.index(m) >= b
            )
        )
        assert [b.text for row in hint.keyboard for b in row] == ["Skip"]
    [response] = await responses_of(check_db, 104)
    assert response.step == Step.WHY and response.why is None
    dan.send("Prices are fine")
    await dan.wait_for_message(lambda m: "give us a 10" in m.text)
    # The last hint loses its Skip but stays a hint, not a second copy of the question.
    await api.wait_until(lambda: dan.message(hint.message_id).keyboard == [], timeout=5)  # type: ignore[union-attr]
    assert "I can only read text here" in dan.message(hint.message_id).text  # type: ignore[union-attr]
    [response] = await responses_of(check_db, 104)
    assert response.why == "Prices are fine"


async def test_forged_malformed_and_stale_buttons_store_nothing(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    eve = api.user(105, first_name="Eve", language_code="en")
    mallory = api.user(106, first_name="Mallory", language_code="en")
    question = await start_survey(eve)
    score_data = question.keyboard[0][3].callback_data  # "3" for Eve's response
    m_question = await start_survey(mallory)

    # Mallory replays Eve's button data on her own message: not hers.
    qid = mallory.press_data(m_question, score_data)
    answer = await mallory.wait_callback_answer(qid)
    assert answer.show_alert and "not valid" in answer.text
    for junk in ("garbage", "nps:s:1", "nps:s:999999:5", "nps:s:1:99", "nps:zz:1:2"):
        answer = await eve.wait_callback_answer(eve.press_data(question, junk))
        assert answer.show_alert and "not valid" in answer.text, junk
    [response] = await responses_of(check_db, 105)
    assert response.score is None

    eve.press(question, "9")
    await eve.wait_for_message(lambda m: "like most" in m.text)
    # The keyboard is gone, but an old copy of the button is pressed again.
    answer = await eve.wait_callback_answer(eve.press_data(question, score_data))
    assert "already answered: 9" in answer.text
    [response] = await responses_of(check_db, 105)
    assert response.score == 9
    [other] = await responses_of(check_db, 106)
    assert other.score is None


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # SQL that differs on PostgreSQL
async def test_two_quick_presses_make_one_response_first_wins(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    fay = api.user(107, first_name="Fay", language_code="en")
    question = await start_survey(fay)
    first = fay.press(question, "4")
    second = fay.press(question, "9")  # queued before the bot saw the first
    third = fay.press(question, "4")
    await fay.wait_for_message(lambda m: "disappointed" in m.text)
    answers = [await fay.wait_callback_answer(q) for q in (first, second, third)]
    assert answers[0].text in (None, "")
    assert all("already answered: 4" in (a.text or "") for a in answers[1:])
    [response] = await responses_of(check_db, 107)
    assert response.score == 4
    assert sum("disappointed" in m.text for m in fay.bot_messages) == 1


async def test_messages_after_the_survey_overwrite_nothing(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    gus = api.user(108, first_name="Gus", language_code="en")
    await give_score(gus, 8, "main reason")
    gus.send("ok")
    await gus.wait_for_message(lambda m: "give us a 10" in m.text)
    gus.send("nothing")
    await gus.wait_for_message(lambda m: m.text.startswith("Thank you, Gus!"))
    for late in ("one more thing", "5"):
        gus.send(late)
        await gus.wait_for_message(
            lambda m, t=late: (
                "already answered" in m.text
                and m.message_id > max(x.message_id for x in gus.messages if x.text == t)
            )
        )
    gus.send_sticker()
    await api.wait_until(lambda: sum("already answered" in m.text for m in gus.bot_messages) == 3)
    [response] = await responses_of(check_db, 108)
    assert (response.score, response.why, response.improve) == (8, "ok", "nothing")


async def test_a_4096_character_comment_is_stored_whole(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    hal = api.user(109, first_name="Hal", language_code="ru")
    hal.send("/start")
    question = await hal.wait_for_message(lambda m: "порекомендуете Acme" in m.text)
    hal.press(question, "2")
    await hal.wait_for_message(lambda m: "разочаровало" in m.text)
    comment = ("Курьер опоздал. " * 300)[:4096]
    assert len(comment) == 4096
    hal.send(comment)
    await hal.wait_for_message(lambda m: "поставили 10" in m.text)
    [response] = await responses_of(check_db, 109)
    assert response.why == comment and response.language == "ru"


async def test_deep_links_pick_the_survey_and_record_context(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    survey_id = await add_survey(
        check_db, slug="delivery", name="Delivery", subject="Acme Delivery"
    )
    ivy = api.user(110, first_name="Ivy", language_code="en")
    ivy.send("/start delivery__s-call__a-olga__c-spring")
    await ivy.wait_for_message(lambda m: "recommend Acme Delivery to a friend" in m.text)
    [response] = await responses_of(check_db, 110)
    assert response.survey_id == survey_id
    assert (response.source, response.agent, response.campaign) == ("call", "olga", "spring")
    assert response.start_payload == "delivery__s-call__a-olga__c-spring"
    assert not response.payload_unknown

    jon = api.user(111, first_name="Jon", language_code="en")
    jon.send("/start no-such-survey")
    await jon.wait_for_message(lambda m: QUESTION in m.text)
    [fallback] = await responses_of(check_db, 111)
    assert fallback.survey_id != survey_id and fallback.payload_unknown
    assert fallback.start_payload == "no-such-survey"


async def test_restart_between_score_and_why_keeps_the_conversation(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    kim = api.user(112, first_name="Kim", language_code="en")
    await give_score(kim, 5, "disappointed")
    await bot.restart()
    kim.send("Waited an hour on the phone")
    await kim.wait_for_message(lambda m: "give us a 10" in m.text)
    [response] = await responses_of(check_db, 112)
    assert (response.score, response.why, response.step) == (
        5,
        "Waited an hour on the phone",
        "improve",
    )


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # SQL that differs on PostgreSQL
async def test_a_redelivered_update_changes_nothing(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    lea = api.user(113, first_name="Lea", language_code="en")
    start_update = lea.send("/start")
    question = await lea.wait_for_message(lambda m: QUESTION in m.text)
    lea.press(question, "9")
    await lea.wait_for_message(lambda m: "like most" in m.text)
    why_update = lea.send("Fast delivery")
    await lea.wait_for_message(lambda m: "even better" in m.text)
    sent_before = len(lea.bot_messages)
    await bot.crash()  # as after a crash, the same updates arrive again
    api.redeliver(start_update)
    api.redeliver(why_update)
    await bot.start()
    await api.wait_until(lambda: not api.pending_updates)
    marker = lea.send("/help")
    await lea.wait_for_message(lambda m: "/language" in m.text)
    assert marker > why_update
    assert len(lea.bot_messages) == sent_before + 1  # only the help text is new
    [response] = await responses_of(check_db, 113)
    assert (response.score, response.why, response.step) == (9, "Fast delivery", "improve")


async def test_start_twice_asks_the_same_question_once_stored(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    max_ = api.user(114, first_name="Max", language_code="en")
    await start_survey(max_)
    max_.send("/start")
    await api.wait_until(lambda: sum(QUESTION in m.text for m in max_.bot_messages) == 2)
    assert len(await responses_of(check_db, 114)) == 1


async def test_question_names_the_bot_when_no_brand_is_set(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    # BRAND_NAME is empty in the harness: the bot's own first name (getMe) is used.
    assert bot.settings.brand_name == ""
    nia = api.user(115, first_name="Nia", language_code="pl")
    nia.send("/start")
    await nia.wait_for_message(lambda m: "polecisz Acme" in m.text)
    await wait_db(check_db, lambda d: responses_of(d, 115))

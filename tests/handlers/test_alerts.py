"""Detractor alerts in the staff chat, replies through the bot, and resolution."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, select

from bot.emulator import BotApiEmulator
from storage.case_models import CaseAlert, DetractorCase
from storage.db import Database
from tests.admin_helpers import make_survey
from tests.conftest import BACKENDS
from tests.handlers.conftest import make_settings
from tests.handlers.harness import HandlerBot
from tests.scenario import OWNER_ID, QUESTION, person_id, start_survey, wait_db

STAFF_CHAT = -100_500


async def started_owner(api: BotApiEmulator):  # type: ignore[no-untyped-def]
    """The owner, who (like any Telegram user) must have started the bot to get messages."""
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/help")
    await owner.wait_for_message(lambda m: "Owner commands" in m.text)
    return owner


async def _cases(db: Database) -> list[DetractorCase]:
    async with db.snapshot() as store:
        rows = await store.cases._session.scalars(select(DetractorCase).order_by(DetractorCase.id))
        return list(rows.all())


async def _alert_rows(db: Database) -> list[CaseAlert]:
    async with db.snapshot() as store:
        return list((await store.cases._session.scalars(select(CaseAlert))).all())


async def _detractor_alert(api: BotApiEmulator, owner, user_id: int, name: str, score: str):  # type: ignore[no-untyped-def]
    """A new respondent's detractor score, and the alert the owner gets for it."""
    user = api.user(user_id, first_name=name, language_code="en")
    user.press(await start_survey(user), score)
    return await owner.wait_for_message(lambda m: m.text.startswith(f"🔴 Detractor · {score}"))


async def _resolve_and_see_it_closed(owner, alert) -> None:  # type: ignore[no-untyped-def]
    """Presses Resolved on the alert; the toast, then the alert edited without buttons."""
    answer = await owner.wait_callback_answer(owner.press(alert, "✅ Resolved"))
    assert answer.text == "Marked as resolved."
    done = await owner.wait_for_message(
        lambda m: m.message_id == alert.message_id and "✅ Resolved by Olga (id 900)" in m.text
    )
    assert done.keyboard == []


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # SQL that differs on PostgreSQL
async def test_detractor_alert_reaches_the_owner_and_grows_with_the_answers(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = await started_owner(api)
    anna = api.user(101, first_name="Anna", username="anna", language_code="en")
    anna.send("/start nps__s-call__a-olga")
    question = await anna.wait_for_message(lambda m: QUESTION in m.text)
    anna.press(question, "6")
    alert = await owner.wait_for_message(
        lambda m: m.text.startswith("🔴 Detractor · 6 · Main survey")
    )
    assert "Anna (@anna · id 101) · en · agent: olga · source: call · " in alert.text
    assert [[b.text for b in row] for row in alert.keyboard] == [["✉️ Reply", "✅ Resolved"]]
    await anna.wait_for_message(lambda m: "disappointed" in m.text)
    anna.send("The courier was late twice")
    await owner.wait_for_message(
        lambda m: m.message_id == alert.message_id and "Why: The courier was late twice" in m.text
    )
    await anna.wait_for_message(lambda m: "give us a 10" in m.text)
    anna.send("Deliver <b>on time</b>")
    updated = await owner.wait_for_message(
        lambda m: m.message_id == alert.message_id and "Improve: Deliver <b>on time</b>" in m.text
    )
    assert updated.keyboard == alert.keyboard  # still open: the buttons stay
    [case] = await _cases(check_db)
    # The case is about the person (their own id, not the Telegram id staff see).
    assert (case.status, case.respondent_id) == ("open", await person_id(check_db, 101))
    assert case.respondent_id != 101


async def test_promoters_and_passives_raise_no_alert(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = await started_owner(api)
    for user_id, score in ((102, "7"), (103, "10")):
        user = api.user(user_id, first_name="U", language_code="en")
        question = await start_survey(user)
        user.press(question, score)
        await user.wait_for_message(lambda m: "Thank you!" in m.text)
    await bot.idle()
    assert len(owner.bot_messages) == 1 and await _cases(check_db) == []  # only /help


async def test_reply_goes_to_the_respondent_and_the_answer_comes_back(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = await started_owner(api)
    ben = api.user(104, first_name="Ben", language_code="ru")
    question = await start_survey(ben, "порекомендуете")
    ben.press(question, "2")
    alert = await owner.wait_for_message(lambda m: m.text.startswith("🔴 Detractor · 2"))
    owner.press(alert, "✉️ Reply")
    await owner.wait_for_message(lambda m: m.text.startswith("✉️ Write your reply to Ben"))
    owner.send("We are sorry — the refund is on its way.")
    await owner.wait_for_message(lambda m: m.text == "✅ Sent to Ben.")
    team = await ben.wait_for_message(lambda m: "Сообщение от команды Acme" in m.text)
    assert "We are sorry — the refund is on its way." in team.text
    # Ben is still at the "why" step: his text answers the survey first.
    ben.send("Долго")
    await ben.wait_for_message(lambda m: "поставили 10" in m.text)
    ben.send("Быстрее")
    await ben.wait_for_message(lambda m: m.text.startswith("Спасибо, Ben."))
    ben.send("Спасибо, деньги пришли!")
    back = await owner.wait_for_message(lambda m: m.text.startswith("💬 Ben (id 104) replied"))
    assert "Спасибо, деньги пришли!" in back.text
    await ben.wait_for_message(lambda m: "передали ваше сообщение команде" in m.text)


async def test_resolved_records_who_and_when_and_is_pressed_once(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = await started_owner(api)
    alert = await _detractor_alert(api, owner, 105, "Cleo", "0")
    resolve_data = alert.keyboard[0][1].callback_data
    await _resolve_and_see_it_closed(owner, alert)
    again = await owner.wait_callback_answer(owner.press_data(alert, resolve_data))
    assert again.text == "Already resolved."
    [case] = await _cases(check_db)
    assert (case.status, case.resolved_by) == ("resolved", OWNER_ID) and case.resolved_at
    owner.send("/nps")
    report = await owner.wait_for_message(lambda m: m.text.startswith("NPS ·"))
    assert "Detractor cases: 0 open · 1 resolved" in report.text


async def test_resolved_changes_the_pressed_alert_even_before_its_id_is_stored(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    """The alert's id is written after its send returns; a press may come first."""
    owner = await started_owner(api)
    alert = await _detractor_alert(api, owner, 109, "Finn", "2")
    # Wait for the write, then undo it: the state a press sees when it beats the write.
    await wait_db(check_db, _alert_rows)
    async with check_db.transaction() as store:
        await store.cases._session.execute(delete(CaseAlert))
    await _resolve_and_see_it_closed(owner, alert)


async def test_strangers_cannot_act_on_a_case(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = await started_owner(api)
    dan = api.user(106, first_name="Dan", language_code="en")
    question = await start_survey(dan)
    dan.press(question, "3")
    alert = await owner.wait_for_message(lambda m: m.text.startswith("🔴 Detractor · 3"))
    mallory = api.user(107, first_name="Mallory", language_code="en")
    own = await start_survey(mallory)
    for button in alert.keyboard[0]:
        answer = await mallory.wait_callback_answer(mallory.press_data(own, button.callback_data))
        assert answer.show_alert and answer.text == "Only the team can act on this case."
    [case] = await _cases(check_db)
    assert case.status == "open"


async def test_cancel_leaves_reply_mode_and_blocked_respondents_are_reported(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = await started_owner(api)
    eve = api.user(108, first_name="Eve", language_code="en")
    question = await start_survey(eve)
    eve.press(question, "1")
    alert = await owner.wait_for_message(lambda m: m.text.startswith("🔴 Detractor · 1"))
    owner.press(alert, "✉️ Reply")
    await owner.wait_for_message(lambda m: m.text.startswith("✉️ Write your reply"))
    owner.send("/cancel")
    await owner.wait_for_message(lambda m: m.text == "Reply cancelled.")
    owner.send("/cancel")
    await owner.wait_for_message(lambda m: m.text == "There is nothing to cancel.")
    eve.block_bot()
    owner.press(alert, "✉️ Reply")
    await api.wait_until(
        lambda: sum(m.text.startswith("✉️ Write") for m in owner.bot_messages) == 2
    )
    owner.send("Hello?")
    await owner.wait_for_message(lambda m: m.text.startswith("⚠️ Could not deliver to Eve"))
    assert not any(m.text == "✅ Sent to Eve." for m in owner.bot_messages)


@pytest.fixture
async def staff_bot(api: BotApiEmulator, db_url: str) -> AsyncIterator[HandlerBot]:
    """npsbot posting alerts to a staff group instead of the owners."""
    settings = make_settings(api, db_url, alert_chat_id=STAFF_CHAT)
    running = HandlerBot(settings, api)
    await running.start()
    yield running
    await running.stop()


async def test_alerts_go_to_the_staff_group_where_any_member_can_reply(
    api: BotApiEmulator, staff_bot: HandlerBot, check_db: Database
) -> None:
    agent = api.user(300, first_name="Ivan", language_code="en")
    group = api.group(STAFF_CHAT, title="Quality team", members=[agent])
    fay = api.user(109, first_name="Fay", language_code="en")
    question = await start_survey(fay)
    fay.press(question, "4")
    alert = await group.wait_for_message(lambda m: m.text.startswith("🔴 Detractor · 4"))
    agent.press(alert, "✉️ Reply")
    await group.wait_for_message(lambda m: m.text.startswith("✉️ Write your reply to Fay"))
    agent.send_in(group, "Could you tell us your order number?")
    await group.wait_for_message(lambda m: m.text == "✅ Sent to Fay.")
    await fay.wait_for_message(lambda m: "Could you tell us your order number?" in m.text)
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    assert owner.bot_messages == []  # the owners are not alerted when a staff chat is set


async def test_anonymous_enps_alert_names_nobody_and_offers_no_reply(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = await started_owner(api)
    await make_survey(check_db, "team", "Team survey", kind="enps")
    worker = api.user(110, first_name="Gil", username="gil", language_code="en")
    worker.send("/start team")
    question = await worker.wait_for_message(lambda m: bool(m.keyboard) and "10" in m.button_texts)
    worker.press(question, "2")
    alert = await owner.wait_for_message(lambda m: m.text.startswith("🔴 Detractor · 2 · Team"))
    assert "Anonymous answer (eNPS)" in alert.text
    assert "Gil" not in alert.text and "gil" not in alert.text and "110" not in alert.text
    assert ":" not in alert.text.splitlines()[1]  # the day only, no time of day
    assert [[b.text for b in row] for row in alert.keyboard] == [["✅ Resolved"]]
    [case] = await _cases(check_db)
    assert case.respondent_id is None and case.opened_at.minute == 0

"""Broadcasts end to end: preview, Confirm / Cancel, sending with Telegram's errors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.emulator import BotApiEmulator
from storage.db import Database
from storage.models import utcnow
from tests.admin_helpers import grant, make_survey, seed_answers
from tests.broadcast_helpers import (
    admin,
    latest_broadcast,
    preview_of,
    recipients_of,
    reply_to,
    seed_audience,
)
from tests.conftest import BACKENDS
from tests.handlers.conftest import broadcast_bot
from tests.handlers.harness import HandlerBot
from tests.scenario import OWNER_ID, respondent_of, responses_of

FINISHED = "finished:"


def sends_to(api: BotApiEmulator, chat_id: int) -> list[float]:
    """When sendMessage calls to a chat arrived (any outcome)."""
    return [c.at for c in api.calls_for("sendMessage") if c.params.get("chat_id") == chat_id]


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # SQL that differs on PostgreSQL
async def test_confirm_sends_each_person_one_question_and_the_answer_flows(
    api: BotApiEmulator, sender: HandlerBot, check_db: Database
) -> None:
    users = await seed_audience(check_db, api, range(1001, 1006))
    owner = admin(api)
    preview = await preview_of(owner, "/broadcast nps")
    # Five customers; the owner, who pressed Start too, is on the team (not messaged).
    assert "Recipients: 5" in preview.text
    assert all(api.deliveries(u.id) == 0 for u in users)  # nothing before Confirm
    owner.press(preview, "✅ Send to 5")
    summary = await owner.wait_for_message(lambda m: FINISHED in m.text, timeout=15)
    assert "5 of 5 sent, 0 unreachable, 0 failed" in summary.text
    for user in users:
        assert api.deliveries(user.id) == 1
    anna = users[0]
    question = await anna.wait_for_message(lambda m: "recommend Acme" in m.text)
    assert question.text.startswith(f"Hi {anna.first_name}! One quick question about Acme")
    assert question.button_texts == [str(s) for s in range(11)]
    broadcast = await latest_broadcast(check_db)
    assert broadcast.status == "done"
    assert {r.status for r in await recipients_of(check_db, broadcast.id)} == {"sent"}
    [response] = await responses_of(check_db, anna.id)
    assert (response.channel, response.step) == ("broadcast", "score")
    assert response.prompt_message_id == question.message_id
    # The answer goes through the normal conversation.
    anna.press(question, "9")
    await anna.wait_for_message(lambda m: "like most" in m.text)
    [response] = await responses_of(check_db, anna.id)
    assert (response.score, response.step) == (9, "why")


async def test_preview_counts_exclusions_and_nothing_is_sent_before_confirm(
    api: BotApiEmulator, sender: HandlerBot, check_db: Database
) -> None:
    await seed_audience(check_db, api, [2001, 2002, 2003])
    await seed_audience(check_db, api, [2004, 2005], language="ru")
    await seed_audience(check_db, api, [2006], subscribed=False)
    await seed_audience(check_db, api, [2007], unreachable=True)
    # 2008 answered this survey 30 days ago (inside 90 days), 2009 another survey 3 days ago.
    await seed_answers(check_db, [9], first_user=2008, at=utcnow() - timedelta(days=30))
    await make_survey(check_db, "delivery", "Delivery")
    await seed_answers(
        check_db, [7], first_user=2009, survey_slug="delivery", at=utcnow() - timedelta(days=3)
    )
    # 2010 answered 100 days ago: outside both quiet periods.
    await seed_answers(check_db, [3], first_user=2010, at=utcnow() - timedelta(days=100))
    owner = admin(api)
    owner.send("/import 2011,ru")
    await owner.wait_for_message(lambda m: "Contact list imported" in m.text)
    preview = await preview_of(owner, "/broadcast nps")
    lines = preview.text.splitlines()
    assert "Recipients: 6 (en 4 · ru 2)" in lines  # 2001–2005 and 2010 (not the owner)
    assert "Not messaged: 4" in lines
    assert " • unreachable (blocked the bot): 1" in lines
    assert " • unsubscribed with /stop: 1" in lines
    assert " • got this survey in the last 90 days: 1" in lines
    assert " • got a survey in the last 7 days: 1" in lines
    assert any(
        line.startswith("Imported contacts who have not pressed Start yet: 1") for line in lines
    )
    assert "Estimated time: ~1 s at 200 messages/s" in lines
    # The question as respondents see it, with the keyboard drawn as text.
    assert "Hi Olga! One quick question about Acme — it takes 20 seconds." in lines
    assert "How likely are you to recommend Acme to a friend or colleague?" in lines
    assert preview.button_texts == ["✅ Send to 6", "✖ Cancel"]
    assert all(api.deliveries(uid) == 0 for uid in range(2001, 2012))


async def test_cancel_on_the_preview_sends_nothing(
    api: BotApiEmulator, sender: HandlerBot, check_db: Database
) -> None:
    users = await seed_audience(check_db, api, range(3001, 3004))
    owner = admin(api)
    preview = await preview_of(owner, "/broadcast nps")
    confirm = preview.button("✅ Send to 3")
    assert confirm is not None and confirm.callback_data is not None
    owner.press(preview, "✖ Cancel")
    await owner.wait_for_message(lambda m: "Broadcast cancelled — nothing was sent." in m.text)
    query = owner.press_data(preview, confirm.callback_data)  # a stale Confirm
    answer = await owner.wait_callback_answer(query)
    assert answer.show_alert and "already" in (answer.text or "")
    assert (await latest_broadcast(check_db)).status == "discarded"
    assert all(api.deliveries(u.id) == 0 for u in users)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/broadcast", "Usage: /broadcast <survey> [segment], e.g. /broadcast nps detractors."),
        ("/broadcast nope", "There is no active survey “nope”. Example: /broadcast nps"),
        ("/broadcast nps vips", "I don't understand the segment “vips”. Example: /broadcast nps"),
        ("/broadcast nps lang:russian", "I don't understand the segment “lang:russian”."),
    ],
)
async def test_a_wrong_command_gets_one_line_with_an_example(
    api: BotApiEmulator, sender: HandlerBot, command: str, expected: str
) -> None:
    owner = admin(api)
    owner.send(command)
    reply = await owner.wait_for_message(lambda m: expected in m.text)
    assert "\n" not in reply.text


async def test_broadcast_is_for_admins_and_owners_only(
    api: BotApiEmulator, sender: HandlerBot, check_db: Database
) -> None:
    viewer = api.user(4001, first_name="Vic")
    await grant(check_db, 4001, "viewer")
    viewer.send("/broadcast nps")
    await viewer.wait_for_message(
        lambda m: m.text == "/broadcast is for admins and owners; you are a viewer."
    )
    boss = api.user(4002, first_name="Ada")
    await grant(check_db, 4002, "admin")
    await preview_of(boss, "/broadcast nps")
    help_text = await reply_to(boss, "/help", "/start")
    assert "/broadcast <survey> [segment]" in help_text.text and "/import" in help_text.text
    viewer_help = await reply_to(viewer, "/help", "/start")
    assert "/broadcast" not in viewer_help.text


async def test_segments_narrow_the_audience(
    api: BotApiEmulator, sender: HandlerBot, check_db: Database
) -> None:
    await seed_audience(check_db, api, [5001, 5002], language="ru", source="shop")
    await seed_audience(check_db, api, [5003], language="pl", agent="olga")
    await seed_answers(check_db, [10], first_user=5004, at=utcnow() - timedelta(days=200))
    await seed_answers(check_db, [8], first_user=5005, at=utcnow() - timedelta(days=200))
    await seed_answers(check_db, [2, 5], first_user=5006, at=utcnow() - timedelta(days=200))
    owner = admin(api)
    owner.send("/import 5001,,,olga\n5009,ru,shop")  # 5009 never pressed Start
    await owner.wait_for_message(lambda m: "Contact list imported" in m.text)
    expected = {
        "lang:ru": 2,
        "source:shop": 2,
        "agent:olga": 2,  # 5003 from a deep link, 5001 from the imported list
        "lang:ru agent:olga": 1,
        "promoters": 1,
        "passives": 1,
        "detractors": 2,
        "never": 3,  # 5001–5003 (the owner is on the team)
    }
    for segment, count in expected.items():
        preview = await preview_of(owner, f"/broadcast nps {segment}")
        assert f"Recipients: {count} (" in preview.text, (segment, preview.text)
        assert f"· {segment}" in preview.text.splitlines()[0]
    preview = await preview_of(owner, "/broadcast nps source:shop")
    assert "have not pressed Start yet: 1" in preview.text


async def test_a_429_pauses_every_send_for_retry_after_and_retries(
    api: BotApiEmulator, db_url: str, check_db: Database
) -> None:
    bot = broadcast_bot(api, db_url, broadcast_rate=20.0)
    await bot.start()
    try:
        users = await seed_audience(check_db, api, range(6001, 6031))
        owner = admin(api)
        preview = await preview_of(owner, "/broadcast nps")
        api.inject_fault("sendMessage", status=429, retry_after=2, chat_id=6012)
        owner.press(preview, "✅ Send to 30")
        await owner.wait_for_message(lambda m: FINISHED in m.text, timeout=20)
    finally:
        await bot.stop()
    refused, retried = sends_to(api, 6012)
    assert retried - refused >= 2.0  # retry_after honoured
    # Telegram means the whole bot: apart from calls already on their way when the 429
    # came back, nothing went out during the pause.
    paused = [
        c.at
        for c in api.calls_for("sendMessage")
        if refused + 0.2 < c.at < refused + 2.0 and c.params["chat_id"] != OWNER_ID
    ]
    assert paused == []
    assert all(api.deliveries(u.id) == 1 for u in users)
    assert api.too_many_requests_sent == 0  # the emulator's own limits were never hit


async def test_a_403_marks_the_person_unreachable_and_the_broadcast_goes_on(
    api: BotApiEmulator, sender: HandlerBot, check_db: Database
) -> None:
    users = await seed_audience(check_db, api, range(7001, 7006))
    users[1].deactivate()  # every send to them answers 403 "user is deactivated"
    owner = admin(api)
    preview = await preview_of(owner, "/broadcast nps")
    owner.press(preview, "✅ Send to 5")
    summary = await owner.wait_for_message(lambda m: FINISHED in m.text, timeout=15)
    assert "4 of 5 sent, 1 unreachable, 0 failed" in summary.text
    assert len(sends_to(api, 7002)) == 1  # never retried
    respondent = await respondent_of(check_db, 7002)
    assert respondent is not None and respondent.unreachable
    assert await responses_of(check_db, 7002) == []  # no response for an undelivered question
    broadcast = await latest_broadcast(check_db)
    # By chat (the Telegram user's private chat); respondent_id is the person's own id.
    statuses = {r.chat_id: r.status for r in await recipients_of(check_db, broadcast.id)}
    assert statuses[7002] == "unreachable" and statuses[7001] == "sent"
    # The next preview counts them as unreachable.
    preview = await preview_of(owner, "/broadcast nps")
    assert " • unreachable (blocked the bot): 1" in preview.text


async def test_5xx_is_retried_with_backoff_and_a_400_fails_without_retry(
    api: BotApiEmulator, sender: HandlerBot, check_db: Database
) -> None:
    await seed_audience(check_db, api, range(8001, 8005))
    api.inject_fault("sendMessage", status=502, times=2, chat_id=8001)
    api.inject_fault(
        "sendMessage", status=400, chat_id=8002, description="Bad Request: chat not found"
    )
    owner = admin(api)
    preview = await preview_of(owner, "/broadcast nps")
    owner.press(preview, "✅ Send to 4")
    summary = await owner.wait_for_message(lambda m: FINISHED in m.text, timeout=15)
    assert "3 of 4 sent, 0 unreachable, 1 failed" in summary.text
    first, second, third = sends_to(api, 8001)
    assert second - first >= 0.5 and third - second >= 1.0  # doubling backoff
    assert api.deliveries(8001) == 1
    assert len(sends_to(api, 8002)) == 1 and api.deliveries(8002) == 0
    broadcast = await latest_broadcast(check_db)
    rows = {r.chat_id: r for r in await recipients_of(check_db, broadcast.id)}
    assert rows[8002].status == "failed"
    assert "chat not found" in (rows[8002].detail or "").lower()  # PTB capitalises it


async def test_progress_is_edited_while_sending_then_a_summary_arrives(
    api: BotApiEmulator, db_url: str, check_db: Database
) -> None:
    # 39 sends at 10/s take four seconds: a dozen progress intervals, so a busy machine
    # that skips some still shows several edits.
    bot = broadcast_bot(api, db_url, broadcast_rate=10.0, broadcast_progress_seconds=0.3)
    await bot.start()
    try:
        await seed_audience(check_db, api, range(9001, 9040))
        owner = admin(api)
        preview = await preview_of(owner, "/broadcast nps")
        owner.press(preview, "✅ Send to 39")
        await owner.wait_for_message(lambda m: FINISHED in m.text, timeout=20)
    finally:
        await bot.stop()
    progress = owner.message(preview.message_id)
    assert progress is not None
    sending = [text for text in progress.history if "Sending…" in text]
    assert len(sending) >= 3  # edited every few tenths of a second
    assert "Sending… 0 of 39" in sending[0]
    assert any("remaining" in t and "about" in t and " left" in t for t in sending[1:])
    assert progress.text.splitlines()[1].startswith("✅ Finished in")
    assert "sent 39 · unreachable 0 · failed 0 · remaining 0" in progress.text
    assert progress.button_texts == []  # no Cancel once finished


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # SQL that differs on PostgreSQL
async def test_cancel_while_sending_stops_and_nobody_gets_it_twice(
    api: BotApiEmulator, db_url: str, check_db: Database
) -> None:
    bot = broadcast_bot(api, db_url, broadcast_rate=10.0, broadcast_progress_seconds=0.3)
    await bot.start()
    try:
        users = await seed_audience(check_db, api, range(9101, 9160))
        owner = admin(api)
        preview = await preview_of(owner, "/broadcast nps")
        owner.press(preview, "✅ Send to 59")
        progress = await owner.wait_for_message(lambda m: "✖ Cancel" in m.button_texts)
        await api.wait_until(lambda: sum(api.deliveries(u.id) for u in users) >= 5, timeout=10)
        owner.press(progress, "✖ Cancel")
        summary = await owner.wait_for_message(lambda m: "cancelled:" in m.text, timeout=15)
        delivered = sum(api.deliveries(u.id) for u in users)
        # Nothing more goes out afterwards, even after a restart.
        await bot.restart()
        await bot.idle()
    finally:
        await bot.stop()
    assert 5 <= delivered < 50
    assert sum(api.deliveries(u.id) for u in users) == delivered
    assert all(api.deliveries(u.id) <= 1 for u in users)
    broadcast = await latest_broadcast(check_db)
    assert broadcast.status == "cancelled"
    rows = await recipients_of(check_db, broadcast.id)
    assert {r.status for r in rows} == {"sent", "cancelled"}
    sent = sum(r.status == "sent" for r in rows)
    assert f"{sent} of 59 sent" in summary.text
    final = owner.message(progress.message_id)
    assert final is not None and "✖ Cancelled after" in final.text
    assert "not sent because of the cancel:" in final.text


async def test_someone_who_stops_after_the_preview_is_not_messaged(
    api: BotApiEmulator, sender: HandlerBot, check_db: Database
) -> None:
    users = await seed_audience(check_db, api, range(9201, 9204))
    owner = admin(api)
    preview = await preview_of(owner, "/broadcast nps")
    users[0].send("/stop")
    await users[0].wait_for_message(lambda m: "not receive any more surveys" in m.text)
    owner.press(preview, "✅ Send to 3")
    summary = await owner.wait_for_message(lambda m: FINISHED in m.text, timeout=15)
    assert "2 of 2 sent" in summary.text  # counted again at Confirm
    assert api.deliveries(9201) == 1  # only the /stop confirmation
    assert not [m for m in users[0].bot_messages if "recommend" in m.text]


async def test_the_same_survey_is_not_sent_again_within_the_quiet_period(
    api: BotApiEmulator, sender: HandlerBot, check_db: Database
) -> None:
    users = await seed_audience(check_db, api, range(9301, 9304))
    owner = admin(api)
    preview = await preview_of(owner, "/broadcast nps")
    owner.press(preview, "✅ Send to 3")
    await owner.wait_for_message(lambda m: FINISHED in m.text, timeout=15)
    again = await preview_of(owner, "/broadcast nps")
    assert "Recipients: 0" in again.text
    assert " • got this survey in the last 90 days: 3" in again.text
    assert "Nobody in this segment can get the survey now." in again.text
    assert again.button_texts == []
    await make_survey(check_db, "delivery", "Delivery")
    other = await preview_of(owner, "/broadcast delivery")
    assert " • got a survey in the last 7 days: 3" in other.text
    assert all(api.deliveries(u.id) == 1 for u in users)


async def test_quiet_periods_are_configurable(
    api: BotApiEmulator, db_url: str, check_db: Database
) -> None:
    await seed_answers(check_db, [9], first_user=9401, at=utcnow() - timedelta(days=20))
    bot = broadcast_bot(api, db_url, survey_cooldown_days=14, any_survey_cooldown_days=0)
    await bot.start()
    try:
        owner = admin(api)
        preview = await preview_of(owner, "/broadcast nps")
    finally:
        await bot.stop()
    assert "Recipients: 1" in preview.text  # 9401 (20 days > 14); the owner is on the team
    assert "Not messaged" not in preview.text


async def test_enps_surveys_are_not_broadcast(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await make_survey(check_db, "team", "Team survey", kind="enps")
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/broadcast team")
    reply = await owner.wait_for_message(lambda m: "eNPS survey" in m.text)
    assert "/link team" in reply.text and not reply.keyboard

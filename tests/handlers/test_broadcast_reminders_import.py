"""Reminders after an unanswered broadcast question, and /import of a contact list."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.app import BotApp
from bot.broadcast import reminders
from bot.broadcast.sending_process import SendingProcess
from bot.emulator import BotApiEmulator, ChatMessage, EmulatedUser
from storage.db import Database
from storage.models import utcnow
from storage.repos.respondents import Profile
from storage.repos.response_start import AnswerContext
from tests.broadcast_helpers import (
    admin,
    preview_of,
    reply_to,
    seed_audience,
)
from tests.handlers.conftest import broadcast_bot
from tests.scenario import respondent_of, responses_of

REMINDER = "A gentle reminder"


def reminders_to(user: EmulatedUser) -> list[ChatMessage]:
    """Reminder messages a user got (also those edited since, once answered)."""
    return [m for m in user.bot_messages if any(REMINDER in t for t in [m.text, *m.history])]


async def _unanswered_question(db: Database, user_id: int, asked_at: datetime) -> int:
    """A question sent (and not answered) at `asked_at`, as the /start path stores it."""
    async with db.transaction() as store:
        survey = await store.surveys.ensure_default()
        person = await store.respondents.touch(Profile(user_id, user_id, "Dan", None, "en"))
        response = await store.responses.start(
            survey_id=survey.id,
            respondent_id=person.id,
            chat_id=user_id,
            language="en",
            context=AnswerContext(),
            asked_at=asked_at,
        )
        return response.id


async def test_one_reminder_after_the_delay_only_to_who_did_not_answer(
    api: BotApiEmulator, db_url: str, check_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reminders, "POLL_SECONDS", 0.05)
    start = utcnow()
    clock = {"now": start}
    monkeypatch.setattr(BotApp, "clock", staticmethod(lambda: clock["now"]))
    bot = broadcast_bot(api, db_url)
    await bot.start()
    try:
        silent, answered, stopped = await seed_audience(check_db, api, [11, 12, 13])
        owner = admin(api)
        preview = await preview_of(owner, "/broadcast nps")
        owner.press(preview, "✅ Send to 3")
        await owner.wait_for_message(lambda m: "finished:" in m.text, timeout=15)
        question = await answered.wait_for_message(lambda m: "recommend" in m.text)
        answered.press(question, "9")
        await answered.wait_for_message(lambda m: "like most" in m.text)
        await reply_to(stopped, "/stop", "not receive any more surveys")
        late = api.user(14, first_name="Dan")
        late.started = True
        await _unanswered_question(check_db, 14, start + timedelta(hours=6))

        clock["now"] = start + timedelta(hours=25)
        reminder = await silent.wait_for_message(lambda m: REMINDER in m.text, timeout=10)
        assert "How likely are you to recommend Acme" in reminder.text
        assert reminder.button_texts == [str(s) for s in range(11)]
        # Dan's question (asked 6 hours later) becomes due later: its reminder proves the job
        # looked again — and the silent one still got only one.
        clock["now"] = start + timedelta(hours=31)
        await late.wait_for_message(lambda m: REMINDER in m.text, timeout=10)
        # Answering the reminder answers the same response.
        silent.press(reminder, "6")
        await silent.wait_for_message(lambda m: "disappointed" in m.text)
    finally:
        await bot.stop()
    assert len(reminders_to(silent)) == 1
    assert len(reminders_to(late)) == 1
    assert not reminders_to(answered)
    assert not reminders_to(stopped)
    assert not reminders_to(owner)  # the owner is on the team: never surveyed by a broadcast
    [response] = await responses_of(check_db, silent.id)
    assert (response.channel, response.score) == ("broadcast", 6)
    assert "your answer: 6" in reminder.text  # the tapped reminder shows the answer
    # The broadcast's own question above it keeps no 0–10 buttons either (issue 9, item 20).
    asked = [m for m in silent.bot_messages if "recommend Acme" in m.text]
    assert len(asked) == 2 and all(m.keyboard == [] for m in asked), silent.transcript()


async def test_no_reminders_when_turned_off(
    api: BotApiEmulator, db_url: str, check_db: Database
) -> None:
    bot = broadcast_bot(api, db_url, reminder_after_hours=0)
    await bot.start()
    await bot.stop()
    from bot.app import background_jobs

    names = [job.__name__ for job in background_jobs(bot.settings, SendingProcess(bot.settings))]
    assert "reminder_job" not in names and "broadcast_job" in names


async def test_import_reports_added_updated_duplicates_and_invalid_lines(
    api: BotApiEmulator, db_url: str, check_db: Database
) -> None:
    bot = broadcast_bot(api, db_url)
    await bot.start()
    try:
        await seed_audience(check_db, api, [21])
        owner = admin(api)
        prompt = await reply_to(owner, "/import", "Send the contact list now")
        assert "123456789,ru,shop,olga,Anna" in prompt.text
        contacts = "\n".join(
            [
                "id;language;source;agent;name",
                "21;ru;shop;olga;Anna",
                "22;pl;;;Bartek",
                "abc;en",
                "23;russian",
                "22;ro",
                "",
                "24;en;web site",
                "25",
            ]
        )
        report = await reply_to(owner, contacts, "Contact list imported")
        lines = report.text.splitlines()
        assert lines[0] == "📇 Contact list imported: 7 lines read."
        assert lines[1] == "added 3 · updated 0 · unchanged 0"
        assert lines[2] == "duplicates removed: 1 (the first line of each id was kept)"
        assert lines[3] == "invalid lines skipped: 3"
        assert lines[4] == " • line 4: “abc” is not a Telegram user id"
        assert lines[5] == " • line 5: “russian” is not a two-letter language code"
        assert lines[6].startswith(" • line 8: source “web site” may only contain")
        assert lines[7] == (
            "1 of 3 has pressed Start and can be surveyed; the others will be once they "
            "press Start."
        )
        # The rows may also follow the command on the next lines.
        again = await reply_to(owner, "/import\n22,pl,shop\n25", "Contact list imported")
        assert "added 0 · updated 1 · unchanged 1" in again.text
        # Not started: counted in the preview, never messaged.
        preview = await preview_of(owner, "/broadcast nps source:shop")
        assert "Recipients: 1 (ru 1)" in preview.text  # 21, in the imported language
        assert "have not pressed Start yet: 1" in preview.text
        assert api.deliveries(22) == 0
        # Once they press Start they belong to the audience (here: just surveyed by /start).
        bartek = api.user(22, first_name="Bartek", language_code="en")
        await reply_to(bartek, "/start", "recommend")
        preview = await preview_of(owner, "/broadcast nps source:shop")
        assert "have not pressed Start yet" not in preview.text
        assert " • got this survey in the last 90 days: 1" in preview.text
    finally:
        await bot.stop()
    respondent = await respondent_of(check_db, 22)
    assert respondent is not None and respondent.source is None  # their own data untouched


async def test_import_waits_for_text_and_can_be_cancelled(
    api: BotApiEmulator, db_url: str, check_db: Database
) -> None:
    bot = broadcast_bot(api, db_url)
    await bot.start()
    try:
        owner = admin(api)
        await reply_to(owner, "/import", "Send the contact list now")
        owner.send_sticker()
        await owner.wait_for_message(lambda m: "paste the list as text" in m.text)
        await reply_to(owner, "/cancel", "Import cancelled.")
        # The next message is an ordinary one again.
        reply = await reply_to(owner, "31,ru", "")
        assert "Contact list imported" not in reply.text
        outsider = api.user(32, first_name="Eve")
        await reply_to(outsider, "/import 33", "This command is not available to you")
    finally:
        await bot.stop()

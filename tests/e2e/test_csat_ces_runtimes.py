"""CSAT and CES surveys end to end on both runtimes: the same scripted conversations on
aiogram and on python-telegram-bot (each against the Bot API emulator, each with a fresh
database) show the same and store the same, as test_parity.py checks for NPS."""

from __future__ import annotations

import pytest

from storage.db import Database
from tests.conftest import BACKENDS
from tests.e2e.conftest import OWNER_ID
from tests.e2e.test_parity import Script, assert_same_runs, run_script
from tests.e2e.test_parity import other_db_url as other_db_url  # a fixture, used by name

CSAT_QUESTION = "How satisfied are you with Acme?"
CES_QUESTION = "How easy was it to get what you needed from Acme?"


class ScalesScript(Script):
    """Every CSAT and CES path: taps, typed scores in and out of the scale, a forged
    button, the follow-ups per group, the alerts for low scores."""

    async def run(self, db: Database) -> None:
        api = self.api
        async with db.transaction() as store:
            await store.surveys.ensure_default()
            await store.surveys.add(
                slug="checkout",
                name="Checkout",
                kind="csat",
                review_url="https://example.com/review",
            )
            await store.surveys.add(slug="support", name="Support", kind="ces")

        owner = api.user(OWNER_ID, first_name="Olga", username="olga", language_code="en")
        await self.reply(owner, "/help", "/language")

        # CSAT, low: taps a star, answers both follow-ups; the owner is alerted.
        anna = api.user(101, first_name="Anna", language_code="en")
        question = await self.reply(anna, "/start checkout", CSAT_QUESTION)
        assert [b.text for b in question.keyboard[0]] == ["1 ⭐", "2 ⭐", "3 ⭐", "4 ⭐", "5 ⭐"]
        self.press(anna, question, "2 ⭐")
        await anna.wait_for_message(lambda m: "What went wrong?" in m.text)
        await owner.wait_for_message(lambda m: "🔴 Dissatisfied · CSAT 2 of 5" in m.text)
        await self.reply(anna, "The card was declined", "What should we fix first?")
        await self.reply(anna, "Accept more cards", "Thank you, Anna.")

        # CSAT, high, typed: a 9 is off the scale, a 5 is taken; then a review link.
        ben = api.user(102, first_name="Ben", language_code="en")
        question = await self.reply(ben, "/start checkout", CSAT_QUESTION)
        await self.reply(ben, "9", "Please choose from 1 to 5 stars")
        await self.reply(ben, "5", "What did you like most about Acme?")
        await self.reply(ben, "Fast", "even better")
        thanks = await self.reply(ben, "Nothing", "Thank you, Ben!")
        assert "public review" in thanks.text

        # A forged star outside 1–5 is refused; the real tap then counts once.
        cleo = api.user(103, first_name="Cleo", language_code="en")
        question = await self.reply(cleo, "/start checkout", CSAT_QUESTION)
        data = question.keyboard[0][0].callback_data
        assert data is not None
        forged = await cleo.wait_callback_answer(
            self.press_data(cleo, question, data.rsplit(":", 1)[0] + ":9")
        )
        assert forged.show_alert
        self.press(cleo, question, "3 ⭐")
        await cleo.wait_for_message(lambda m: "main reason for your rating" in m.text)

        # CES, in Russian, easy; then one typed off the scale and one low, alerted.
        dan = api.user(104, first_name="Дан", language_code="ru")
        question = await self.reply(dan, "/start support", "Насколько легко было")
        assert [b.text for b in question.keyboard[0]] == ["1", "2", "3", "4", "5", "6", "7"]
        self.press(dan, question, "7")
        await dan.wait_for_message(lambda m: "Что сделало это лёгким?" in m.text)
        eve = api.user(105, first_name="Eve", language_code="en")
        await self.reply(eve, "/start support", CES_QUESTION)
        await self.reply(eve, "8", "from 1 (very difficult) to 7 (very easy)")
        await self.reply(eve, "1", "What got in your way?")
        await owner.wait_for_message(lambda m: "🔴 Hard to do · CES 1 of 7 · Support" in m.text)


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_csat_and_ces_run_the_same_on_aiogram_and_ptb(
    db_url: str, other_db_url: str
) -> None:
    seen_aiogram, stored_aiogram = await run_script("aiogram", db_url, ScalesScript)
    seen_ptb, stored_ptb = await run_script("ptb", other_db_url, ScalesScript)
    # The scenario ran: its scores on their scales, two low ones made cases.
    scores = sorted(
        dict(row)["score"] for row in stored_aiogram["responses"] if dict(row)["score"]
    )
    assert scores == [1, 2, 3, 5, 7]
    assert len(stored_aiogram["detractor_cases"]) == 2
    assert_same_runs((seen_aiogram, stored_aiogram), (seen_ptb, stored_ptb))

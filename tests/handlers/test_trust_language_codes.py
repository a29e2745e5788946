"""A Telegram language code longer than the column is normalised before it is stored, so
its user completes a survey on both databases (issue 9, item 12)."""

from __future__ import annotations

import pytest

from bot.emulator import BotApiEmulator
from storage.db import Database
from storage.language_codes import MAX_LENGTH, normalize_language_code
from storage.models import Respondent
from tests.handlers.harness import HandlerBot
from tests.scenario import give_score, respondent_of, responses_of


async def test_a_long_private_use_language_code_completes_a_survey(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    user = api.user(261, first_name="Mei", language_code="zh-hant-tw-x-private1")
    await give_score(user, 4, "disappointed")
    user.send("Slow delivery")
    await user.wait_for_message(lambda m: "give us a 10" in m.text)
    user.send("Faster couriers")
    await user.wait_for_message(lambda m: m.text.startswith("Thank you, Mei"))
    assert not any("went wrong" in m.text.lower() for m in user.bot_messages)
    [response] = await responses_of(check_db, 261)
    assert (response.score, response.why, response.improve) == (
        4,
        "Slow delivery",
        "Faster couriers",
    )
    respondent = await respondent_of(check_db, 261)
    assert respondent is not None and respondent.telegram_language == "zh-hant-tw"


@pytest.mark.parametrize(
    ("code", "stored"),
    [
        ("en", "en"),
        ("pt-BR", "pt-br"),
        ("pt_BR", "pt-br"),
        ("zh-hant-tw-x-private1", "zh-hant-tw"),
        ("sr-latn-rs-u-ca-gregory", "sr-latn-rs"),
        ("de-de-1996-variantx", "de-de-1996"),  # cut at a whole subtag within the column
        ("x-klingon", None),
        ("!!", None),
        ("", None),
        (None, None),
    ],
)
def test_normalised_codes_fit_the_column(code: str | None, stored: str | None) -> None:
    assert normalize_language_code(code) == stored
    assert Respondent.__table__.c.telegram_language.type.length == MAX_LENGTH

"""The card's one-field edits, step by step: every button of the table-driven dialog
(handlers/survey_steps.py) does what it did as an if/elif chain — keep, use the brand,
remove the review link, back to the standard wording, a typed answer where only buttons do."""

from __future__ import annotations

from bot.emulator import BotApiEmulator
from storage.db import Database
from tests.dialog_helpers import Talk, dialog_of, survey_by_slug
from tests.handlers.harness import HandlerBot
from tests.scenario import OWNER_ID

CANCEL = "✖️ Cancel"


async def test_each_card_edit_keeps_saves_or_resets_its_field(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    async with check_db.transaction() as store:
        await store.surveys.add(
            slug="shop",
            name="Shop",
            subject="Acme Shop",
            review_url="https://example.com/r",
            texts={"en": {"question": "Rate {brand}?"}},
        )
    owner = Talk(api, OWNER_ID)
    card = await owner.say("/surveys shop", "Shop · NPS")
    # Keep: nothing changes, and the card comes back.
    name = await owner.tap(card, "✏️ Name", "Changing «Shop»")
    await owner.tap(name, "Keep «Shop»", "Nothing changed in «Shop».")
    card = await owner.expect("Shop · NPS")
    # The link name: typed, checked against the other surveys, saved.
    slug = await owner.tap(card, "✏️ Link name", "Send the new name for the survey's link")
    assert slug.button_texts == ["Keep «shop»", CANCEL]
    await owner.say("nps", "«nps» is already taken")
    await owner.say("shop-2", "✅ «Shop» saved.")
    card = await owner.expect("Link: https://t.me/acme_nps_bot?start=shop-2")
    # The subject: back to the bot's name with its button.
    subject = await owner.tap(card, "✏️ Subject", "recommend Acme Shop to a friend")
    assert subject.button_texts == ["Keep «Acme Shop»", "Use the bot's name «Acme»", CANCEL]
    await owner.tap(subject, "Use the bot's name «Acme»", "✅ «Shop» saved.")
    card = await owner.expect("The question asks about: Acme")
    # The review link: kept, then removed.
    review = await owner.tap(card, "✏️ Review link", "is now https://example.com/r")
    assert review.button_texts == ["Keep yours", "No review link", CANCEL]
    await owner.tap(review, "Keep yours", "Nothing changed in «Shop».")
    card = await owner.expect("Review link: https://example.com/r")
    review = await owner.tap(card, "✏️ Review link", "is now https://example.com/r")
    await owner.tap(review, "No review link", "✅ «Shop» saved.")
    card = await owner.expect("Review link: —")
    # Texts: a typed answer where only buttons answer, then back to the standard wording.
    menu = await owner.tap(card, "✏️ Texts", "Changed so far: English")
    await owner.say("hello", "Please use the buttons below (or /cancel).")
    languages = await owner.tap(menu, "✏️ Change a language's texts", "Which language")
    await owner.say("klingon", "Which language")
    question = await owner.say("english", "The question · English")
    assert question.button_texts == ["Keep yours", "Back to the standard wording", CANCEL]
    why = await owner.tap(question, "Back to the standard wording", "Follow-up 1")
    improve = await owner.tap(why, "Keep the standard wording", "Follow-up 2")
    thanks = await owner.tap(improve, "Keep the standard wording", "The thank-you")
    menu = await owner.tap(thanks, "Keep the standard wording", "Changed so far: none")
    await owner.tap(menu, "✅ Done", "✅ «Shop» saved.")
    await owner.expect("Own texts: none")
    assert languages.button_texts[0] == "English"

    survey = await survey_by_slug(check_db, "shop-2")
    assert survey is not None and await dialog_of(check_db, OWNER_ID) is None
    assert (survey.name, survey.subject, survey.review_url, survey.texts) == (
        "Shop",
        None,
        None,
        {},
    )

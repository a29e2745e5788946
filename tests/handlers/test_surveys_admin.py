"""Surveys from the chat: the guided dialog, /surveys, editing, /link — end to end."""

from __future__ import annotations

import pytest

from bot.emulator import BotApiEmulator
from handlers.callbacks import pack
from handlers.surveys_admin import SurveyAction
from storage.db import Database
from storage.models import Step
from tests.admin_helpers import grant, make_survey, seed_answers
from tests.conftest import BACKENDS
from tests.dialog_helpers import Talk, all_surveys, dialog_of, survey_by_slug
from tests.handlers.harness import HandlerBot
from tests.scenario import OWNER_ID, responses_of, wait_db

ADMIN_ID = 7_001
CANCEL = "✖️ Cancel"
NOT_PERMITTED = "This command is not available to you. /help lists what you can do here."


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # SQL that differs on PostgreSQL
async def test_admin_creates_a_survey_and_a_respondent_answers_it_through_its_link(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await grant(check_db, ADMIN_ID, "admin")
    admin = Talk(api, ADMIN_ID, first_name="Olga")
    await admin.say("/newsurvey", "step 1 of 8")
    kind = await admin.say("Delivery Kyiv", "step 2 of 8")
    assert "eNPS" in kind.text and kind.button_texts[-1] == CANCEL
    slug = await admin.tap(kind, "NPS — customers", "step 3 of 8")
    assert "?start=delivery-kyiv" in slug.text
    # Bad input: one clear line, and the same step again (with its buttons).
    again = await admin.say("Bad Slug!", "A link name has 1–32 characters")
    assert "step 3 of 8" in again.text and "Use «delivery-kyiv»" in again.button_texts
    taken = await admin.say("nps", "«nps» is already taken")
    subject = await admin.tap(taken, "Use «delivery-kyiv»", "step 4 of 8")
    assert "recommend Acme to a friend" in subject.text
    texts = await admin.say("Acme Delivery", "step 5 of 8")
    assert "Changed so far: none" in texts.text
    languages = await admin.tap(texts, "✏️ Change a language's texts", "Which language")
    assert languages.button_texts[:4] == ["English", "Polski", "Română", "Русский"]
    question = await admin.tap(languages, "English", "The question · English")
    assert "«How likely are you to recommend Acme Delivery to a friend or colleague?»" in (
        question.text
    )
    await admin.say("Would you recommend {shop}?", "I can't fill in “shop” in curly braces")
    await admin.say("Tell a friend about {brand? {", "Curly braces are only for placeholders")
    why = await admin.say("Would you tell a friend about {brand}?", "Follow-up 1")
    assert (
        "«Thank you! What do you like most about Acme Delivery?»" in why.text
    )  # the promoters' one
    improve = await admin.tap(why, "Keep the standard wording", "Follow-up 2")
    thanks = await admin.say("What one thing should we fix first?", "The thank-you · English")
    assert "{name} is the respondent's first name" in thanks.text
    menu = await admin.say("Thanks, {name} — we read everything!", "Changed so far: English")
    review = await admin.tap(menu, "✅ Done", "step 6 of 8")
    assert review.button_texts == ["No review link", CANCEL]
    await admin.say("example dot com", "That is not a link I can use")
    await admin.say("javascript:alert(1)", "That is not a link I can use")
    active = await admin.say("https://example.com/review", "step 7 of 8")
    confirm = await admin.tap(active, "▶️ Active now", "step 8 of 8")
    for line in (
        "Delivery Kyiv · NPS · active",
        "Link: https://t.me/acme_nps_bot?start=delivery-kyiv",
        "The question asks about: Acme Delivery",
        "Own texts: English",
        "Review link: https://example.com/review",
    ):
        assert line in confirm.text
    assert improve.button_texts == ["Keep the standard wording", CANCEL]
    await admin.tap(
        confirm,
        "✅ Create the survey",
        "✅ Survey «Delivery Kyiv» created. Its link: https://t.me/acme_nps_bot?start=delivery-kyiv",
    )
    card = await admin.expect("Delivery Kyiv · NPS · active")
    assert "Answers: 0" in card.text

    survey = await survey_by_slug(check_db, "delivery-kyiv")
    assert survey is not None and await dialog_of(check_db, ADMIN_ID) is None
    assert (survey.name, survey.kind, survey.subject, survey.active, survey.is_default) == (
        "Delivery Kyiv",
        "nps",
        "Acme Delivery",
        True,
        False,
    )
    assert survey.review_url == "https://example.com/review"
    english = survey.texts["en"]
    assert english["question"] == "Would you tell a friend about {brand}?"
    assert "why_promoter" not in english  # kept the standard wording
    fix_first = "What one thing should we fix first?"
    assert english["improve_passive"] == english["improve_detractor"] == fix_first
    assert english["thanks_promoter_review"] == "Thanks, {name} — we read everything!"

    # A respondent answers through the deep link: the custom wording and the review link.
    anna = Talk(api, 101, first_name="Anna")
    asked = await anna.say(
        "/start delivery-kyiv__s-call", "Would you tell a friend about Acme Delivery?"
    )
    follow_up = await anna.tap(asked, "10", "What do you like most about Acme Delivery?")
    improve_q = await anna.say("Fast couriers", "What one thing should we fix first?")
    thanked = await anna.tap(improve_q, "Skip", "Thanks, Anna — we read everything!")
    assert [[(b.text, b.url) for b in row] for row in thanked.keyboard] == [
        [("Leave a review ↗", "https://example.com/review")]
    ]
    assert follow_up.keyboard == []  # answered: its Skip button is gone
    [response] = await responses_of(check_db, 101)
    assert (response.survey_id, response.score, response.source, response.step) == (
        survey.id,
        10,
        "call",
        Step.DONE,
    )


async def test_cancel_works_at_every_kind_of_step_and_leaves_nothing_behind(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = Talk(api, OWNER_ID)
    # The Cancel button on the very first step.
    first = await owner.say("/newsurvey", "step 1 of 8")
    await owner.tap(first, CANCEL, "Cancelled — no survey was created.")
    # /cancel at the slug step.
    await owner.say("/newsurvey", "step 1 of 8")
    kind = await owner.say("Pulse", "step 2 of 8")
    await owner.tap(kind, "eNPS — employees (anonymous)", "step 3 of 8")
    await owner.say("/cancel", "Cancelled — no survey was created.")
    assert await dialog_of(check_db, OWNER_ID) is None
    # Cancel in the texts loop, pressed on an older prompt of the same dialog.
    await owner.say("/newsurvey", "step 1 of 8")
    kind = await owner.say("Pulse", "step 2 of 8")
    slug = await owner.tap(kind, "eNPS — employees (anonymous)", "?start=pulse")
    subject = await owner.tap(slug, "Use «pulse»", "step 4 of 8")
    assert "as a place to work" in subject.text
    menu = await owner.tap(subject, "Keep «Acme»", "step 5 of 8")
    languages = await owner.tap(menu, "✏️ Change a language's texts", "Which language")
    question = await owner.tap(languages, "Русский", "The question · Русский")
    assert "«Насколько вероятно, что вы порекомендуете Acme как место работы" in question.text
    await owner.tap(subject, CANCEL, "Cancelled — no survey was created.")
    # Its other buttons are dead now, and nothing was stored.
    assert await owner.alert(question, "Keep the standard wording") == (
        "This button is no longer active."
    )
    assert [s.slug for s in await all_surveys(check_db)] == ["nps"]
    assert await dialog_of(check_db, OWNER_ID) is None
    # With no dialog, text is an ordinary respondent message again.
    await owner.say("Pulse", "There is no question waiting for you right now.")
    await owner.say("/cancel", "There is nothing to cancel.")


async def test_bad_input_gets_one_clear_line_and_the_same_step(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = Talk(api, OWNER_ID)
    await owner.say("/newsurvey", "step 1 of 8")
    await owner.say("x" * 101, "The name must be one line of 1–100 characters.")
    owner.user.send_sticker()
    sticker = await owner.expect("Please type your answer as text")
    assert "step 1 of 8" in sticker.text
    kind = await owner.say("Team pulse", "step 2 of 8")
    await owner.say("maybe", "Please choose NPS, eNPS, CSAT or CES")
    slug = await owner.say("ENPS", "step 3 of 8")  # typing the kind works too
    # A button from a step already answered is refused and changes nothing.
    assert await owner.alert(kind, "NPS — customers") == "This button is no longer active."
    subject = await owner.tap(slug, "Use «team-pulse»", "step 4 of 8")
    await owner.say("Line one\nLine two", "The subject must be one line")
    menu = await owner.tap(subject, "Keep «Acme»", "step 5 of 8")
    await owner.say("whatever", "Please use the buttons below")
    review = await owner.tap(menu, "Keep the standard texts →", "step 6 of 8")
    await owner.say("ftp://example.com/x", "That is not a link I can use")
    active = await owner.tap(review, "No review link", "step 7 of 8")
    confirm = await owner.tap(active, "⏸ Not yet (inactive)", "step 8 of 8")
    assert "Team pulse · eNPS (anonymous) · inactive" in confirm.text
    await owner.tap(confirm, "✅ Create the survey", "Survey «Team pulse» created")
    survey = await survey_by_slug(check_db, "team-pulse")
    assert survey is not None and (survey.kind, survey.active, survey.texts) == ("enps", False, {})


async def test_a_restart_mid_dialog_continues_where_it_was(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = Talk(api, OWNER_ID)
    await owner.say("/newsurvey", "step 1 of 8")
    kind = await owner.say("Returns", "step 2 of 8")
    await owner.tap(kind, "NPS — customers", "step 3 of 8")
    await bot.restart()
    # The state is a row: the next message is the slug, after the restart.
    subject = await owner.say("returns-desk", "step 4 of 8")
    menu = await owner.tap(subject, "Keep «Acme»", "step 5 of 8")
    await bot.restart()
    review = await owner.tap(menu, "Keep the standard texts →", "step 6 of 8")
    active = await owner.tap(review, "No review link", "step 7 of 8")
    confirm = await owner.tap(active, "▶️ Active now", "step 8 of 8")
    await owner.tap(confirm, "✅ Create the survey", "Survey «Returns» created")
    assert await survey_by_slug(check_db, "returns-desk") is not None


async def test_a_survey_started_after_the_dialog_gets_the_text_first(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = Talk(api, OWNER_ID)
    await owner.say("/newsurvey", "step 1 of 8")
    # The admin tries the bot's survey meanwhile: their answers go to the survey…
    await owner.say("/start", "How likely are you to recommend Acme")
    await owner.say("9", "What do you like most about Acme?")
    await owner.say("The speed", "even better")
    await owner.say("Nothing", "Thank you, Olga!")
    [response] = await responses_of(check_db, OWNER_ID)
    assert (response.score, response.why, response.improve) == (9, "The speed", "Nothing")
    # …and then the dialog resumes where it was.
    await owner.say("Loyalty", "step 2 of 8")


async def test_surveys_lists_counts_and_links_and_edits_a_survey(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await seed_answers(check_db, [10, 9, 3])
    await make_survey(check_db, "pulse", "Team pulse", kind="enps", active=False)
    owner = Talk(api, OWNER_ID)
    listing = await owner.say("/surveys", "Surveys")
    lines = listing.text.splitlines()
    assert "• Main survey — NPS · active · default · answers: 3" in lines
    assert "https://t.me/acme_nps_bot?start=nps" in [line.strip() for line in lines]
    assert "• Team pulse — eNPS (anonymous) · inactive · answers: 0" in lines
    assert "https://t.me/acme_nps_bot?start=nps__s-call__a-olga" in listing.text
    assert "/link <survey> [source] [agent]" in listing.text
    assert listing.button_texts == ["Main survey", "Team pulse", "➕ New survey"]

    owner.user.press(listing, "Team pulse")
    card = await owner.edited(listing, "Team pulse · eNPS (anonymous) · inactive")
    assert "Link: https://t.me/acme_nps_bot?start=pulse" in card.text
    assert "🔒 Answers are anonymous" in card.text
    assert await owner.alert(card, "⭐ Make default") == (
        "Activate the survey before making it the default."
    )
    owner.user.press(card, "▶️ Activate")
    card = await owner.edited(card, "Team pulse · eNPS (anonymous) · active")
    # Editing one field: a one-step dialog that saves and shows the card again.
    prompt = await owner.tap(card, "✏️ Name", "Changing «Team pulse»")
    await owner.say("Team pulse Q1", "✅ «Team pulse Q1» saved.")
    card = await owner.expect("Team pulse Q1 · eNPS (anonymous) · active")
    assert prompt.button_texts == ["Keep «Team pulse»", CANCEL]
    # Texts for one language, through the card.
    menu = await owner.tap(card, "✏️ Texts", "Changed so far: none")
    languages = await owner.tap(menu, "✏️ Change a language's texts", "Which language")
    await owner.tap(languages, "Polski", "The question · Polski")
    why = await owner.say("Czy polecisz {brand} znajomym jako pracodawcę?", "Follow-up 1")
    improve = await owner.tap(why, "Keep the standard wording", "Follow-up 2")
    thanks = await owner.tap(improve, "Keep the standard wording", "The thank-you")
    menu = await owner.tap(thanks, "Keep the standard wording", "Changed so far: Polski")
    await owner.tap(menu, "✅ Done", "✅ «Team pulse Q1» saved.")
    card = await owner.expect("Own texts: Polski")
    # Making it the default; the default survey cannot be switched off.
    owner.user.press(card, "⭐ Make default")
    card = await owner.edited(card, "active · default")
    assert "⭐ Make default" not in card.button_texts
    assert await owner.alert(card, "⏸ Deactivate") == (
        "This is the default survey (/start without a link asks it). "
        "Make another survey the default first."
    )
    by_slug = {s.slug: s for s in await all_surveys(check_db)}
    pulse, main = by_slug["pulse"], by_slug["nps"]
    assert (pulse.name, pulse.active, pulse.is_default, main.is_default) == (
        "Team pulse Q1",
        True,
        True,
        False,
    )
    assert pulse.texts == {"pl": {"question": "Czy polecisz {brand} znajomym jako pracodawcę?"}}
    # An edit can be cancelled, and /surveys <slug> opens a card directly.
    await owner.say("/surveys pulse", "Team pulse Q1 · eNPS (anonymous)")
    card = await owner.say("/surveys nps", "Main survey · NPS · active")
    subject = await owner.tap(card, "✏️ Subject", "Changing «Main survey»")
    await owner.tap(subject, CANCEL, "Cancelled — «Main survey» is unchanged.")
    await owner.say("/surveys nosuch", "There is no survey “nosuch”. Known surveys: nps, pulse.")


async def test_link_builds_tagged_deep_links_and_explains_mistakes(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await make_survey(check_db, "delivery", "Delivery")
    await make_survey(check_db, "pulse", "Team pulse", kind="enps", active=False)
    owner = Talk(api, OWNER_ID)
    cases = [
        ("/link delivery call olga", "https://t.me/acme_nps_bot?start=delivery__s-call__a-olga"),
        ("/link delivery - olga", "https://t.me/acme_nps_bot?start=delivery__a-olga"),
        ("/link Delivery", "https://t.me/acme_nps_bot?start=delivery"),
        ("/link", "Use /link <survey> [source] [agent]"),
        ("/link nosuch", "There is no survey “nosuch”"),
        ("/link delivery call__x", "“call__x” can't be a tag"),
        ("/link delivery " + "s" * 31 + " " + "a" * 25, "longer than Telegram allows"),
        ("/link pulse hr ivan", "eNPS answers are anonymous, so they never record an agent"),
        ("/link pulse hr", "https://t.me/acme_nps_bot?start=pulse__s-hr"),
    ]
    for command, expected in cases:
        await owner.say(command, expected)
    reply = await owner.say("/link pulse warehouse", "start=pulse__s-warehouse")
    assert "The survey is inactive" in reply.text and "source will not be recorded" in reply.text


@pytest.mark.parametrize("who", ["outsider", "viewer"])
async def test_survey_buttons_need_the_admin_role_on_every_press(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database, who: str
) -> None:
    if who == "viewer":
        await grant(check_db, 7_002, "viewer")
    user = Talk(api, 7_002, first_name="Ivan")
    viewer = who == "viewer"
    refusal = "/surveys is for admins and owners; you are a viewer." if viewer else NOT_PERMITTED
    hello = await user.say("/surveys", refusal)
    pressed = "This button is for admins and owners; you are a viewer."
    for action in ("new", "list", "on"):
        query = user.user.press_data(hello, pack(SurveyAction(1, action)))
        answer = await user.user.wait_callback_answer(query)
        assert answer.text == (pressed if viewer else NOT_PERMITTED) and answer.show_alert
    assert await dialog_of(check_db, 7_002) is None
    surveys = await all_surveys(check_db)
    assert all(s.active for s in surveys)
    # A revoked admin's open dialog stops taking their texts at once.
    await grant(check_db, 7_002, "admin")
    await user.say("/newsurvey", "step 1 of 8")
    async with check_db.transaction() as store:
        await store.staff.revoke(7_002)
    await user.say("Sneaky", "There is no question waiting for you right now.")
    await wait_db(check_db, lambda db: _no_dialog(db, 7_002))


async def _no_dialog(db: Database, user_id: int) -> bool:
    return await dialog_of(db, user_id) is None

"""CSAT (1–5 ⭐) and CES (1–7) surveys in the chat: their questions and keyboards, typed
scores in and out of their scale, forged buttons, follow-ups and thanks per group, alerts
for low scores, and /newsurvey choosing them."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from bot import invitations as invitation_sender
from bot.emulator import BotApiEmulator
from bot.emulator.models import ChatMessage
from bot.web.invitation_requests import Requests
from bot.web.invitation_types import InvitationIn
from handlers.callbacks import ScoreChoice, pack
from handlers.respondent_messages import keyboard_preview, score_keyboard
from handlers.survey import parse_score
from nps.event_data import response_data
from nps.nps_math import Group
from nps.scales import CES, CSAT, NPS, SCALES, scale_of
from storage.case_models import DetractorCase
from storage.db import Database
from storage.models import Response, utcnow
from storage.repos.audience import GROUPS, KIND_GROUPS, Fatigue, Segment
from tests.admin_helpers import make_survey, seed_answers
from tests.broadcast_helpers import admin, preview_of, seed_audience
from tests.conftest import BACKENDS
from tests.dialog_helpers import Talk, survey_by_slug
from tests.handlers.conftest import broadcast_bot
from tests.handlers.harness import HandlerBot
from tests.scenario import OWNER_ID, responses_of, wait_db

CSAT_QUESTION = "How satisfied are you with Acme?"
CES_QUESTION = "How easy was it to get what you needed from Acme?"
STARS = ["1 ⭐", "2 ⭐", "3 ⭐", "4 ⭐", "5 ⭐"]


async def _scores(db: Database, survey_id: int) -> list[int | None]:
    async with db.snapshot() as store:
        rows = await store.responses._session.scalars(
            select(Response).where(Response.survey_id == survey_id).order_by(Response.id)
        )
        return [r.score for r in rows.all()]


async def _cases(db: Database) -> list[DetractorCase]:
    async with db.snapshot() as store:
        rows = await store.cases._session.scalars(select(DetractorCase).order_by(DetractorCase.id))
        return list(rows.all())


def _rows(message: ChatMessage) -> list[list[str]]:
    return [[b.text for b in row] for row in message.keyboard]


# ------------------------------------------------------------------ the scales themselves


@pytest.mark.parametrize(
    ("kind", "groups"),
    [
        (CSAT, {1: "detractor", 2: "detractor", 3: "passive", 4: "promoter", 5: "promoter"}),
        (
            CES,
            {1: "detractor", 3: "detractor", 4: "passive", 5: "promoter", 7: "promoter"},
        ),
        (NPS, {0: "detractor", 6: "detractor", 7: "passive", 8: "passive", 9: "promoter"}),
    ],
)
def test_each_scale_has_its_own_groups_and_refuses_scores_off_it(
    kind: str, groups: dict[int, str]
) -> None:
    scale = scale_of(kind)
    for score, group in groups.items():
        assert scale.group(score).value == group
        assert scale.is_low(score) == (group == Group.DETRACTOR)
    for off in (scale.lowest - 1, scale.highest + 1):
        with pytest.raises(ValueError, match="must be from"):
            scale.group(off)
    assert not scale.contains(True)  # a bool is no score


def test_keyboards_show_the_kind_s_scale_in_rows_a_phone_shows_whole() -> None:
    rows = [[b.text for b in row] for row in score_keyboard(7, CSAT).rows]
    assert rows == [STARS]
    assert [[b.text for b in row] for row in score_keyboard(7, CES).rows] == [
        ["1", "2", "3", "4", "5", "6", "7"]
    ]
    assert [len(row) for row in score_keyboard(7).rows] == [6, 5]  # NPS unchanged
    data = [b.data for row in score_keyboard(7, CSAT).rows for b in row]
    assert data == [pack(ScoreChoice(7, s)) for s in range(1, 6)]
    assert keyboard_preview(CES) == "[1] [2] [3] [4] [5] [6] [7]"


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("4", CSAT, 4),
        (" 5 ", CSAT, 5),
        ("4/5", CSAT, 4),
        ("4 ⭐", CSAT, 4),
        ("9", CSAT, None),
        ("0", CSAT, None),
        ("9/10", CSAT, None),
        ("4/10", CSAT, None),  # "out of 10" is not this scale
        ("7", CES, 7),
        ("6/7", CES, 6),
        ("8", CES, None),
        ("0", CES, None),
        ("10", NPS, 10),
        ("0", NPS, 0),
        ("11", NPS, None),
        ("four", CSAT, None),
    ],
)
def test_typed_scores_count_only_within_the_kind_s_scale(
    text: str, kind: str, expected: int | None
) -> None:
    assert parse_score(text, kind) == expected


# ------------------------------------------------------------------ the conversation


async def test_a_csat_survey_asks_with_stars_and_words_each_group_its_own_way(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    survey_id = await make_survey(check_db, "checkout", "Checkout", kind=CSAT)
    for user_id, tap, why, improve, thanks in (
        (
            201,
            "5 ⭐",
            "What did you like most about Acme?",
            "Is there anything we could do even better?",
            "We are glad you are satisfied with Acme.",
        ),
        (
            202,
            "3 ⭐",
            "What is the main reason for your rating?",
            "fully satisfied",
            "Your answers help us get better.",
        ),
        (
            203,
            "1 ⭐",
            "We are sorry to hear that. What went wrong?",
            "What should we fix first?",
            "We are sorry it did not go well",
        ),
    ):
        user = Talk(api, user_id, first_name="Ann")
        question = await user.say("/start checkout", CSAT_QUESTION)
        assert "1 ⭐ = very dissatisfied, 5 ⭐ = very satisfied" in question.text
        assert _rows(question) == [STARS]
        follow_up = await user.tap(question, tap, why)
        answered = await user.edited(question, f"your answer: {tap}")
        assert answered.keyboard == []
        second = await user.say("Quick and friendly", improve)
        assert follow_up.keyboard == []
        done = await user.tap(second, "Skip", thanks)
        assert done.text.startswith("Thank you, Ann")
    assert await _scores(check_db, survey_id) == [5, 3, 1]


async def test_a_ces_survey_asks_one_to_seven_with_named_ends_in_every_language(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    survey_id = await make_survey(check_db, "support", "Support", kind=CES)
    for user_id, tap, why in (
        (211, "7", "What made it easy?"),
        (212, "4", "What took more effort than it should have?"),
        (213, "2", "What got in your way?"),
    ):
        user = Talk(api, user_id)
        question = await user.say("/start support", CES_QUESTION)
        assert "1 = very difficult, 7 = very easy" in question.text
        assert _rows(question) == [["1", "2", "3", "4", "5", "6", "7"]]
        await user.tap(question, tap, why)
    maria = Talk(api, 214, first_name="Мария", language_code="ru")
    question = await maria.say("/start support", "Насколько легко было получить от Acme")
    assert "1 — очень трудно, 7 — очень легко" in question.text
    await maria.tap(question, "6", "Что сделало это лёгким?")
    piotr = Talk(api, 215, first_name="Piotr", language_code="pl")
    await piotr.say("/start support", "Jak łatwo było Ci załatwić w Acme")
    await piotr.say("1", "Co Ci przeszkodziło?")
    assert await _scores(check_db, survey_id) == [7, 4, 2, 6, 1]


async def test_typed_scores_off_the_scale_get_its_range_and_the_question_again(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    csat_id = await make_survey(check_db, "checkout", "Checkout", kind=CSAT)
    ann = Talk(api, 221, first_name="Ann")
    await ann.say("/start checkout", CSAT_QUESTION)
    for wrong in ("9", "0", "9/10", "great"):
        hint = await ann.say(wrong, "Please choose from 1 to 5 stars")
        assert "0 to 10" not in hint.text
        again = await ann.expect(CSAT_QUESTION)
        assert _rows(again) == [STARS]
    assert await _scores(check_db, csat_id) == [None]
    await ann.say("4/5", "What did you like most about Acme?")
    assert await _scores(check_db, csat_id) == [4]

    ces_id = await make_survey(check_db, "support", "Support", kind=CES)
    ben = Talk(api, 222, first_name="Ben", language_code="ro")
    await ben.say("/start support", "Cât de ușor v-a fost")
    await ben.say("8", "de la 1 (foarte greu) la 7 (foarte ușor)")
    await ben.expect("Cât de ușor v-a fost")
    await ben.say("3", "Ce v-a încurcat?")
    assert await _scores(check_db, ces_id) == [3]


async def test_a_forged_or_foreign_score_button_is_refused_and_changes_nothing(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    survey_id = await make_survey(check_db, "checkout", "Checkout", kind=CSAT)
    ann = Talk(api, 231, first_name="Ann")
    question = await ann.say("/start checkout", CSAT_QUESTION)
    data = question.keyboard[0][0].callback_data
    assert data is not None
    prefix = data.rsplit(":", 1)[0]
    for score in (0, 6, 9, 10):  # well-formed payloads, but not on a 1–5 scale
        answer = await ann.user.wait_callback_answer(
            ann.user.press_data(question, f"{prefix}:{score}")
        )
        assert answer.text == "This button is not valid." and answer.show_alert
    assert await _scores(check_db, survey_id) == [None]
    await ann.tap(question, "2 ⭐", "What went wrong?")
    # A second tap on the same keyboard gets what was taken, in the scale's own words.
    toast = await ann.user.wait_callback_answer(ann.user.press_data(question, f"{prefix}:5"))
    assert toast.text == "You have already answered: 2 ⭐."
    assert await _scores(check_db, survey_id) == [2]


async def test_low_csat_and_ces_scores_alert_the_team_and_high_ones_do_not(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await make_survey(check_db, "checkout", "Checkout", kind=CSAT)
    await make_survey(check_db, "support", "Support", kind=CES)
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/help")
    await owner.wait_for_message(lambda m: "Owner commands" in m.text)
    for user_id, slug, question_text, score in (
        (241, "checkout", CSAT_QUESTION, "3 ⭐"),  # neutral: no alert
        (242, "checkout", CSAT_QUESTION, "5 ⭐"),
        (243, "support", CES_QUESTION, "4"),  # neutral on CES
        (244, "support", CES_QUESTION, "7"),
    ):
        user = Talk(api, user_id)
        question = await user.say(f"/start {slug}", question_text)
        await user.tap(question, score, "Thank you")
    await bot.idle()
    assert await _cases(check_db) == []
    assert len(owner.bot_messages) == 1  # only /help

    low = Talk(api, 245, first_name="Lea")
    question = await low.say("/start checkout", CSAT_QUESTION)
    await low.tap(question, "2 ⭐", "What went wrong?")
    alert = await owner.wait_for_message(
        lambda m: m.text.startswith("🔴 Dissatisfied · CSAT 2 of 5 · Checkout")
    )
    assert [[b.text for b in row] for row in alert.keyboard] == [["✉️ Reply", "✅ Resolved"]]
    await low.say("The card was declined twice", "What should we fix first?")
    await owner.wait_for_message(
        lambda m: m.message_id == alert.message_id and "The card was declined twice" in m.text
    )
    hard = Talk(api, 246, first_name="Max")
    question = await hard.say("/start support", CES_QUESTION)
    await hard.tap(question, "3", "What got in your way?")
    await owner.wait_for_message(
        lambda m: m.text.startswith("🔴 Hard to do · CES 3 of 7 · Support")
    )
    cases = await wait_db(check_db, lambda db: _two_cases(db))
    assert [c.status for c in cases] == ["open", "open"]


async def _two_cases(db: Database) -> list[DetractorCase] | None:
    cases = await _cases(db)
    return cases if len(cases) == 2 else None


async def test_a_survey_s_own_question_still_wins_over_the_csat_wording(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await make_survey(
        check_db,
        "courier",
        "Courier",
        kind=CSAT,
        texts={"en": {"question": "How happy are you with your courier?"}},
    )
    ann = Talk(api, 251)
    question = await ann.say("/start courier", "How happy are you with your courier?")
    assert "1 ⭐ = very dissatisfied" in question.text and _rows(question) == [STARS]


# ------------------------------------------------------------------ /newsurvey


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # the kind column on PostgreSQL
async def test_newsurvey_creates_a_csat_survey_that_asks_with_stars(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = Talk(api, OWNER_ID)
    await owner.say("/newsurvey", "step 1 of 8")
    kind = await owner.say("Checkout", "step 2 of 8")
    assert "How satisfied are you with …?" in kind.text and "1 (very difficult)" in kind.text
    assert kind.button_texts[:4] == [
        "NPS — customers",
        "eNPS — employees (anonymous)",
        "CSAT — satisfaction, 1–5 ⭐",
        "CES — ease, 1–7",
    ]
    wrong = await owner.say("stars", "Please choose NPS, eNPS, CSAT or CES")
    slug = await owner.tap(wrong, "CSAT — satisfaction, 1–5 ⭐", "step 3 of 8")
    subject = await owner.tap(slug, "Use «checkout»", "step 4 of 8")
    assert "How satisfied are you with Acme?" in subject.text
    texts = await owner.say("our checkout", "step 5 of 8")
    languages = await owner.tap(texts, "✏️ Change a language's texts", "Which language")
    question = await owner.tap(languages, "English", "The question · English")
    assert "«How satisfied are you with our checkout?»" in question.text
    why = await owner.tap(question, "Keep the standard wording", "Follow-up 1")
    assert "«Thank you! What did you like most about our checkout?»" in why.text
    improve = await owner.tap(why, "Keep the standard wording", "Follow-up 2")
    thanks = await owner.tap(improve, "Keep the standard wording", "The thank-you · English")
    menu = await owner.tap(thanks, "Keep the standard wording", "Changed so far")
    review = await owner.tap(menu, "Keep the standard texts →", "step 6 of 8")
    active = await owner.tap(review, "No review link", "step 7 of 8")
    confirm = await owner.tap(active, "▶️ Active now", "step 8 of 8")
    assert "Checkout · CSAT · active" in confirm.text
    await owner.tap(confirm, "✅ Create the survey", "✅ Survey «Checkout» created")
    await owner.expect("Checkout · CSAT · active")  # the card names the kind
    survey = await survey_by_slug(check_db, "checkout")
    assert survey is not None and survey.kind == CSAT

    ann = Talk(api, 261, first_name="Ann")
    question = await ann.say("/start checkout", "How satisfied are you with our checkout?")
    assert _rows(question) == [STARS]
    await ann.tap(question, "4 ⭐", "What did you like most about our checkout?")


async def test_newsurvey_takes_a_typed_ces_kind_and_shows_its_question(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = Talk(api, OWNER_ID)
    await owner.say("/newsurvey", "step 1 of 8")
    await owner.say("Returns", "step 2 of 8")
    slug = await owner.say("CES", "step 3 of 8")
    subject = await owner.tap(slug, "Use «returns»", "step 4 of 8")
    assert "How easy was it to get what you needed from Acme?" in subject.text
    assert "change the question's text in the next step" in subject.text
    await owner.say("/cancel", "")
    assert await survey_by_slug(check_db, "returns") is None


# ------------------------------------------------------------------ broadcasts, events


async def test_a_csat_broadcast_previews_and_sends_the_star_question(
    api: BotApiEmulator, sender: HandlerBot, check_db: Database
) -> None:
    await make_survey(check_db, "checkout", "Checkout", kind=CSAT)
    users = await seed_audience(check_db, api, [3001, 3002])
    owner = admin(api)
    preview = await preview_of(owner, "/broadcast checkout")
    assert CSAT_QUESTION in preview.text
    assert "[1 ⭐] [2 ⭐] [3 ⭐] [4 ⭐] [5 ⭐]" in preview.text and "[10]" not in preview.text
    owner.press(preview, "✅ Send to 2")
    await owner.wait_for_message(lambda m: "finished:" in m.text, timeout=15)
    anna = users[0]
    question = await anna.wait_for_message(lambda m: CSAT_QUESTION in m.text)
    assert question.text.startswith(f"Hi {anna.first_name}! One quick question about Acme")
    assert "1 ⭐ = very dissatisfied" in question.text
    assert question.button_texts == STARS
    anna.press(question, "1 ⭐")
    await anna.wait_for_message(lambda m: "What went wrong?" in m.text)
    [response] = await responses_of(check_db, anna.id)
    assert (response.channel, response.score) == ("broadcast", 1)


def _event_parts(kind: str, score: int) -> tuple[Any, Any, Any]:
    survey = SimpleNamespace(slug="checkout", kind=kind)
    response = SimpleNamespace(
        id=1,
        public_id=None,
        score=score,
        why=None,
        improve=None,
        language="en",
        channel="start",
        messenger="telegram",
        scored_at=None,
        completed_at=None,
        replaces_id=None,
        agent=None,
        source=None,
        campaign=None,
        attributes=None,
    )
    return survey, response, SimpleNamespace(telegram_user_id=5, phone=None)


@pytest.mark.parametrize(
    ("kind", "score", "group"),
    [
        (CSAT, 5, "promoter"),
        (CSAT, 3, "passive"),
        (CSAT, 2, "detractor"),
        (CES, 5, "promoter"),
        (CES, 4, "passive"),
        (CES, 3, "detractor"),
        (NPS, 5, "detractor"),  # the same 5 is an NPS detractor
    ],
)
def test_events_carry_the_kind_and_its_own_group(kind: str, score: int, group: str) -> None:
    data = response_data(*_event_parts(kind, score))
    assert (data["kind"], data["score"], data["group"]) == (kind, score, group)


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # the kind-aware SQL
async def test_the_digest_s_low_comments_follow_each_survey_s_scale(check_db: Database) -> None:
    csat_id = await make_survey(check_db, "checkout", "Checkout", kind=CSAT)
    ces_id = await make_survey(check_db, "support", "Support", kind=CES)
    at = utcnow() - timedelta(hours=1)
    # CSAT 1–2 and CES 1–3 are low; CSAT 3–5 and CES 4–7 are not, though all are ≤ 6.
    await seed_answers(check_db, [1, 2, 3, 5], survey_slug="checkout", why="w", at=at)
    await seed_answers(
        check_db, [3, 4, 6], survey_slug="support", first_user=20_000, why="w", at=at
    )
    nps_id = (await seed_answers(check_db, [6, 7], first_user=30_000, why="w", at=at))[0]
    async with check_db.snapshot() as store:
        nps = await store.responses.get(nps_id)
        assert nps is not None
        ids = [csat_id, ces_id, nps.survey_id]
        window = (at - timedelta(hours=1), at + timedelta(hours=1))
        comments, total = await store.digests.detractor_comments(
            ids, *window, limit=50, low_to={k: s.low_to for k, s in SCALES.items()}
        )
        # Without the scales every score up to 6 would count (the NPS rule).
        _, nps_rule_total = await store.digests.detractor_comments(ids, *window, limit=50)
    assert sorted((c.survey, c.score) for c in comments) == [
        ("Checkout", 1),
        ("Checkout", 2),
        ("Main survey", 6),
        ("Support", 3),
    ]
    assert (total, nps_rule_total) == (4, 8)


def test_the_audience_s_groups_agree_with_the_scales() -> None:
    for kind, ranges in KIND_GROUPS.items():
        scale = scale_of(kind)
        for group, (low, high) in ranges.items():
            assert {scale.group(s).value for s in range(low, high + 1)} == {group}
        assert sum(high - low + 1 for low, high in ranges.values()) == len(scale.scores())
    nps = scale_of(NPS)
    assert all(nps.group(s).value == g for g, (lo, hi) in GROUPS.items() for s in (lo, hi))


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # the CASE in a subquery
async def test_broadcast_segments_read_a_csat_or_ces_answer_on_its_own_scale(
    check_db: Database,
) -> None:
    await make_survey(check_db, "checkout", "Checkout", kind=CSAT)
    await make_survey(check_db, "support", "Support", kind=CES)
    at = utcnow() - timedelta(days=200)
    await seed_answers(check_db, [5, 3, 1], survey_slug="checkout", first_user=40_000, at=at)
    await seed_answers(check_db, [6, 4, 2], survey_slug="support", first_user=41_000, at=at)
    await seed_answers(check_db, [9, 7, 5], first_user=42_000, at=at)
    async with check_db.snapshot() as store:
        survey = await store.surveys.by_slug("checkout")
        assert survey is not None
        counts = {}
        for group in ("promoter", "passive", "detractor"):
            preview = await store.audience.preview(
                survey.id, Segment(group=group), Fatigue(0, 0), utcnow()
            )
            counts[group] = preview.eligible
    # A CSAT 5 and a CES 6 are promoters beside the NPS 9 (under NPS rules both would be
    # detractors); CSAT 3, CES 4 and NPS 7 the passives; CSAT 1, CES 2, NPS 5 detractors.
    assert counts == {"promoter": 3, "passive": 3, "detractor": 3}


async def test_a_ces_invitation_in_telegram_asks_one_to_seven(
    api: BotApiEmulator, db_url: str, check_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(invitation_sender, "POLL_SECONDS", 0.05)
    await make_survey(check_db, "support", "Support", kind=CES)
    running = broadcast_bot(api, db_url, quiet_hours="off")
    await running.start()
    try:
        [anna] = await seed_audience(check_db, api, [3101])
        app = running.app
        assert app is not None
        async with app.db.transaction() as store:
            await Requests(store, app.settings, app.clock()).invite(
                InvitationIn.model_validate({"survey": "support", "telegram_user_id": 3101}),
                None,
            )
        question = await anna.wait_for_message(lambda m: CES_QUESTION in m.text)
        assert "1 = very difficult, 7 = very easy" in question.text
        assert question.button_texts == ["1", "2", "3", "4", "5", "6", "7"]
        anna.press(question, "5")
        await anna.wait_for_message(lambda m: "What made it easy?" in m.text)
        [response] = await responses_of(check_db, anna.id)
        assert (response.channel, response.score) == ("invitation", 5)
    finally:
        await running.stop()

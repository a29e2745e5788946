"""`/csat` and `/ces` as an owner sees them: figures worked out here from the raw scores
(not with nps/csat_math.py), tables per segment, pointers between the commands, roles."""

from __future__ import annotations

import math
import statistics
from datetime import timedelta

import pytest

from bot.emulator import BotApiEmulator
from handlers.roles import Role
from handlers.routing import create_router
from storage.db import Database
from storage.models import utcnow
from tests.admin_helpers import grant, make_survey, seed_answers
from tests.handlers.harness import HandlerBot
from tests.scale_helpers import Z, t975, wilson_percent
from tests.scenario import OWNER_ID

NOT_PERMITTED = "This command is not available to you. /help lists what you can do here."


async def csat_survey(db: Database) -> None:
    await make_survey(db, "checkout", "Checkout", kind="csat")


async def ces_survey(db: Database) -> None:
    await make_survey(db, "returns", "Returns", kind="ces")


async def test_owner_sees_csat_with_its_wilson_margin_and_the_stars(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await csat_survey(check_db)
    scores = [5] * 21 + [4] * 14 + [3] * 6 + [2] * 3 + [1] * 4
    await seed_answers(check_db, scores, survey_slug="checkout")
    await seed_answers(check_db, [0, 1, 2], first_user=60_000)  # NPS answers: not counted
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/csat")
    text = (await owner.wait_for_message(lambda m: m.text.startswith("CSAT ·"))).text
    n, satisfied = len(scores), sum(s >= 4 for s in scores)
    low, high = wilson_percent(satisfied, n)
    assert "CSAT · Checkout · last 30 days (" in text
    assert (
        f"CSAT {round(100 * satisfied / n)}% ± {round((high - low) / 2)}   "
        f"(95% interval {round(low)}% … {round(high)}%)   {n} answers"
    ) in text
    assert f"Satisfied (4–5) {satisfied} (73%) · Neutral (3) 6 (13%)" in text
    assert "Dissatisfied (1–2) 7 (15%)" in text
    assert "⭐⭐⭐⭐⭐ 21 (44%)\n⭐⭐⭐⭐ 14 (29%)\n⭐⭐⭐ 6 (13%)\n⭐⭐ 3 (6%)\n⭐ 4 (8%)" in text
    assert f"Average rating {statistics.mean(scores):.1f} of 5" in text
    assert "no answers to compare with" in text


async def test_csat_change_against_the_previous_period(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await csat_survey(check_db)
    now = utcnow()
    before = [5] * 20 + [2] * 20  # 50 % forty days ago
    recent = [5] * 35 + [1] * 5  # 88 % now
    await seed_answers(
        check_db, before, survey_slug="checkout", at=now - timedelta(days=40), first_user=20_000
    )
    await seed_answers(
        check_db, recent, survey_slug="checkout", at=now - timedelta(hours=1), first_user=30_000
    )
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/csat checkout")
    text = (await owner.wait_for_message(lambda m: m.text.startswith("CSAT ·"))).text
    p1, p0 = 35 / 40, 20 / 40
    se = math.sqrt(p1 * (1 - p1) / 40 + p0 * (1 - p0) / 40)
    verdict = "significant at 95%" if abs(p1 - p0) > Z * se else "not significant"
    assert verdict == "significant at 95%"
    assert f": 50% → now 88%  ▲ {round(100 * (p1 - p0))} — {verdict}" in text


async def test_owner_sees_ces_with_its_t_interval(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await ces_survey(check_db)
    scores = [7] * 12 + [6] * 10 + [5] * 5 + [4] * 2 + [2] * 2 + [1]
    await seed_answers(check_db, scores, survey_slug="returns")
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/ces")
    text = (await owner.wait_for_message(lambda m: m.text.startswith("CES ·"))).text
    n, mean, sd = len(scores), statistics.mean(scores), statistics.stdev(scores)
    half = t975(n - 1) * sd / math.sqrt(n)
    assert (
        f"CES {mean:.1f} of 7 ± {half:.1f}   (95% interval {mean - half:.1f} … "
        f"{mean + half:.1f})   {n} answers"
    ) in text
    assert "Easy (5–7) 27 (84%) · Neutral (4) 2 (6%) · Difficult (1–3) 3 (9%)" in text
    assert "Answers by score (7 = very easy):\n7 · 12 (38%)\n6 · 10 (31%)" in text
    assert "\n1 · 1 (3%)" in text


async def test_ces_of_one_answer_has_no_interval(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await ces_survey(check_db)
    await seed_answers(check_db, [6], survey_slug="returns")
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/ces returns")
    text = (await owner.wait_for_message(lambda m: m.text.startswith("CES ·"))).text
    assert "CES 6.0 of 7 ± — (1 answer) ⚠️ too few answers" in text


async def test_csat_by_agent_is_a_table_with_small_segments_marked(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await csat_survey(check_db)
    olga = [5] * 25 + [4] * 5 + [1] * 10
    sasha = [5, 4, 2, 1, 1]
    await seed_answers(check_db, olga, survey_slug="checkout", agent="olga", first_user=40_000)
    await seed_answers(check_db, sasha, survey_slug="checkout", agent="sasha", first_user=41_000)
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/csat by agent")
    message = await owner.wait_for_message(lambda m: m.text.startswith("CSAT by agent"))
    assert "<pre>" in (message.html or "")
    lines = message.text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("agent"))
    assert lines[header].split() == ["agent", "n", "CSAT", "±"]
    low, high = wilson_percent(30, 40)
    assert lines[header + 1].split() == ["olga", "40", "75%", str(round((high - low) / 2))]
    assert lines[header + 2].split() == ["sasha", "5", "40%*", "—"]
    assert lines[header + 3].startswith("* too few answers")
    assert all(len(line) <= 32 for line in lines[header : header + 3])


async def test_ces_by_survey(api: BotApiEmulator, bot: HandlerBot, check_db: Database) -> None:
    await ces_survey(check_db)
    await make_survey(check_db, "support", "Support", kind="ces")
    await seed_answers(check_db, [7, 6, 5], survey_slug="returns", first_user=42_000)
    await seed_answers(check_db, [2, 3], survey_slug="support", first_user=43_000)
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/ces by survey")
    message = await owner.wait_for_message(lambda m: m.text.startswith("CES by survey"))
    rows = {line.split()[0]: line.split()[1:] for line in message.text.splitlines()[3:5]}
    assert rows == {"Returns": ["3", "6.0*", "—"], "Support": ["2", "2.5*", "—"]}


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (
            "/nps checkout",
            "“Checkout” is a CSAT survey (1–5 ⭐): its figures are in /csat checkout",
        ),
        ("/nps returns", "“Returns” is a CES survey (1–7): its figures are in /ces returns"),
        ("/csat returns", "“Returns” is a CES survey (1–7): its figures are in /ces returns"),
        ("/csat nps 7d", "“Main survey” is scored 0–10 (NPS): its figures are in /nps nps"),
        (
            "/ces checkout",
            "“Checkout” is a CSAT survey (1–5 ⭐): its figures are in /csat checkout",
        ),
    ],
)
async def test_a_survey_named_in_the_wrong_report_gets_a_pointer(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database, command: str, expected: str
) -> None:
    await csat_survey(check_db)
    await ces_survey(check_db)
    await seed_answers(check_db, [9], first_user=44_000)  # makes the default NPS survey
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send(command)
    reply = await owner.wait_for_message()
    assert reply.text == expected


async def test_nps_leaves_csat_answers_out_and_csat_without_surveys_says_so(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await seed_answers(check_db, [10, 10, 0], first_user=45_000)
    owner = api.user(OWNER_ID, first_name="Olga", language_code="ru")
    owner.send("/csat")
    reply = await owner.wait_for_message()
    assert reply.text == "Опросов CSAT пока нет: администратор создаёт их командой /newsurvey."
    await csat_survey(check_db)
    await seed_answers(check_db, [5, 5, 5, 5], survey_slug="checkout", first_user=46_000)
    owner.send("/nps")
    text = (await owner.wait_for_message(lambda m: m.text.startswith("NPS ·"))).text
    assert "ответов: 3" in text and "NPS <b>" not in text  # plain text
    assert "NPS +33" in text


async def test_ces_in_polish_and_bad_arguments(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await ces_survey(check_db)
    await seed_answers(check_db, [5, 6, 7], survey_slug="returns", first_user=47_000)
    owner = api.user(OWNER_ID, first_name="Olga", language_code="pl")
    owner.send("/ces")
    text = (await owner.wait_for_message(lambda m: m.text.startswith("CES ·"))).text
    assert "CES 6.0 na 7" in text and "odpowiedzi: 3" in text
    owner.send("/ces by colour")
    reply = await owner.wait_for_message(lambda m: "/ces" in m.text and "agent" in m.text)
    assert "\n" not in reply.text
    owner.send("/csat nosuch")
    reply = await owner.wait_for_message(lambda m: "nosuch" in m.text)
    assert "checkout" not in reply.text and "returns" in reply.text


async def test_only_the_team_may_ask_and_the_menu_and_help_list_the_commands(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    router = create_router()
    assert router.menu_for(Role.NONE) == [
        name for name in router.menu_for(Role.NONE) if name not in ("csat", "ces")
    ]
    team = router.menu_for(Role.VIEWER)
    assert (
        team.index("nps") + 1 == team.index("csat") and team.index("ces") == team.index("csat") + 1
    )
    await csat_survey(check_db)
    await seed_answers(check_db, [5, 1], survey_slug="checkout", first_user=48_000)
    stranger = api.user(7_001, first_name="Pat", language_code="en")
    for command in ("/csat", "/ces", "/csat checkout", "/ces by agent"):
        before = len(stranger.bot_messages)
        stranger.send(command)
        await api.wait_until(lambda b=before: len(stranger.bot_messages) > b)
        assert stranger.bot_messages[-1].text == NOT_PERMITTED
    stranger.send("/help")
    help_text = (await stranger.wait_for_message(lambda m: "/language" in m.text)).text
    assert "/csat" not in help_text
    await grant(check_db, 7_001, "viewer")
    stranger.send("/csat")
    await stranger.wait_for_message(lambda m: m.text.startswith("CSAT · Checkout"))
    stranger.send("/help")
    help_text = (await stranger.wait_for_message(lambda m: "CSAT and CES" in m.text)).text
    assert "/csat [by agent" in help_text and "/ces [by" in help_text
    assert help_text.index("/nps [survey]") < help_text.index("/csat [by")


async def test_csat_by_variant_without_split_broadcasts_has_no_rows(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await csat_survey(check_db)
    await seed_answers(check_db, [5, 4], survey_slug="checkout", first_user=49_000)
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/csat by variant")
    message = await owner.wait_for_message(lambda m: m.text.startswith("CSAT by"))
    assert message.text.endswith("No answers yet in this period.")

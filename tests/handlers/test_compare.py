"""`/nps compare A vs B`: two segments or two periods, their NPS with margins, the
difference with its 95 % interval and the verdict (computed here independently)."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from bot.emulator import BotApiEmulator, EmulatedUser
from storage.db import Database
from storage.models import utcnow
from tests.admin_helpers import grant, seed_answers
from tests.conftest import BACKENDS
from tests.handlers.harness import HandlerBot
from tests.scenario import OWNER_ID

NOT_PERMITTED = "This command is not available to you. /help lists what you can do here."


def reference(scores: list[int]) -> tuple[float, float, int]:
    """NPS, the variance of one answer's +1/0/−1 value, and n: the plain way."""
    n = len(scores)
    p = sum(s >= 9 for s in scores) / n
    d = sum(s <= 6 for s in scores) / n
    return 100 * (p - d), p + d - (p - d) ** 2, n


def interval(a: list[int], b: list[int]) -> tuple[float, float, float]:
    """A − B and its 95 % interval for independent samples."""
    nps_a, var_a, n_a = reference(a)
    nps_b, var_b, n_b = reference(b)
    se = 100 * math.sqrt(var_a / n_a + var_b / n_b)
    delta = nps_a - nps_b
    return delta, delta - 1.96 * se, delta + 1.96 * se


def signed(x: float) -> str:
    """As the bot writes a whole number of points (half away from zero)."""
    value = int(math.copysign(math.floor(abs(x) + 0.5), x))
    return f"{value:+d}" if value else "0"


def owner_of(api: BotApiEmulator) -> EmulatedUser:
    return api.user(OWNER_ID, first_name="Olga", language_code="en")


async def compared(user: EmulatedUser, command: str) -> str:
    before = max((m.message_id for m in user.messages), default=0)
    user.send(command)
    message = await user.wait_for_message(lambda m: m.message_id > before)
    return message.text


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # SQL that differs on PostgreSQL
async def test_two_agents_with_a_real_difference(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    olga = [10] * 30 + [9] * 12 + [8] * 10 + [4] * 8  # NPS +57
    ivan = [10] * 15 + [8] * 20 + [6] * 15 + [2] * 10  # NPS −17
    await seed_answers(check_db, olga, agent="olga", first_user=20_000)
    await seed_answers(check_db, ivan, agent="Ivan", first_user=30_000)
    await seed_answers(check_db, [0] * 40, agent="petr", first_user=40_000)  # not compared
    text = await compared(owner_of(api), "/nps compare agent:olga vs agent:ivan")
    lines = text.splitlines()
    assert lines[0] == "NPS compared: agent:olga vs agent:ivan"
    assert lines[1].startswith("Main survey · last 30 days (")
    nps_a, _, _ = reference(olga)
    nps_b, _, _ = reference(ivan)
    assert lines[2].startswith(f"A · agent:olga: NPS {signed(nps_a)} ± ")
    assert lines[2].endswith("(answers: 60)")
    # Stored as "Ivan" by one source: the segment's value matches whatever the case.
    assert lines[3].startswith(f"B · agent:ivan: NPS {signed(nps_b)} ± ")
    delta, low, high = interval(olga, ivan)
    assert lines[4] == (
        f"Difference A − B: {signed(delta)} points (95% interval {signed(low)} … {signed(high)})"
    )
    assert low > 0
    assert lines[5].startswith("✅ A real difference (95% confidence): agent:olga scores higher")


async def test_a_small_gap_is_not_significant_and_b_can_be_higher(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    shop = [10] * 20 + [8] * 15 + [3] * 15  # NPS +10
    site = [10] * 22 + [8] * 15 + [3] * 13  # NPS +18
    await seed_answers(check_db, shop, source="shop", first_user=20_000)
    await seed_answers(check_db, site, source="site", first_user=30_000)
    text = await compared(owner_of(api), "/nps compare source:shop vs source:site nps 30d")
    delta, low, high = interval(shop, site)
    assert low < 0 < high
    assert f"Difference A − B: {signed(delta)} points (95% interval {signed(low)} …" in text
    assert "➖ Not a significant difference: the interval includes 0" in text
    worse = [2] * 40
    await seed_answers(check_db, worse, source="kiosk", first_user=40_000)
    text = await compared(owner_of(api), "/nps compare source:kiosk vs source:site")
    assert (
        "✅ A real difference (95% confidence): source:site scores higher than source:kiosk"
        in (text)
    )


async def test_two_periods(api: BotApiEmulator, bot: HandlerBot, check_db: Database) -> None:
    now = utcnow()
    earlier = [3] * 30 + [10] * 20 + [8] * 10  # NPS −17, 35 days ago
    recent = [10] * 45 + [8] * 10 + [2] * 5  # NPS +67, an hour ago
    await seed_answers(check_db, earlier, at=now - timedelta(days=35), first_user=20_000)
    await seed_answers(check_db, recent, at=now - timedelta(hours=1), first_user=30_000)
    start = (now - timedelta(days=40)).date().isoformat()
    end = (now - timedelta(days=31)).date().isoformat()
    text = await compared(owner_of(api), f"/nps compare {start}..{end} vs 7d")
    lines = text.splitlines()
    assert lines[0] == f"NPS compared: {start}..{end} vs 7d"
    assert lines[1] == "Main survey"
    assert lines[2].startswith(f"A · {start}..{end} (") and "NPS -17 ± " in lines[2]
    assert lines[3].startswith("B · 7d (") and "NPS +67 ± " in lines[3]
    delta, _, high = interval(earlier, recent)
    assert f"Difference A − B: {signed(delta)} points" in text
    assert high < 0 and "7d scores higher than" in text


async def test_too_few_answers_or_none_are_said_plainly(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await seed_answers(check_db, [10] * 12, agent="olga", first_user=20_000)
    await seed_answers(check_db, [3] * 40, agent="ivan", first_user=30_000)
    owner = owner_of(api)
    text = await compared(owner, "/nps compare agent:olga vs agent:ivan")
    assert "⚠️ Too few answers to judge: each side needs at least 30 (A has 12, B has 40)" in text
    assert "Difference A − B: +200 points" in text  # the figure is still shown
    text = await compared(owner, "/nps compare agent:olga vs agent:nobody")
    assert "B · agent:nobody: no answers" in text
    assert "Nothing to compare yet: agent:nobody has no answers in this period." in text
    assert "Difference" not in text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("agent:olga", "Compare two groups: /nps compare A vs B [survey] [period]."),
        ("agent:olga vs", "Compare two groups"),
        ("colour:red vs colour:blue", "I don't know the segment “colour:red”."),
        ("agent:olga vs agent:olga", "Both sides are “agent:olga”: pick two different groups."),
        ("agent:olga vs source:shop", "“agent:olga” and “source:shop” are not the same kind"),
        ("30d vs 7d", "The periods “30d” and “7d” overlap"),
        ("bananas vs apples", "I can't compare “bananas”"),
        ("agent:olga vs agent:ivan nosuch", 'There is no survey "nosuch".'),
        ("<b>x</b>:1 vs <b>x</b>:2", "I don't know the segment “<b>x</b>:1”."),  # escaped
    ],
)
async def test_mistakes_get_one_line_that_says_what_to_write(
    api: BotApiEmulator, bot: HandlerBot, args: str, expected: str
) -> None:
    text = await compared(owner_of(api), f"/nps compare {args}")
    assert expected in text
    assert "\n" not in text


async def test_viewers_may_compare_and_strangers_may_not(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await seed_answers(check_db, [10] * 5, agent="olga", first_user=20_000)
    viewer = api.user(4001, first_name="Vic")
    await grant(check_db, 4001, "viewer")
    text = await compared(viewer, "/nps compare agent:olga vs agent:ivan")
    assert text.startswith("NPS compared: agent:olga vs agent:ivan")
    stranger = api.user(4002, first_name="Sam")
    stranger.send("/start")
    await stranger.wait_for_message()
    text = await compared(stranger, "/nps compare agent:olga vs agent:ivan")
    assert text == NOT_PERMITTED

"""`/chart` of a CSAT or CES survey: its own figure over time and its own scale."""

from __future__ import annotations

import io
import math
import statistics
from datetime import date, timedelta

from matplotlib.image import imread

from bot.emulator import BotApiEmulator
from handlers.scale_chart import scale_points
from nps.periods import Period
from nps.scale_charts import ScaleLabels, ScalePoint, render_scale_chart, score_colors
from storage.db import Database
from storage.models import utcnow
from tests.admin_helpers import make_survey, seed_answers
from tests.handlers.harness import HandlerBot
from tests.handlers.test_admin_chart import png_size, wait_photo
from tests.scenario import OWNER_ID

MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def day_counts(scores: list[int], invited: int = 0) -> tuple[int, ...]:
    """What StatsRepo.daily holds for a day: invited, then the counts of scores 0..10."""
    counts = [0] * 11
    for score in scores:
        counts[score] += 1
    return (invited, *counts)


def test_csat_points_per_day_hold_the_share_and_the_stars() -> None:
    first = date(2026, 11, 1)
    daily = {first: day_counts([5, 5, 4, 1]), first + timedelta(days=2): day_counts([3, 2])}
    period = Period(first, first + timedelta(days=2))
    points, overall = scale_points(daily, period, "day", MONTHS, "csat")
    assert [p.label for p in points] == ["1 Nov", "2 Nov", "3 Nov"]
    assert [p.n for p in points] == [4, 0, 2]
    assert points[0].value == 75.0 and points[1].value is None and points[2].value == 0.0
    assert points[0].counts == (1, 0, 0, 1, 2)  # scores 1..5
    assert points[0].low is not None and points[0].low < 75.0 < (points[0].high or 0)
    assert sum(overall) == 6


def test_ces_points_hold_the_mean() -> None:
    first = date(2026, 11, 2)  # a Monday
    scores = [7, 6, 6, 2]
    daily = {first: day_counts(scores[:2]), first + timedelta(days=1): day_counts(scores[2:])}
    period = Period(first, first + timedelta(days=6))
    points, _ = scale_points(daily, period, "week", MONTHS, "ces")
    assert len(points) == 1 and points[0].n == 4
    assert points[0].value == statistics.mean(scores)
    assert points[0].counts == (0, 1, 0, 0, 0, 2, 1)


def test_the_distribution_has_a_colour_per_score_of_the_scale() -> None:
    assert len(score_colors("csat")) == 5 and len(score_colors("ces")) == 7
    csat = score_colors("csat")
    assert csat[0] == "#d64541" and csat[-1] == "#2e9e44" and csat[2] == "#b4b4b4"


def test_scale_chart_renders_a_whole_png_even_without_answers() -> None:
    points = [
        ScalePoint("1 Nov", 3, 5.5, 4.0, 7.0, (0, 0, 0, 1, 0, 1, 1)),
        ScalePoint("2 Nov", 0, None, None, None, (0,) * 7),
        ScalePoint("3 Nov", 1, 2.0, None, None, (0, 1, 0, 0, 0, 0, 0)),
    ]
    png = render_scale_chart(points, kind="ces", title="Returns $5\nCES", labels=ScaleLabels())
    assert png_size(png) == (1200, 900)
    assert imread(io.BytesIO(png), format="png").shape[:2] == (900, 1200)
    empty = render_scale_chart([], kind="csat", title="x", labels=ScaleLabels())
    assert png_size(empty) == (1200, 900)


async def test_chart_of_a_csat_survey_is_captioned_with_csat(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await make_survey(check_db, "checkout", "Checkout", kind="csat")
    now = utcnow()
    early, late = [5, 5, 4, 2], [5, 3, 1, 1]
    await seed_answers(
        check_db, early, survey_slug="checkout", at=now - timedelta(days=3), first_user=70_000
    )
    await seed_answers(check_db, late, survey_slug="checkout", at=now, first_user=71_000)
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/chart checkout 7d")
    photo = await wait_photo(owner)
    assert photo.photo is not None
    caption = photo.text
    satisfied = sum(s >= 4 for s in early + late)
    share = 100 * satisfied / 8
    assert f"CSAT {math.floor(share + 0.5)}% ± " in caption and "8 answers" in caption
    assert caption.startswith("Checkout · ")


async def test_chart_of_a_ces_survey_in_russian(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await make_survey(check_db, "returns", "Возвраты", kind="ces")
    scores = [7, 6, 5, 2, 7]
    await seed_answers(check_db, scores, survey_slug="returns", first_user=72_000)
    owner = api.user(OWNER_ID, first_name="Olga", language_code="ru")
    owner.send("/chart returns")
    photo = await wait_photo(owner)
    assert f"CES {statistics.mean(scores):.1f} ± " in (photo.text)
    assert "ответов: 5" in (photo.text)

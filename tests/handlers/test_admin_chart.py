"""`/chart` as an owner sees it: a PNG of NPS over time with a caption, sent as a photo."""

from __future__ import annotations

import io
import struct
from datetime import timedelta

import pytest
from matplotlib.image import imread

from bot.emulator import BotApiEmulator
from bot.emulator.models import ChatMessage
from storage.db import Database
from storage.models import utcnow
from tests.admin_helpers import make_survey, seed_answers
from tests.handlers.harness import HandlerBot
from tests.scenario import OWNER_ID

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# nps/charts.py draws 8 × 6 inches at 150 dpi.
WIDTH, HEIGHT = 1200, 900


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk, read by hand."""
    assert data[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def decoded_shape(data: bytes) -> tuple[int, int]:
    """Height and width of the image as matplotlib decodes it (proves it is a whole PNG)."""
    pixels = imread(io.BytesIO(data), format="png")
    return pixels.shape[0], pixels.shape[1]


async def wait_photo(user: object, after: int = 0) -> ChatMessage:
    """The chart photo the bot sent after message `after` (deadline, no sleeps)."""
    return await user.wait_for_message(  # type: ignore[attr-defined]
        lambda m: m.photo is not None and m.message_id > after, timeout=20
    )


def nps_of(scores: list[int]) -> int:
    """NPS the plain way: % promoters − % detractors of all answers, rounded half up."""
    promoters = sum(s >= 9 for s in scores)
    detractors = sum(s <= 6 for s in scores)
    value = 100 * (promoters - detractors) / len(scores)
    return int(value + 0.5) if value >= 0 else -int(-value + 0.5)


async def test_chart_is_a_png_photo_with_the_scope_and_overall_nps(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    now = utcnow()
    week_ago = [10] * 6 + [8] * 2 + [3] * 2
    yesterday = [9] * 3 + [7] + [0] * 4
    await seed_answers(check_db, week_ago, at=now - timedelta(days=7), first_user=20_000)
    await seed_answers(check_db, yesterday, at=now - timedelta(days=1), first_user=21_000)
    # Outside the default 30 days: must not count.
    await seed_answers(check_db, [0] * 5, at=now - timedelta(days=45), first_user=22_000)
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/chart")
    photo = await wait_photo(owner)
    assert photo.photo is not None
    data = photo.photo.data
    assert png_size(data) == (WIDTH, HEIGHT)
    assert decoded_shape(data) == (HEIGHT, WIDTH)
    assert [c.method for c in api.calls_for("sendPhoto")] == ["sendPhoto"]
    scores = week_ago + yesterday
    lines = photo.text.splitlines()
    assert lines[0].startswith("Main survey · last 30 days (")
    assert lines[1].startswith(f"NPS {nps_of(scores):+d} ± ")
    assert lines[1].endswith(f"· {len(scores)} answers ⚠️ too few to trust")
    assert "<b>" in (photo.html or "")
    # Only the picture: no text message besides it.
    assert [m for m in owner.bot_messages if m.photo is None] == []


async def test_chart_for_one_cyrillic_survey_in_russian_and_a_month(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await make_survey(check_db, "delivery", "Доставка")
    now = utcnow()
    scores = [10] * 30 + [8] * 10 + [2] * 5
    await seed_answers(check_db, scores, survey_slug="delivery", at=now, first_user=30_000)
    await seed_answers(check_db, [0] * 9, at=now, first_user=31_000)  # another survey
    owner = api.user(OWNER_ID, first_name="Olga", language_code="ru")
    month = now.strftime("%Y-%m")
    owner.send(f"/chart delivery {month}")
    photo = await wait_photo(owner)
    assert photo.photo is not None and png_size(photo.photo.data) == (WIDTH, HEIGHT)
    head, figures = photo.text.splitlines()
    today = now.date()  # TIMEZONE is UTC in tests
    month_name = "янв фев мар апр мая июн июл авг сен окт ноя дек".split()[today.month - 1]
    first = "1 – " if today.day > 1 else ""
    assert head == f"Доставка · {first}{today.day} {month_name} {today.year}"
    assert figures.startswith(f"NPS {nps_of(scores):+d} ± ")
    assert figures.endswith(f"ответов: {len(scores)}")


async def test_chart_of_an_empty_period_still_sends_a_picture(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await seed_answers(check_db, [10, 9, 0], at=utcnow() - timedelta(days=400))
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/chart 7d")
    photo = await wait_photo(owner)
    assert photo.photo is not None
    assert png_size(photo.photo.data) == (WIDTH, HEIGHT)
    assert decoded_shape(photo.photo.data) == (HEIGHT, WIDTH)
    assert photo.text.splitlines()[1] == "No answers yet in this period."


async def test_chart_of_all_time_counts_every_answer_since_the_first(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    now = utcnow()
    await seed_answers(check_db, [10, 10, 6], at=now - timedelta(days=200), first_user=40_000)
    await seed_answers(check_db, [9, 8], at=now - timedelta(days=2), first_user=41_000)
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/chart all")
    photo = await wait_photo(owner)
    assert photo.photo is not None and png_size(photo.photo.data) == (WIDTH, HEIGHT)
    assert photo.text.splitlines()[1].startswith(f"NPS {nps_of([10, 10, 6, 9, 8]):+d} ± ")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ("nosuch", 'There is no survey "nosuch". Known surveys: nps.'),
        ("2026-13", 'I don\'t understand the period "2026-13"'),
        ("nps 30d extra", "I don't understand"),
    ],
)
async def test_bad_chart_arguments_get_one_line_and_no_picture(
    api: BotApiEmulator, bot: HandlerBot, arguments: str, expected: str
) -> None:
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send(f"/chart {arguments}")
    reply = await owner.wait_for_message()
    assert expected in reply.text and "\n" not in reply.text
    await bot.idle()
    assert not api.calls_for("sendPhoto")

"""Tests for the /chart picture: valid PNGs of the promised size for every shape of data."""

from __future__ import annotations

import io
import math
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest
from matplotlib.image import imread

from nps.charts import (
    DPI,
    HEIGHT_IN,
    WIDTH_IN,
    ChartLabels,
    TrendPoint,
    render_trend_chart,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXPECTED_SHAPE = (round(HEIGHT_IN * DPI), round(WIDTH_IN * DPI))

RU = ChartLabels(
    nps="NPS",
    answers="Ответы",
    promoters="Промоутеры",
    passives="Нейтральные",
    detractors="Критики",
    interval="95% интервал",
    no_answers="нет ответов",
)


def point(label: str, promoters: int, passives: int, detractors: int) -> TrendPoint:
    """Build a bucket with the NPS and a normal-approximation interval from its counts."""
    n = promoters + passives + detractors
    if n == 0:
        return TrendPoint(label, 0, None, None, None, 0, 0, 0)
    p, d = promoters / n, detractors / n
    nps = 100 * (p - d)
    se = 100 * math.sqrt(max((p + d) - (p - d) ** 2, 0.0) / n)
    low, high = max(-100.0, nps - 1.96 * se), min(100.0, nps + 1.96 * se)
    return TrendPoint(label, n, nps, low, high, promoters, passives, detractors)


def weekly(count: int, empty: set[int] = frozenset()) -> list[TrendPoint]:
    """Return deterministic weekly buckets, with the given indexes left empty."""
    return [
        point(f"W{i + 1:02d}", 0, 0, 0)
        if i in empty
        else point(f"W{i + 1:02d}", 20 + (i * 7) % 40, 10 + (i * 3) % 15, 3 + (i * 5) % 12)
        for i in range(count)
    ]


def decode(png: bytes) -> tuple[int, int]:
    """Decode a PNG with matplotlib and return its (height, width) in pixels."""
    assert png.startswith(PNG_SIGNATURE)
    pixels = imread(io.BytesIO(png), format="png")
    return pixels.shape[0], pixels.shape[1]


def render(points: list[TrendPoint], title: str = "Опрос доставки") -> bytes:
    """Render with every warning (e.g. "Glyph missing") turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return render_trend_chart(points, title=title, labels=RU)


def test_png_signature_and_pixel_size() -> None:
    png = render(weekly(12, empty={7}))
    assert len(png) > 0
    assert decode(png) == EXPECTED_SHAPE


def test_cyrillic_title_and_labels_render_without_missing_glyphs() -> None:
    # render() fails on any warning, so a missing Cyrillic glyph would fail here.
    png = render(weekly(6), title="Опрос доставки · NPS по неделям — ёЁ")
    assert decode(png) == EXPECTED_SHAPE


def test_english_default_labels() -> None:
    png = render_trend_chart(weekly(4), title="Delivery survey", labels=ChartLabels())
    assert decode(png) == EXPECTED_SHAPE


@pytest.mark.parametrize(
    "title",
    [
        "Доставка 🚚 ✨",  # emoji the chart font lacks: dropped instead of boxes + warnings
        r"Price $\notacommand$ and $5",  # would be parsed (and fail) as mathtext
        "",
    ],
)
def test_user_supplied_titles_are_drawn_safely(title: str) -> None:
    assert decode(render(weekly(3), title=title)) == EXPECTED_SHAPE


def test_single_point() -> None:
    assert decode(render(weekly(1))) == EXPECTED_SHAPE


def test_fifty_two_weekly_points_with_gaps() -> None:
    assert decode(render(weekly(52, empty={10, 11, 30}))) == EXPECTED_SHAPE


def test_all_buckets_empty_still_renders() -> None:
    assert decode(render(weekly(6, empty=set(range(6))))) == EXPECTED_SHAPE


def test_no_buckets_at_all_still_renders() -> None:
    assert decode(render([])) == EXPECTED_SHAPE


def test_extreme_values_and_missing_interval() -> None:
    points = [
        TrendPoint("all promoters", 10, 100.0, 72.0, 100.0, 10, 0, 0),
        TrendPoint("all detractors", 10, -100.0, -100.0, -72.0, 0, 0, 10),
        TrendPoint("no interval", 3, 0.0, None, None, 1, 1, 1),
        TrendPoint("out of range", 5, 130.0, 90.0, 160.0, 5, 0, 0),  # clipped, not an error
    ]
    assert decode(render(points)) == EXPECTED_SHAPE


def test_concurrent_renders_in_threads_are_identical() -> None:
    points = weekly(12, empty={3})
    expected = render(points)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: render(points), range(4)))
    # Agg output is deterministic, so any cross-thread interference would show as a diff.
    assert all(result == expected for result in results)

"""Tests for nps.nps_math: hand-checked cases and properties against a plain reference."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nps.nps_math import (
    MIN_RELIABLE_ANSWERS,
    Group,
    NpsSummary,
    add_histograms,
    classify,
    compare,
    empty_histogram,
    format_average,
    format_margin,
    format_nps,
    format_pct,
    histogram_from_scores,
    summarize,
    validate_histogram,
    wald_se,
)

# No example database (nothing written to the tree) and no deadline (a busy 2-core machine).
PROPERTY = settings(max_examples=150, deadline=None, database=None)

scores_lists = st.lists(st.integers(min_value=0, max_value=10), max_size=300)
nonempty_scores = st.lists(st.integers(min_value=0, max_value=10), min_size=1, max_size=300)
histograms = st.lists(st.integers(min_value=0, max_value=500), min_size=11, max_size=11).map(tuple)


def hist_of(promoters: int = 0, passives: int = 0, detractors: int = 0) -> tuple[int, ...]:
    """Build a histogram scoring promoters 10, passives 8 and detractors 3."""
    return histogram_from_scores([10] * promoters + [8] * passives + [3] * detractors)


def reference_nps(scores: Sequence[int]) -> float:
    """NPS straight from the definition in NPS.md."""
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    return 100 * (promoters - detractors) / len(scores)


def reference_se(scores: Sequence[int]) -> float:
    """Plain Wald SE from NPS.md, computed from each answer as +1 / 0 / −1."""
    values = [1 if s >= 9 else -1 if s <= 6 else 0 for s in scores]
    return 100 * math.sqrt(statistics.pvariance(values) / len(values))


# --- groups and histograms -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "group"),
    [
        (0, Group.DETRACTOR),
        (6, Group.DETRACTOR),
        (7, Group.PASSIVE),
        (8, Group.PASSIVE),
        (9, Group.PROMOTER),
        (10, Group.PROMOTER),
    ],
)
def test_classify_boundaries(score: int, group: Group) -> None:
    assert classify(score) is group


@pytest.mark.parametrize("score", [-1, 11, 100])
def test_classify_rejects_scores_off_the_scale(score: int) -> None:
    with pytest.raises(ValueError, match="0 to 10"):
        classify(score)


def test_group_values_are_stable_strings() -> None:
    assert [g.value for g in Group] == ["promoter", "passive", "detractor"]


def test_histogram_helpers() -> None:
    assert empty_histogram() == (0,) * 11
    assert histogram_from_scores([0, 10, 10, 5]) == (1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2)
    assert add_histograms(hist_of(1), hist_of(0, 2, 3)) == hist_of(1, 2, 3)
    with pytest.raises(ValueError):
        histogram_from_scores([3, 11])
    with pytest.raises(TypeError):
        histogram_from_scores([True])


@pytest.mark.parametrize(
    "bad", [(0,) * 10, (0,) * 12, (0,) * 10 + (-1,), (0,) * 10 + (1.0,), (0,) * 10 + (True,)]
)
def test_malformed_histograms_are_rejected(bad: tuple[object, ...]) -> None:
    with pytest.raises(ValueError):
        validate_histogram(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        summarize(bad)  # type: ignore[arg-type]


# --- hand-checked summaries ----------------------------------------------------------------


def test_worked_example_70_percent_promoters_10_percent_detractors_is_60() -> None:
    s = summarize(histogram_from_scores([10] * 7 + [8] * 2 + [3]))
    assert (s.n, s.promoters, s.passives, s.detractors) == (10, 7, 2, 1)
    assert s.nps == pytest.approx(60)
    assert (s.promoter_pct, s.passive_pct, s.detractor_pct) == pytest.approx((70, 20, 10))
    assert s.average == pytest.approx((70 + 16 + 3) / 10)


@pytest.mark.parametrize(
    ("scores", "nps"),
    [([7, 8, 7, 8], 0), ([9, 10, 10], 100), ([0, 1, 2, 3, 4, 5, 6], -100)],
)
def test_unanimous_groups(scores: list[int], nps: float) -> None:
    s = summarize(histogram_from_scores(scores))
    assert s.nps == nps
    assert s.se == 0  # plain Wald has no spread here ...
    assert s.margin is not None and s.margin > 0  # ... the adjusted interval still does
    assert s.low is not None and s.high is not None
    assert -100 <= s.low <= nps <= s.high <= 100


def test_empty_histogram_has_no_figures_and_no_exception() -> None:
    s = summarize(empty_histogram())
    assert (s.n, s.promoters, s.passives, s.detractors) == (0, 0, 0, 0)
    assert s.nps is None and s.average is None and s.margin is None and s.se is None
    assert s.low is None and s.high is None and s.centre is None
    assert s.promoter_pct is None and s.passive_pct is None and s.detractor_pct is None
    assert s.too_small
    assert wald_se(empty_histogram()) is None


def test_average_of_known_scores() -> None:
    s = summarize(histogram_from_scores([0, 5, 10, 9, 8]))
    assert s.average == pytest.approx(6.4)


def test_ux_example_412_answers() -> None:
    s = summarize(hist_of(201, 141, 70))
    assert s.n == 412 and not s.too_small
    assert s.nps == pytest.approx(31.796, abs=1e-3)
    assert s.margin is not None and 7 <= s.margin <= 9
    assert s.low is not None and s.high is not None and s.nps is not None
    assert s.low < s.nps < s.high
    assert s.se == pytest.approx(3.676, abs=1e-3)  # 100·sqrt((0.6578 − 0.3180²) / 412)
    assert (format_nps(s.nps), format_margin(s.margin)) == ("+32", "7")
    assert [format_pct(x) for x in (s.promoter_pct, s.passive_pct, s.detractor_pct)] == [
        "49%",
        "34%",
        "17%",
    ]


def test_adjusted_wald_by_hand() -> None:
    # 5 / 2 / 2 of 9: n' = 12, p' = 5.75/12, d' = 2.75/12, centre 25, SE' = 100·sqrt(0.6458/12).
    s = summarize(hist_of(5, 2, 2))
    assert s.centre == pytest.approx(25)
    assert s.margin == pytest.approx(1.96 * 100 * math.sqrt((8.5 / 12 - 0.25**2) / 12))
    assert s.margin is not None
    assert (s.low, s.high) == pytest.approx((25 - s.margin, 25 + s.margin))
    assert s.nps == pytest.approx(100 / 3)


def test_nine_answers_are_too_small_with_a_margin_near_50() -> None:
    s = summarize(hist_of(5, 2, 2))
    assert s.too_small
    assert s.margin is not None and 40 <= s.margin <= 60
    assert wald_se(hist_of(5, 2, 2)) == pytest.approx(s.se)


def test_too_small_threshold() -> None:
    assert summarize(hist_of(MIN_RELIABLE_ANSWERS - 1)).too_small
    assert not summarize(hist_of(MIN_RELIABLE_ANSWERS)).too_small


def test_single_answer_interval_contains_the_estimate() -> None:
    # The adjusted interval alone would be −48.5…+98.5 for one promoter.
    s = summarize(hist_of(1))
    assert s.nps == 100 and s.high == 100
    assert s.margin is not None
    assert s.low == pytest.approx(25 - s.margin)


# --- compare -------------------------------------------------------------------------------


def test_compare_ux_example_is_significant() -> None:
    now, before = summarize(hist_of(201, 141, 70)), summarize(hist_of(180, 150, 90))
    c = compare(now, before)
    assert now.nps is not None and before.nps is not None
    assert c.delta == pytest.approx(now.nps - before.nps)
    assert c.significant and c.z is not None and c.z > 1.96


def test_compare_small_difference_is_not_significant() -> None:
    c = compare(summarize(hist_of(6, 2, 2)), summarize(hist_of(5, 3, 2)))
    assert c.delta == pytest.approx(10)
    assert not c.significant


def test_compare_with_an_empty_side() -> None:
    full, empty = summarize(hist_of(3, 1, 1)), summarize(empty_histogram())
    for c in (compare(full, empty), compare(empty, full), compare(empty, empty)):
        assert c == type(c)(delta=None, significant=False, z=None)


def test_compare_zero_variance_sides_do_not_divide_by_zero() -> None:
    same = compare(summarize(hist_of(5)), summarize(hist_of(50)))
    assert (same.delta, same.significant, same.z) == (0, False, None)
    differ = compare(summarize(hist_of(5)), summarize(hist_of(0, 0, 5)))
    assert (differ.delta, differ.significant, differ.z) == (200, True, None)


# --- formatting ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (31.8, "+32"),
        (-5, "-5"),
        (0, "0"),
        (0.4, "0"),
        (-0.4, "0"),
        (0.5, "+1"),
        (-0.5, "-1"),
        (99.6, "+100"),
        (-100, "-100"),
        (None, "—"),
    ],
)
def test_format_nps(x: float | None, text: str) -> None:
    assert format_nps(x) == text


def test_format_margin_pct_average() -> None:
    assert [format_margin(m) for m in (9.2, 8.5, 0.2, None)] == ["9", "9", "0", "—"]
    assert [format_pct(p) for p in (48.79, 0, 100, 12.5, None)] == [
        "49%",
        "0%",
        "100%",
        "13%",
        "—",
    ]
    assert [format_average(a) for a in (8.05, 8.14, 10, None)] == ["8.1", "8.1", "10.0", "—"]
    with pytest.raises(ValueError):
        format_nps(math.nan)


def test_summary_is_frozen() -> None:
    s = summarize(hist_of(1))
    with pytest.raises(AttributeError):
        s.nps = 5  # type: ignore[misc]


# --- properties against the reference ------------------------------------------------------


@PROPERTY
@given(nonempty_scores)
def test_summary_matches_reference(scores: list[int]) -> None:
    s = summarize(histogram_from_scores(scores))
    assert s.n == len(scores)
    assert s.promoters + s.passives + s.detractors == s.n
    assert s.nps is not None and -100 <= s.nps <= 100
    assert s.nps == pytest.approx(reference_nps(scores), abs=1e-9)
    assert s.average == pytest.approx(statistics.mean(scores))
    assert s.se == pytest.approx(reference_se(scores), abs=1e-9)
    assert (s.promoter_pct or 0) + (s.passive_pct or 0) + (s.detractor_pct or 0) == pytest.approx(
        100
    )
    assert s.too_small == (len(scores) < MIN_RELIABLE_ANSWERS)


@PROPERTY
@given(nonempty_scores)
def test_interval_is_ordered_and_bounded(scores: list[int]) -> None:
    s = summarize(histogram_from_scores(scores))
    assert s.low is not None and s.high is not None and s.centre is not None
    assert s.nps is not None and s.margin is not None
    assert -100 <= s.low <= s.centre <= s.high <= 100
    assert s.low <= s.nps <= s.high
    assert s.margin > 0
    # The interval is centre ± margin except where clipped (or widened, for n == 1).
    assert s.high - s.low <= 2 * s.margin + 1e-9 or s.n == 1


@PROPERTY
@given(nonempty_scores, st.integers(min_value=2, max_value=10))
def test_margin_shrinks_with_more_answers_in_the_same_proportions(
    scores: list[int], factor: int
) -> None:
    hist = histogram_from_scores(scores)
    bigger = tuple(count * factor for count in hist)
    small, large = summarize(hist), summarize(bigger)
    assert large.nps == small.nps
    assert large.margin is not None and small.margin is not None
    assert large.margin < small.margin


@PROPERTY
@given(histograms, histograms, histograms)
def test_add_histograms_is_associative_and_commutative(
    a: tuple[int, ...], b: tuple[int, ...], c: tuple[int, ...]
) -> None:
    assert add_histograms(a, b) == add_histograms(b, a)
    assert add_histograms(add_histograms(a, b), c) == add_histograms(a, add_histograms(b, c))
    assert add_histograms(a, empty_histogram()) == a


@PROPERTY
@given(scores_lists, scores_lists)
def test_summary_of_added_histograms_equals_summary_of_concatenated_scores(
    first: list[int], second: list[int]
) -> None:
    added = add_histograms(histogram_from_scores(first), histogram_from_scores(second))
    assert summarize(added) == summarize(histogram_from_scores(first + second))


@PROPERTY
@given(scores_lists, scores_lists)
def test_compare_is_antisymmetric(first: list[int], second: list[int]) -> None:
    a, b = summarize(histogram_from_scores(first)), summarize(histogram_from_scores(second))
    ab, ba = compare(a, b), compare(b, a)
    assert ab.significant == ba.significant
    if ab.delta is None:
        assert ba.delta is None and not ab.significant
    else:
        assert ba.delta == -ab.delta
    assert (ab.z is None) == (ba.z is None)
    if ab.z is not None and ba.z is not None:
        assert ba.z == -ab.z
        assert ab.significant == (abs(ab.z) > 1.96) or math.isclose(abs(ab.z), 1.96)


@PROPERTY
@given(nonempty_scores, nonempty_scores)
def test_compare_matches_the_formula(first: list[int], second: list[int]) -> None:
    a, b = summarize(histogram_from_scores(first)), summarize(histogram_from_scores(second))
    delta = reference_nps(first) - reference_nps(second)
    threshold = 1.96 * math.sqrt(reference_se(first) ** 2 + reference_se(second) ** 2)
    c = compare(a, b)
    assert c.delta == pytest.approx(delta, abs=1e-9)
    if abs(abs(delta) - threshold) > 1e-6:  # away from the knife edge, floats agree
        assert c.significant == (abs(delta) > threshold)


def test_summary_type() -> None:
    assert isinstance(summarize(hist_of(1, 1, 1)), NpsSummary)

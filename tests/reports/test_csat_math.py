"""CSAT and CES arithmetic (nps/csat_math.py) against figures worked out another way:
raw score lists, the Wilson bounds as roots of their quadratic, Student's t from its
closed-form distribution function."""

from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from nps.csat_math import (
    compare_ces,
    compare_csat,
    summarize_ces,
    summarize_csat,
    t_quantile_975,
    wilson_interval,
)
from tests.scale_helpers import Z, t975


def histogram(scores: list[int]) -> tuple[int, ...]:
    counts = [0] * 11
    for score in scores:
        counts[score] += 1
    return tuple(counts)


@pytest.mark.parametrize("df", [*range(1, 41), 45, 60, 90, 120, 250, 1000])
def test_t_quantile_matches_the_distribution_function(df: int) -> None:
    assert t_quantile_975(df) == pytest.approx(t975(df), abs=2e-5)


def test_t_quantile_needs_a_degree_of_freedom() -> None:
    with pytest.raises(ValueError):
        t_quantile_975(0)


def wilson_by_quadratic(k: int, n: int) -> tuple[float, float]:
    """The p0 with (p̂ − p0)² = z²·p0(1 − p0)/n: roots of a quadratic."""
    p = k / n
    a = 1 + Z * Z / n
    b = -(2 * p + Z * Z / n)
    c = p * p
    root = math.sqrt(b * b - 4 * a * c)
    return (-b - root) / (2 * a), (-b + root) / (2 * a)


@pytest.mark.parametrize(("k", "n"), [(7, 10), (0, 5), (5, 5), (1, 1), (30, 100), (999, 1000)])
def test_wilson_interval_is_the_roots_of_its_quadratic(k: int, n: int) -> None:
    low, high = wilson_interval(k, n)
    expected = wilson_by_quadratic(k, n)
    assert low == pytest.approx(expected[0], abs=1e-12)
    assert high == pytest.approx(expected[1], abs=1e-12)


def test_wilson_seven_of_ten_is_the_textbook_interval() -> None:
    low, high = wilson_interval(7, 10)
    assert (round(low, 4), round(high, 4)) == (0.3968, 0.8922)


def test_csat_of_a_small_sample() -> None:
    scores = [5, 5, 5, 4, 4, 4, 4, 3, 3, 1]
    s = summarize_csat(histogram(scores))
    satisfied = sum(x >= 4 for x in scores)
    assert (s.n, s.satisfied, s.neutral, s.dissatisfied) == (10, satisfied, 2, 1)
    assert s.counts == (1, 0, 2, 4, 3)
    assert s.csat == pytest.approx(100 * satisfied / 10)
    low, high = wilson_by_quadratic(satisfied, 10)
    assert s.low == pytest.approx(100 * low) and s.high == pytest.approx(100 * high)
    assert s.margin == pytest.approx(50 * (high - low))
    assert s.average == pytest.approx(statistics.mean(scores))
    assert s.too_small and s.outside == 0


def test_csat_leaves_out_scores_off_its_scale() -> None:
    s = summarize_csat(histogram([0, 9, 10, 5, 2]))
    assert (s.n, s.outside, s.satisfied, s.csat) == (2, 3, 1, 50.0)


def test_csat_without_answers_has_no_figures() -> None:
    s = summarize_csat((0,) * 11)
    assert s.n == 0 and s.csat is None and s.margin is None and s.low is None


def test_ces_mean_and_t_interval() -> None:
    scores = [7, 7, 6, 6, 6, 5, 4, 4, 2, 1, 7, 5]
    s = summarize_ces(histogram(scores))
    mean, sd = statistics.mean(scores), statistics.stdev(scores)
    half = t975(len(scores) - 1) * sd / math.sqrt(len(scores))
    assert s.ces == pytest.approx(mean)
    assert s.sd == pytest.approx(sd)
    assert s.margin == pytest.approx(half, rel=1e-5)
    assert s.low == pytest.approx(mean - half, rel=1e-5)
    assert s.high == pytest.approx(mean + half, rel=1e-5)
    assert (s.easy, s.neutral, s.difficult) == (8, 2, 2)
    assert s.counts == (1, 1, 0, 2, 2, 3, 3)


def test_ces_of_one_answer_has_no_interval() -> None:
    s = summarize_ces(histogram([6]))
    assert s.ces == 6 and s.n == 1
    assert s.margin is None and s.low is None and s.high is None and s.sd is None


def test_ces_interval_stays_on_the_scale() -> None:
    s = summarize_ces(histogram([7, 7, 7, 1]))
    assert s.low == 1.0 and s.high == 7.0
    assert s.margin is not None and s.margin > 3


def test_csat_change_is_tested_with_the_two_proportion_z() -> None:
    now = summarize_csat(histogram([5] * 80 + [1] * 20))
    then = summarize_csat(histogram([5] * 60 + [2] * 40))
    change = compare_csat(now, then)
    se = math.sqrt(0.8 * 0.2 / 100 + 0.6 * 0.4 / 100) * 100
    assert change.delta == pytest.approx(20.0)
    assert change.z == pytest.approx(20.0 / se)
    assert change.significant is (20.0 > Z * se)
    assert change.significant
    small = compare_csat(summarize_csat(histogram([5, 1])), summarize_csat(histogram([5, 5, 1])))
    assert small.delta is not None and not small.significant


def test_ces_change_uses_both_standard_errors() -> None:
    a, b = [6, 7, 7, 5, 6] * 8, [4, 5, 3, 4, 6] * 8
    change = compare_ces(summarize_ces(histogram(a)), summarize_ces(histogram(b)))
    se = math.sqrt(statistics.variance(a) / len(a) + statistics.variance(b) / len(b))
    delta = statistics.mean(a) - statistics.mean(b)
    assert change.delta == pytest.approx(delta)
    assert change.z == pytest.approx(delta / se)
    assert change.significant
    none = compare_ces(summarize_ces(histogram([5])), summarize_ces(histogram(a)))
    assert none.delta is None and not none.significant


@given(st.lists(st.integers(min_value=0, max_value=10), min_size=0, max_size=200))
@example([4] * 6)  # all satisfied: rounding once put the high at 99.99999999999999 < 100
@example([1] * 7)  # none satisfied
def test_csat_interval_holds_its_estimate(scores: list[int]) -> None:
    s = summarize_csat(histogram(scores))
    on_scale = [x for x in scores if 1 <= x <= 5]
    assert s.n == len(on_scale) and s.outside == len(scores) - len(on_scale)
    if not on_scale:
        assert s.csat is None
        return
    assert s.csat is not None and s.low is not None and s.high is not None
    assert 0.0 <= s.low <= s.csat <= s.high <= 100.0
    assert s.satisfied + s.neutral + s.dissatisfied == s.n


@given(st.lists(st.integers(min_value=1, max_value=7), min_size=2, max_size=200))
def test_ces_interval_holds_its_mean(scores: list[int]) -> None:
    s = summarize_ces(histogram(scores))
    assert s.ces is not None and s.low is not None and s.high is not None
    assert 1.0 <= s.low <= s.ces + 1e-12 and s.ces - 1e-12 <= s.high <= 7.0
    assert s.ces == pytest.approx(statistics.mean(scores))
    assert s.sd == pytest.approx(statistics.stdev(scores), abs=1e-9)

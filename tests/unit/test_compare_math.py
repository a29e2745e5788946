"""nps/compare_math.py against figures computed independently: from the raw +1/0/−1
answers with the standard library's statistics, and one worked by hand."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from nps.compare_math import Verdict, compare_groups, nps_variance
from nps.nps_math import histogram_from_scores


def _values(scores: list[int]) -> list[int]:
    """Each answer as +1 (9–10), 0 (7–8) or −1 (0–6)."""
    return [1 if s >= 9 else 0 if s >= 7 else -1 for s in scores]


def _independent(a: list[int], b: list[int]) -> tuple[float, float, float, float]:
    """Difference, its SE, and the 95 % interval from the raw answers: the NPS is the mean
    of the values, the variance of a mean is the population variance over n."""
    va, vb = _values(a), _values(b)
    delta = 100 * (statistics.fmean(va) - statistics.fmean(vb))
    se = 100 * math.sqrt(statistics.pvariance(va) / len(va) + statistics.pvariance(vb) / len(vb))
    return delta, se, delta - 1.96 * se, delta + 1.96 * se


def test_a_difference_worked_by_hand() -> None:
    # A: 60 promoters, 25 passives, 15 detractors → NPS 45, var = 0.75 − 0.45² = 0.5475.
    # B: 40 / 30 / 30 → NPS 10, var = 0.70 − 0.10² = 0.69.
    # SE = 100·sqrt(0.5475/100 + 0.69/100) = 11.1243; 35 ± 1.96·11.1243 = 13.20 … 56.80.
    a = [10] * 60 + [8] * 25 + [3] * 15
    b = [9] * 40 + [7] * 30 + [0] * 30
    result = compare_groups(histogram_from_scores(a), histogram_from_scores(b))
    assert result.delta == pytest.approx(35.0)
    assert result.se == pytest.approx(11.1243, abs=1e-4)
    assert result.low == pytest.approx(13.1964, abs=1e-3)
    assert result.high == pytest.approx(56.8036, abs=1e-3)
    assert result.verdict == Verdict.A_HIGHER and result.significant


@pytest.mark.parametrize("seed", range(20))
def test_random_samples_agree_with_the_raw_answers(seed: int) -> None:
    rng = random.Random(seed)
    a = [rng.choice(range(11)) for _ in range(rng.randint(30, 400))]
    weights = [rng.random() for _ in range(11)]
    b = rng.choices(range(11), weights=weights, k=rng.randint(30, 400))
    result = compare_groups(histogram_from_scores(a), histogram_from_scores(b))
    delta, se, low, high = _independent(a, b)
    assert result.delta == pytest.approx(delta)
    assert result.se == pytest.approx(se)
    assert (result.low, result.high) == (pytest.approx(low), pytest.approx(high))
    expected = (
        Verdict.A_HIGHER if low > 0 else Verdict.B_HIGHER if high < 0 else Verdict.NOT_SIGNIFICANT
    )
    assert result.verdict == expected


def test_variance_matches_the_population_variance_of_the_values() -> None:
    scores = [10, 10, 9, 8, 7, 6, 0, 3, 9, 10, 2]
    hist = histogram_from_scores(scores)
    promoters, detractors = sum(hist[9:]), sum(hist[:7])
    assert nps_variance(promoters, detractors, len(scores)) == pytest.approx(
        statistics.pvariance(_values(scores))
    )
    with pytest.raises(ValueError):
        nps_variance(0, 0, 0)


def test_a_close_result_is_not_significant_and_b_can_be_the_higher() -> None:
    a = [10] * 40 + [8] * 30 + [2] * 30  # NPS +10
    b = [10] * 42 + [8] * 30 + [2] * 28  # NPS +14
    close = compare_groups(histogram_from_scores(a), histogram_from_scores(b))
    assert close.verdict == Verdict.NOT_SIGNIFICANT and not close.significant
    assert close.low is not None and close.high is not None and close.low < 0 < close.high
    worse = [10] * 10 + [2] * 90
    lower = compare_groups(histogram_from_scores(worse), histogram_from_scores(a))
    assert lower.verdict == Verdict.B_HIGHER and lower.delta == pytest.approx(-90.0)


def test_too_few_answers_give_no_verdict_but_still_the_figures() -> None:
    few = histogram_from_scores([10] * 29)
    many = histogram_from_scores([0] * 100)
    result = compare_groups(few, many)
    assert result.verdict == Verdict.TOO_FEW and not result.significant
    assert result.delta == pytest.approx(200.0)
    assert compare_groups(few, many, min_answers=10).verdict == Verdict.A_HIGHER


def test_an_empty_group_gives_no_difference() -> None:
    result = compare_groups(histogram_from_scores([]), histogram_from_scores([10] * 50))
    assert result.verdict == Verdict.NO_ANSWERS
    assert result.delta is None and result.low is None and result.se is None


def test_two_identical_unanimous_groups_are_not_different() -> None:
    same = histogram_from_scores([10] * 40)
    result = compare_groups(same, same)
    assert (result.delta, result.se) == (0.0, 0.0)
    assert result.verdict == Verdict.NOT_SIGNIFICANT

"""Comparing the NPS of two independent groups: the difference, its 95 % interval, a verdict.

Pure arithmetic on score histograms (no I/O). Each answer is +1 (promoter), 0 (passive) or
−1 (detractor); NPS is 100 × their mean, and the variance of one answer is
p_P + p_D − (p_P − p_D)². Two groups that share nobody (two agents, two variants, two
periods) are independent samples, so the variance of the difference is the sum of the two
variances of the means (NPS.md, "comparing two scores").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from nps.nps_math import MIN_RELIABLE_ANSWERS, Z_95, Histogram, NpsSummary, summarize

__all__ = ["Difference", "Verdict", "compare_groups", "nps_variance"]

#: Below this many answers in either group no verdict is given, only the figures.
MIN_GROUP_ANSWERS: Final = MIN_RELIABLE_ANSWERS


class Verdict(StrEnum):
    """What the comparison lets an owner conclude."""

    A_HIGHER = "a_higher"  # the interval lies above 0: A's NPS is higher
    B_HIGHER = "b_higher"  # the interval lies below 0: B's NPS is higher
    NOT_SIGNIFICANT = "not_significant"  # the interval contains 0: no real difference shown
    TOO_FEW = "too_few"  # a group has fewer than MIN_GROUP_ANSWERS answers
    NO_ANSWERS = "no_answers"  # a group has no answers at all


def nps_variance(promoters: int, detractors: int, n: int) -> float:
    """Variance of one answer's +1/0/−1 value: p_P + p_D − (p_P − p_D)² (0 ≤ it ≤ 1)."""
    if n <= 0:
        raise ValueError("a variance needs at least one answer")
    # Integers over n²: rounding never makes it slightly negative.
    return ((promoters + detractors) * n - (promoters - detractors) ** 2) / n**2


@dataclass(frozen=True, slots=True)
class Difference:
    """A − B in NPS points with its 95 % interval, and the verdict."""

    a: NpsSummary
    b: NpsSummary
    delta: float | None  # NPS(A) − NPS(B); None when a group has no answers
    se: float | None  # standard error of the difference, in points
    low: float | None  # 95 % interval of the difference (delta ± 1.96 se)
    high: float | None
    verdict: Verdict

    @property
    def significant(self) -> bool:
        """True when the 95 % interval excludes 0 (and both groups are large enough)."""
        return self.verdict in (Verdict.A_HIGHER, Verdict.B_HIGHER)


def _variance_of_mean(summary: NpsSummary) -> float:
    """Variance of a group's NPS estimate, as a fraction (not points): var / n."""
    return nps_variance(summary.promoters, summary.detractors, summary.n) / summary.n


def compare_groups(
    a: Histogram, b: Histogram, *, min_answers: int = MIN_GROUP_ANSWERS
) -> Difference:
    """Compares two independent groups' histograms (scores 0..10)."""
    first, second = summarize(a), summarize(b)
    if first.nps is None or second.nps is None:
        return Difference(first, second, None, None, None, None, Verdict.NO_ANSWERS)
    delta = first.nps - second.nps
    se = 100.0 * math.sqrt(_variance_of_mean(first) + _variance_of_mean(second))
    low, high = delta - Z_95 * se, delta + Z_95 * se
    if first.n < min_answers or second.n < min_answers:
        verdict = Verdict.TOO_FEW
    elif low > 0:
        verdict = Verdict.A_HIGHER
    elif high < 0:
        verdict = Verdict.B_HIGHER
    else:
        verdict = Verdict.NOT_SIGNIFICANT
    return Difference(first, second, delta, se, low, high, verdict)

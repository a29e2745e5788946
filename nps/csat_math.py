"""CSAT and CES arithmetic from the 11-count score histograms (index = score), pure.

* CSAT (1–5): the share of satisfied answers (4–5) in percent, with a **Wilson score**
  95 % interval. Wilson rather than Wald: Wald's p ± 1.96·sqrt(p(1−p)/n) collapses to a
  zero width at 0 % or 100 % and runs outside 0–100 for small n; Wilson's interval stays
  inside [0, 100] and keeps close to 95 % coverage with a handful of answers.
* CES (1–7, 7 = very easy): the mean score with a **Student t** 95 % interval,
  mean ± t(0.975, n−1)·s/√n, where s is the sample standard deviation (n − 1 in the
  denominator) computed from the histogram. One answer has no interval.

Counts outside the kind's scale (answers given while the survey was another kind) are
left out of every figure and reported as `outside`, so an edited survey never breaks a
report. Nothing here touches I/O, clocks or locales.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from nps.nps_math import (
    MIN_RELIABLE_ANSWERS,
    Z_95,
    Comparison,
    compare_estimates,
    validate_histogram,
)
from nps.scales import CES, CSAT, Scale, scale_of

__all__ = [
    "CesSummary",
    "CsatSummary",
    "compare_ces",
    "compare_csat",
    "summarize_ces",
    "summarize_csat",
    "t_quantile_975",
    "wilson_interval",
]

# Two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom (t(0.975, df)).
# tests/reports/test_csat_math.py checks each against a numerical integration of the t density.
_T_975: Final = (
    12.706205,
    4.302653,
    3.182446,
    2.776445,
    2.570582,
    2.446912,
    2.364624,
    2.306004,
    2.262157,
    2.228139,
    2.200985,
    2.178813,
    2.160369,
    2.144787,
    2.131450,
    2.119905,
    2.109816,
    2.100922,
    2.093024,
    2.085963,
    2.079614,
    2.073873,
    2.068658,
    2.063899,
    2.059539,
    2.055529,
    2.051831,
    2.048407,
    2.045230,
    2.042272,
)
# The exact normal quantile for the t expansion (Z_95 = 1.96 is the rounded one of NPS.md).
_Z_975: Final = 1.959963984540054


def t_quantile_975(df: int) -> float:
    """Student's t 0.975 quantile: a table up to 30 df, a Cornish–Fisher expansion above
    (error below 1e-5 there), the normal quantile as df grows without bound."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    if df <= len(_T_975):
        return _T_975[df - 1]
    z, v = _Z_975, float(df)
    # Abramowitz & Stegun 26.7.5, four terms.
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / v + g2 / v**2 + g3 / v**3 + g4 / v**4


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion, as fractions in [0, 1] (n > 0)."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n > 0, got {successes}/{n}")
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # Rounding can leave 1e-17 outside [0, 1] or on the wrong side of p (all answers
    # satisfied gave a high of 0.9999999999999999 < p); by construction it holds both.
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))


def _on_scale(hist: Sequence[int], scale: Scale) -> tuple[tuple[int, ...], int]:
    """The counts of the scale's scores (lowest first) and how many lie outside it."""
    counts = validate_histogram(tuple(hist))
    inside = tuple(counts[score] for score in scale.scores())
    return inside, sum(counts) - sum(inside)


@dataclass(frozen=True, slots=True)
class CsatSummary:
    """One sample of CSAT answers. Figures are percentages; None when n == 0.

    `csat` is the plain share of 4–5; `low`/`high` its Wilson 95 % interval; `margin` the
    interval's half-width (the interval is not symmetric around `csat` near 0 or 100 %).
    `counts` holds the answers per score 1..5; `se` the plain SE used by `compare_csat`.
    """

    n: int
    counts: tuple[int, ...]
    satisfied: int
    neutral: int
    dissatisfied: int
    csat: float | None
    low: float | None
    high: float | None
    margin: float | None
    se: float | None
    average: float | None
    too_small: bool
    outside: int = 0


def summarize_csat(hist: Sequence[int]) -> CsatSummary:
    """CSAT of an 11-count histogram: share of 4–5 with its Wilson 95 % interval."""
    scale = scale_of(CSAT)
    counts, outside = _on_scale(hist, scale)
    n = sum(counts)
    satisfied = sum(c for s, c in zip(scale.scores(), counts, strict=True) if s >= scale.high_from)
    dissatisfied = sum(c for s, c in zip(scale.scores(), counts, strict=True) if s <= scale.low_to)
    neutral = n - satisfied - dissatisfied
    if n == 0:
        return CsatSummary(
            0, counts, 0, 0, 0, None, None, None, None, None, None, True, outside=outside
        )
    p = satisfied / n
    low, high = wilson_interval(satisfied, n)
    average = sum(s * c for s, c in zip(scale.scores(), counts, strict=True)) / n
    return CsatSummary(
        n=n,
        counts=counts,
        satisfied=satisfied,
        neutral=neutral,
        dissatisfied=dissatisfied,
        csat=100.0 * satisfied / n,
        low=100.0 * low,
        high=100.0 * high,
        margin=50.0 * (high - low),
        se=100.0 * math.sqrt(p * (1 - p) / n),
        average=average,
        too_small=n < MIN_RELIABLE_ANSWERS,
        outside=outside,
    )


@dataclass(frozen=True, slots=True)
class CesSummary:
    """One sample of CES answers; None where a figure does not exist.

    `ces` is the mean score (1–7); `low`/`high` its Student t 95 % interval (None for
    n < 2), clipped to the scale; `margin` = t·s/√n; `sd` the sample standard deviation.
    `easy` counts 5–7, `neutral` 4, `difficult` 1–3; `counts` the answers per score 1..7.
    """

    n: int
    counts: tuple[int, ...]
    easy: int
    neutral: int
    difficult: int
    ces: float | None
    sd: float | None
    margin: float | None
    low: float | None
    high: float | None
    too_small: bool
    outside: int = 0

    @property
    def se(self) -> float | None:
        """Standard error of the mean (None for n < 2)."""
        return None if self.sd is None else self.sd / math.sqrt(self.n)


def summarize_ces(hist: Sequence[int]) -> CesSummary:
    """CES of an 11-count histogram: the mean with its t 95 % interval."""
    scale = scale_of(CES)
    counts, outside = _on_scale(hist, scale)
    pairs = list(zip(scale.scores(), counts, strict=True))
    n = sum(counts)
    easy = sum(c for s, c in pairs if s >= scale.high_from)
    difficult = sum(c for s, c in pairs if s <= scale.low_to)
    neutral = n - easy - difficult
    if n == 0:
        return CesSummary(0, counts, 0, 0, 0, None, None, None, None, None, True, outside)
    total = sum(s * c for s, c in pairs)
    mean = total / n
    if n < 2:
        return CesSummary(
            n, counts, easy, neutral, difficult, mean, None, None, None, None, True, outside
        )
    # Σc(x−x̄)² = (nΣcx² − (Σcx)²)/n: integers up to the last division, never negative.
    squares = sum(s * s * c for s, c in pairs)
    sd = math.sqrt((n * squares - total * total) / (n * (n - 1)))
    margin = t_quantile_975(n - 1) * sd / math.sqrt(n)
    low = max(float(scale.lowest), mean - margin)
    high = min(float(scale.highest), mean + margin)
    return CesSummary(
        n=n,
        counts=counts,
        easy=easy,
        neutral=neutral,
        difficult=difficult,
        ces=mean,
        sd=sd,
        margin=margin,
        low=low,
        high=high,
        too_small=n < MIN_RELIABLE_ANSWERS,
        outside=outside,
    )


def compare_csat(current: CsatSummary, previous: CsatSummary) -> Comparison:
    """Change of CSAT in points between independent samples (unpooled two-proportion test)."""
    return compare_estimates(current.csat, previous.csat, current.se, previous.se)


def compare_ces(current: CesSummary, previous: CesSummary) -> Comparison:
    """Change of the CES mean (Welch's difference of means, normal approximation)."""
    return compare_estimates(current.ces, previous.ces, current.se, previous.se)

"""Net Promoter Score arithmetic: histograms, summaries, intervals, comparisons, formatting.

Everything here is pure (no I/O, no clock, no locale) so the chat, the exports and the charts
all show the same figures for the same answers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Final, TypeAlias

__all__ = [
    "MIN_RELIABLE_ANSWERS",
    "MISSING",
    "SCALE_SIZE",
    "Z_95",
    "Comparison",
    "Group",
    "Histogram",
    "NpsSummary",
    "add_histograms",
    "classify",
    "compare",
    "empty_histogram",
    "format_average",
    "format_margin",
    "format_nps",
    "format_pct",
    "histogram_from_scores",
    "summarize",
    "validate_histogram",
    "wald_se",
]

#: Scores run from 0 to 10 inclusive: eleven options.
SCALE_SIZE: Final = 11
#: Below this many answers a figure is flagged as too small to trust.
MIN_RELIABLE_ANSWERS: Final = 30
#: Two-sided 95 % normal quantile, as in NPS.md.
Z_95: Final = 1.96
#: Shown instead of a number that does not exist (no answers, no margin).
MISSING: Final = "—"

# Adjusted-Wald (Rocks 2016): 3/4 of an observation goes to promoters and to detractors and
# 3/2 to passives, three in all. Kept as quarters so the arithmetic stays in exact integers.
_ADJUST_QUARTERS: Final = 3
_ADJUST_TOTAL_QUARTERS: Final = 12

#: Counts of scores 0..10; index i holds how many answers scored i.
Histogram: TypeAlias = tuple[int, ...]


class Group(StrEnum):
    """The three NPS groups; values are stable strings for storage and exports."""

    PROMOTER = "promoter"
    PASSIVE = "passive"
    DETRACTOR = "detractor"


def _check_score(score: int) -> int:
    """Return score if it is an int on the 0–10 scale, else raise."""
    # bool is an int subclass; True as a "score of 1" is always a bug upstream.
    if isinstance(score, bool) or not isinstance(score, int):
        raise TypeError(f"A score must be an int from 0 to 10, got {score!r}.")
    if not 0 <= score <= 10:
        raise ValueError(f"A score must be from 0 to 10, got {score}.")
    return score


def classify(score: int) -> Group:
    """Return the NPS group of a 0–10 score (ValueError outside the scale)."""
    score = _check_score(score)
    if score >= 9:
        return Group.PROMOTER
    if score >= 7:
        return Group.PASSIVE
    return Group.DETRACTOR


def empty_histogram() -> Histogram:
    """Return a histogram with no answers."""
    return (0,) * SCALE_SIZE


def validate_histogram(hist: Histogram) -> Histogram:
    """Return hist as a tuple after checking it has 11 non-negative int counts."""
    counts = tuple(hist)
    if len(counts) != SCALE_SIZE:
        raise ValueError(f"A histogram has {SCALE_SIZE} counts (scores 0..10), got {len(counts)}.")
    for count in counts:
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"Histogram counts must be non-negative ints, got {count!r}.")
    return counts


def histogram_from_scores(scores: Iterable[int]) -> Histogram:
    """Count raw 0–10 scores into a histogram."""
    counts = [0] * SCALE_SIZE
    for score in scores:
        counts[_check_score(score)] += 1
    return tuple(counts)


def add_histograms(a: Histogram, b: Histogram) -> Histogram:
    """Return the histogram of both samples together."""
    return tuple(x + y for x, y in zip(validate_histogram(a), validate_histogram(b), strict=True))


@dataclass(frozen=True, slots=True)
class NpsSummary:
    """Everything the reports show about one sample of answers.

    Percentages, nps, average, se, margin, low, high and centre are None when n == 0.
    `nps` is the plain estimate; `low`/`high` the adjusted-Wald 95 % interval (clipped to
    [-100, 100] and always containing `nps`); `margin` is 1.96 × the adjusted SE; `se` is the
    plain Wald SE of NPS.md, which `compare` uses.
    """

    n: int
    promoters: int
    passives: int
    detractors: int
    promoter_pct: float | None
    passive_pct: float | None
    detractor_pct: float | None
    nps: float | None
    average: float | None
    se: float | None
    margin: float | None
    low: float | None
    high: float | None
    #: Centre of the adjusted-Wald interval (shrunk towards 0 for small samples).
    centre: float | None
    too_small: bool


def _group_counts(hist: Histogram) -> tuple[int, int, int]:
    """Return (promoters, passives, detractors) of a validated histogram."""
    return sum(hist[9:]), sum(hist[7:9]), sum(hist[:7])


def _plain_se(promoters: int, detractors: int, n: int) -> float:
    """Plain Wald SE of NPS in points: 100·sqrt(((p + d) − (p − d)²) / n)."""
    # Multiplied through by n² so the variance numerator is an exact, never-negative integer.
    numerator = (promoters + detractors) * n - (promoters - detractors) ** 2
    return 100.0 * math.sqrt(numerator / n**3)


def wald_se(hist: Histogram) -> float | None:
    """Return the plain Wald standard error of NPS in points (None when there are no answers)."""
    counts = validate_histogram(hist)
    promoters, _, detractors = _group_counts(counts)
    n = sum(counts)
    return None if n == 0 else _plain_se(promoters, detractors, n)


def _adjusted_wald(promoters: int, detractors: int, n: int) -> tuple[float, float]:
    """Return (centre, SE) of the adjusted-Wald NPS interval, both in points."""
    # In quarters: p' = (4P + 3) / (4n + 12), d' likewise, n' = (4n + 12) / 4.
    p4 = 4 * promoters + _ADJUST_QUARTERS
    d4 = 4 * detractors + _ADJUST_QUARTERS
    n4 = 4 * n + _ADJUST_TOTAL_QUARTERS
    centre = 100.0 * (p4 - d4) / n4
    # var' / n' = ((p4 + d4)·n4 − (p4 − d4)²) / n4² / (n4 / 4); the numerator is > 0 always.
    numerator = 4 * ((p4 + d4) * n4 - (p4 - d4) ** 2)
    return centre, 100.0 * math.sqrt(numerator / n4**3)


def summarize(hist: Histogram) -> NpsSummary:
    """Summarize a histogram: group counts and shares, NPS, average and its 95 % interval."""
    counts = validate_histogram(hist)
    promoters, passives, detractors = _group_counts(counts)
    n = promoters + passives + detractors
    if n == 0:
        # Callers show "no answers yet"; no figure is invented for an empty sample.
        return NpsSummary(
            n=0,
            promoters=0,
            passives=0,
            detractors=0,
            promoter_pct=None,
            passive_pct=None,
            detractor_pct=None,
            nps=None,
            average=None,
            se=None,
            margin=None,
            low=None,
            high=None,
            centre=None,
            too_small=True,
        )
    # Integer numerators keep equal proportions (1/3 vs 2/6) bit-for-bit equal as floats.
    nps = 100.0 * (promoters - detractors) / n
    centre, adjusted_se = _adjusted_wald(promoters, detractors, n)
    margin = Z_95 * adjusted_se
    # With a single answer the shrunk interval can miss the plain estimate (e.g. +100 vs
    # −48…+98); widen it so the figure shown never sits outside its own interval.
    low = max(-100.0, min(centre - margin, nps))
    high = min(100.0, max(centre + margin, nps))
    return NpsSummary(
        n=n,
        promoters=promoters,
        passives=passives,
        detractors=detractors,
        promoter_pct=100.0 * promoters / n,
        passive_pct=100.0 * passives / n,
        detractor_pct=100.0 * detractors / n,
        nps=nps,
        average=sum(score * count for score, count in enumerate(counts)) / n,
        se=_plain_se(promoters, detractors, n),
        margin=margin,
        low=low,
        high=high,
        centre=centre,
        too_small=n < MIN_RELIABLE_ANSWERS,
    )


@dataclass(frozen=True, slots=True)
class Comparison:
    """Change of NPS between two independent samples (current minus previous)."""

    delta: float | None
    significant: bool
    #: delta / combined SE; None when undefined (a side is empty or both have zero variance).
    z: float | None


def compare(current: NpsSummary, previous: NpsSummary) -> Comparison:
    """Compare two samples: significant when |ΔNPS| > 1.96·sqrt(SE₁² + SE₂²) (plain Wald SEs)."""
    return compare_estimates(current.nps, previous.nps, current.se, previous.se)


def compare_estimates(
    now: float | None, then: float | None, se_now: float | None, se_then: float | None
) -> Comparison:
    """Δ = now − then of two independent estimates, significant when
    |Δ| > 1.96·sqrt(SE₁² + SE₂²) (NPS here, CSAT and CES in nps/csat_math.py)."""
    if now is None or then is None or se_now is None or se_then is None:
        return Comparison(delta=None, significant=False, z=None)
    delta = now - then
    combined = math.sqrt(se_now**2 + se_then**2)
    if combined == 0.0:
        # Both samples unanimous (all +1, all 0 or all −1): the formula reduces to Δ ≠ 0 and
        # z is infinite, so it is reported as None rather than as inf in exports.
        return Comparison(delta=delta, significant=delta != 0.0, z=None)
    return Comparison(delta=delta, significant=abs(delta) > Z_95 * combined, z=delta / combined)


def _round_half_up(x: float, places: int = 0) -> Decimal:
    """Round half away from zero (not Python's half-to-even), as people round on paper."""
    if not math.isfinite(x):
        raise ValueError(f"Cannot format a non-finite number: {x!r}.")
    # Decimal(repr) rounds the number as printed, so 31.5 → 32 even if stored as 31.4999….
    return Decimal(repr(x)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def format_nps(x: float | None) -> str:
    """Format NPS in whole points with a sign: "+32", "-5", "0" ("—" for None)."""
    if x is None:
        return MISSING
    value = int(_round_half_up(x))
    # "0" and never "+0" or "-0": a tiny negative that rounds to zero is zero.
    return f"{value:+d}" if value else "0"


def format_margin(m: float | None) -> str:
    """Format a margin of error in whole points without a sign: "9" ("—" for None)."""
    if m is None:
        return MISSING
    return str(int(_round_half_up(abs(m))))


def format_pct(x: float | None) -> str:
    """Format a 0–100 share as a whole percent: "49%" ("—" for None)."""
    if x is None:
        return MISSING
    return f"{int(_round_half_up(x))}%"


def format_average(x: float | None) -> str:
    """Format an average score with one decimal: "8.1" ("—" for None)."""
    if x is None:
        return MISSING
    return f"{_round_half_up(x, 1):.1f}"

"""`/nps compare <A> vs <B> [survey] [period]`: what the owner asks to compare.

A and B are two values of one segment (`agent:olga vs agent:ivan`, `variant:A vs
variant:control`) over the same surveys and period, or two periods (`last month vs this
month`, `2026-10 vs 2026-11`) over the same surveys. Either way the two groups share no
answer, so they are independent samples (nps/compare_math.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from nps.periods import Period, PeriodError, parse_period
from nps.scope import SEGMENTS, ArgumentError, Scope, parse_report_args
from storage.repos.surveys import SurveyView

# What the owner may type before the colon, and the segment it means: every segment of
# `by X` (a new one is comparable at once), and "lang" for short.
DIMENSIONS = {name: name for name in SEGMENTS} | {"lang": "language"}
SEPARATORS = ("vs", "vs.", "versus")
EXAMPLE = "/nps compare agent:olga vs agent:ivan 30d"


@dataclass(frozen=True)
class Side:
    """One group: a segment's value, or a period (with the surveys of the command)."""

    label: str  # as the owner typed it, normalised: "agent:olga", "last month"
    scope: Scope
    dimension: str | None = None  # None for a period
    value: str | None = None


@dataclass(frozen=True)
class CompareArgs:
    """Two sides of a comparison."""

    a: Side
    b: Side

    @property
    def by_period(self) -> bool:
        """True when the sides are periods."""
        return self.a.dimension is None


def _segment(token: str) -> tuple[str, str] | None:
    """("agent", "olga") for "agent:olga"; None when the token is not dimension:value."""
    name, colon, value = token.partition(":")
    if not colon:
        return None
    dimension = DIMENSIONS.get(name.lower())
    if dimension is None:
        raise ArgumentError(
            "cmp_unknown_segment", term=token[:40], known=", ".join(sorted(set(DIMENSIONS)))
        )
    if not value:
        raise ArgumentError("cmp_usage", example=EXAMPLE)
    return dimension, value


def _period(tokens: list[str], today: date, earliest: date | None) -> tuple[Period, int] | None:
    """The period the tokens start with and how many tokens it took ("this month" reads as
    "month"); None when they start with no period."""
    for size in (2, 1):
        if len(tokens) < size:
            continue
        words = [t.lower() for t in tokens[:size]]
        if words[0] == "this" and size == 2:
            words = words[1:]
        elif size == 2 and words[0] != "last":
            continue
        try:
            return parse_period(" ".join(words), today, earliest), size
        except PeriodError:
            continue
    return None


def parse_compare_args(
    text: str,
    surveys: Sequence[SurveyView],
    *,
    today: date,
    earliest: date | None = None,
) -> CompareArgs:
    """Parses what follows `/nps compare`; raises ArgumentError with a catalog key."""
    tokens = text.split()
    at = next((i for i, t in enumerate(tokens) if t.lower() in SEPARATORS), None)
    if at is None or at == 0 or at == len(tokens) - 1:
        raise ArgumentError("cmp_usage", example=EXAMPLE)
    left, right = tokens[:at], tokens[at + 1 :]
    first = _segment(left[0]) if len(left) == 1 else None
    if first is not None:
        return _segments(first, left[0], right, surveys, today, earliest)
    return _periods(left, right, surveys, today, earliest)


def _rest_scope(
    rest: list[str], surveys: Sequence[SurveyView], today: date, earliest: date | None
) -> Scope:
    return parse_report_args(
        " ".join(rest), surveys, today=today, command="nps", earliest=earliest
    ).scope


def _segments(
    first: tuple[str, str],
    typed: str,
    right: list[str],
    surveys: Sequence[SurveyView],
    today: date,
    earliest: date | None,
) -> CompareArgs:
    second = _segment(right[0])
    if second is None:
        raise ArgumentError("cmp_mixed", a=typed[:40], b=right[0][:40])
    (dimension, a_value), (other, b_value) = first, second
    if dimension != other:
        # agent:olga vs source:shop share answers: not independent samples.
        raise ArgumentError("cmp_mixed", a=typed[:40], b=right[0][:40])
    if a_value.lower() == b_value.lower():
        raise ArgumentError("cmp_same", side=typed[:40])
    shared = _rest_scope(right[1:], surveys, today, earliest)
    prefix = "lang" if dimension == "language" else dimension
    if dimension == "survey":
        if not shared.all_surveys:
            raise ArgumentError("bad_arguments", text=" ".join(right[1:]), command="nps")
        sides = []
        for value in (a_value, b_value):
            match = [s for s in surveys if value.lower() in (s.slug.lower(), s.name.lower())]
            if not match:
                known = ", ".join(s.slug for s in surveys)
                raise ArgumentError("unknown_survey", name=value, known=known, command="nps")
            scope = Scope(tuple(match), shared.period, False, shared.default_period)
            sides.append(Side(f"survey:{match[0].slug}", scope, dimension, match[0].slug))
        return CompareArgs(sides[0], sides[1])
    return CompareArgs(
        Side(f"{prefix}:{a_value}", shared, dimension, a_value),
        Side(f"{prefix}:{b_value}", shared, dimension, b_value),
    )


def _periods(
    left: list[str],
    right: list[str],
    surveys: Sequence[SurveyView],
    today: date,
    earliest: date | None,
) -> CompareArgs:
    typed = " ".join(left)
    found = _period(left, today, earliest)
    if found is None or found[1] != len(left):
        if ":" in typed:
            raise ArgumentError("cmp_mixed", a=typed[:40], b=" ".join(right)[:40])
        raise ArgumentError("cmp_unknown_side", term=typed[:40], example=EXAMPLE)
    period_a = found[0]
    found = _period(right, today, earliest)
    if found is None:
        if ":" in right[0]:
            raise ArgumentError("cmp_mixed", a=typed[:40], b=right[0][:40])
        raise ArgumentError("cmp_unknown_side", term=right[0][:40], example=EXAMPLE)
    period_b, used = found
    b_label = " ".join(right[:used]).lower()
    shared = _rest_scope(right[used:], surveys, today, earliest)
    if not shared.default_period:
        # A third period among the rest: the sides already say which periods.
        raise ArgumentError("bad_arguments", text=" ".join(right[used:]), command="nps")
    if period_a == period_b:
        raise ArgumentError("cmp_same", side=typed[:40])
    if period_a.start <= period_b.end and period_b.start <= period_a.end:
        # Overlapping periods share answers: not independent samples.
        raise ArgumentError("cmp_overlap", a=typed[:40], b=b_label[:40])
    return CompareArgs(
        Side(typed.lower(), Scope(shared.surveys, period_a, shared.all_surveys, False)),
        Side(b_label, Scope(shared.surveys, period_b, shared.all_surveys, False)),
    )

"""The figures `GET /api/v1/nps` answers for CSAT and CES surveys: the chat's /csat and /ces
numbers (nps/csat_report.py), marked by `kind`, instead of the NPS fields."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from nps.csat_math import CesSummary, CsatSummary
from nps.csat_report import KindFigures, KindReport
from nps.periods import Period
from nps.scales import scale_of
from nps.scope import Scope


class DayRange(BaseModel):
    """Local calendar days, both included."""

    start: date
    end: date


class ScaleInterval(BaseModel):
    """The 95% interval (CSAT: Wilson score, in percent; CES: Student t, on 1–7)."""

    low: float
    high: float


class ScoreCount(BaseModel):
    """How many answers gave one score."""

    score: int
    answers: int


class ScaleScores(BaseModel):
    """What CSAT and CES samples share."""

    answers: int
    margin: float | None = Field(description="± at 95%: the interval's half-width.")
    interval: ScaleInterval | None
    too_small: bool = Field(description="Fewer than 30 answers: not to be trusted.")
    distribution: list[ScoreCount] = Field(description="Answers per score, highest first.")
    invited: int
    response_rate: float | None = Field(description="Answers per invitation, in percent.")


class CsatScores(ScaleScores):
    """One sample's CSAT figures."""

    csat: float | None = Field(description="Share of 4–5 answers, 0 to 100; null without any.")
    satisfied: int = Field(description="Answers of 4–5.")
    neutral: int = Field(description="Answers of 3.")
    dissatisfied: int = Field(description="Answers of 1–2.")
    average: float | None = Field(description="The mean rating, 1 to 5.")


class CesScores(ScaleScores):
    """One sample's CES figures."""

    ces: float | None = Field(description="The mean score, 1 to 7 (7 = very easy).")
    sd: float | None = Field(description="The sample standard deviation (null below 2).")
    easy: int = Field(description="Answers of 5–7.")
    neutral: int = Field(description="Answers of 4.")
    difficult: int = Field(description="Answers of 1–3.")


class Change(BaseModel):
    """How the figure moved against the equally long period before."""

    period: DayRange
    change: float | None = Field(description="Now minus then (CSAT points or CES score).")
    significant: bool | None = Field(description="Whether the change is beyond chance (95%).")


class CsatPrevious(CsatScores, Change):
    """The period before, and the change since."""


class CesPrevious(CesScores, Change):
    """The period before, and the change since."""


class CsatSegment(CsatScores):
    """One row of a breakdown (`value` null: answers without one)."""

    value: str | None


class CesSegment(CesScores):
    """One row of a breakdown (`value` null: answers without one)."""

    value: str | None


class CsatFigures(CsatScores):
    """The /csat figures of a CSAT survey (same numbers as the chat's)."""

    kind: Literal["csat"] = "csat"
    surveys: list[str] = Field(description="The slugs of the surveys counted.")
    period: DayRange
    previous: CsatPrevious
    segments: list[CsatSegment] | None = Field(description="With `by`: one row per value.")


class CesFigures(CesScores):
    """The /ces figures of a CES survey (same numbers as the chat's)."""

    kind: Literal["ces"] = "ces"
    surveys: list[str] = Field(description="The slugs of the surveys counted.")
    period: DayRange
    previous: CesPrevious
    segments: list[CesSegment] | None = Field(description="With `by`: one row per value.")


def _days(period: Period) -> DayRange:
    return DayRange(start=period.start, end=period.end)


def _scores(figures: KindFigures) -> dict[str, object]:
    """The fields of CsatScores or CesScores for one sample."""
    s = figures.summary
    scale = scale_of("csat" if isinstance(s, CsatSummary) else "ces")
    interval = None
    if s.low is not None and s.high is not None:
        interval = ScaleInterval(low=s.low, high=s.high)
    common: dict[str, object] = {
        "answers": s.n,
        "margin": s.margin,
        "interval": interval,
        "too_small": s.too_small,
        "distribution": [
            ScoreCount(score=score, answers=s.counts[score - scale.lowest])
            for score in reversed(scale.scores())
        ],
        "invited": figures.invited,
        "response_rate": figures.response_rate,
    }
    if isinstance(s, CsatSummary):
        return {
            **common,
            "csat": s.csat,
            "satisfied": s.satisfied,
            "neutral": s.neutral,
            "dissatisfied": s.dissatisfied,
            "average": s.average,
        }
    assert isinstance(s, CesSummary)
    return {
        **common,
        "ces": s.ces,
        "sd": s.sd,
        "easy": s.easy,
        "neutral": s.neutral,
        "difficult": s.difficult,
    }


def scale_figures(
    scope: Scope, report: KindReport, rows: list[tuple[str, KindFigures]] | None
) -> CsatFigures | CesFigures:
    """The API body of a CSAT or CES report (and its breakdown)."""
    significant = report.change.significant if report.change.delta is not None else None
    change = {
        "period": _days(report.previous_period),
        "change": report.change.delta,
        "significant": significant,
    }
    segments = None
    if rows is not None:
        segments = [{"value": value or None, **_scores(figures)} for value, figures in rows]
    body = {
        **_scores(report.current),
        "surveys": [s.slug for s in scope.surveys],
        "period": _days(scope.period),
        "previous": {**_scores(report.before), **change},
        "segments": segments,
    }
    model = CsatFigures if report.kind == "csat" else CesFigures
    return model.model_validate(body)

"""Read endpoints: the surveys and the `/nps` figures (the answers: api_responses.py).

The figures come from the same domain code as the chat's /nps (nps/nps_report.py) with the
same defaults (all NPS surveys, the last 30 days) and the same eNPS threshold
(ENPS_MIN_GROUP), so the API never tells a different number.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, RootModel, WithJsonSchema

from bot.web.api import ApiCall, ApiError, Endpoint, Reply
from bot.web.api_scales import CesFigures, CsatFigures, scale_figures
from handlers.report_kinds import scope_kind
from nps.anonymity import anonymous_scope, hidden_rows, too_few
from nps.csat_report import build_kind_report, build_kind_segments
from nps.nps_math import NpsSummary
from nps.nps_report import Figures, build_report, build_segments
from nps.periods import Period, PeriodError, parse_period
from nps.scope import SEGMENTS, Scope, reportable
from storage.store import Store

# ---------------------------------------------------------------- GET /api/v1/surveys


class SurveyItem(BaseModel):
    """One survey."""

    slug: str = Field(description="Its deep-link slug: t.me/<bot>?start=<slug>.")
    name: str
    kind: str = Field(
        description="nps (customers), enps (employees, anonymous), csat (1–5) or ces (1–7)."
    )
    active: bool
    default: bool = Field(description="The survey /start asks without a slug.")


class SurveyList(BaseModel):
    """Every survey, the default first."""

    surveys: list[SurveyItem]


async def list_surveys(call: ApiCall) -> Reply:
    """Lists the surveys."""
    async with call.app.db.snapshot() as store:
        surveys = await store.surveys.all()
    items = [
        SurveyItem(slug=s.slug, name=s.name, kind=s.kind, active=s.active, default=s.is_default)
        for s in surveys
    ]
    return Reply(200, SurveyList(surveys=items))


# ---------------------------------------------------------------- GET /api/v1/nps


def _segment(value: str) -> str:
    if value not in SEGMENTS:
        raise ValueError(f"use one of {', '.join(SEGMENTS)}")
    return value


Segment = Annotated[
    str, AfterValidator(_segment), WithJsonSchema({"type": "string", "enum": list(SEGMENTS)})
]


class NpsQuery(BaseModel):
    """What /nps takes: a survey, a period, a breakdown."""

    model_config = ConfigDict(extra="forbid")

    survey: str | None = Field(
        default=None,
        max_length=200,
        description="A survey's slug or name; default: every NPS survey. A CSAT or CES "
        "survey answers with its own figures (`kind`).",
    )
    period: str | None = Field(
        default=None,
        max_length=100,
        description="today, 7d, 30d (default), 90d, all, last month, 2026-10, "
        "2026-10-01..2026-10-31 (local days in TIMEZONE).",
    )
    by: Segment | None = Field(default=None, description="A breakdown: segments per value.")


class DateRange(BaseModel):
    """Local calendar days, both included."""

    start: date
    end: date


class Interval(BaseModel):
    """The 95% interval of the NPS (adjusted Wald)."""

    low: float
    high: float


class Scores(BaseModel):
    """One sample's figures; all null when withheld to keep eNPS answers anonymous."""

    withheld: bool = Field(description="Fewer eNPS answers than ENPS_MIN_GROUP: no figures.")
    answers: int | None
    nps: float | None = Field(description="-100 to 100; null without answers.")
    margin: float | None = Field(description="± points at 95%.")
    interval: Interval | None
    too_small: bool | None = Field(description="Fewer than 30 answers: not to be trusted.")
    promoters: int | None
    passives: int | None
    detractors: int | None
    average: float | None = Field(description="The mean score, 0 to 10.")
    invited: int | None
    response_rate: float | None = Field(description="Answers per invitation, in percent.")


class SegmentScores(Scores):
    """One row of a breakdown (`value` null: answers without one)."""

    value: str | None


class PreviousScores(Scores):
    """The equally long period before, and how the NPS moved since."""

    period: DateRange
    change: float | None = Field(description="NPS now minus NPS then, in points.")
    significant: bool | None = Field(description="Whether the change is beyond chance (95%).")


class NpsFigures(Scores):
    """The /nps figures of a scope (same numbers as the chat's)."""

    kind: Literal["nps"] = Field(
        default="nps", description="nps: NPS figures (NPS and eNPS surveys)."
    )
    surveys: list[str] = Field(description="The slugs of the surveys counted.")
    period: DateRange
    previous: PreviousScores
    segments: list[SegmentScores] | None = Field(description="With `by`: one row per value.")


class AnyFigures(
    RootModel[Annotated[NpsFigures | CsatFigures | CesFigures, Field(discriminator="kind")]]
):
    """The figures of a scope: NPS, or CSAT / CES for a survey of that kind (see `kind`)."""


def _scores(figures: Figures, withheld: bool) -> dict[str, Any]:
    """The fields of Scores for one sample."""
    s: NpsSummary = figures.summary
    if withheld:
        return {
            "withheld": True,
            **dict.fromkeys(
                (
                    "answers",
                    "nps",
                    "margin",
                    "interval",
                    "too_small",
                    "promoters",
                    "passives",
                    "detractors",
                    "average",
                    "invited",
                    "response_rate",
                )
            ),
        }
    interval = None
    if s.low is not None and s.high is not None:
        interval = Interval(low=s.low, high=s.high)
    return {
        "withheld": False,
        "answers": s.n,
        "nps": s.nps,
        "margin": s.margin,
        "interval": interval,
        "too_small": s.too_small,
        "promoters": s.promoters,
        "passives": s.passives,
        "detractors": s.detractors,
        "average": s.average,
        "invited": figures.invited,
        "response_rate": figures.response_rate,
    }


def _range(period: Period) -> DateRange:
    return DateRange(start=period.start, end=period.end)


async def _scope(call: ApiCall, store: Store, query: NpsQuery) -> Scope:
    """The surveys and period asked for, read as the chat's /nps reads them."""
    surveys = await store.surveys.all()
    today = call.app.clock().astimezone(store.stats.tz).date()
    # Only "all" needs the first day with data (a scan of the counters), as in the chat.
    wants_all = (query.period or "").strip().lower() == "all"
    earliest = await store.stats.first_day([s.id for s in surveys]) if wants_all else None
    try:
        period = parse_period(query.period, today, earliest)
    except PeriodError as exc:
        raise ApiError(422, "invalid", str(exc), field="period") from None
    default_period = query.period is None or not query.period.strip()
    if query.survey is None:
        return Scope(reportable(surveys), period, all_surveys=True, default_period=default_period)
    wanted = query.survey.strip().lower()
    match = tuple(s for s in surveys if wanted in (s.slug.lower(), s.name.lower()))
    if not match:
        raise ApiError(404, "not_found", "There is no such survey.", field="survey")
    return Scope(match, period, all_surveys=False, default_period=default_period)


async def nps_figures(call: ApiCall) -> Reply:
    """The /nps figures of a survey (default: all NPS surveys) and period (the last 30 days)."""
    query = call.query
    assert isinstance(query, NpsQuery)
    minimum = call.app.settings.enps_min_group
    async with call.app.db.snapshot() as store:
        scope = await _scope(call, store, query)
        if (kind := scope_kind(scope)) != "nps":
            # A CSAT or CES survey: its own figures, as the chat's /csat and /ces.
            scale = await build_kind_report(store, scope, kind)
            by = await build_kind_segments(store, scope, query.by, kind) if query.by else None
            return Reply(200, AnyFigures(scale_figures(scope, scale, by)))
        report = await build_report(store, scope)
        rows = await build_segments(store, scope, query.by) if query.by else None
    anonymous = anonymous_scope(scope)
    hidden_now = too_few(report.current.summary.n, anonymous, minimum)
    hidden_before = too_few(report.before.summary.n, anonymous, minimum)
    # A change between two samples tells each one's figure given the other: both or none.
    comparable = not (hidden_now or hidden_before) and report.change.delta is not None
    previous = PreviousScores(
        **_scores(report.before, hidden_before),
        period=_range(report.previous_period),
        change=report.change.delta if comparable else None,
        significant=report.change.significant if comparable else None,
    )
    segments = None
    if rows is not None:
        hidden = hidden_rows([figures.summary.n for _, figures in rows], anonymous, minimum)
        segments = [
            SegmentScores(value=value or None, **_scores(figures, index in hidden))
            for index, (value, figures) in enumerate(rows)
        ]
    figures = NpsFigures(
        **_scores(report.current, hidden_now),
        surveys=[s.slug for s in scope.surveys],
        period=_range(scope.period),
        previous=previous,
        segments=segments,
    )
    return Reply(200, AnyFigures(figures))


ENDPOINTS: list[Endpoint] = [
    Endpoint(
        method="GET",
        path="/api/v1/surveys",
        summary="The surveys: slug, name, kind, whether active and which is the default.",
        handler=list_surveys,
        responses={200: SurveyList},
    ),
    Endpoint(
        method="GET",
        path="/api/v1/nps",
        summary="The /nps figures of a survey and period, optionally broken down "
        "(a CSAT or CES survey: its /csat or /ces figures).",
        handler=nps_figures,
        responses={200: AnyFigures},
        query=NpsQuery,
        errors={404: "There is no such survey."},
    ),
]

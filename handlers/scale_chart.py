"""`/chart` of CSAT or CES surveys: the kind's figure per day, week or month with its 95 %
band, and the answers per score of the kind's scale (handlers/chart.py hands over)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import date

from handlers.chart_text import CAPTION_TITLE_CHARS, bucket_label, chart_title, shorten
from handlers.port import Deferred, Outbox, Reader
from handlers.texts import TextsLike
from nps.buckets import bucket_histograms
from nps.csat_report import figure_of, format_figure, format_spread, summarize_kind
from nps.nps_report import scope_title
from nps.periods import Period, Unit, choose_unit
from nps.scale_charts import ScaleLabels, ScalePoint, render_scale_chart
from nps.scope import Scope

log = logging.getLogger(__name__)

Counts = tuple[int, ...]


def scale_points(
    daily: Mapping[date, Counts], period: Period, unit: Unit, months: Sequence[str], kind: str
) -> tuple[list[ScalePoint], tuple[int, ...]]:
    """One chart point per bucket of day histograms, and the whole period's histogram."""
    points: list[ScalePoint] = []
    buckets, overall = bucket_histograms(daily, period, unit)
    for index, (bucket, histogram) in enumerate(buckets):
        s = summarize_kind(kind, histogram)
        points.append(
            ScalePoint(
                label=bucket_label(bucket, unit, months, first=index == 0),
                n=s.n,
                value=figure_of(s),
                low=s.low,
                high=s.high,
                counts=s.counts,
            )
        )
    return points, overall


def scale_caption(kind: str, overall: Sequence[int], heading: str, texts: TextsLike) -> str:
    """The photo's caption: the scope and the kind's figure over the whole period (HTML)."""
    title = shorten(heading, CAPTION_TITLE_CHARS)
    s = summarize_kind(kind, overall)
    if not s.n:
        return texts("chart_caption_empty", title=title)
    return texts(
        f"chart_{kind}_caption",
        title=title,
        figure=format_figure(kind, figure_of(s)),
        margin=format_spread(kind, s.margin),
        n=s.n,
    )


def scale_chart_job(chat_id: int, scope: Scope, kind: str, texts: TextsLike) -> Deferred:
    """The deferred work of a CSAT or CES /chart: read, render off the loop, send."""
    # Plain values only in the job: it runs after the handler's transaction has ended.
    survey_ids, period = scope.survey_ids, scope.period
    heading = scope_title(scope, texts)
    unit = choose_unit(period)
    title = chart_title(heading, texts.plain(f"chart_{kind}_by_{unit}"))
    labels = ScaleLabels(
        figure=texts.plain(f"chart_{kind}"),
        answers=texts.plain("chart_scores"),
        interval=texts.plain("chart_interval"),
        no_answers=texts.plain("chart_no_answers"),
    )
    months = texts.plain("months").split()

    async def draw(reader: Reader, out: Outbox) -> None:
        """Reads the day histograms, renders in a worker thread and queues the photo."""
        try:
            async with reader.snapshot() as store:
                daily = await store.stats.daily(survey_ids, period.start, period.end)
            points, overall = scale_points(daily, period, unit, months, kind)
            png = await asyncio.to_thread(
                render_scale_chart, points, kind=kind, title=title, labels=labels
            )
        except Exception:
            log.exception("chart for chat %s failed", chat_id)
            out.send(chat_id, texts("something_wrong"))
            return
        out.photo(chat_id, png, scale_caption(kind, overall, heading, texts))

    return draw

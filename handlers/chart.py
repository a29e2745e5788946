"""`/chart`: NPS per day, week or month with its 95 % band and the answer mix, as a picture."""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Mapping, Sequence
from datetime import date

from handlers.chart_text import CAPTION_TITLE_CHARS, bucket_label, chart_title, shorten
from handlers.context import UpdateContext
from handlers.events import Command, IncomingMessage
from handlers.port import Outbox, Reader
from handlers.report_kinds import scope_kind
from handlers.scale_chart import scale_chart_job
from handlers.stats import report_args
from handlers.texts import TextsLike
from nps.anonymity import anonymous_scope, too_few
from nps.buckets import bucket_histograms
from nps.charts import ChartLabels, TrendPoint, render_trend_chart
from nps.nps_math import NpsSummary, format_margin, format_nps, summarize
from nps.nps_report import scope_title
from nps.periods import Period, Unit, choose_unit

log = logging.getLogger(__name__)

# What StatsRepo.daily returns per day: invited, then the counts of scores 0..10.
Counts = tuple[int, ...]


def chart_labels(texts: TextsLike) -> ChartLabels:
    """The chart's legend and axis texts in the reader's language."""
    return ChartLabels(
        nps=texts.plain("chart_nps"),
        answers=texts.plain("chart_answers"),
        promoters=texts.plain("chart_promoters"),
        passives=texts.plain("chart_passives"),
        detractors=texts.plain("chart_detractors"),
        interval=texts.plain("chart_interval"),
        no_answers=texts.plain("chart_no_answers"),
    )


def trend_points(
    daily: Mapping[date, Counts], period: Period, unit: Unit, months: Sequence[str]
) -> tuple[list[TrendPoint], NpsSummary]:
    """Sums the day histograms into buckets: one chart point each, plus the whole period."""
    points: list[TrendPoint] = []
    buckets, overall = bucket_histograms(daily, period, unit)
    for index, (bucket, histogram) in enumerate(buckets):
        s = summarize(histogram)
        points.append(
            TrendPoint(
                label=bucket_label(bucket, unit, months, first=index == 0),
                n=s.n,
                nps=s.nps,
                low=s.low,
                high=s.high,
                promoters=s.promoters,
                passives=s.passives,
                detractors=s.detractors,
            )
        )
    return points, summarize(overall)


def chart_caption(summary: NpsSummary, heading: str, texts: TextsLike) -> str:
    """The photo's caption: the scope and the NPS of the whole period (HTML)."""
    title = shorten(heading, CAPTION_TITLE_CHARS)
    if not summary.n:
        return texts("chart_caption_empty", title=title)
    key = "chart_caption_small" if summary.too_small else "chart_caption"
    return texts(
        key,
        title=title,
        nps=format_nps(summary.nps),
        margin=format_margin(summary.margin),
        n=summary.n,
    )


async def on_chart(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Sends a picture of NPS per day, week or month with its band and the answer mix
    (CSAT or CES surveys: their own figure and scale)."""
    args = await report_args(event, command, ctx)
    if args is None:
        return
    scope = args.scope
    texts = ctx.texts
    if (kind := scope_kind(scope)) != "nps":
        # CSAT or CES: its own figure and scale (handlers/scale_chart.py).
        ctx.out.defer(scale_chart_job(event.chat_id, scope, kind, texts))
        return
    # Plain values only in the job: it runs after this transaction has ended.
    chat_id, survey_ids, period = event.chat_id, scope.survey_ids, scope.period
    heading = scope_title(scope, texts)
    unit = choose_unit(period)
    title = chart_title(heading, texts.plain(f"chart_by_{unit}"))
    labels = chart_labels(texts)
    months = texts.plain("months").split()
    # eNPS: no picture of fewer answers than ENPS_MIN_GROUP (it would show their scores).
    anonymous, minimum = anonymous_scope(scope), ctx.config.enps_min_group

    async def draw(reader: Reader, out: Outbox) -> None:
        """Reads the day histograms, renders off the event loop and queues the photo."""
        try:
            async with reader.snapshot() as store:
                daily = await store.stats.daily(survey_ids, period.start, period.end)
            points, overall = trend_points(daily, period, unit, months)
            if too_few(overall.n, anonymous, minimum):
                hidden = texts("enps_hidden", min=minimum)
                out.send(chat_id, f"<b>{html.escape(heading)}</b>\n{hidden}")
                return
            # Rendering is a few hundred ms of CPU: a worker thread keeps other chats flowing.
            png = await asyncio.to_thread(render_trend_chart, points, title=title, labels=labels)
        except Exception:
            # The command's transaction is long over, so nobody else would tell the user.
            log.exception("chart for chat %s failed", chat_id)
            out.send(chat_id, texts("something_wrong"))
            return
        out.photo(chat_id, png, chart_caption(overall, heading, texts))

    ctx.out.defer(draw)

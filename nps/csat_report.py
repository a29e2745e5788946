"""The `/csat` and `/ces` figures: computed from the same score histograms as /nps (index =
score), rendered for the chat. CSAT is the share of 4–5 answers with its Wilson interval,
CES the mean score with its t interval (nps/csat_math.py)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from nps.csat_math import (
    CesSummary,
    CsatSummary,
    compare_ces,
    compare_csat,
    summarize_ces,
    summarize_csat,
)
from nps.nps_math import (
    MIN_RELIABLE_ANSWERS,
    MISSING,
    Comparison,
    format_average,
    format_margin,
    format_pct,
)
from nps.nps_report import (
    PHONE_COLUMNS,
    TOO_FEW_MARK,
    Texts,
    describe_period,
    number,
    period_counts,
    response_rate,
    scope_title,
    segment_rows,
    shorten,
)
from nps.periods import Period
from nps.scales import CES, CSAT, scale_of
from nps.scope import Scope
from storage.store import Store

Summary = CsatSummary | CesSummary
Counts = tuple[int, ...]
STAR = "⭐"


def summarize_kind(kind: str, histogram: Sequence[int]) -> Summary:
    """The kind's summary of an 11-count histogram."""
    return summarize_csat(histogram) if kind == CSAT else summarize_ces(histogram)


def compare_kind(current: Summary, before: Summary) -> Comparison:
    """The change of the kind's figure between two samples."""
    if isinstance(current, CsatSummary) and isinstance(before, CsatSummary):
        return compare_csat(current, before)
    if isinstance(current, CesSummary) and isinstance(before, CesSummary):
        return compare_ces(current, before)
    raise TypeError("both samples must be of one kind")


def figure_of(summary: Summary) -> float | None:
    """CSAT in percent, or the CES mean."""
    return summary.csat if isinstance(summary, CsatSummary) else summary.ces


@dataclass(frozen=True)
class KindFigures:
    """One sample's CSAT or CES summary plus how many were invited."""

    summary: Summary
    invited: int

    @classmethod
    def of(cls, kind: str, counts: Counts | None) -> KindFigures:
        """Figures from stored counters (invited, then scores 0..10)."""
        counts = counts or (0,) * 12
        return cls(summarize_kind(kind, tuple(counts[1:])), counts[0])

    @property
    def response_rate(self) -> float | None:
        """Answered / invited in percent (None when nobody was invited)."""
        return response_rate(self.summary.n, self.invited)


@dataclass(frozen=True)
class KindReport:
    """The live CSAT or CES of a scope, and how it moved against the previous period."""

    kind: str
    scope: Scope
    current: KindFigures
    before: KindFigures
    previous_period: Period
    change: Comparison


async def build_kind_report(store: Store, scope: Scope, kind: str) -> KindReport:
    """Sums the histograms of the period and of the equally long period before it."""
    current, before, earlier = await period_counts(store, scope)
    now, then = KindFigures.of(kind, current), KindFigures.of(kind, before)
    return KindReport(kind, scope, now, then, earlier, compare_kind(now.summary, then.summary))


async def build_kind_segments(
    store: Store, scope: Scope, segment: str, kind: str
) -> list[tuple[str, KindFigures]]:
    """Figures per segment (nps.scope.SEGMENTS), largest samples first."""
    return await segment_rows(store, scope, segment, lambda counts: KindFigures.of(kind, counts))


def format_figure(kind: str, value: float | None) -> str:
    """ "80%" for CSAT, "5.2" for CES ("—" for None)."""
    return format_pct(value) if kind == CSAT else format_average(value)


def format_spread(kind: str, value: float | None) -> str:
    """A margin or a change without sign: whole points for CSAT, one decimal for CES."""
    if value is None:
        return MISSING
    return format_margin(value) if kind == CSAT else format_average(abs(value))


def _share(count: int, n: int) -> str:
    return format_pct(100.0 * count / n) if n else MISSING


def _score_line(kind: str, s: Summary, texts: Texts) -> str:
    figure, margin = format_figure(kind, figure_of(s)), format_spread(kind, s.margin)
    if s.too_small or s.low is None:
        return texts(f"{kind}_line_small", figure=figure, margin=margin, n=number(s.n))
    return texts(
        f"{kind}_line",
        figure=figure,
        margin=margin,
        low=format_figure(kind, s.low),
        high=format_figure(kind, s.high),
        n=number(s.n),
    )


def _groups_line(s: Summary, texts: Texts) -> str:
    if isinstance(s, CsatSummary):
        high, middle, low = s.satisfied, s.neutral, s.dissatisfied
    else:
        high, middle, low = s.easy, s.neutral, s.difficult
    kind = CSAT if isinstance(s, CsatSummary) else CES
    return texts(
        f"{kind}_groups_line",
        high=number(high),
        high_pct=_share(high, s.n),
        middle=number(middle),
        middle_pct=_share(middle, s.n),
        low=number(low),
        low_pct=_share(low, s.n),
    )


def distribution_lines(kind: str, counts: Sequence[int]) -> list[str]:
    """One line per score, highest first: "⭐⭐⭐⭐⭐ 50 (42%)" (CSAT), "7 · 12 (30%)" (CES)."""
    scale = scale_of(kind)
    n = sum(counts)
    lines = []
    for score in reversed(scale.scores()):
        count = counts[score - scale.lowest]
        label = STAR * score if kind == CSAT else f"{score} ·"
        lines.append(f"{label} {number(count)} ({_share(count, n)})")
    return lines


def _change_line(report: KindReport, texts: Texts) -> str:
    before = report.before.summary
    range_text = describe_period(report.previous_period, texts)
    if not before.n:
        return texts("previous_none", range=range_text)
    delta = report.change.delta or 0.0
    # The smallest change the line can show: 1 point of CSAT, 0.1 of CES.
    step = 0.5 if report.kind == CSAT else 0.05
    arrow = "▲" if delta > step else "▼" if delta < -step else "="
    return texts(
        "previous_line",
        range=range_text,
        before=format_figure(report.kind, figure_of(before)),
        now=format_figure(report.kind, figure_of(report.current.summary)),
        arrow=arrow,
        delta=format_spread(report.kind, delta),
        verdict=texts.plain("significant" if report.change.significant else "not_significant"),
    )


def render_kind_report(report: KindReport, texts: Texts) -> str:
    """The `/csat` or `/ces` message (HTML)."""
    kind = report.kind
    title = texts.plain(f"{kind}_title", title=scope_title(report.scope, texts))
    lines = [f"<b>{html.escape(title)}</b>"]
    s = report.current.summary
    if not s.n:
        lines.append(texts("no_answers"))
        if report.current.invited:
            lines.append(texts("invited_only", invited=number(report.current.invited)))
        return "\n".join(lines)
    lines.append(_score_line(kind, s, texts))
    lines.append(_groups_line(s, texts))
    lines.append(texts(f"{kind}_distribution"))
    lines.extend(html.escape(line) for line in distribution_lines(kind, s.counts))
    if isinstance(s, CsatSummary):
        lines.append(texts("csat_average_line", average=format_average(s.average)))
    rate = report.current.response_rate
    if rate is not None:
        lines.append(
            texts(
                "scale_rate_line",
                rate=format_pct(rate),
                n=number(s.n),
                invited=number(report.current.invited),
            )
        )
    lines.append(_change_line(report, texts))
    return "\n".join(lines)


def render_kind_segments(
    rows: list[tuple[str, KindFigures]], scope: Scope, segment: str, kind: str, texts: Texts
) -> str:
    """The `/csat by …` or `/ces by …` table, aligned in <pre> within PHONE_COLUMNS.

    Columns: segment, answers, the figure (marked when too few answers to trust), margin.
    """
    title = texts.plain(f"{kind}_by_title", segment=texts.plain(f"segment_{segment}"))
    head = f"<b>{html.escape(title)}</b>\n{html.escape(scope_title(scope, texts))}"
    if not rows:
        return f"{head}\n{texts('no_answers')}"

    def label(value: str) -> str:
        return value or texts.plain("segment_none")

    count_head, segment_head = texts.plain("col_answers"), texts.plain(f"segment_{segment}")
    counts = [number(figures.summary.n) for _, figures in rows]
    count_width = max(len(count_head), *(len(c) for c in counts))
    # name␣count␣figure*␣±m: "100%" is 4 wide, "5.2" 3; the margin 3.
    fixed = 1 + count_width + 1 + 4 + len(TOO_FEW_MARK) + 1 + 3
    longest = max(len(segment_head), *(len(label(v)) for v, _ in rows))
    width = max(1, min(longest, PHONE_COLUMNS - fixed))
    pad = " " * len(TOO_FEW_MARK)
    name_head = kind.upper()
    body = [
        f"{shorten(segment_head, width):<{width}} {count_head:>{count_width}} "
        f"{name_head:>4}{pad} {'±':>3}"
    ]
    marked = False
    for (value, figures), count in zip(rows, counts, strict=True):
        s = figures.summary
        name = shorten(label(value), width)
        if not s.n:
            body.append(f"{name:<{width}} {count:>{count_width}} {MISSING:>4}{pad} {MISSING:>3}")
            continue
        mark = TOO_FEW_MARK if s.too_small else pad
        marked = marked or s.too_small
        margin = MISSING if s.too_small else format_spread(kind, s.margin)
        figure = format_figure(kind, figure_of(s))
        body.append(f"{name:<{width}} {count:>{count_width}} {figure:>4}{mark} {margin:>3}")
    table = f"{head}\n<pre>{html.escape(chr(10).join(line.rstrip() for line in body))}</pre>"
    if marked:
        table += "\n" + texts("too_few_note", mark=TOO_FEW_MARK, min=MIN_RELIABLE_ANSWERS)
    return table

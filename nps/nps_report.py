"""The `/nps` figures: computed from score histograms, rendered for the chat."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol, TypeVar

from nps.anonymity import DEFAULT_MIN_GROUP, anonymous_scope, hidden_rows, too_few
from nps.nps_math import (
    MIN_RELIABLE_ANSWERS,
    Comparison,
    NpsSummary,
    compare,
    format_average,
    format_margin,
    format_nps,
    format_pct,
    summarize,
)
from nps.periods import Period, previous
from nps.scope import Scope
from storage.store import Store

Counts = tuple[int, ...]


class Texts(Protocol):
    """A language's catalog (bot.i18n.Texts)."""

    def __call__(self, key: str, **values: Any) -> str:
        """The text as HTML."""
        ...

    def plain(self, key: str, **values: Any) -> str:
        """The text without markup."""
        ...


class _Answered(Protocol):
    """Anything with a count of answers (a summary of any kind)."""

    @property
    def n(self) -> int: ...


class Sample(Protocol):
    """One sample's figures of any kind: its summary (with `n` answers) and the invited."""

    @property
    def summary(self) -> _Answered: ...

    @property
    def invited(self) -> int: ...


SampleT = TypeVar("SampleT", bound=Sample)


def response_rate(answered: int, invited: int) -> float | None:
    """Answered / invited in percent (None when nobody was invited)."""
    if not invited:
        return None
    return min(100.0, 100.0 * answered / invited)


@dataclass(frozen=True)
class Figures:
    """One sample's NPS summary plus how many were invited."""

    summary: NpsSummary
    invited: int

    @classmethod
    def of(cls, counts: Counts | None) -> Figures:
        """Figures from stored counters (invited, then scores 0..10)."""
        counts = counts or (0,) * 12
        return cls(summarize(tuple(counts[1:])), counts[0])

    @property
    def response_rate(self) -> float | None:
        """Answered / invited in percent (None when nobody was invited)."""
        return response_rate(self.summary.n, self.invited)


@dataclass(frozen=True)
class NpsReport:
    """The live score for a scope, and how it moved against the previous period."""

    scope: Scope
    current: Figures
    before: Figures
    previous_period: Period
    change: Comparison


async def period_counts(store: Store, scope: Scope) -> tuple[Counts | None, Counts | None, Period]:
    """The stored counters of the scope's period and of the equally long period before it
    (None where nothing was counted), and that earlier period."""
    ids = scope.survey_ids
    period = scope.period
    earlier = previous(period)
    current = await store.stats.totals(ids, period.start, period.end)
    before = await store.stats.totals(ids, earlier.start, earlier.end)
    return current.get(""), before.get(""), earlier


async def build_report(store: Store, scope: Scope) -> NpsReport:
    """Sums the histograms of the period and of the equally long period before it."""
    current, before, earlier = await period_counts(store, scope)
    now, then = Figures.of(current), Figures.of(before)
    return NpsReport(scope, now, then, earlier, compare(now.summary, then.summary))


async def segment_rows(
    store: Store, scope: Scope, segment: str, figures: Callable[[Counts], SampleT]
) -> list[tuple[str, SampleT]]:
    """`figures` of the stored counters per agent / source / campaign / language / channel /
    survey / variant (nps.scope.SEGMENTS), rows with neither answers nor invitations left
    out, largest samples first."""
    period = scope.period
    if segment == "survey":
        by_id = await store.stats.totals_by_survey(scope.survey_ids, period.start, period.end)
        names = {s.id: s.name for s in scope.surveys}
        rows = [(names[sid], figures(counts)) for sid, counts in by_id.items()]
    else:
        totals = await value_totals(store, scope, segment)
        rows = [(value, figures(counts)) for value, counts in totals.items()]
    rows = [row for row in rows if row[1].summary.n or row[1].invited]
    return sorted(rows, key=lambda row: (-row[1].summary.n, row[0]))


async def value_totals(store: Store, scope: Scope, segment: str) -> dict[str, Counts]:
    """The stored counters per value of a segment other than survey (agent, source, …),
    or per arm of the A/B broadcasts (variant)."""
    period = scope.period
    if segment == "variant":
        # A/B broadcasts' arms: read from the recorded assignments (no counters).
        start, end = period.bounds(store.stats.tz)
        return await store.variants.totals(scope.survey_ids, start, end)
    return await store.stats.totals(scope.survey_ids, period.start, period.end, segment)


async def build_segments(store: Store, scope: Scope, segment: str) -> list[tuple[str, Figures]]:
    """Figures per agent / source / campaign / language / channel / survey / variant,
    largest samples first."""
    return await segment_rows(store, scope, segment, Figures.of)


def describe_period(period: Period, texts: Texts) -> str:
    """ "23 Oct – 22 Nov 2026" with month names in the reader's language."""
    months = texts.plain("months").split()

    def day_month(day: date) -> str:
        return f"{day.day} {months[day.month - 1]}"

    start, end = period.start, period.end
    if start.year != end.year:
        return f"{day_month(start)} {start.year} – {day_month(end)} {end.year}"
    if start == end:
        return f"{day_month(end)} {end.year}"
    if start.month == end.month:
        return f"{start.day} – {day_month(end)} {end.year}"
    return f"{day_month(start)} – {day_month(end)} {end.year}"


def scope_title(scope: Scope, texts: Texts) -> str:
    """ "Delivery · last 30 days (24 Oct – 22 Nov 2026)" (plain text)."""
    if scope.all_surveys and len(scope.surveys) != 1:
        survey = texts.plain("all_surveys")
    else:
        survey = ", ".join(s.name for s in scope.surveys)
    range_text = describe_period(scope.period, texts)
    if scope.default_period:
        period = texts.plain("last_days", days=scope.period.days, range=range_text)
    else:
        period = range_text
    return f"{survey} · {period}"


def shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters, ending in "…" when cut (comments in lists:
    their newlines would break the layout)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def number(n: int) -> str:
    """12 345: a thin space groups thousands in every language."""
    return f"{n:,}".replace(",", "\u202f")


def render_report(
    report: NpsReport,
    texts: Texts,
    extra_lines: list[str] | None = None,
    *,
    min_group: int = DEFAULT_MIN_GROUP,
) -> str:
    """The `/nps` message (HTML); an eNPS score of fewer than `min_group` answers is
    withheld, with the reason."""
    lines = [
        f"<b>{html.escape(texts.plain('nps_title', title=scope_title(report.scope, texts)))}</b>"
    ]
    s = report.current.summary
    anonymous = anonymous_scope(report.scope)
    if too_few(s.n, anonymous, min_group):
        # Nor the extra lines: "1 open detractor case" is a figure of those answers too.
        lines.append(texts("enps_hidden", min=min_group))
        return "\n".join(lines)
    if not s.n:
        lines.append(texts("no_answers"))
        if report.current.invited:
            lines.append(texts("invited_only", invited=number(report.current.invited)))
        lines.extend(extra_lines or [])
        return "\n".join(lines)
    if s.too_small:
        lines.append(
            texts("score_line_small", nps=format_nps(s.nps), margin=format_margin(s.margin), n=s.n)
        )
    else:
        lines.append(
            texts(
                "score_line",
                nps=format_nps(s.nps),
                margin=format_margin(s.margin),
                low=format_nps(s.low),
                high=format_nps(s.high),
                n=number(s.n),
            )
        )
    lines.append(
        texts(
            "groups_line",
            promoters=number(s.promoters),
            promoters_pct=format_pct(s.promoter_pct),
            passives=number(s.passives),
            passives_pct=format_pct(s.passive_pct),
            detractors=number(s.detractors),
            detractors_pct=format_pct(s.detractor_pct),
        )
    )
    rate = report.current.response_rate
    if rate is None:
        lines.append(texts("average_line", average=format_average(s.average)))
    else:
        lines.append(
            texts(
                "average_rate_line",
                average=format_average(s.average),
                rate=format_pct(rate),
                n=number(s.n),
                invited=number(report.current.invited),
            )
        )
    lines.append(_change_line(report, texts, min_group if anonymous else 0))
    lines.extend(extra_lines or [])
    return "\n".join(lines)


def _change_line(report: NpsReport, texts: Texts, min_group: int = 0) -> str:
    before = report.before.summary
    range_text = describe_period(report.previous_period, texts)
    if too_few(before.n, bool(min_group), min_group):
        return texts("enps_previous_hidden", range=range_text, min=min_group)
    if not before.n:
        return texts("previous_none", range=range_text)
    delta = report.change.delta or 0.0
    arrow = "▲" if delta > 0.5 else "▼" if delta < -0.5 else "="
    return texts(
        "previous_line",
        range=range_text,
        before=format_nps(before.nps),
        now=format_nps(report.current.summary.nps),
        arrow=arrow,
        delta=format_margin(delta),
        verdict=texts.plain("significant" if report.change.significant else "not_significant"),
    )


# A phone shows about 32 monospace characters on a line: wider rows of the `/nps by …`
# table wrap and the columns fall apart.
PHONE_COLUMNS = 32
# The mark on a row whose score rests on too few answers (explained once, under the table).
TOO_FEW_MARK = "*"
# The mark on an eNPS row withheld to keep its answers anonymous (ENPS_MIN_GROUP).
HIDDEN_MARK = "†"


def render_segments(
    rows: list[tuple[str, Figures]],
    scope: Scope,
    segment: str,
    texts: Texts,
    *,
    min_group: int = DEFAULT_MIN_GROUP,
) -> str:
    """The `/nps by …` table, aligned in <pre>, no row wider than PHONE_COLUMNS.

    Columns: segment, answers, NPS (marked when too few answers to trust), margin. The
    segment column takes what the others leave; longer names are cut with "…". For eNPS,
    rows of fewer than `min_group` answers (and enough others that they cannot be worked
    out from the total) show neither their count nor their score.
    """
    anonymous = anonymous_scope(scope)
    hidden = hidden_rows([figures.summary.n for _, figures in rows], anonymous, min_group)
    title = texts.plain("nps_by_title", segment=texts.plain(f"segment_{segment}"))
    head = f"<b>{html.escape(title)}</b>\n{html.escape(scope_title(scope, texts))}"
    if not rows:
        return f"{head}\n{texts('no_answers')}"
    label: Callable[[str], str] = lambda v: v or texts.plain("segment_none")  # noqa: E731
    count_head, segment_head = texts.plain("col_answers"), texts.plain(f"segment_{segment}")
    counts = [
        "—" if index in hidden else number(figures.summary.n)
        for index, (_, figures) in enumerate(rows)
    ]
    count_width = max(len(count_head), *(len(c) for c in counts))
    # name␣count␣NPS*␣±m: the NPS column is 4 wide plus its mark, the margin 3.
    fixed = 1 + count_width + 1 + 4 + len(TOO_FEW_MARK) + 1 + 3
    longest = max(len(segment_head), *(len(label(v)) for v, _ in rows))
    width = max(1, min(longest, PHONE_COLUMNS - fixed))
    pad = " " * len(TOO_FEW_MARK)
    body = [
        f"{shorten(segment_head, width):<{width}} {count_head:>{count_width}} "
        f"{'NPS':>4}{pad} {'±':>3}"
    ]
    marked = False
    for index, ((value, figures), count) in enumerate(zip(rows, counts, strict=True)):
        s = figures.summary
        name = shorten(label(value), width)
        if index in hidden:
            body.append(f"{name:<{width}} {count:>{count_width}} {'—':>4}{HIDDEN_MARK} {'—':>3}")
            continue
        if not s.n:
            body.append(f"{name:<{width}} {count:>{count_width}} {'—':>4}{pad} {'—':>3}")
            continue
        mark = TOO_FEW_MARK if s.too_small else pad
        marked = marked or s.too_small
        margin = "—" if s.too_small else format_margin(s.margin)
        body.append(
            f"{name:<{width}} {count:>{count_width}} {format_nps(s.nps):>4}{mark} {margin:>3}"
        )
    table = f"{head}\n<pre>{html.escape(chr(10).join(line.rstrip() for line in body))}</pre>"
    if marked:
        table += "\n" + texts("too_few_note", mark=TOO_FEW_MARK, min=MIN_RELIABLE_ANSWERS)
    if hidden:
        table += "\n" + texts("enps_rows_hidden", mark=HIDDEN_MARK, min=min_group)
    return table

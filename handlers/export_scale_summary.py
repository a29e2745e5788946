"""The Summary sheet of an XLSX export of CSAT or CES surveys: the /csat or /ces figures,
the groups, the answers per score and a table per segment, as numbers."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Protocol

from handlers.export_rows import Cell, context_rows, rounded, score_table
from handlers.port import Reader
from handlers.texts import TextsLike
from nps.csat_math import CesSummary, CsatSummary
from nps.csat_report import KindFigures, build_kind_report, build_kind_segments, figure_of
from nps.exports import SummaryTable
from nps.scales import CSAT, scale_of
from nps.scope import SEGMENTS, Scope


class FiguresSource(Reader, Protocol):
    """A database that offers snapshots, and the zone of its reporting days."""

    tz: tzinfo


def _groups(summary: CsatSummary | CesSummary) -> tuple[int, int, int]:
    """(high, middle, low) group counts."""
    if isinstance(summary, CsatSummary):
        return summary.satisfied, summary.neutral, summary.dissatisfied
    return summary.easy, summary.neutral, summary.difficult


def _group_titles(kind: str, t: TextsLike) -> tuple[str, str, str]:
    if kind == CSAT:
        names = ("satisfied", "neutral_csat", "dissatisfied")
    else:
        names = ("easy", "neutral_ces", "difficult")
    high, middle, low = (t.plain(f"export_group_{name}") for name in names)
    return high, middle, low


def _places(kind: str) -> int:
    """CSAT in percent to one decimal; a CES mean to two."""
    return 1 if kind == CSAT else 2


def _segment_row(label: str, kind: str, figures: KindFigures, t: TextsLike) -> list[Cell]:
    s = figures.summary
    high, middle, low = _groups(s)
    note = t.plain("too_few") if s.n and s.too_small else None
    return [
        label,
        s.n,
        rounded(figure_of(s), _places(kind)),
        rounded(s.margin, _places(kind)),
        high,
        middle,
        low,
        figures.invited,
        rounded(figures.response_rate),
        note,
    ]


async def scale_summary_tables(
    source: FiguresSource, scope: Scope, kind: str, texts: TextsLike, exported_at: datetime
) -> list[SummaryTable]:
    """The /csat or /ces figures and a table per segment of nps.scope.SEGMENTS (numbers)."""
    async with source.snapshot() as store:
        report = await build_kind_report(store, scope, kind)
        segments = {seg: await build_kind_segments(store, scope, seg, kind) for seg in SEGMENTS}
    t = texts.plain
    s = report.current.summary
    before = report.before.summary
    places = _places(kind)
    figures: list[list[Cell]] = [
        [t(f"export_row_{kind}"), rounded(figure_of(s), places)],
        [t("export_row_margin"), rounded(s.margin, places)],
        [t("export_row_low"), rounded(s.low, places)],
        [t("export_row_high"), rounded(s.high, places)],
        [t("export_row_answers"), s.n],
    ]
    if isinstance(s, CsatSummary):
        figures.append([t("export_row_csat_average"), rounded(s.average, 2)])
    else:
        figures.append([t("export_row_sd"), rounded(s.sd, 2)])
    figures += [
        [t("export_row_invited"), report.current.invited],
        [t("export_row_rate"), rounded(report.current.response_rate)],
        [
            t("export_row_previous", range=report.previous_period.key),
            rounded(figure_of(before), places),
        ],
        [t("export_row_change"), rounded(report.change.delta, places)],
        *context_rows(texts, scope, source.tz, exported_at),
    ]
    if s.n and s.too_small:
        figures.append([t("export_row_warning"), t("too_few")])
    high, middle, low = _groups(s)
    titles = _group_titles(kind, texts)

    def share(count: int) -> float | None:
        return rounded(100.0 * count / s.n) if s.n else None

    scale = scale_of(kind)
    tables = [
        score_table(texts, figures),
        SummaryTable(
            t("export_table_groups"),
            [t("export_col_group"), t("export_col_count"), t("export_col_share")],
            [
                [title, count, share(count)]
                for title, count in zip(titles, (high, middle, low), strict=True)
            ],
        ),
        SummaryTable(
            t("export_table_distribution"),
            [t("export_col_score"), t("export_col_count"), t("export_col_share")],
            [
                [score, s.counts[score - scale.lowest], share(s.counts[score - scale.lowest])]
                for score in reversed(scale.scores())
            ],
        ),
    ]
    header = [
        t("export_col_count"),
        t(f"export_col_{kind}"),
        t("export_col_margin"),
        *titles,
        t("export_col_invited"),
        t("export_col_rate"),
        t("export_col_note"),
    ]
    for segment, lines in segments.items():
        tables.append(
            SummaryTable(
                t(f"{kind}_by_title", segment=t(f"segment_{segment}")),
                [t(f"segment_{segment}").capitalize(), *header],
                [
                    _segment_row(value or t("segment_none"), kind, fig, texts)
                    for value, fig in lines
                ],
            )
        )
    return tables

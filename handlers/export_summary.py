"""The Summary sheet of an XLSX export: the /nps figures and the per-segment tables, as
numbers, within the eNPS anonymity threshold; and `ExportSource`, the database an export
reads (snapshots for figures, bare sessions for streaming)."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Protocol, runtime_checkable

from handlers.export_rows import Cell, context_rows, rounded, score_table
from handlers.export_scale_summary import scale_summary_tables
from handlers.port import Reader
from handlers.report_kinds import scope_kind
from handlers.texts import TextsLike
from nps.anonymity import DEFAULT_MIN_GROUP, anonymous_scope, hidden_rows, too_few
from nps.exports import SummaryTable
from nps.nps_report import Figures, build_report, build_segments
from nps.scope import SEGMENTS, Scope
from storage.streams import SessionSource, count_responses


@runtime_checkable
class ExportSource(Reader, SessionSource, Protocol):
    """A database that offers snapshots (figures), bare sessions (streaming) and its zone."""

    tz: tzinfo  # reporting days are local days in this zone (TIMEZONE)


def _figures_row(label: str, figures: Figures, texts: TextsLike) -> list[Cell]:
    """One line of a per-segment table: answers, NPS, margin, groups, average, rate."""
    s = figures.summary
    note = texts.plain("too_few") if s.n and s.too_small else None
    return [
        label,
        s.n,
        rounded(s.nps),
        rounded(s.margin),
        s.promoters,
        s.passives,
        s.detractors,
        rounded(s.average, 2),
        figures.invited,
        rounded(figures.response_rate),
        note,
    ]


def _hidden_row(label: str, texts: TextsLike, min_group: int) -> list[Cell]:
    """A segment line withheld to keep eNPS answers anonymous: its name and why."""
    note = texts.plain("enps_rows_hidden", mark="", min=min_group).strip()
    return [label, None, None, None, None, None, None, None, None, None, note]


async def withheld(source: ExportSource, scope: Scope, min_group: int) -> bool:
    """True when the scope is eNPS with fewer than `min_group` answers: nothing is exported."""
    if not anonymous_scope(scope):
        return False
    start, end = scope.period.bounds(source.tz)
    return too_few(await count_responses(source, scope.survey_ids, start, end), True, min_group)


async def summary_tables(
    source: ExportSource,
    scope: Scope,
    texts: TextsLike,
    exported_at: datetime,
    *,
    min_group: int = DEFAULT_MIN_GROUP,
) -> list[SummaryTable]:
    """The /nps figures and a table per segment of nps.scope.SEGMENTS (numbers).

    For eNPS, the anonymity threshold holds as in the chat: no figure of fewer than
    `min_group` answers, no segment line that would give one away. CSAT and CES surveys
    get their own figures (handlers/export_scale_summary.py).
    """
    if (kind := scope_kind(scope)) != "nps":
        return await scale_summary_tables(source, scope, kind, texts, exported_at)
    async with source.snapshot() as store:
        report = await build_report(store, scope)
        segments = {seg: await build_segments(store, scope, seg) for seg in SEGMENTS}
    t = texts.plain
    s = report.current.summary
    before = report.before.summary
    delta = report.change.delta
    anonymous = anonymous_scope(scope)
    if too_few(s.n, anonymous, min_group):
        rows: list[list[Cell]] = [
            [t("export_row_warning"), t("enps_hidden", min=min_group)],
            *context_rows(texts, scope, source.tz, exported_at),
        ]
        return [score_table(texts, rows)]
    if too_few(before.n, anonymous, min_group):
        before, delta = Figures.of(None).summary, None
    figures: list[list[Cell]] = [
        [t("export_row_nps"), rounded(s.nps)],
        [t("export_row_margin"), rounded(s.margin)],
        [t("export_row_low"), rounded(s.low)],
        [t("export_row_high"), rounded(s.high)],
        [t("export_row_answers"), s.n],
        [t("export_row_average"), rounded(s.average, 2)],
        [t("export_row_invited"), report.current.invited],
        [t("export_row_rate"), rounded(report.current.response_rate)],
        [t("export_row_previous", range=report.previous_period.key), rounded(before.nps)],
        [t("export_row_change"), rounded(delta)],
        *context_rows(texts, scope, source.tz, exported_at),
    ]
    if s.n and s.too_small:
        figures.append([t("export_row_warning"), t("too_few")])
    tables = [
        score_table(texts, figures),
        SummaryTable(
            t("export_table_groups"),
            [t("export_col_group"), t("export_col_count"), t("export_col_share")],
            [
                [t("export_group_promoters"), s.promoters, rounded(s.promoter_pct)],
                [t("export_group_passives"), s.passives, rounded(s.passive_pct)],
                [t("export_group_detractors"), s.detractors, rounded(s.detractor_pct)],
            ],
        ),
    ]
    header = [
        t("export_col_count"),
        t("export_col_nps"),
        t("export_col_margin"),
        t("export_col_promoters"),
        t("export_col_passives"),
        t("export_col_detractors"),
        t("export_col_average"),
        t("export_col_invited"),
        t("export_col_rate"),
        t("export_col_note"),
    ]
    for segment, lines in segments.items():
        hidden = hidden_rows([fig.summary.n for _, fig in lines], anonymous, min_group)
        tables.append(
            SummaryTable(
                t("nps_by_title", segment=t(f"segment_{segment}")),
                [t(f"segment_{segment}").capitalize(), *header],
                [
                    _hidden_row(value or t("segment_none"), texts, min_group)
                    if index in hidden
                    else _figures_row(value or t("segment_none"), fig, texts)
                    for index, (value, fig) in enumerate(lines)
                ],
            )
        )
    return tables

"""The xlsx export's Themes table (issue 15): /themes' figures for the file's scope."""

from __future__ import annotations

from datetime import datetime

from handlers.export_summary import ExportSource
from handlers.texts import TextsLike
from handlers.theme_labels import label
from nps.anonymity import anonymous_scope
from nps.export_text import SummaryTable
from nps.scope import Scope
from nps.theme_index import dictionary
from nps.theme_report import build_themes


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


async def themes_table(
    source: ExportSource,
    scope: Scope,
    texts: TextsLike,
    exported_at: datetime,
    *,
    min_group: int,
) -> SummaryTable | None:
    """Each theme's mentions, share, NPS with and without it, impact and the previous
    period's mentions; None when no answer of the scope mentions a theme (or eNPS hides
    the scope). Read from the answers' stored themes (/export brings them up to date)."""
    async with source.snapshot() as store:
        current = await dictionary(store, exported_at, seed=False)
        report = await build_themes(
            store,
            current,
            scope,
            source.tz,
            exported_at,
            min_group=min_group,
            anonymous=anonymous_scope(scope),
            with_suggestions=False,
        )
    if report.hidden or not report.lines:
        return None
    t = texts.plain
    header = [
        t("th_col_theme"),
        t("th_col_key"),
        t("th_col_mentions"),
        t("th_col_share"),
        t("th_col_nps_with"),
        t("th_col_nps_without"),
        t("th_col_impact"),
        t("th_col_previous"),
    ]
    rows: list[list[str | int | float | None]] = [
        [
            label(line.key, texts),
            line.key,
            line.mentions,
            _rounded(line.share),
            _rounded(line.nps_with),
            _rounded(line.nps_without),
            _rounded(line.impact),
            line.previous,
        ]
        for line in report.lines
    ]
    return SummaryTable(t("th_table_title"), header, rows)

"""Cells, rows and tables that the Summary sheets of /nps, /csat and /ces exports share."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from handlers.texts import TextsLike
from nps.exports import SummaryTable
from nps.scope import Scope

Cell = str | int | float | None


def rounded(value: float | None, places: int = 1) -> float | None:
    """A figure as a number for the spreadsheet (None stays empty).

    One decimal: the chat shows whole points, but a sheet used for further sums should not
    lose that much, nor show float noise such as 33.333333333.
    """
    return None if value is None else round(value, places)


def context_rows(
    texts: TextsLike, scope: Scope, tz: tzinfo, exported_at: datetime
) -> list[list[Cell]]:
    """The period counted, the zone of its days and when the sheet was made."""
    t = texts.plain
    return [
        [t("export_row_period"), scope.period.key],
        [t("export_row_timezone"), str(tz)],
        [t("export_row_exported"), exported_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")],
    ]


def score_table(texts: TextsLike, rows: list[list[Cell]]) -> SummaryTable:
    """The table of the headline figures: one figure and its value a row."""
    t = texts.plain
    return SummaryTable(
        t("export_table_score"), [t("export_col_figure"), t("export_col_value")], rows
    )

"""Issue 9, item 19: xlsx text cells are kept exactly as typed; CSV keeps its protection."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl

from nps.exports import Column, SummaryTable, write_csv, write_xlsx

TYPED = ["-", "+1 faster", "@everything", "=1+1", "'quoted", "plain"]
COLUMNS = [Column("id", "ID", "int"), Column("comment", "Comment")]


async def test_xlsx_text_cells_read_back_exactly_as_typed_and_never_as_formulas(
    tmp_path: Path,
) -> None:
    out = tmp_path / "answers.xlsx"
    rows = [{"id": i, "comment": text} for i, text in enumerate(TYPED)]
    summary = [SummaryTable("By agent", ["agent", "answers"], [["-", 3], ["@everything", 2]])]
    await write_xlsx(rows, COLUMNS, out, summary=summary)
    workbook = openpyxl.load_workbook(out)
    cells = [row[1] for row in workbook["Responses"].iter_rows(min_row=2)]
    assert [cell.value for cell in cells] == TYPED
    assert {cell.data_type for cell in cells} == {"s"}  # strings, not formulas
    agents = [row[0] for row in workbook["Summary"].iter_rows(min_row=3)]
    assert [cell.value for cell in agents] == ["-", "@everything"]
    assert {cell.data_type for cell in agents} == {"s"}


async def test_csv_still_prefixes_text_a_spreadsheet_would_evaluate(tmp_path: Path) -> None:
    out = tmp_path / "answers.csv"
    rows = [{"id": i, "comment": text} for i, text in enumerate(TYPED)]
    await write_csv(rows, COLUMNS, out)
    with out.open(encoding="utf-8-sig", newline="") as fh:
        comments = [row[1] for row in list(csv.reader(fh))[1:]]
    assert comments == ["'-", "'+1 faster", "'@everything", "'=1+1", "'quoted", "plain"]

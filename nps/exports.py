"""Streaming, spreadsheet-safe CSV and XLSX exports, and packaging them for Telegram upload.

The public names, gathered from the modules that hold them:

* `export_text` — columns, cell values, formula neutralising and XML-illegal characters;
* `export_stream` — rows to a writer in batches in a worker thread (`Batches`, `Rows`);
* `export_csv` — `write_csv`, and `write_csv_rows` for a cursor of ready cells;
* `export_xlsx` — `write_xlsx` (xlsxwriter is imported only when a workbook is written);
* `export_package` — `package_for_upload`: zip, then split, under Telegram's 50 MB limit.
"""

from __future__ import annotations

from nps.export_csv import BatchCursor, write_csv, write_csv_rows
from nps.export_package import TELEGRAM_UPLOAD_LIMIT, package_for_upload
from nps.export_stream import Batches, Progress, Rows
from nps.export_text import (
    FORMULA_PREFIXES,
    Column,
    ColumnKind,
    Row,
    SummaryTable,
    _clean_text,
    neutralize,
)
from nps.export_xlsx import EXCEL_MAX_ROWS, write_xlsx

__all__ = [
    "EXCEL_MAX_ROWS",
    "FORMULA_PREFIXES",
    "TELEGRAM_UPLOAD_LIMIT",
    "BatchCursor",
    "Batches",
    "Column",
    "ColumnKind",
    "Progress",
    "Row",
    "Rows",
    "SummaryTable",
    "_clean_text",
    "neutralize",
    "package_for_upload",
    "write_csv",
    "write_csv_rows",
    "write_xlsx",
]

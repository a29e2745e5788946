"""The export code in modules a reader can hold in their head (issue 10).

Sanitising, the batch plumbing, CSV, XLSX and packaging live in their own modules; the old
`nps.exports` still offers every public name, as the same objects.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import nps.exports as exports

REPORTS = Path(exports.__file__).parent
HOMES = {
    "export_text": ["FORMULA_PREFIXES", "Column", "ColumnKind", "SummaryTable", "neutralize"],
    "export_stream": ["Batches", "Rows"],
    "export_csv": ["BatchCursor", "write_csv", "write_csv_rows"],
    "export_xlsx": ["EXCEL_MAX_ROWS", "write_xlsx"],
    "export_package": ["TELEGRAM_UPLOAD_LIMIT", "package_for_upload"],
}


def test_no_export_module_is_over_400_lines() -> None:
    sizes = {
        path.name: len(path.read_text(encoding="utf-8").splitlines())
        for path in REPORTS.glob("export*.py")
    }
    assert set(sizes) >= {f"{name}.py" for name in HOMES} | {"exports.py"}
    assert {name: lines for name, lines in sizes.items() if lines > 400} == {}


def test_every_public_name_is_importable_from_its_module_and_from_exports() -> None:
    for module_name, names in HOMES.items():
        module = importlib.import_module(f"nps.{module_name}")
        for name in names:
            assert name in module.__all__, (module_name, name)
            assert getattr(exports, name) is getattr(module, name), name
    homed = {name for names in HOMES.values() for name in names}
    assert set(exports.__all__) - {"Progress", "Row", "_clean_text"} == homed

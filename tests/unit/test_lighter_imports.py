"""The bot starts without the libraries only charts and exports need (issue 10, footprint).

matplotlib and numpy (/chart) and xlsxwriter (/export xlsx) cost ~0.5 s and ~50 MB at start
(bench/footprint.py); they are imported by the functions that draw or write a workbook.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

HEAVY = ("matplotlib", "numpy", "xlsxwriter")


def _loaded_after(imports: str) -> str:
    """Import modules in a fresh interpreter; return which heavy libraries got loaded."""
    code = f"import {imports}; import sys; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip()


def test_everything_npsbot_run_imports_leaves_charts_and_xlsx_libraries_unloaded() -> None:
    loaded = _loaded_after(
        "bot.app, bot.cli, handlers.routing, bot.runtime.aiogram_runtime, "
        "bot.runtime.ptb_runtime, nps.exports, nps.charts"
    )
    assert loaded == "[]"


def test_drawing_a_chart_and_writing_a_workbook_still_load_them(tmp_path: Path) -> None:
    # The other side of laziness: the import really happens where it is needed.
    code = (
        "import asyncio, sys; from pathlib import Path; "
        "from nps.charts import ChartLabels, TrendPoint, render_trend_chart; "
        "from nps.exports import Column, write_xlsx; "
        "png = render_trend_chart([TrendPoint('W1', 2, 0.0, -90.0, 90.0, 1, 0, 1)], "
        "title='t', labels=ChartLabels()); "
        f"out = Path({str(tmp_path / 'a.xlsx')!r}); "
        "n = asyncio.run(write_xlsx([{'a': 1}], [Column('a', 'A', 'int')], out)); "
        "print(png[:4] == b'\\x89PNG', n, out.read_bytes()[:2] == b'PK', "
        f"sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip() == "True 1 True ['matplotlib', 'numpy', 'xlsxwriter']"

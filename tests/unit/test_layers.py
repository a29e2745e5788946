"""Layers that only point down (issue 10): bot/ -> handlers/ -> nps/ (domain) -> storage/.

The contracts themselves live in pyproject.toml and run in .ci/run (`lint-imports`); these
tests keep them honest from the test command too.
"""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import import_cycles  # noqa: E402


def _imported_packages(package: str) -> set[str]:
    """Top-level names every module of `package` imports, TYPE_CHECKING blocks included.

    Alembic's environment script (storage/migrations/env.py) is left out: it is an entry
    point of the `alembic` command line, not a module of the package, and reads the
    application's settings for the database URL.
    """
    return {
        name
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
        for name in _imported_by(path)
    }


def _imported_by(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_the_domain_is_a_top_level_package_below_the_conversations() -> None:
    assert importlib.util.find_spec("bot.reports") is None
    assert (ROOT / "nps" / "nps_math.py").is_file()
    assert _imported_packages("nps") & {"bot", "handlers", "aiogram", "telegram"} == set()


def test_storage_imports_no_layer_above_it() -> None:
    assert _imported_packages("storage") & {"bot", "handlers", "nps"} == set()


def test_only_storage_and_the_cli_import_sqlalchemy() -> None:
    users = {p for p in ("bot", "handlers", "nps") if "sqlalchemy" in _imported_packages(p)}
    assert users == {"bot"}  # bot/cli.py only: a URL's parts and a connection error
    cli_only = [
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "bot").rglob("*.py")
        if "sqlalchemy" in _imported_by(path)
    ]
    assert cli_only == ["bot/cli.py"]


def test_no_module_import_cycle_at_run_time() -> None:
    assert import_cycles.cycles(list(import_cycles.DEFAULT_PACKAGES), type_checking=False) == []


def test_no_module_import_cycle_even_through_annotations() -> None:
    # Role (handlers/roles.py) and the texts protocols (handlers/texts.py) moved down, and
    # the hooks joined the context they are typed by: no cycle, not even a TYPE_CHECKING one.
    assert import_cycles.cycles(list(import_cycles.DEFAULT_PACKAGES)) == []


def test_the_import_contracts_are_kept() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout

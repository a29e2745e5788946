"""`npsbot export` and `npsbot stats` as real processes against a seeded database."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import shutil
import sys
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest

from bot.cli import ProgressBar
from storage.db import Database
from storage.models import utcnow
from tests.admin_helpers import make_survey, seed_answers, seed_invitations
from tests.handlers.test_admin_nps import reference_nps

PROCESS_DEADLINE = 60  # seconds; a deadline for the child process, not a pause


def _env(database_url: str, **values: str) -> dict[str, str]:
    """A clean environment: PATH/HOME/LANG, the database and nothing from a developer's .env."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update(DATABASE_URL=database_url, **values)
    return env


async def npsbot(cwd: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Runs `python -m bot ARGS` and returns (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=PROCESS_DEADLINE)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def files_in(folder: Path) -> list[str]:
    """Names of the files in a folder, hidden ones included."""
    return sorted(path.name for path in folder.iterdir())


def read_xlsx(path: Path) -> openpyxl.Workbook:
    """Opens a workbook the command wrote."""
    return openpyxl.load_workbook(path)


def read_csv(path: Path) -> list[list[str]]:
    """Reads a CSV the command wrote, as Excel would (UTF-8 with a BOM)."""
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


async def test_export_writes_the_same_answers_as_the_chat_command(
    db_url: str, check_db: Database, tmp_path: Path
) -> None:
    await make_survey(check_db, "delivery", "Доставка")
    recent = await seed_answers(
        check_db, [10, 9, 3], survey_slug="delivery", agent="olga", why="Курьер опоздал"
    )
    old = await seed_answers(
        check_db, [0], survey_slug="delivery", first_user=12_000, at=utcnow() - timedelta(days=45)
    )
    other = await seed_answers(check_db, [8, 8], first_user=13_000)
    env = _env(db_url)
    work = tmp_path / "work"
    work.mkdir()

    code, stdout, stderr = await npsbot(work, env, "export", "--out", "answers.xlsx")
    assert code == 0 and stdout == "", stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("exported 5 rows to answers.xlsx in ")
    assert lines[0].endswith(" rows/s)") and "Traceback" not in stderr
    book = read_xlsx(work / "answers.xlsx")
    assert book.sheetnames == ["Summary", "Responses"]
    responses = list(book["Responses"].iter_rows(values_only=True))
    assert responses[0][:5] == ("ID", "Survey", "Survey name", "Asked (UTC)", "Scored (UTC)")
    assert sorted(row[0] for row in responses[1:]) == sorted(recent + other)
    assert book["Responses"].freeze_panes == "A2"
    figures = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True) if row[0]}
    promoters, _, detractors, _, average = reference_nps([10, 9, 3, 8, 8])
    assert figures["Answers"] == 5
    assert figures["NPS"] == pytest.approx(100 * (promoters - detractors) / 5, abs=0.05)
    assert figures["Average score (0–10)"] == pytest.approx(average, abs=0.005)

    out = work / "delivery.csv"
    code, _, stderr = await npsbot(
        work, env, "export", "--out", str(out), "--survey", "delivery", "--period", "all"
    )
    assert code == 0, stderr
    header, *rows = read_csv(out)
    assert header[6:9] == ["Score", "Group", "Why"]
    assert sorted(int(row[0]) for row in rows) == sorted(recent + old)
    why = {int(row[0]): row[8] for row in rows}
    assert all(why[i] == "Курьер опоздал" for i in recent) and why[old[0]] == ""

    # --format wins over the file's suffix; the answers of the other survey stay out.
    month = (utcnow() - timedelta(days=45)).strftime("%Y-%m")
    code, _, stderr = await npsbot(
        work,
        env,
        *("export", "--format", "csv", "--out", "old.txt", "--survey", "delivery"),
        *("--period", month),
    )
    assert code == 0, stderr
    assert [int(row[0]) for row in read_csv(work / "old.txt")[1:]] == old
    # Only the files asked for: no partial or temporary files are left behind.
    assert files_in(work) == [
        "answers.xlsx",
        "delivery.csv",
        "old.txt",
    ]


async def test_stats_prints_the_nps_figures_as_plain_text(
    db_url: str, check_db: Database, tmp_path: Path
) -> None:
    scores = [10] * 7 + [8] * 2 + [3]
    await seed_answers(check_db, scores[:6], agent="olga")
    await seed_answers(check_db, scores[6:], agent="ivan", first_user=11_000)
    await seed_invitations(check_db, 5)
    env = _env(db_url)
    code, stdout, stderr = await npsbot(tmp_path, env, "stats")
    assert code == 0, stderr
    promoters, passives, detractors, nps, average = reference_nps(scores)
    lines = stdout.splitlines()
    assert lines[0].startswith("NPS · Main survey · last 30 days (")
    assert lines[1].startswith(f"NPS +{nps} ± ") and "(10 answers)" in lines[1]
    assert lines[2] == (
        f"Promoters {promoters} (70%) · Passives {passives} (20%) · Detractors {detractors} (10%)"
    )
    assert lines[3] == f"Average score {average:.1f} · Response rate 67% (10 of 15 invited)"
    assert "<" not in stdout and "&" not in stdout  # no HTML left

    code, stdout, stderr = await npsbot(tmp_path, env, "stats", "--by", "agent", "--period", "7d")
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert lines[0] == "NPS by agent" and lines[1].startswith("Main survey · ")
    # A score resting on too few answers is marked "*" (one footnote under the table).
    table = {line.split()[0]: [v.rstrip("*") for v in line.split()[1:3]] for line in lines[3:]}
    assert table["olga"] == ["6", "+100"]  # six promoters
    ivan = scores[6:]
    assert table["ivan"] == [str(len(ivan)), str(reference_nps(ivan)[3])]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["export", "--out", "x.xlsx", "--period", "2026-13"], "--period: There is no month 13"),
        (["export", "--out", "x.xlsx", "--period", "soon"], 'Unknown period "soon"'),
        (["stats", "--period", "2026-11-05..2026-11-01"], "starts after it ends"),
        (["stats", "--survey", "nosuch"], 'there is no survey "nosuch" (known surveys: nps)'),
        (["stats", "--by", "colour"], "argument --by: invalid choice: 'colour'"),
        (["export", "--format", "pdf", "--out", "x.pdf"], "argument --format: invalid choice"),
        (["export"], "the following arguments are required: --out"),
        (["export", "--out", "missing/x.xlsx"], "--out: the folder missing does not exist"),
    ],
)
async def test_bad_arguments_are_one_line_and_exit_code_2(
    tmp_path: Path, sqlite_template: Path, arguments: list[str], expected: str
) -> None:
    shutil.copyfile(sqlite_template, tmp_path / "npsbot.db")
    env = _env(f"sqlite+aiosqlite:///{tmp_path / 'npsbot.db'}")
    db = Database(env["DATABASE_URL"])
    try:
        async with db.transaction() as store:
            await store.surveys.ensure_default()
    finally:
        await db.dispose()
    code, stdout, stderr = await npsbot(tmp_path, env, *arguments)
    lines = stderr.strip().splitlines()
    assert code == 2 and stdout == ""
    assert len(lines) == 1 and expected in lines[0], lines
    assert "Traceback" not in stderr
    assert not (tmp_path / "x.xlsx").exists() and not (tmp_path / "x.pdf").exists()


async def test_a_missing_or_empty_database_is_one_line_and_nothing_is_created(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nowhere.db"
    code, _, stderr = await npsbot(tmp_path, _env(f"sqlite+aiosqlite:///{missing}"), "stats")
    assert code == 2 and len(stderr.strip().splitlines()) == 1
    assert f"DATABASE_URL names {missing}, which does not exist" in stderr
    assert not missing.exists()

    empty = tmp_path / "empty.db"
    empty.touch()
    env = _env(f"sqlite+aiosqlite:///{empty}")
    code, _, stderr = await npsbot(tmp_path, env, "export", "--out", "x.csv")
    assert code == 2 and len(stderr.strip().splitlines()) == 1
    assert "has no npsbot tables yet: run npsbot migrate" in stderr
    assert not (tmp_path / "x.csv").exists()


def test_the_progress_bar_redraws_one_line_and_ends_with_the_rate() -> None:
    ticks = iter([0.0, 0.5, 0.55, 1.0, 2.0])
    stream = io.StringIO()
    bar = ProgressBar(3000, stream, live=True, clock=lambda: next(ticks))
    bar.update(1000)  # t=0.5: drawn
    bar.update(2000)  # t=0.55: within the redraw interval, skipped
    bar.update(3000)  # t=1.0: drawn
    bar.finish(3000, Path("out.xlsx"))  # t=2.0: two seconds after the start
    text = stream.getvalue()
    frames = text.split("\r")
    assert "exporting [#########" in frames[1] and " 33%  1,000 of 3,000 rows" in frames[1]
    assert "100%  3,000 of 3,000 rows" in frames[2] and "2,000 of" not in text
    assert text.endswith("\rexported 3,000 rows to out.xlsx in 2.0 s (1,500 rows/s)\n")
    assert text.count("\n") == 1  # one line, redrawn in place

    quiet = io.StringIO()
    bar = ProgressBar(10, quiet, live=False)  # not a terminal: no bar in logs
    bar.update(10)
    bar.finish(10, Path("a.csv"))
    assert (
        quiet.getvalue().startswith("exported 10 rows to a.csv in ")
        and "\r" not in quiet.getvalue()
    )

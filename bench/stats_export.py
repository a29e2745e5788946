"""Benchmark: /nps latency and CSV export throughput as answers pile up.

    python bench/stats_export.py --sizes 1000,100000,1000000 --backend sqlite
    python bench/stats_export.py --backend postgres   # NPSBOT_BENCH_POSTGRES_URL

For each size it fills a fresh database with that many responses spread over the last year
(three surveys, 25 agents, six sources, four languages, ~85 % answered, a third with
comments), bulk-inserting the responses *and* the score_counts histograms the repositories
would have kept (checked on the smallest set against answers recorded through
`store.responses.start/record_score`). Then it measures:

* `/nps` latency: median and p95 of repeated report builds, each through a fresh read
  snapshot, exactly the queries the /nps handler runs (surveys, first day, two period sums);
* CSV export: all rows streamed from the database into a CSV file by the /export code, in a
  child process so its peak RSS is its own (`ru_maxrss`), with rows per second.

Targets: /nps at the largest size within 1.5x of the smallest; export >= 100 000 rows/s with
peak RSS < 200 MB. This is a measurement, not a test; it prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
from sqlalchemy import select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.i18n import Catalogs  # noqa: E402
from nps.nps_report import build_report, render_report  # noqa: E402
from nps.scope import parse_report_args  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import SCORE_COLUMNS, ScoreCount  # noqa: E402
from storage.repos.response_start import AnswerContext  # noqa: E402
from storage.repos.stats import segments_of  # noqa: E402

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
CHUNK = 50_000  # rows generated and inserted at a time: bounded memory at any size
VERIFY_MAX = 1_000  # sizes up to this are checked against the repositories

SURVEYS = (
    ("nps", "Main survey", 0.6),
    ("delivery", "Delivery", 0.25),
    ("support", "Support", 0.15),
)
AGENTS = [f"agent{i:02d}" for i in range(1, 26)]
SOURCES = ["call", "web", "shop", "app", "email"]
LANGUAGES = (("en", 0.4), ("ru", 0.35), ("ro", 0.2), ("pl", 0.05))
# Scores 0..10: loyal-leaning, as real NPS data usually is.
SCORE_WEIGHTS = (2, 1, 1, 2, 2, 4, 5, 9, 14, 20, 40)
SCORES = range(11)
WHY = [
    "The courier was late twice",
    "Курьер опоздал, а поддержка не ответила",
    'Great service, "fast" and friendly',
    "Prices went up, again",
    "=SUM(A1:A9) is not a reason",  # a formula-looking answer the export must neutralise
    "Livrare rapidă, mulțumesc!",
    "Obsługa klienta mogłaby być szybsza",
]
IMPROVE = ["Deliver on time", "Ответьте быстрее", "Lower the prices", "Nothing, keep it up"]

RESPONSE_COLUMNS = (
    "survey_id",
    "respondent_id",
    "chat_id",
    "step",
    "language",
    "score",
    "why",
    "improve",
    "source",
    "agent",
    "campaign",
    "start_payload",
    "payload_unknown",
    "channel",
    "prompt_message_id",
    "asked_at",
    "scored_at",
    "why_at",
    "improve_at",
    "completed_at",
)
COUNT_COLUMNS = ("survey_id", "day", "dimension", "value", "invited", *SCORE_COLUMNS)


# --------------------------------------------------------------------------- the data


@dataclass(frozen=True, slots=True)
class Answer:
    """One generated response (times are naive UTC, as the database stores them)."""

    survey_id: int
    respondent_id: int
    language: str
    agent: str | None
    source: str | None
    asked_at: datetime
    score: int | None
    scored_at: datetime | None
    why: str | None
    improve: str | None

    @property
    def step(self) -> str:
        if self.score is None:
            return "closed"
        return "done" if self.why or self.improve else "why"

    def row(self) -> tuple[Any, ...]:
        """Values in RESPONSE_COLUMNS order."""
        done = self.step == "done"
        text_at = self.scored_at + timedelta(seconds=20) if done and self.scored_at else None
        return (
            self.survey_id,
            self.respondent_id,
            self.respondent_id,
            self.step,
            self.language,
            self.score,
            self.why,
            self.improve,
            self.source,
            self.agent,
            None,
            None,
            False,
            "start",
            None,
            self.asked_at,
            self.scored_at,
            text_at,
            text_at,
            text_at,
        )


def generate(size: int, survey_ids: list[int], now: datetime, seed: int) -> Iterator[list[Answer]]:
    """`size` answers over the 365 days before `now`, in chunks (same seed, same data)."""
    rng = random.Random(seed)
    survey_cum = list(itertools.accumulate(w for _, _, w in SURVEYS))
    languages = [code for code, _ in LANGUAGES]
    language_cum = list(itertools.accumulate(weight for _, weight in LANGUAGES))
    score_cum = list(itertools.accumulate(SCORE_WEIGHTS))
    year = 365 * 86_400
    chunk: list[Answer] = []
    for _ in range(size):
        asked = now - timedelta(seconds=rng.uniform(3_600, year))
        answered = rng.random() < 0.85
        score = rng.choices(SCORES, cum_weights=score_cum)[0] if answered else None
        commented = answered and rng.random() < 0.33
        chunk.append(
            Answer(
                survey_id=rng.choices(survey_ids, cum_weights=survey_cum)[0],
                respondent_id=rng.randint(1, max(2, size // 2)),
                language=rng.choices(languages, cum_weights=language_cum)[0],
                agent=rng.choice(AGENTS) if rng.random() < 0.9 else None,
                source=rng.choice(SOURCES) if rng.random() < 0.8 else None,
                asked_at=asked.replace(microsecond=rng.randrange(1_000_000)),
                score=score,
                scored_at=asked + timedelta(seconds=rng.uniform(5, 900)) if answered else None,
                why=rng.choice(WHY) if commented else None,
                improve=rng.choice(IMPROVE) if commented and rng.random() < 0.7 else None,
            )
        )
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


MISSING = timedelta(days=-999)  # not cached yet
EXACT = timedelta(days=-998)  # the offset changes within this hour


class Histograms:
    """The score_counts rows, counted as StatsRepo does (invited on the asked day, the
    score on the scored day, local days, one row per dimension and segment value)."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self.rows: dict[tuple[int, date, str, str], list[int]] = {}
        self._offsets: dict[datetime, timedelta | None] = {}

    def _day(self, moment: datetime) -> date:
        """The local day of a naive-UTC moment (zone offsets cached per UTC hour)."""
        hour = moment.replace(minute=0, second=0, microsecond=0)
        offset = self._offsets.get(hour, MISSING)
        if offset is MISSING:
            start = hour.replace(tzinfo=UTC).astimezone(self.tz).utcoffset()
            end = (
                (hour + timedelta(minutes=59, seconds=59, microseconds=999_999))
                .replace(tzinfo=UTC)
                .astimezone(self.tz)
                .utcoffset()
            )
            # An hour with a change of offset inside it is computed exactly, moment by moment.
            offset = self._offsets[hour] = start if start == end else EXACT
        if offset is EXACT or offset is None:
            return moment.replace(tzinfo=UTC).astimezone(self.tz).date()
        return (moment + offset).date()

    def _bump(self, answer: Answer, day: date, column: int) -> None:
        for dimension, value in segments_of(answer.agent, answer.source, answer.language, None):
            key = (answer.survey_id, day, dimension, value[:64])
            counts = self.rows.get(key)
            if counts is None:
                counts = self.rows[key] = [0] * 12
            counts[column] += 1

    def add(self, answer: Answer) -> None:
        """Counts one response: its invitation and, when answered, its score."""
        self._bump(answer, self._day(answer.asked_at), 0)
        if answer.score is not None and answer.scored_at is not None:
            self._bump(answer, self._day(answer.scored_at), 1 + answer.score)

    def records(self) -> list[tuple[Any, ...]]:
        """Rows in COUNT_COLUMNS order."""
        return [(*key, *counts) for key, counts in sorted(self.rows.items())]


# --------------------------------------------------------------------------- databases


def _pg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _size(path: Path) -> int:
    return path.stat().st_size


@asynccontextmanager
async def fresh_database(backend: str, name: str, workdir: Path) -> AsyncIterator[str]:
    """A new, migrated database URL; removed afterwards."""
    if backend == "sqlite":
        path = workdir / f"{name}.db"
        _remove_sqlite(path)
        url = f"sqlite+aiosqlite:///{path}"
        try:
            yield url
        finally:
            _remove_sqlite(path)
        return
    admin_url = os.environ.get("NPSBOT_BENCH_POSTGRES_URL", DEFAULT_PG)
    database = f"npsbot_bench_{name}_{os.getpid()}"
    admin = await asyncpg.connect(_pg_dsn(admin_url))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    try:
        yield make_url(admin_url).set(database=database).render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(_pg_dsn(admin_url))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await admin.close()


async def prepare(url: str, tz: tzinfo) -> list[int]:
    """Migrates and creates the three surveys; returns their ids."""
    db = Database(url, tz=tz)
    try:
        await db.migrate()
        async with db.transaction() as store:
            ids = [(await store.surveys.ensure_default()).id]
            for slug, name, _ in SURVEYS[1:]:
                survey = await store.surveys.add(slug=slug, name=name)
                ids.append(survey.id)
        return ids
    finally:
        await db.dispose()


def _sqlite_value(value: Any) -> Any:
    # The exact text SQLAlchemy's SQLite DateTime/Date types write, so that range queries
    # (string comparisons in SQLite) and reads through the models behave the same.
    if isinstance(value, datetime):
        return value.isoformat(" ", "microseconds")  # == strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


async def bulk_fill(url: str, survey_ids: list[int], size: int, now: datetime, tz: tzinfo) -> int:
    """Inserts `size` responses and their histograms with the drivers' bulk paths."""
    histograms = Histograms(tz)
    inserted = 0
    if url.startswith("sqlite"):
        path = make_url(url).database
        assert path is not None
        conn = sqlite3.connect(path)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=OFF")  # a benchmark fill, not production data
            marks = ", ".join("?" * len(RESPONSE_COLUMNS))
            insert = f"INSERT INTO responses ({', '.join(RESPONSE_COLUMNS)}) VALUES ({marks})"
            for chunk in generate(size, survey_ids, now, seed=size):
                for answer in chunk:
                    histograms.add(answer)
                conn.executemany(insert, ([_sqlite_value(v) for v in a.row()] for a in chunk))
                conn.commit()
                inserted += len(chunk)
            marks = ", ".join("?" * len(COUNT_COLUMNS))
            conn.executemany(
                f"INSERT INTO score_counts ({', '.join(COUNT_COLUMNS)}) VALUES ({marks})",
                ([_sqlite_value(v) for v in row] for row in histograms.records()),
            )
            conn.commit()
        finally:
            conn.close()
        return inserted
    conn = await asyncpg.connect(_pg_dsn(url))
    try:
        for chunk in generate(size, survey_ids, now, seed=size):
            for answer in chunk:
                histograms.add(answer)
            await conn.copy_records_to_table(
                "responses", records=[a.row() for a in chunk], columns=list(RESPONSE_COLUMNS)
            )
            inserted += len(chunk)
        await conn.copy_records_to_table(
            "score_counts", records=histograms.records(), columns=list(COUNT_COLUMNS)
        )
        # What autovacuum would do within minutes on a real server.
        await conn.execute("ANALYZE responses; ANALYZE score_counts")
    finally:
        await conn.close()
    return inserted


async def recorded_fill(
    url: str, survey_ids: list[int], size: int, now: datetime, tz: tzinfo
) -> None:
    """The same answers stored one by one through the repositories the bot uses."""
    db = Database(url, tz=tz)
    try:
        for chunk in generate(size, survey_ids, now, seed=size):
            async with db.transaction() as store:
                for a in chunk:
                    response = await store.responses.start(
                        survey_id=a.survey_id,
                        respondent_id=a.respondent_id,
                        chat_id=a.respondent_id,
                        language=a.language,
                        context=AnswerContext(agent=a.agent, source=a.source),
                        asked_at=a.asked_at.replace(tzinfo=UTC),
                    )
                    if a.score is not None and a.scored_at is not None:
                        at = a.scored_at.replace(tzinfo=UTC)
                        await store.responses.record_score(response.id, a.score, at=at)
    finally:
        await db.dispose()


async def histogram_rows(url: str, tz: tzinfo) -> list[tuple[Any, ...]]:
    """Every score_counts row, sorted."""
    db = Database(url, tz=tz)
    try:
        async with db.snapshot() as store:
            table = ScoreCount.__table__
            rows = await store.stats._session.execute(
                select(*(table.c[name] for name in COUNT_COLUMNS))
            )
            return sorted(tuple(row) for row in rows)
    finally:
        await db.dispose()


async def nps_text(url: str, tz: tzinfo, today: date) -> str:
    """The /nps message for all surveys, last 30 days."""
    db = Database(url, tz=tz)
    try:
        async with db.snapshot() as store:
            surveys = await store.surveys.all()
            args = parse_report_args("", surveys, today=today, command="nps")
            report = await build_report(store, args.scope)
        return render_report(report, Catalogs().texts("en"))
    finally:
        await db.dispose()


async def verify(backend: str, size: int, workdir: Path, tz: tzinfo, now: datetime) -> str:
    """Bulk histograms == repository histograms for the same answers (and the same /nps)."""
    async with (
        fresh_database(backend, f"bulk{size}", workdir) as bulk_url,
        fresh_database(backend, f"repo{size}", workdir) as repo_url,
    ):
        bulk_ids = await prepare(bulk_url, tz)
        repo_ids = await prepare(repo_url, tz)
        assert bulk_ids == repo_ids
        await bulk_fill(bulk_url, bulk_ids, size, now, tz)
        await recorded_fill(repo_url, repo_ids, size, now, tz)
        bulk, recorded = await histogram_rows(bulk_url, tz), await histogram_rows(repo_url, tz)
        if bulk != recorded:
            missing = set(recorded) - set(bulk)
            extra = set(bulk) - set(recorded)
            raise SystemExit(
                f"histograms differ: {len(missing)} rows only via the repositories "
                f"(e.g. {sorted(missing)[:2]}), {len(extra)} only in the bulk fill"
            )
        today = now.replace(tzinfo=UTC).astimezone(tz).date()
        if await nps_text(bulk_url, tz, today) != await nps_text(repo_url, tz, today):
            raise SystemExit("the /nps message differs between bulk and recorded data")
        return f"{len(bulk)} score_counts rows identical to the repositories' for {size} answers"


# --------------------------------------------------------------------------- measurements


async def nps_call(db: Database, today: date, texts: Any) -> float:
    """One /nps through a fresh read snapshot, as the handler runs it; milliseconds."""
    started = time.perf_counter()
    async with db.snapshot() as store:
        surveys = await store.surveys.all()
        earliest = await store.stats.first_day([s.id for s in surveys])
        args = parse_report_args(
            "", surveys, today=today, command="nps", allow_segment=True, earliest=earliest
        )
        report = await build_report(store, args.scope)
    render_report(report, texts)
    return (time.perf_counter() - started) * 1000


async def nps_latency(
    urls: dict[int, str], tz: tzinfo, today: date, repeats: int
) -> dict[int, tuple[float, float]]:
    """Median and p95 (ms) of /nps per size.

    Calls alternate between the sizes (one each, round after round), so a burst of load from
    elsewhere on the machine slows every size alike instead of skewing one of them.
    """
    texts = Catalogs().texts("en")
    dbs = {size: Database(url, tz=tz) for size, url in urls.items()}
    timings: dict[int, list[float]] = {size: [] for size in urls}
    try:
        for attempt in range(repeats + 3):  # three warm-up rounds: pools, statement caches
            for size, db in dbs.items():
                elapsed = await nps_call(db, today, texts)
                if attempt >= 3:
                    timings[size].append(elapsed)
    finally:
        for db in dbs.values():
            await db.dispose()
    figures = {}
    for size, values in timings.items():
        values.sort()
        p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
        figures[size] = (statistics.median(values), p95)
    return figures


async def export_child(url: str, tz_name: str, out: Path) -> dict[str, Any]:
    """Runs in the child process: one CSV export of every answer, as /export csv does."""
    from handlers.export_file import write_export
    from nps.periods import Period
    from nps.scope import Scope

    tz = ZoneInfo(tz_name)
    db = Database(url, tz=tz)
    texts = Catalogs().texts("en")
    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        async with db.snapshot() as store:
            surveys = tuple(await store.surveys.all())
            first = await store.stats.first_day([s.id for s in surveys])
        today = datetime.now(tz).date()
        scope = Scope(surveys, Period(first or today, today), True, False)
        started = time.perf_counter()
        # The /export csv handler's own path (rows with their NPS group).
        rows = await write_export(db, scope, "csv", texts, out, exported_at=datetime.now(UTC))
        path = "handlers.export_file.write_export"
        seconds = time.perf_counter() - started
    finally:
        await db.dispose()
    return {
        "rows": rows,
        "seconds": seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "baseline_rss_mb": baseline_kb / 1024,
        "bytes": _size(out),
        "path": path,
    }


def measure_export(url: str, tz_name: str, workdir: Path, timeout: float) -> dict[str, Any]:
    """Runs the export in a child process and reads its figures."""
    out = workdir / "export.csv"
    command = [sys.executable, __file__, "--export-child", url, "--timezone", tz_name]
    command += ["--workdir", str(workdir)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False, cwd=ROOT
        )
    finally:
        out.unlink(missing_ok=True)
    if done.returncode != 0:
        raise SystemExit(f"export child failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- the run


@dataclass
class Result:
    size: int
    fill_s: float
    median_ms: float
    p95_ms: float
    export: dict[str, Any] | None


def table(results: list[Result], backend: str, skip_reason: str | None) -> str:
    """The Markdown table a person reads (and bench/README.md keeps)."""
    lines = [
        f"backend: {backend} · python {sys.version.split()[0]} · {os.cpu_count()} CPUs",
        "",
        "| responses | fill (s) | /nps median (ms) | /nps p95 (ms) | export rows | "
        "export rows/s | export peak RSS (MB) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        if r.export is None:
            export = "skipped | — | —"
        else:
            rate = r.export["rows"] / r.export["seconds"] if r.export["seconds"] else 0.0
            export = f"{r.export['rows']:,} | {rate:,.0f} | {r.export['peak_rss_mb']:.0f}"
        lines.append(
            f"| {r.size:,} | {r.fill_s:.1f} | {r.median_ms:.2f} | {r.p95_ms:.2f} | {export} |"
        )
    if skip_reason:
        lines.append("")
        lines.append(f"Export skipped: {skip_reason}.")
    if len(results) > 1:
        ratio = results[-1].median_ms / results[0].median_ms
        verdict = "meets" if ratio <= 1.5 else "MISSES"
        lines.append("")
        lines.append(
            f"/nps median at {results[-1].size:,} is {ratio:.2f}x that at {results[0].size:,} "
            f"({verdict} the 1.5x target)."
        )
    exports = [r.export for r in results if r.export]
    if exports:
        biggest = max(exports, key=lambda e: e["rows"])
        rate = biggest["rows"] / biggest["seconds"]
        fast, small = rate >= 100_000, biggest["peak_rss_mb"] < 200
        verdict = (
            f"{'meets' if fast else 'MISSES'} >= 100 000 rows/s, "
            f"{'meets' if small else 'MISSES'} < 200 MB"
        )
        lines.append(
            f"Export of {biggest['rows']:,} rows: {rate:,.0f} rows/s, peak RSS "
            f"{biggest['peak_rss_mb']:.0f} MB (interpreter and imports "
            f"{biggest['baseline_rss_mb']:.0f} MB) via {biggest['path']} "
            f"({verdict})."
        )
    return "\n".join(lines)


async def run(args: argparse.Namespace, workdir: Path) -> None:
    tz = ZoneInfo(args.timezone)
    sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    today = now.replace(tzinfo=UTC).astimezone(tz).date()
    skip_reason = "--no-export" if args.no_export else None
    results: list[Result] = []
    try:
        small = [s for s in sizes if s <= VERIFY_MAX]
        if small and not args.no_verify:
            print(
                "verifying bulk histograms:",
                await verify(args.backend, small[0], workdir, tz, now),
            )
        async with AsyncExitStack() as stack:
            urls: dict[int, str] = {}
            fills: dict[int, float] = {}
            for size in sizes:
                url = await stack.enter_async_context(
                    fresh_database(args.backend, f"n{size}", workdir)
                )
                survey_ids = await prepare(url, tz)
                started = time.perf_counter()
                await bulk_fill(url, survey_ids, size, now, tz)
                urls[size], fills[size] = url, time.perf_counter() - started
                print(f"{size:>9,}: filled in {fills[size]:.1f}s", flush=True)
            latency = await nps_latency(urls, tz, today, args.repeats)
            for size in sizes:
                median, p95 = latency[size]
                export = None
                if skip_reason is None:
                    export = measure_export(
                        urls[size], args.timezone, workdir, args.export_timeout
                    )
                results.append(Result(size, fills[size], median, p95, export))
                print(
                    f"{size:>9,}: /nps median {median:.2f} ms p95 {p95:.2f} ms"
                    + (
                        f", export {export['rows']:,} rows in {export['seconds']:.1f}s, "
                        f"peak RSS {export['peak_rss_mb']:.0f} MB"
                        if export
                        else ""
                    ),
                    flush=True,
                )
    finally:
        print()
        print(table(results, args.backend, skip_reason))


async def stoppable(work: Coroutine[Any, Any, None]) -> None:
    """Runs the work; SIGTERM cancels it so the benchmark databases are still dropped."""
    task = asyncio.ensure_future(work)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    await task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000,1000000", help="comma-separated")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--timezone", default="Europe/Chisinau", help="TIMEZONE of the bot")
    parser.add_argument("--repeats", type=int, default=30, help="/nps calls per size (>= 20)")
    parser.add_argument("--workdir", help="where SQLite files go (default: a temporary folder)")
    parser.add_argument("--no-export", action="store_true", help="skip the export measurement")
    parser.add_argument("--no-verify", action="store_true", help="skip the histogram check")
    parser.add_argument("--export-timeout", type=float, default=600.0, help="seconds")
    parser.add_argument("--export-child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_child:
        out = Path(args.workdir or tempfile.gettempdir()) / "export.csv"
        print(json.dumps(asyncio.run(export_child(args.export_child, args.timezone, out))))
        return
    if args.repeats < 20:
        parser.error("--repeats must be at least 20")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="npsbot-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(stoppable(run(args, workdir)))
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

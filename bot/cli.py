"""The `npsbot` command line: run the bot, apply migrations, export answers, print figures."""

from __future__ import annotations

import argparse
import asyncio
import html
import logging
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.app import StartupError
from bot.i18n import Catalogs
from bot.logs import redact_secrets
from bot.settings import Settings, SettingsError, load_settings
from nps.csat_report import (
    build_kind_report,
    build_kind_segments,
    render_kind_report,
    render_kind_segments,
)
from nps.nps_report import build_report, build_segments, render_report, render_segments
from nps.periods import PeriodError, parse_period
from nps.scope import SEGMENTS, Scope, reportable
from storage.db import Database, DatabaseError
from storage.models import utcnow
from storage.streams import count_responses

# The command line speaks English; the chat speaks each user's language.
CLI_LANGUAGE = "en"
EXPORT_FORMATS = ("xlsx", "csv")


class CliError(Exception):
    """A bad argument or an unusable database for a command; the message is one line."""


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # aiohttp/aiogram log full request URLs at DEBUG, which contain the bot token.
    for noisy in ("aiohttp.access", "aiogram.event", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


async def _run(settings: Settings) -> None:
    if settings.http_enabled:
        from bot.web.server import check_listen

        check_listen(settings)  # a taken HTTP_PORT: one line, before anything starts
    if not settings.bot_token and settings.whatsapp_enabled:
        from bot.whatsapp.channel import run_whatsapp

        await run_whatsapp(settings)  # WhatsApp alone: no Telegram
    elif settings.bot_framework == "ptb":
        from bot.runtime.ptb_runtime import run_polling as run_ptb

        await run_ptb(settings)
    else:
        from bot.runtime.aiogram_runtime import run_polling

        await run_polling(settings)


async def _migrate(settings: Settings) -> None:
    # The time zone: a revision may count old answers per local reporting day.
    db = Database(settings.database_url, tz=settings.tz)
    try:
        await db.check()
        await db.migrate()
    finally:
        await db.dispose()


def _check_sqlite_file(settings: Settings) -> None:
    """A read-only command on SQLite needs the file to exist (it would create an empty one)."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database).expanduser()
        if not path.is_file():
            raise CliError(
                f"DATABASE_URL names {path}, which does not exist: check the path "
                "(npsbot migrate creates a new database)"
            )


async def _open_for_reading(settings: Settings) -> Database:
    """The configured database, checked to hold npsbot's tables; nothing is created.

    Read-only commands never create or migrate anything: a mistyped DATABASE_URL must not
    leave an empty npsbot.db behind and then report "no answers".
    """
    db = Database(settings.database_url, tz=settings.tz)
    try:
        await db.check()
        async with db.snapshot() as store:
            await store.surveys.all()
    except DatabaseError:
        await db.dispose()
        raise
    except SQLAlchemyError:
        await db.dispose()
        raise CliError(
            "the database has no npsbot tables yet: run npsbot migrate (or npsbot run) first"
        ) from None
    return db


async def _scope(db: Database, survey: str | None, period: str | None) -> Scope:
    """The surveys and period named on the command line, as /nps would read them."""
    async with db.snapshot() as store:
        surveys = await store.surveys.all()
        ids = [s.id for s in surveys]
        earliest = await store.stats.first_day(ids) if ids else None
    today = utcnow().astimezone(db.tz).date()
    try:
        parsed = parse_period(period, today, earliest)
    except PeriodError as exc:
        raise CliError(f"--period: {exc}") from None
    if survey is None:
        return Scope(reportable(surveys), parsed, all_surveys=True, default_period=period is None)
    wanted = survey.strip().lower()
    match = [s for s in surveys if wanted in (s.slug.lower(), s.name.lower())]
    if not match:
        known = ", ".join(s.slug for s in surveys) or "none yet"
        raise CliError(f'--survey: there is no survey "{survey}" (known surveys: {known})')
    return Scope(tuple(match), parsed, all_surveys=False, default_period=period is None)


class ProgressBar:
    """A one-line progress bar for stderr: redrawn with "\\r" on a terminal, silent in logs."""

    WIDTH = 28
    REDRAW_EVERY = 0.1  # seconds: smooth enough, and cheap for a fast export

    def __init__(
        self,
        total: int,
        stream: TextIO,
        *,
        live: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self._clock = clock
        self._started = clock()
        self._drawn_at: float | None = None
        self._width = 0

    def update(self, rows: int) -> None:
        """Redraws the bar for `rows` written so far (throttled)."""
        if not self.live:
            return
        now = self._clock()
        if self._drawn_at is not None and now - self._drawn_at < self.REDRAW_EVERY:
            return
        self._drawn_at = now
        # Answers arriving during the export can push rows past the count taken before it.
        share = min(1.0, rows / self.total) if self.total else 1.0
        filled = int(share * self.WIDTH)
        line = (
            f"exporting [{'#' * filled}{'.' * (self.WIDTH - filled)}] {share:4.0%}"
            f"  {rows:,} of {self.total:,} rows"
        )
        self.stream.write("\r" + line.ljust(self._width))
        self._width = len(line)
        self.stream.flush()

    def finish(self, rows: int, out: Path) -> None:
        """Replaces the bar with the result: rows, file, time and rows per second."""
        elapsed = max(self._clock() - self._started, 1e-6)
        if self.live and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
        self.stream.write(
            f"exported {rows:,} rows to {out} in {elapsed:.1f} s ({rows / elapsed:,.0f} rows/s)\n"
        )
        self.stream.flush()


def _export_target(out: str, fmt: str | None) -> tuple[Path, str]:
    """The output file and its format (from --format, else the file's suffix, else xlsx)."""
    path = Path(out).expanduser()
    if path.is_dir():
        raise CliError(f"--out: {path} is a folder; name a file, e.g. {path / 'answers.xlsx'}")
    if not path.parent.is_dir():
        raise CliError(f"--out: the folder {path.parent} does not exist")
    suffix = path.suffix.lower().lstrip(".")
    return path, fmt or (suffix if suffix in EXPORT_FORMATS else "xlsx")


async def _export(settings: Settings, args: argparse.Namespace) -> None:
    # Imported here: the bot's handlers are not needed by run/migrate's argument errors.
    from handlers.export_file import write_export

    out, fmt = _export_target(args.out, args.format)
    db = await _open_for_reading(settings)
    try:
        scope = await _scope(db, args.survey, args.period)
        total = await count_responses(db, scope.survey_ids, *scope.period.bounds(db.tz))
        bar = ProgressBar(total, sys.stderr)
        # Written beside the target and renamed at the end, so an interrupted export never
        # replaces a good file with half of one.
        partial = out.with_name(f".{out.name}.partial")
        texts = Catalogs().texts(CLI_LANGUAGE)
        rows = await write_export(
            db,
            scope,
            fmt,
            texts,
            partial,
            exported_at=utcnow(),
            progress=bar.update,
            min_group=settings.enps_min_group,
        )
        partial.replace(out)
        bar.finish(rows, out)
    finally:
        await db.dispose()


def plain_text(markup: str) -> str:
    """A chat message as terminal text: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


async def _stats(settings: Settings, args: argparse.Namespace) -> str:
    # Imported here, as in _export: run/migrate's argument errors need no handlers.
    from handlers.report_kinds import scope_kind

    db = await _open_for_reading(settings)
    try:
        scope = await _scope(db, args.survey, args.period)
        texts = Catalogs().texts(CLI_LANGUAGE)
        # A CSAT or CES survey: its own figure (as /csat and /ces show it), never an NPS.
        kind = scope_kind(scope)
        async with db.snapshot() as store:
            if kind != "nps":
                if args.by:
                    kind_rows = await build_kind_segments(store, scope, args.by, kind)
                    table = render_kind_segments(kind_rows, scope, args.by, kind, texts)
                    return plain_text(table)
                kind_report = await build_kind_report(store, scope, kind)
                return plain_text(render_kind_report(kind_report, texts))
            if args.by:
                rows = await build_segments(store, scope, args.by)
                minimum = settings.enps_min_group
                table = render_segments(rows, scope, args.by, texts, min_group=minimum)
                return plain_text(table)
            report = await build_report(store, scope)
            return plain_text(render_report(report, texts, min_group=settings.enps_min_group))
    finally:
        await db.dispose()


class _Parser(argparse.ArgumentParser):
    """Reports argument mistakes as one line (exit code 2) instead of usage plus message."""

    def error(self, message: str) -> NoReturn:
        """Prints `npsbot export: <what is wrong> (see npsbot export --help)` and exits 2."""
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _add_scope_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--survey", metavar="SLUG", help="one survey (default: all NPS surveys)")
    parser.add_argument(
        "--period",
        metavar="P",
        help="today, 7d, 30d (default), 90d, all, last month, 2026-10, 2026-10-01..2026-10-31",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = _Parser(prog="npsbot", description="Net Promoter Score surveys in Telegram.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("run", help="run the bot (long polling) until Ctrl+C")
    commands.add_parser("migrate", help="apply database migrations and exit")
    export = commands.add_parser(
        "export",
        help="write the answers of a survey and period to an XLSX or CSV file",
        description="Writes one row per answer scored in the period (local days in TIMEZONE); "
        "XLSX also gets a Summary sheet with the /nps figures. Times are in UTC.",
    )
    export.add_argument("--format", choices=EXPORT_FORMATS, help="default: from --out, else xlsx")
    export.add_argument("--out", required=True, metavar="FILE", help="the file to write")
    _add_scope_options(export)
    stats = commands.add_parser(
        "stats",
        help="print the /nps figures of a survey and period (/csat or /ces for a CSAT or CES "
        "survey)",
    )
    _add_scope_options(stats)
    stats.add_argument(
        "--by",
        choices=SEGMENTS,
        help="a table per agent, source, campaign, language, channel (telegram, whatsapp, "
        "web) or survey",
    )
    demo = commands.add_parser(
        "demo",
        help="try the bot in a browser: a Telegram emulator, the bot and a chat page",
        description="Starts the Telegram emulator, the bot against it and a web page on "
        "127.0.0.1 where you chat as the owner or as simulated customers. No token, no "
        "internet; the page's address (with a key) is printed.",
    )
    demo.add_argument("--port", type=_port, default=8080, help="the page's port (default 8080)")
    demo.add_argument(
        "--data", metavar="DIR", help="keep the SQLite database in DIR (default: a temporary one)"
    )
    demo.add_argument("--framework", choices=("aiogram", "ptb"), default="aiogram")
    return parser


def _port(value: str) -> int:
    """A TCP port for --port."""
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number (1-65535)")
    return int(value)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `npsbot` and `python -m bot`."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "demo":  # its own settings: the environment and .env are not read
        from bot.demo.runner import run_demo

        return run_demo(args.port, args.data, args.framework)
    try:
        settings = load_settings(require_token=args.command == "run")
        _configure_logging(settings.log_level)
        redact_secrets(settings)  # the token and other secrets never reach a log line
        if args.command == "run":
            asyncio.run(_run(settings))
        elif args.command == "migrate":
            asyncio.run(_migrate(settings))
            print("database is up to date")
        elif args.command == "export":
            _check_sqlite_file(settings)
            asyncio.run(_export(settings, args))
        elif args.command == "stats":
            _check_sqlite_file(settings)
            print(asyncio.run(_stats(settings, args)))
    except (SettingsError, StartupError, DatabaseError, CliError) as exc:
        print(f"npsbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

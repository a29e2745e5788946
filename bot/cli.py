"""The `npsbot` command line: run the bot, apply migrations."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from bot.app import StartupError
from bot.settings import Settings, SettingsError, load_settings
from storage.db import Database, DatabaseError


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # aiohttp/aiogram log full request URLs at DEBUG, which contain the bot token.
    for noisy in ("aiohttp.access", "aiogram.event", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


async def _run(settings: Settings) -> None:
    if settings.bot_framework == "ptb":
        from bot.runtime.ptb_runtime import run_polling as run_ptb

        await run_ptb(settings)
    else:
        from bot.runtime.aiogram_runtime import run_polling

        await run_polling(settings)


async def _migrate(settings: Settings) -> None:
    db = Database(settings.database_url)
    try:
        await db.check()
        await db.migrate()
    finally:
        await db.dispose()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="npsbot", description="Net Promoter Score surveys in Telegram."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("run", help="run the bot (long polling) until Ctrl+C")
    commands.add_parser("migrate", help="apply database migrations and exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `npsbot` and `python -m bot`."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        settings = load_settings(require_token=args.command == "run")
        _configure_logging(settings.log_level)
        if args.command == "run":
            asyncio.run(_run(settings))
        elif args.command == "migrate":
            asyncio.run(_migrate(settings))
            print("database is up to date")
    except (SettingsError, StartupError, DatabaseError) as exc:
        print(f"npsbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Assembles the framework-free application: database, catalogs, router, pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.broadcast import broadcast_jobs
from bot.digest import digest_job
from bot.i18n import Catalogs
from bot.pipeline import Pipeline
from bot.settings import Settings
from handlers.context import BotConfig
from handlers.port import ChatPort
from handlers.routing import Router, create_router
from storage.db import Database, DatabaseError
from storage.models import utcnow

log = logging.getLogger(__name__)


class StartupError(Exception):
    """The bot cannot start; the message is one line for the operator."""


@dataclass(frozen=True)
class BotIdentity:
    """What getMe told us about the bot."""

    id: int
    username: str | None
    first_name: str


async def open_database(settings: Settings) -> Database:
    """Connects, migrates and makes sure a default survey exists."""
    db = Database(settings.database_url, tz=settings.tz, anonymity_salt=settings.anonymity_salt)
    try:
        await db.check()
        await db.migrate()
        async with db.transaction() as store:
            await store.surveys.ensure_default()
    except DatabaseError as exc:
        await db.dispose()
        raise StartupError(str(exc)) from None
    return db


def build_pipeline(
    settings: Settings,
    db: Database,
    me: BotIdentity,
    *,
    catalogs: Catalogs | None = None,
    router: Router | None = None,
) -> Pipeline:
    """The pipeline the runtimes feed events into."""
    catalogs = catalogs or Catalogs(default=settings.default_language)
    owners = tuple(sorted(set(settings.admin_ids)))
    alert_chats = (settings.alert_chat_id,) if settings.alert_chat_id else owners
    config = BotConfig(
        brand=settings.brand_name or me.first_name,
        bot_username=me.username,
        admin_ids=frozenset(settings.admin_ids),
        alert_chats=alert_chats,
        staff_language=catalogs.default,
        broadcast_rate=settings.broadcast_rate,
        survey_cooldown_days=settings.survey_cooldown_days,
        any_survey_cooldown_days=settings.any_survey_cooldown_days,
    )
    return Pipeline(db=db, router=router or create_router(), catalogs=catalogs, config=config)


def bot_commands(catalogs: Catalogs, router: Router) -> dict[str, list[tuple[str, str]]]:
    """The command menu per language: {"en": [("start", "Answer the survey"), …]}."""
    menu: dict[str, list[tuple[str, str]]] = {}
    for language in catalogs.languages:
        texts = catalogs.texts(language)
        menu[language] = [
            (name, texts.plain(f"cmd_{name}"))
            for name in ("start", "help", "language", "stop")
            if name in router.command_names
        ]
    return menu


# A long-running task beside the update loop (digests, broadcasts, reminders). It gets the
# application and a ChatPort for sending without an incoming update, and runs until cancelled.
BackgroundJob = Callable[["Application", ChatPort], Awaitable[None]]


@dataclass
class Application:
    """Everything a runtime needs once the bot is identified: database, catalogs, pipeline."""

    settings: Settings
    db: Database
    catalogs: Catalogs
    pipeline: Pipeline
    me: BotIdentity
    jobs: list[BackgroundJob] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def clock(self) -> datetime:
        """ "Now" for the background jobs (aware UTC).

        A method, so a test can move time for a bot that a runtime builds:
        monkeypatch.setattr(Application, "clock", lambda self: moment).
        """
        return utcnow()

    def start_jobs(self, port: ChatPort) -> None:
        """Starts the background jobs; a crashing job is logged, not fatal to the bot."""
        for job in self.jobs:
            self._tasks.append(asyncio.create_task(self._guard(job, port)))

    async def _guard(self, job: BackgroundJob, port: ChatPort) -> None:
        try:
            await job(self, port)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background job %s stopped", getattr(job, "__name__", job))

    async def close(self) -> None:
        """Stops the jobs, waits for in-flight updates, closes the database."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.pipeline.drain()
        await self.db.dispose()


def background_jobs(settings: Settings) -> list[BackgroundJob]:
    """The jobs every runtime starts beside its update loop."""
    jobs: list[BackgroundJob] = []
    if settings.digest_at is not None:
        jobs.append(digest_job)
    jobs.extend(broadcast_jobs(settings))
    return jobs


def freeze_startup_heap() -> None:
    """Takes what start-up allocated (modules, pydantic models, catalogs) out of the
    garbage collector's scans.

    Every full collection otherwise walks those hundreds of thousands of objects again,
    a pause of tens of milliseconds that lands on whichever answers are in flight (the
    p99 of bench/e2e_throughput.py). Standalone runtimes only: in a host bot's process
    the heap is the host's business.
    """
    gc.collect()
    gc.freeze()


def thaw_startup_heap() -> None:
    """Gives the frozen objects back to the collector once the bot has stopped: a process
    that goes on (tests start and stop many bots) would otherwise never free their cycles."""
    gc.unfreeze()


async def start_application(
    settings: Settings, me: BotIdentity, *, router: Router | None = None
) -> Application:
    """Opens the database and builds the pipeline, for whichever runtime is in use."""
    db = await open_database(settings)
    catalogs = Catalogs(default=settings.default_language)
    pipeline = build_pipeline(settings, db, me, catalogs=catalogs, router=router)
    return Application(settings, db, catalogs, pipeline, me, background_jobs(settings))

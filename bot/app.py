"""Assembles the framework-free application: database, catalogs, router, pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.autopilot import autopilot_job
from bot.broadcast import broadcast_jobs
from bot.broadcast.sending_process import SendingProcess, worker_name
from bot.digest import digest_job
from bot.events import events_job
from bot.i18n import Catalogs
from bot.invitations import invitation_job
from bot.jobs import BackgroundJob
from bot.metrics import Metrics
from bot.outbox_keeper import OutboxKeeper
from bot.pipeline import Pipeline
from bot.settings import Settings
from bot.theme_job import theme_job
from handlers import alerts
from handlers.access import command_menu
from handlers.context import BotConfig, UpdateContext
from handlers.port import ChatPort, Outbox
from handlers.roles import Role
from handlers.routing import Routes, create_router
from storage.db import Database, DatabaseError
from storage.models import utcnow
from storage.store import Store

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
    db = Database(
        settings.database_url,
        tz=settings.tz,
        anonymity_salt=settings.anonymity_salt,
        event_urls=settings.events_urls,  # every event gets a delivery row per URL
        pool_size=settings.pool_size,
    )
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
    router: Routes | None = None,
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
        enps_min_group=settings.enps_min_group,
        whatsapp_enabled=settings.whatsapp_enabled,
    )
    return Pipeline(db=db, router=router or create_router(), catalogs=catalogs, config=config)


def bot_commands(catalogs: Catalogs, router: Routes) -> dict[str, list[tuple[str, str]]]:
    """The command menu per language: {"en": [("start", "Answer the survey"), …]}."""
    menu: dict[str, list[tuple[str, str]]] = {}
    for language in catalogs.languages:
        texts = catalogs.texts(language)
        menu[language] = command_menu(router.hooks, texts, Role.NONE)
    return menu


async def staff_menus(app: BotApp) -> Outbox:
    """Each team member's own command menu (Telegram's chat scope), in their language.

    Set at start-up; /grant and /revoke change one person's. Someone who never pressed
    Start has no chat yet (Telegram would answer "chat not found"): theirs is set at /start.
    """
    outbox = Outbox()
    catalogs = app.catalogs
    async with app.db.snapshot() as store:
        members = {owner: Role.OWNER for owner in app.settings.admin_ids}
        for member in await store.staff.all():
            members.setdefault(member.user_id, Role[member.role.upper()])
        for user_id, role in sorted(members.items()):
            person = await store.respondents.by_telegram(user_id)
            if person is None:
                continue  # never pressed Start: their menu is set when they do
            language = catalogs.resolve(person.language_override, person.telegram_language)
            menu = command_menu(app.pipeline.router.hooks, catalogs.texts(language), role)
            outbox.set_commands(user_id, menu)
    return outbox


async def held_alerts(app: BotApp, port: ChatPort) -> None:
    """At start-up: alerts an earlier run could not deliver go to the chats that may be
    reachable now (a group the bot was added to since); then one WARNING per owner or
    alert chat that still cannot be reached, saying why. An owner who never pressed Start
    or blocked the bot gets theirs when they write to it (handlers/alerts.py)."""
    pipeline = app.pipeline

    def context(store: Store, outbox: Outbox) -> UpdateContext:
        language = app.catalogs.default
        return UpdateContext(store, outbox, app.catalogs, pipeline.config, language, utcnow())

    outbox = Outbox()
    async with app.db.snapshot() as store:
        ctx = context(store, outbox)
        for chat_id, reason, _ in await alerts.unreachable_targets(ctx):
            if reason in ("unreachable_not_in_group", "unreachable_unknown"):
                await alerts.deliver_held(ctx, chat_id)
    if outbox.actions:
        await pipeline.deliver(outbox, port)
    english = app.catalogs.texts("en")
    async with app.db.snapshot() as store:
        for chat_id, reason, waiting in await alerts.unreachable_targets(context(store, Outbox())):
            target = f"owner {chat_id}" if chat_id > 0 else f"alert chat {chat_id}"
            log.warning(
                "%s cannot be reached: %s (%d alerts waiting)",
                target,
                english.plain(reason),
                waiting,
            )


@dataclass
class BotApp:
    """Everything a runtime needs once the bot is identified: database, catalogs, pipeline."""

    settings: Settings
    db: Database
    catalogs: Catalogs
    pipeline: Pipeline
    me: BotIdentity
    jobs: list[BackgroundJob] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    # Outbox rows written before this moment were left unsent by an earlier run.
    started_at: datetime = field(default_factory=utcnow)
    # GET /metrics; the pipeline reports each update to it and sends through its ports.
    metrics: Metrics = field(init=False)
    # Set when the bot begins to stop: /readyz answers 503 and the webhook takes no more.
    draining: bool = False
    # Why /readyz last said 503 (None: ready), so a change is logged once (bot/web/probes.py).
    readiness_problem: str | None = None
    # The runtime's port, once the jobs run: what the HTTP server's own units of work (a
    # survey link's answer, bot/web/survey_routes.py) send through, e.g. detractor alerts.
    port: ChatPort | None = None
    # The process's name in the heartbeat table: one row per process, shared with its
    # SendingProcess (the rate's lease), so replicas count each other once.
    name: str = field(default_factory=worker_name)
    # This process's heartbeat; replies dead replicas left are sent (bot/outbox_keeper.py).
    keeper: OutboxKeeper = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = Metrics(self.db)
        self.pipeline.observer = self.metrics
        self.keeper = OutboxKeeper(self.db, self.pipeline, self.started_at, self.name)

    def clock(self) -> datetime:
        """ "Now" for the background jobs (aware UTC).

        A method, so a test can move time for a bot that a runtime builds:
        monkeypatch.setattr(BotApp, "clock", lambda self: moment).
        """
        return utcnow()

    def start_jobs(self, port: ChatPort) -> None:
        """Starts the background jobs; a crashing job is logged, not fatal to the bot."""
        self.port = port  # as given: Pipeline.deliver counts what goes through it
        port = self.metrics.port(port)  # their sends are counted too
        for job in self.jobs:
            self._tasks.append(asyncio.create_task(self._guard(job, port)))
        self._tasks.append(asyncio.create_task(self._guard(self._resend_kept, port)))

    @staticmethod
    async def _resend_kept(app: BotApp, port: ChatPort) -> None:
        """Sends the replies an earlier run committed but never sent (bot/outbox.py), then
        keeps taking over those of replicas that die."""
        await app.keeper.start(port)
        await held_alerts(app, port)  # after the kept replies: an alert is sent once
        await app.keeper.run(port)

    async def _guard(
        self, job: Callable[[BotApp, ChatPort], Awaitable[None]], port: ChatPort
    ) -> None:
        try:
            await job(self, port)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background job %s stopped", getattr(job, "__name__", job))

    async def close(self) -> None:
        """Stops the jobs, waits for in-flight updates, closes the database.

        Replies still waiting on Telegram (a 429's retry_after) are not waited for: they
        stay in the persisted outbox for the next start (Pipeline.stop).
        """
        self.draining = True
        self.pipeline.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.pipeline.drain()
        await self.keeper.leave()  # nothing in flight: a live replica may take what is left
        await self.db.dispose()


def background_jobs(settings: Settings, process: SendingProcess) -> list[BackgroundJob]:
    """The jobs every runtime starts beside its update loop; `process`: the one rate
    limiter and heartbeat of every sender (broadcasts, reminders, invitations)."""
    jobs: list[BackgroundJob] = []
    if settings.digest_at is not None:
        jobs.append(digest_job)
    jobs.extend(broadcast_jobs(settings, process))
    jobs.append(invitation_job(process))  # the trigger API's invitations (bot/invitations.py)
    if settings.events_urls:
        jobs.append(events_job)  # signed events for the CRM (bot/events)
    # Relationship surveys on autopilot: each weekday morning's run becomes a broadcast.
    jobs.append(autopilot_job)
    # Themes of comments (issue 15): each answer's themes kept current for /themes.
    jobs.append(theme_job)
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
    settings: Settings, me: BotIdentity, *, router: Routes | None = None
) -> BotApp:
    """Opens the database and builds the pipeline, for whichever runtime is in use."""
    db = await open_database(settings)
    catalogs = Catalogs(default=settings.default_language)
    pipeline = build_pipeline(settings, db, me, catalogs=catalogs, router=router)
    process = SendingProcess(settings)
    jobs = background_jobs(settings, process)
    return BotApp(settings, db, catalogs, pipeline, me, jobs, name=process.name)

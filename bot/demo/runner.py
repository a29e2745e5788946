"""Starts and stops the demo: the emulator, the bot polling it, and the page's server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from bot.app import BotApp, StartupError
from bot.demo.live import DemoEmulator
from bot.demo.people import CUSTOMERS, OWNER
from bot.demo.web import DemoWeb, Summary
from bot.settings import Settings, SettingsError, check_settings
from handlers.deeplink import build_payload
from storage.db import DatabaseError

log = logging.getLogger(__name__)

# No real bot stands behind it: the emulator accepts any well-formed token.
DEMO_TOKEN = "777000:DEMO-no-real-bot"
BOT_NAME = "Acme"
BOT_USERNAME = "acme_nps_bot"
DATABASE_FILE = "npsbot.db"
START_TIMEOUT = 60.0  # seconds for the bot to migrate a new database and start polling
SEED_TIMEOUT = 15.0


class DemoError(Exception):
    """The demo cannot start; the message is one line for the terminal."""


class DemoSettings(Settings):
    """The bot's settings, read from the demo alone: a user's `.env` or environment (a
    DATABASE_URL, a webhook, an API token) must not change or break it."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the values given in code."""
        return (init_settings,)


def demo_settings(api_url: str, database_url: str, framework: str) -> Settings:
    """The bot's settings in the demo: the emulator, the demo's database and owner."""
    settings = DemoSettings(
        bot_token=DEMO_TOKEN,
        database_url=database_url,
        telegram_api_url=api_url,
        admin_ids=[OWNER.id],
        bot_framework=framework,
        log_level="ERROR",
        # A demo runs at any hour and its visitor tries things again: invitations and
        # broadcasts go at once, to people who answered a minute ago too.
        quiet_hours="off",
        survey_cooldown_days=0,
        any_survey_cooldown_days=0,
        digest_time="off",
        broadcast_progress_seconds=1.0,
    )
    check_settings(settings)
    return settings


@dataclass(frozen=True)
class DemoOptions:
    """What `npsbot demo` was asked for."""

    port: int = 8080
    data: Path | None = None
    framework: str = "aiogram"
    host: str = "127.0.0.1"


def _run_polling(framework: str) -> Callable[..., Coroutine[Any, Any, None]]:
    """The chosen runtime's `run_polling` (imported on demand: each pulls in its framework)."""
    if framework == "ptb":
        from bot.runtime.ptb_runtime import run_polling as run_ptb

        return run_ptb
    from bot.runtime.aiogram_runtime import run_polling

    return run_polling


class Demo:
    """One running demo: `await demo.start()`, then `demo.url`; `await demo.stop()`."""

    def __init__(self, options: DemoOptions) -> None:
        self.options = options
        self.key = secrets.token_urlsafe(24)
        self.api = DemoEmulator(
            token=DEMO_TOKEN, bot_first_name=BOT_NAME, bot_username=BOT_USERNAME
        )
        self.app: BotApp | None = None
        self.settings: Settings | None = None
        self.web = DemoWeb(self.api, OWNER, CUSTOMERS, key=self.key, traffic=self._traffic)
        self._stop_bot = asyncio.Event()
        self._bot: asyncio.Task[None] | None = None
        self._temp: Path | None = None

    @property
    def data_dir(self) -> Path:
        """Where the database lives (a temporary folder unless `--data` named one)."""
        if self.options.data is not None:
            return self.options.data
        assert self._temp is not None, "the demo is not started"
        return self._temp

    @property
    def url(self) -> str:
        """The page's address with this run's key."""
        return f"{self.web.origin}/?key={self.key}"

    async def start(self) -> None:
        """Starts everything, or raises DemoError with one line (nothing left running)."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        data = self.options.data
        if data is not None:
            if data.exists() and not data.is_dir():
                raise DemoError(f"--data: {data} is a file; name a folder")
            try:
                data.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DemoError(f"--data: cannot create {data} ({exc.strerror})") from None
        else:
            self._temp = Path(tempfile.mkdtemp(prefix="npsbot-demo-"))
        # The page's port first: a taken one fails before anything else starts.
        try:
            await self.web.start(self.options.host, self.options.port)
        except OSError as exc:
            raise DemoError(
                f"cannot listen on {self.options.host}:{self.options.port} "
                f"({exc.strerror or exc}): choose another port with --port"
            ) from None
        await self.api.start()
        database = self.data_dir.resolve() / DATABASE_FILE
        try:
            self.settings = demo_settings(
                self.api.base_url, f"sqlite+aiosqlite:///{database}", self.options.framework
            )
        except SettingsError as exc:
            raise DemoError(str(exc)) from None
        await self._start_bot(self.settings)
        await self._seed()

    async def _start_bot(self, settings: Settings) -> None:
        def started(app: BotApp) -> None:
            self.app = app

        run_polling = _run_polling(settings.bot_framework)
        bot = asyncio.create_task(run_polling(settings, stop=self._stop_bot, on_start=started))
        self._bot = bot
        try:
            await self.api.wait_until(
                lambda: bool(self.api.calls_for("getUpdates")) or bot.done(),
                timeout=START_TIMEOUT,
            )
        except AssertionError:
            raise DemoError(f"the bot did not start within {START_TIMEOUT:.0f} s") from None
        if bot.done():
            try:
                bot.result()
            except (StartupError, DatabaseError) as exc:
                raise DemoError(str(exc)) from None
            raise DemoError("the bot stopped as it started")

    async def _seed(self) -> None:
        """Everyone has pressed Start before (so broadcasts and alerts reach them); in a
        new database they do it now: customers through their deep link, the owner with
        /help (the commands to try)."""
        users = [
            self.api.user(p.id, p.first_name, language_code=p.language_code) for p in CUSTOMERS
        ]
        owner = self.api.user(OWNER.id, OWNER.first_name, language_code=OWNER.language_code)
        assert self.app is not None
        async with self.app.db.transaction() as store:
            # This emulator numbers its updates from the start again: the ids a kept
            # database remembers are an earlier run's (they would look like redeliveries).
            await store.updates.forget_older_than(0)
            known = await store.respondents.by_telegram(owner.id) is not None
        if known:
            for user in [owner, *users]:
                user.started = True
            return
        owner.send("/help")
        for person, user in zip(CUSTOMERS, users, strict=True):
            # Each through the link of where they came from (a shop, a call…).
            link = build_payload("nps", source=person.source, agent=person.agent)
            user.send(f"/start {link}")
        with contextlib.suppress(AssertionError):  # a slow machine: the page shows them later
            await self.api.wait_until(
                lambda: all(u.bot_messages for u in [owner, *users]), timeout=SEED_TIMEOUT
            )

    async def _traffic(self) -> Summary:
        """Runs bot/demo/traffic.py's simulation on the bot's own database."""
        from bot.demo.traffic import simulate_traffic

        if self.app is None or self.settings is None:
            raise RuntimeError("the bot is not running")
        # The bot's own Database (its pool and its SQLite write queue): a second engine on
        # the same file would wait on the bot's write lock instead of queueing beside it.
        return await simulate_traffic(
            self.app.db, self.api, owner_id=OWNER.id, settings=self.settings
        )

    async def stop(self) -> None:
        """Stops the page, the bot and the emulator; removes a temporary folder."""
        await self.web.stop()
        if self._bot is not None:
            self._stop_bot.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._bot), timeout=15)
            if not self._bot.done():
                self._bot.cancel()
                with contextlib.suppress(BaseException):
                    await self._bot
            self._bot = None
        await self.api.close()
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = None


def describe(demo: Demo) -> str:
    """What the terminal shows once the demo runs."""
    if demo.options.data is None:
        where = (
            f"a temporary SQLite file in {demo.data_dir} (removed at exit; --data DIR keeps it)"
        )
    else:
        where = f"{(demo.data_dir / DATABASE_FILE).resolve()}"
    return (
        f"npsbot demo: open {demo.url}\n"
        f"  the bot ({demo.options.framework}) answers the page's people through the Telegram "
        f"emulator; data: {where}\n"
        "  Ctrl+C stops it"
    )


async def serve(options: DemoOptions, *, out: Any = None) -> None:
    """Runs the demo until SIGINT or SIGTERM."""
    demo = Demo(options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await demo.start()
        print(describe(demo), file=out or sys.stdout, flush=True)
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await demo.stop()


def run_demo(port: int, data: str | None, framework: str) -> int:
    """`npsbot demo`: runs until Ctrl+C; a problem is one line on stderr and exit code 2."""
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    options = DemoOptions(
        port=port, data=Path(data).expanduser() if data else None, framework=framework
    )
    try:
        asyncio.run(serve(options))
    except DemoError as exc:
        print(f"npsbot demo: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0

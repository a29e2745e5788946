"""Assembles the framework-free application: database, catalogs, router, pipeline."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.i18n import Catalogs
from bot.pipeline import Pipeline
from bot.settings import Settings
from handlers.context import BotConfig
from handlers.routing import Router, create_router
from storage.db import Database, DatabaseError

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
    db = Database(settings.database_url)
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
    config = BotConfig(
        brand=settings.brand_name or me.first_name,
        bot_username=me.username,
        admin_ids=frozenset(settings.admin_ids),
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

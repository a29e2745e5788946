"""Fills a database through the code of an older tree, then dumps every row as JSON.

Run by tests/storage/test_people_migration.py in a subprocess whose PYTHONPATH starts with
the older tree (`git archive` of the commit before people had addresses): the bot of that
tree runs against its Bot API emulator, as its own end-to-end tests do, and people use it
— answers (one replaced), a detractor case with a reply thread, an eNPS answer, /stop,
/language, a granted role, an imported contact list, a broadcast — so the database holds
what that code writes. Usage: `python people_filler.py DATABASE_URL OUT.json OLD_TREE`.
Only modules that exist in that older tree are imported here.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import pkgutil
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any


def _check_imported_from(tree: Path, *modules: Any) -> None:
    """The modules are the old tree's, not the editable install's (the current tree)."""
    for module in modules:
        where = Path(module.__file__).resolve()
        if not where.is_relative_to(tree):
            raise SystemExit(f"{module.__name__} imported from {where}, not from {tree}")


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime | date) else value


async def dump(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table the models define, ordered by primary key."""
    from sqlalchemy import select

    import storage
    from storage.db import Database
    from storage.models import Base

    for info in pkgutil.iter_modules(storage.__path__):
        if info.name == "models" or info.name.endswith("_models"):
            importlib.import_module(f"storage.{info.name}")
    db = Database(url)
    tables: dict[str, list[dict[str, Any]]] = {}
    try:
        async with db.snapshot() as store:
            session = store.responses._session
            for table in Base.metadata.sorted_tables:
                query = select(table).order_by(*table.primary_key.columns)
                rows = (await session.execute(query)).all()
                tables[table.name] = [
                    {key: _plain(value) for key, value in row._mapping.items()} for row in rows
                ]
    finally:
        await db.dispose()
    return tables


async def _after(user: Any, text: str, fragment: str = "") -> Any:
    """Sends a message and returns the first later bot message containing `fragment`."""
    before = max((m.message_id for m in user.messages), default=0)
    user.send(text)
    return await user.wait_for_message(
        lambda m: m.message_id > before and fragment in m.text, timeout=10
    )


async def _tap(user: Any, message: Any, button: str, fragment: str = "") -> Any:
    """Presses a button and returns the next bot message containing `fragment`."""
    before = max(m.message_id for m in user.messages)
    user.press(message, button)
    return await user.wait_for_message(
        lambda m: m.message_id > before and fragment in m.text, timeout=10
    )


async def fill(url: str) -> None:
    """People use the old bot: every kind of row its code writes."""
    from bot.emulator import BotApiEmulator
    from tests.e2e.admin_helpers import make_survey  # type: ignore[import-not-found]
    from tests.e2e.conftest import OWNER_ID, QUESTION, TOKEN, RunningBot, make_settings

    enps_question = "How likely are you to recommend Acme as a place to work"
    async with BotApiEmulator(
        token=TOKEN, bot_first_name="Acme", bot_username="acme_nps_bot"
    ) as api:
        bot = RunningBot(make_settings(api, url, bot_framework="aiogram"), api)
        await bot.start()
        owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
        await _after(owner, "/help", "Owner commands")
        # A detractor with tags, both comments, a reply from the team and an answer back.
        anna = api.user(101, first_name="Anna", username="anna", language_code="en")
        question = await _after(anna, "/start nps__s-call__a-olga", QUESTION)
        await _tap(anna, question, "6", "disappointed")
        alert = await owner.wait_for_message(lambda m: m.text.startswith("🔴 Detractor · 6"))
        await _after(anna, "The courier was late twice", "give us a 10")
        await _after(anna, "Deliver on time", "Thank you, Anna")
        await _tap(owner, alert, "✉️ Reply", "Write your reply to Anna")
        await _after(owner, "Sorry: the refund is on its way.", "Sent to Anna")
        await anna.wait_for_message(lambda m: "refund is on its way" in m.text)
        anna.send("Thanks, it arrived")
        await owner.wait_for_message(lambda m: "Thanks, it arrived" in m.text)
        # Ben answers twice through the same door: the first answer is replaced (kept,
        # superseded_by the second).
        ben = api.user(104, first_name="Ben", username="ben", language_code="ru")
        question = await _after(ben, "/start", "порекомендуете")
        await _tap(ben, question, "9")
        question = await _after(ben, "/start", "порекомендуете")
        await _tap(ben, question, "10")
        # An employee's anonymous eNPS answer (salted hashes, a public id).
        survey_db = _db(url)
        await make_survey(survey_db, "pulse", "Team pulse", kind="enps")
        await survey_db.dispose()
        emp = api.user(105, first_name="Emp", language_code="en")
        question = await _after(emp, "/start pulse", enps_question)
        await _tap(emp, question, "8")
        # /stop, then a language of one's own.
        carl = api.user(106, first_name="Carl", language_code="de")
        question = await _after(carl, "/start", QUESTION)
        await _tap(carl, question, "7")
        await _after(carl, "/stop", "will not receive any more surveys")
        await _after(carl, "/language ro")
        # A role for someone who never pressed Start, and an imported contact list.
        await _after(owner, "/grant 107 viewer")
        await _after(owner, "/import\n108,ru,shop,olga,Petra\n101,en,web,,Anna", "imported")
        await bot.idle()
        await bot.stop()
        # A broadcast (no fatigue rules, so the people just surveyed get it too).
        sender = RunningBot(
            make_settings(
                api,
                url,
                bot_framework="aiogram",
                survey_cooldown_days=0,
                any_survey_cooldown_days=0,
                broadcast_rate=200,
                broadcast_progress_seconds=0.2,
            ),
            api,
        )
        await sender.start()
        preview = await _after(owner, "/broadcast nps", "Broadcast preview")
        send = next(text for text in preview.button_texts if text.startswith("✅ Send to"))
        owner.press(preview, send)
        await owner.wait_for_message(lambda m: "finished:" in m.text, timeout=15)
        question = await anna.wait_for_message(
            lambda m: "recommend Acme" in m.text and "10" in m.button_texts
        )
        await _tap(anna, question, "3", "disappointed")
        await sender.idle()
        await sender.stop()


def _db(url: str) -> Any:
    from storage.db import Database

    return Database(url)


async def main(url: str, out: Path, tree: Path) -> None:
    """Fills the database through the old tree's bot and writes the dump to `out`."""
    import bot.app
    import storage.db
    import tests.e2e.conftest

    _check_imported_from(tree, storage.db, bot.app, tests.e2e.conftest)
    await fill(url)
    rows = json.dumps(await dump(url), ensure_ascii=False)
    out.write_text(rows)  # noqa: ASYNC240 - the process's last step; nothing else runs


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]).resolve()))

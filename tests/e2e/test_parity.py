"""Parity: one scripted scenario on aiogram and on python-telegram-bot gives identical results.

Each runtime gets a fresh emulator and a fresh database; afterwards what every user saw
(texts, formatting, keyboards, edits, button answers) and what the database holds (every
table, minus generated ids and timestamps) must be equal. A difference fails the test.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, MetaData, func, select
from sqlalchemy import types as sqltypes
from sqlalchemy.engine import make_url

from bot.emulator import BotApiEmulator, EmulatedUser
from bot.emulator.models import ChatMessage
from handlers.callbacks import MalformedCallback, unpack
from storage.db import Database
from storage.personal import PERSONAL_DATA, Key, Personal
from tests.conftest import BACKENDS, PG_URL, _pg_admin
from tests.e2e.conftest import OWNER_ID, QUESTION, TOKEN, RunningBot, make_settings

# Dates and clock times in texts (alerts, reports) may tick over between the two runs.
_CLOCK = re.compile(r"\b\d{1,2}:\d{2}\b")
_DAY = re.compile(r"\b\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\b")
_ISO_DAY = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
# A person's internal id is generated in the order people first write, which concurrent
# users may vary between runs; it is compared as the person's Telegram address instead.
_PERSON_COLUMNS = {("respondents", "id")} | {
    (name, column)
    for name, entry in PERSONAL_DATA.items()
    if isinstance(entry, Personal) and entry.key == Key.PERSON
    for column in entry.person
}
# Random by design (a secret generated at first start), so different in every database.
_RANDOM_COLUMNS = {("app_secrets", "value")}


@pytest.fixture
async def other_db_url(
    db_url: str, tmp_path: Path, sqlite_template: Path, pg_template: str | None
) -> AsyncIterator[str]:
    """A second fresh database of the same kind as `db_url`, for the second runtime."""
    if db_url.startswith("sqlite"):
        path = tmp_path / "second.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    assert pg_template is not None  # db_url skipped otherwise
    name = f"npsbot_t_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Script:
    """Drives users step by step, waiting for each answer, and remembers button answers."""

    def __init__(self, api: BotApiEmulator) -> None:
        self.api = api
        self.presses: list[tuple[int, str]] = []  # (user id, callback query id), in order

    def press(self, user: EmulatedUser, message: ChatMessage, label: str) -> str:
        """Presses a button by its label."""
        query_id = user.press(message, label)
        self.presses.append((user.id, query_id))
        return query_id

    def press_data(self, user: EmulatedUser, message: ChatMessage, data: str) -> str:
        """Presses a button with forged data."""
        query_id = user.press_data(message, data)
        self.presses.append((user.id, query_id))
        return query_id

    async def reply(self, user: EmulatedUser, text: str, expected: str) -> ChatMessage:
        """Sends text and waits for a newer bot message containing `expected`."""
        before = len(user.bot_messages)
        user.send(text)
        return await user.wait_for_message(
            lambda m: expected in m.text and user.bot_messages.index(m) >= before
        )

    async def run(self, db: Database) -> None:
        """The scenario: every respondent path, bad inputs and Telegram's errors."""
        api = self.api
        async with db.transaction() as store:
            survey = await store.surveys.ensure_default()
            await store.surveys.update(survey.id, review_url="https://example.com/review")

        owner = api.user(OWNER_ID, first_name="Olga", username="olga", language_code="en")
        await self.reply(owner, "/help", "/language")

        # A detractor answers everything.
        anna = api.user(101, first_name="Anna", username="anna", language_code="en")
        question = await self.reply(anna, "/start", QUESTION)
        self.press(anna, question, "6")
        await anna.wait_for_message(lambda m: "disappointed" in m.text)
        await self.reply(anna, "The courier was late <twice> & rude", "give us a 10")
        await self.reply(anna, "Deliver on time", "Thank you, Anna.")

        # A promoter skips both follow-ups and is invited to a public review.
        ben = api.user(102, first_name="Ben", language_code="en-GB")
        question = await self.reply(ben, "/start", QUESTION)
        self.press(ben, question, "10")
        why = await ben.wait_for_message(lambda m: "like most" in m.text)
        self.press(ben, why, "Skip")
        improve = await ben.wait_for_message(lambda m: "even better" in m.text)
        self.press(ben, improve, "Skip")
        await ben.wait_for_message(lambda m: m.text.startswith("Thank you, Ben!"))

        # Words and media at the score step; media at a text step; a typed score.
        cleo = api.user(103, first_name="Cleo", language_code="en")
        await self.reply(cleo, "/start", QUESTION)
        await self.reply(cleo, "hello", "Please choose a number")
        await self.reply(cleo, "11", "Please choose a number")
        before = len(cleo.bot_messages)
        cleo.send_sticker()
        await api.wait_until(lambda: len(cleo.bot_messages) > before)
        await self.reply(cleo, "8", "main reason")
        for send_media in (cleo.send_sticker, cleo.send_photo, cleo.send_voice):
            before = len(cleo.bot_messages)
            send_media()
            await api.wait_until(lambda b=before: len(cleo.bot_messages) > b)
        await self.reply(cleo, "Prices are fine", "give us a 10")

        # Forged, foreign and malformed buttons; then a double press, the first one wins.
        dan = api.user(104, first_name="Dan", language_code="en")
        eve = api.user(105, first_name="Eve", language_code="en")
        question = await self.reply(dan, "/start", QUESTION)
        eve_question = await self.reply(eve, "/start", QUESTION)
        foreign = eve_question.keyboard[0][3].callback_data
        assert foreign is not None
        for data in (foreign, "garbage", "nps:s:1", "nps:s:999999:5", "nps:zz:1:2"):
            await dan.wait_callback_answer(self.press_data(dan, question, data))
        first = self.press(dan, question, "4")
        second = self.press(dan, question, "9")
        await dan.wait_for_message(lambda m: "disappointed" in m.text)
        await dan.wait_callback_answer(first)
        await dan.wait_callback_answer(second)
        await eve.wait_callback_answer(self.press(eve, eve_question, "7"))
        await eve.wait_for_message(lambda m: "main reason" in m.text)

        # Messages after completion change nothing.
        gus = api.user(108, first_name="Gus", language_code="en")
        question = await self.reply(gus, "/start", QUESTION)
        await self.reply(gus, "9", "like most")
        await self.reply(gus, "ok", "even better")
        await self.reply(gus, "nothing", "Thank you, Gus!")
        await self.reply(gus, "one more thing", "already answered")
        await self.reply(gus, "5", "already answered")
        answer = await gus.wait_callback_answer(self.press_data(gus, question, foreign))
        assert answer.show_alert

        # /language mid-survey repeats the pending question in the new language.
        rita = api.user(204, first_name="Rita", language_code="en")
        question = await self.reply(rita, "/start", QUESTION)
        self.press(rita, question, "3")
        await rita.wait_for_message(lambda m: "disappointed" in m.text)
        menu = await self.reply(rita, "/language", "Choose your language")
        self.press(rita, menu, "Русский")
        await rita.wait_for_message(lambda m: "разочаровало" in m.text)
        await self.reply(rita, "Долго ждал", "поставили 10")
        await self.reply(rita, "/language pl", "10")
        await self.reply(rita, "Szybciej", "Dziękujemy")

        # /stop, an unknown command, /start again.
        quinn = api.user(203, first_name="Quinn", language_code="ro")
        await self.reply(quinn, "/start", "recomandați")
        await self.reply(quinn, "/stop", "/start")
        await self.reply(quinn, "/stats", "/help")
        await self.reply(quinn, "/start", "recomandați")

        # Telegram pushes back: 429 (waits), 5xx (retries), 400 on an edit (ignored).
        vic = api.user(210, first_name="Vic", language_code="en")
        api.inject_fault(method="sendMessage", status=429, retry_after=1, chat_id=vic.id)
        api.inject_fault(method="sendMessage", status=502, times=1, chat_id=vic.id)
        question = await self.reply(vic, "/start", QUESTION)
        api.inject_fault(
            method="editMessageText",
            status=400,
            description="Bad Request: message to edit not found",
            chat_id=vic.id,
        )
        self.press(vic, question, "9")
        await vic.wait_for_message(lambda m: "like most" in m.text)
        # 403 while replying marks the user unreachable; blocking and unblocking too.
        tom = api.user(208, first_name="Tom", language_code="en")
        api.inject_fault(method="sendMessage", status=403, chat_id=tom.id, times=1)
        tom.send("/start")
        sam = api.user(207, first_name="Sam", language_code="en")
        await self.reply(sam, "/start", QUESTION)
        sam.block_bot()
        sam.unblock_bot()
        sam.block_bot()

        # The owner's report sees the same answers.
        await self.reply(owner, "/nps", "NPS")


def _mask(text: str) -> str:
    text = _CLOCK.sub("HH:MM", text)
    text = _DAY.sub("D Mon", text)
    return _ISO_DAY.sub("YYYY-MM-DD", text)


def _button_data(data: str | None) -> Any:
    """Callback data without the response ids it carries (ids are not compared)."""
    try:
        payload = unpack(data)
    except MalformedCallback:
        return data
    fields = dataclasses.asdict(payload)
    fields.pop("response_id", None)
    return (payload.tag, fields)


def _message(message: ChatMessage) -> dict[str, Any]:
    return {
        "from_bot": message.from_bot,
        "kind": message.kind,
        "text": _mask(message.text),
        "entities": [
            (e["type"], e["offset"], e["length"], e.get("url")) for e in message.entities
        ],
        "keyboard": [
            [(b.text, _button_data(b.callback_data), b.url) for b in row]
            for row in message.keyboard
        ],
        "edits": message.edit_count,
        "history": [_mask(t) for t in message.history],
        "deleted": message.deleted,
        "document": message.document.name if message.document else None,
        "photo": message.photo is not None,
    }


def transcripts(api: BotApiEmulator, script: Script) -> dict[str, Any]:
    """What every user saw: their chats, button answers and the published command menus."""
    answers: dict[int, list[tuple[str | None, bool]]] = {}
    for user_id, query_id in script.presses:
        answer = api.callback_answers.get(query_id)
        answers.setdefault(user_id, []).append(
            (_mask(answer.text or ""), answer.show_alert) if answer else ("<unanswered>", False)
        )
    chats = {chat.id: chat for chat in [*api.users.values(), *api.groups.values()]}
    return {
        "chats": {cid: [_message(m) for m in chat.messages] for cid, chat in chats.items()},
        "button answers": answers,
        "menus": api.commands,
    }


def _dump(connection: Connection) -> dict[str, list[tuple[Any, ...]]]:
    metadata = MetaData()
    metadata.reflect(connection)
    addresses = metadata.tables["addresses"]
    telegram_address = dict(
        connection.execute(
            select(addresses.c.respondent_id, addresses.c.address).where(
                addresses.c.channel == "telegram"
            )
        ).all()
    )

    def stable(table: str, name: str, value: Any) -> Any:
        if (table, name) in _PERSON_COLUMNS and value is not None:
            return f"telegram:{telegram_address.get(value, f'<no address {value}>')}"
        return value

    tables: dict[str, list[tuple[Any, ...]]] = {}
    for table in metadata.sorted_tables:
        if table.name == "alembic_version":
            continue
        columns = [
            c
            for c in table.columns
            if not isinstance(c.type, sqltypes.DateTime | sqltypes.Date)
            and not (
                c.primary_key and c.name == "id" and (table.name, "id") not in _PERSON_COLUMNS
            )
            and (table.name, c.name) not in _RANDOM_COLUMNS
        ]
        if not columns:  # only ids and timestamps: compare how many rows there are
            columns = [func.count().label("rows")]  # type: ignore[list-item]
        rows = connection.execute(select(*columns).select_from(table)).all()
        names = tuple(c.name for c in columns)
        tables[table.name] = sorted(
            (
                tuple(
                    (name, stable(table.name, name, value))
                    for name, value in zip(names, row, strict=True)
                )
                for row in rows
            ),
            key=repr,
        )
    return tables


async def database_contents(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, without generated ids and timestamps."""
    async with db.engine.connect() as connection:
        return await connection.run_sync(_dump)


Seen = dict[str, Any]  # transcripts(): what every chat was shown
Stored = dict[str, Any]  # database_contents(): every table's rows


async def run_script(
    runtime: str, db_url: str, script_type: type[Script] = Script
) -> tuple[Seen, Stored]:
    """Runs the script on one runtime against the emulator; what it showed and stored."""
    async with BotApiEmulator(
        token=TOKEN, bot_first_name="Acme", bot_username="acme_nps_bot"
    ) as api:
        # No daily digest: it could fire between the two runs.
        settings = make_settings(api, db_url, bot_framework=runtime, digest_time="off")
        bot = RunningBot(settings, api)
        db = Database(db_url)
        try:
            await bot.start()
            script = script_type(api)
            await script.run(db)
            await bot.idle()
            await bot.stop()  # every reply delivered, every transaction committed
            return transcripts(api, script), await database_contents(db)
        finally:
            await bot.crash()
            await db.dispose()


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_both_runtimes_show_the_same_and_store_the_same(
    db_url: str, other_db_url: str
) -> None:
    seen_aiogram, stored_aiogram = await run_script("aiogram", db_url)
    seen_ptb, stored_ptb = await run_script("ptb", other_db_url)
    # Sanity: the scenario really ran (a vacuous equality would prove nothing).
    assert len(stored_aiogram["responses"]) >= 9
    assert any("NPS" in m["text"] for m in seen_aiogram["chats"][OWNER_ID])
    assert_same_runs((seen_aiogram, stored_aiogram), (seen_ptb, stored_ptb))


def assert_same_runs(aiogram: tuple[Seen, Stored], ptb: tuple[Seen, Stored]) -> None:
    """Both runtimes showed every chat the same and stored the same rows."""
    seen_aiogram, stored_aiogram = aiogram
    seen_ptb, stored_ptb = ptb
    for chat_id, messages in seen_aiogram["chats"].items():
        assert seen_ptb["chats"].get(chat_id) == messages, f"chat {chat_id} differs"
    assert seen_ptb == seen_aiogram
    for table, rows in stored_aiogram.items():
        assert stored_ptb.get(table) == rows, f"table {table} differs"
    assert stored_ptb == stored_aiogram

"""Issue 12, the messaging channel of each answer in the reports: answers given in Telegram
(through the bot) and through WhatsApp and a web link (written through AnswerContext, as
those channels' handlers write them) show in `/nps by channel` with their own figures, in
the export's Channel column (the door moved to Entry), the XLSX summary and the CRM events,
and the histograms behind them equal a recount from the stored answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC

import pytest
from sqlalchemy import select

from bot.emulator import BotApiEmulator
from bot.emulator.actors import EmulatedUser
from nps.nps_math import format_nps
from storage.db import Database
from storage.event_models import OutgoingEvent
from tests.channel_helpers import answer_through, recount, stored
from tests.conftest import BACKENDS
from tests.handlers import harness
from tests.handlers.conftest import make_settings
from tests.handlers.harness import HandlerBot
from tests.handlers.test_admin_export import csv_rows, export, summary_table, workbook
from tests.handlers.test_crm_events import CRM, _without_delivery
from tests.scenario import OWNER_ID, QUESTION, wait_db

SCORES = {"telegram": [10, 9, 3], "whatsapp": [10, 6, 0, 9], "web": [9, 9]}


@pytest.fixture
async def bot(
    api: BotApiEmulator, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[HandlerBot]:
    """npsbot with EVENTS_URLS set and no delivery job: the events stay as written."""
    monkeypatch.setattr(harness, "background_jobs", _without_delivery)
    settings = make_settings(api, db_url, events_urls=[CRM], events_secret="k" * 32)
    running = HandlerBot(settings, api)
    await running.start()
    yield running
    await running.stop()


def _nps(scores: list[int]) -> str:
    """The table's NPS cell: every sample here is under 30 answers, so marked `*`."""
    promoters, detractors = sum(s >= 9 for s in scores), sum(s <= 6 for s in scores)
    return format_nps(100 * (promoters - detractors) / len(scores)) + "*"


async def _follow_up(user: EmulatedUser) -> None:
    """Waits for the question after the score (the one with a Skip button)."""
    await user.wait_for_message(lambda m: "Skip" in m.button_texts)


async def _scored_events(db: Database) -> list[dict[str, object]]:
    async with db.snapshot() as store:
        rows = await store.events._session.scalars(
            select(OutgoingEvent.data).where(OutgoingEvent.type == "response.scored")
        )
        return list(rows)


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_answers_through_every_channel_are_reported_per_channel(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    # Telegram: three people answer through the bot.
    for offset, score in enumerate(SCORES["telegram"]):
        user = api.user(101 + offset, first_name="Tom", language_code="en")
        user.send("/start")
        user.press(await user.wait_for_message(lambda m: QUESTION in m.text), str(score))
        await _follow_up(user)
    # WhatsApp and the web link: written as their handlers write them; one WhatsApp
    # question is answered by the survey's own handler (the score typed), so its event is
    # the conversation's; one web question is never answered (invited only).
    ids: dict[int, str] = {}
    for offset, score in enumerate(SCORES["whatsapp"][:3]):
        ids[await answer_through(check_db, "whatsapp", 201 + offset, score)] = "whatsapp"
    ids[await answer_through(check_db, "whatsapp", 204, None)] = "whatsapp"
    ana = api.user(204, first_name="Ana", language_code="en")
    ana.send(str(SCORES["whatsapp"][3]))
    await _follow_up(ana)
    for offset, score in enumerate(SCORES["web"]):
        ids[await answer_through(check_db, "web", 301 + offset, score)] = "web"
    await answer_through(check_db, "web", 303, None)

    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/nps by channel")
    message = await owner.wait_for_message(lambda m: m.text.startswith("NPS by channel"))
    lines = message.text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("channel"))
    rows = [line.split()[:3] for line in lines[header + 1 : header + 4]]
    assert rows == [  # largest samples first
        ["whatsapp", "4", _nps(SCORES["whatsapp"])],
        ["telegram", "3", _nps(SCORES["telegram"])],
        ["web", "2", _nps(SCORES["web"])],
    ]

    header_row, *answers = csv_rows(await export(api, owner, "csv"))
    assert len(answers) == 9
    cells = [dict(zip(header_row, row, strict=True)) for row in answers]
    # Machine values, never translated; the door keeps its own column.
    assert {(int(c["ID"]), c["Channel"]) for c in cells} >= set(ids.items())
    assert sorted(c["Channel"] for c in cells) == sorted(
        channel for channel, scores in SCORES.items() for _ in scores
    )
    assert {c["Entry"] for c in cells} == {"start"}

    book = workbook(await export(api, owner, "xlsx"))
    table = summary_table(book["Summary"], "NPS by channel")
    assert [row[:2] for row in table] == [
        ("Channel", "Answers"),
        ("whatsapp", 4),
        ("telegram", 3),
        ("web", 2),
    ]

    events = await wait_db(check_db, _four_scored)
    assert sorted((e["score"], e["messenger"], e["channel"]) for e in events) == sorted(
        [
            *((score, "telegram", "start") for score in SCORES["telegram"]),
            (SCORES["whatsapp"][3], "whatsapp", "start"),
        ]
    )
    # What the reports read is what the stored answers add up to.
    counted = await stored(check_db)
    assert counted == await recount(check_db, UTC)
    assert {value for _, _, value in counted} == set(SCORES)


async def _four_scored(db: Database) -> list[dict[str, object]] | None:
    events = await _scored_events(db)
    return events if len(events) == 4 else None


async def test_the_cli_and_bad_arguments_know_the_channel_dimension(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await answer_through(check_db, "web", 401, 10)
    owner = api.user(OWNER_ID, first_name="Olga", language_code="ru")
    owner.send("/nps by channel")
    message = await owner.wait_for_message(lambda m: m.text.startswith("NPS"))
    assert message.text.startswith("NPS по срезу: канал")
    assert any(line.split()[:2] == ["web", "1"] for line in message.text.splitlines())
    owner.send("/nps by messenger")
    reply = await owner.wait_for_message(lambda m: "by channel" in m.text)
    assert "by language, by channel, by survey или by variant" in reply.text

"""Issue 11, signed events: what the conversation emits for the CRM (a score, the completed
answer, a detractor case opened and resolved), anonymous eNPS events, and /integrations.

The delivery job is not started here (tests/e2e/test_events_delivery.py sends events over
HTTP): these tests read the events the handlers wrote, in the handlers' transactions.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import background_jobs
from bot.broadcast.sending_process import SendingProcess
from bot.emulator import BotApiEmulator
from bot.emulator.models import ChatMessage
from bot.events import events_job
from bot.settings import Settings
from storage.db import Database
from storage.event_models import EventDelivery, OutgoingEvent
from tests.admin_helpers import grant, make_survey
from tests.conftest import BACKENDS
from tests.dialog_helpers import Talk
from tests.handlers import harness
from tests.handlers.conftest import make_settings
from tests.handlers.harness import HandlerBot
from tests.scenario import OWNER_ID, QUESTION, person_id, start_survey, wait_db
from tests.storage.personal_walk import rows_about

CRM = "http://127.0.0.1:9/crm/npsbot"
# A Bitrix24-style webhook URL: its token must never be shown in a chat.
BITRIX = "https://acme.bitrix24.ru/rest/1/s3cr3tt0ken/crm.timeline.comment.add.json"
Row = tuple[str, dict[str, Any], int | None]


def _without_delivery(settings: Settings, process: SendingProcess) -> list[Any]:
    """The bot's background jobs minus the delivery job: the events stay as written."""
    return [job for job in background_jobs(settings, process) if job is not events_job]


@pytest.fixture
async def bot(
    api: BotApiEmulator, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[HandlerBot]:
    """npsbot with EVENTS_URLS set (two receivers) and no delivery job."""
    monkeypatch.setattr(harness, "background_jobs", _without_delivery)
    settings = make_settings(api, db_url, events_urls=[CRM, BITRIX], events_secret="k" * 32)
    running = HandlerBot(settings, api)
    await running.start()
    yield running
    await running.stop()


async def _events(db: Database, url: str = CRM) -> list[Row]:
    """(type, data, person_id) of the events queued for a URL, in its delivery order."""
    async with db.snapshot() as store:
        session = store.events._session
        rows = await session.execute(
            select(OutgoingEvent.type, OutgoingEvent.data, OutgoingEvent.person_id)
            .join(EventDelivery, EventDelivery.event_id == OutgoingEvent.id)
            .where(EventDelivery.url == url)
            .order_by(EventDelivery.id)
        )
        return [(row.type, row.data, row.person_id) for row in rows]


async def _skippable(talk: Talk) -> ChatMessage:
    """The next follow-up question (the one with a Skip button)."""
    message = await talk.user.wait_for_message(
        lambda m: m.message_id > talk.seen and "Skip" in m.button_texts
    )
    talk.seen = message.message_id
    return message


def _types(rows: list[Row]) -> list[str]:
    return [event_type for event_type, _, _ in rows]


async def _until_types(db: Database, *expected: str) -> list[Row]:
    async def probe(database: Database) -> list[Row] | None:
        rows = await _events(database)
        return rows if _types(rows) == list(expected) else None

    result: list[Row] = await wait_db(db, probe)
    return result


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_a_customers_answer_tells_the_crm_when_scored_and_when_complete(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    anna = api.user(101, first_name="Anna", username="anna", language_code="en")
    anna.send("/start nps__s-call__a-olga__c-dec")
    question = await anna.wait_for_message(lambda m: QUESTION in m.text)
    anna.press(question, "9")
    [(_, scored, who)] = await _until_types(check_db, "response.scored")
    anna.send("Fast delivery")
    await anna.wait_for_message(lambda m: "even better" in m.text)
    anna.send("Nothing, keep it up")
    rows = await _until_types(check_db, "response.scored", "response.completed")
    _, completed, completed_who = rows[1]
    anna_id = await person_id(check_db, 101)
    assert who == completed_who == anna_id  # forgetting Anna finds them
    attributes = {
        "agent": "olga",
        "source": "call",
        "campaign": "dec",
        "order_id": None,
        "custom": {},
    }
    assert scored == {
        "survey": "nps",
        "kind": "nps",
        "score": 9,
        "group": "promoter",
        "why": None,
        "improve": None,
        "language": "en",
        "response_id": scored["response_id"],
        "channel": "start",
        "messenger": "telegram",
        "scored_at": scored["scored_at"],
        "replaces_response_id": None,
        "attributes": attributes,
        "telegram_user_id": 101,
        "phone": None,
    }
    assert completed == {
        **scored,
        "why": "Fast delivery",
        "improve": "Nothing, keep it up",
        "completed_at": completed["completed_at"],
    }
    assert completed["completed_at"].endswith("Z") and scored["scored_at"].endswith("Z")
    # The same events, in the same order, wait for the other URL too.
    assert await _events(check_db, BITRIX) == rows


async def test_a_skipped_follow_up_still_completes_the_answer(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    boris = Talk(api, 102, first_name="Boris")
    boris.user.press(await start_survey(boris.user), "8")
    boris.user.press(await _skippable(boris), "Skip")
    boris.user.press(await _skippable(boris), "Skip")
    rows = await _until_types(check_db, "response.scored", "response.completed")
    assert (rows[1][1]["why"], rows[1][1]["improve"], rows[1][1]["group"]) == (
        None,
        None,
        "passive",
    )


async def test_a_detractor_opens_a_case_and_resolving_it_tells_the_crm(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = Talk(api, OWNER_ID)
    await owner.say("/help", "Owner commands")  # an owner who pressed Start gets alerts
    carl = api.user(103, first_name="Carl", language_code="en")
    carl.press(await start_survey(carl), "3")
    alert = await owner.expect("🔴 Detractor · 3")
    rows = await _until_types(check_db, "response.scored", "case.opened")
    opened = rows[1][1]
    assert (opened["status"], opened["score"], opened["group"]) == ("open", 3, "detractor")
    assert opened["telegram_user_id"] == 103 and opened["resolved_at"] is None
    assert opened["response_id"] == rows[0][1]["response_id"]
    owner.user.press(alert, "✅ Resolved")
    rows = await _until_types(check_db, "response.scored", "case.opened", "case.resolved")
    resolved = rows[2][1]
    assert (resolved["status"], resolved["case_id"]) == ("resolved", opened["case_id"])
    assert resolved["resolved_at"] is not None and resolved["telegram_user_id"] == 103


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_enps_events_name_nobody(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await make_survey(check_db, "team", "Workplace", kind="enps")
    owner = Talk(api, OWNER_ID)
    await owner.say("/help", "Owner commands")
    dana = Talk(api, 5_550_123, first_name="Dana", username="dana_hr")
    dana.user.send("/start team")
    question = await dana.expect("recommend")
    dana.user.press(question, "2")
    alert = await owner.expect("🔴 Detractor · 2")
    await _until_types(check_db, "response.scored", "case.opened")
    dana.user.send("Too many meetings")
    await _skippable(dana)  # the "improve" question
    dana.user.send("Fewer meetings")
    rows = await _until_types(check_db, "response.scored", "case.opened", "response.completed")
    owner.user.press(alert, "✅ Resolved")
    rows = await _until_types(
        check_db, "response.scored", "case.opened", "response.completed", "case.resolved"
    )
    public_ids = set()
    for event_type, data, who in rows:
        assert who is None, event_type  # nothing for forgetting to find: it names nobody
        text = json.dumps(data)
        for trace in ("5550123", "Dana", "dana_hr", "telegram_user_id", "phone", "attributes"):
            assert trace not in text, (event_type, trace)
        assert not {
            "case_id",
            "scored_at",
            "completed_at",
            "opened_at",
            "channel",
            "messenger",
        } & set(data)
        assert data["kind"] == "enps" and data["survey"] == "team"
        public_ids.add(data["response_id"])
    [public_id] = public_ids  # the random public id, the same in every event
    assert isinstance(public_id, str) and not public_id.isdigit()
    assert rows[2][1]["why"] == "Too many meetings"  # the answer itself goes


async def test_without_events_urls_nothing_is_written(
    api: BotApiEmulator, db_url: str, check_db: Database
) -> None:
    plain = HandlerBot(make_settings(api, db_url), api)
    await plain.start()
    try:
        erin = api.user(104, first_name="Erin", language_code="en")
        erin.press(await start_survey(erin), "2")
        await erin.wait_for_message(lambda m: "disappointed" in m.text)
        await plain.idle()
    finally:
        await plain.stop()
    async with check_db.snapshot() as store:
        assert list(await store.events._session.scalars(select(OutgoingEvent.id))) == []


async def test_forgetting_a_person_deletes_their_events(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    fay = Talk(api, 105, first_name="Fay")
    fay.user.press(await start_survey(fay.user), "10")
    fay.user.send("Fay here: call me on +37369111222")
    fay.user.send("Nothing")
    await _until_types(check_db, "response.scored", "response.completed")
    fay_id = await person_id(check_db, 105)
    confirm = await fay.say("/forgetme", "Erase your data?")
    fay.user.press(confirm, "🗑 Erase")
    await fay.user.wait_for_message(lambda m: "Done — your data is erased" in m.text)
    assert await _events(check_db) == [] and await _events(check_db, BITRIX) == []
    # Nowhere in the database: no event, no delivery, no comment quoting her number.
    assert await rows_about(check_db, 105, ("Fay", "37369111222"), person_id=fay_id) == []


async def _fail_and_deliver(db: Database) -> datetime:
    """CRM's head delivered; Bitrix's head failed (503), retried in 5 minutes."""
    now = datetime.now(UTC) + timedelta(seconds=1)
    async with db.transaction() as store:
        ok = await store.events.claim_head(CRM, now, now + timedelta(seconds=30))
        failing = await store.events.claim_head(BITRIX, now, now + timedelta(seconds=30))
        assert ok is not None and failing is not None
        await store.events.delivered(ok, now)
        retry = now + timedelta(minutes=5)
        await store.events.failed(failing, now, "HTTP 503 Service Unavailable", retry)
    return now


async def test_integrations_shows_each_receivers_backlog_last_success_and_last_error(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    gil = api.user(106, first_name="Gil", language_code="en")
    gil.press(await start_survey(gil), "9")
    await _until_types(check_db, "response.scored")
    owner = Talk(api, OWNER_ID)
    empty = await owner.say("/integrations", "Events to your CRM")
    assert "Waiting: 1 · given up after 24 h: 0\nLast delivered: never" in empty.text
    now = await _fail_and_deliver(check_db)
    local = now.astimezone(UTC)  # TIMEZONE is UTC in these tests
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    when = f"{local.day} {months[local.month - 1]} {local:%H:%M}"
    later = local + timedelta(minutes=5)
    shown = await owner.say("/integrations", "Events to your CRM")
    assert shown.text == (
        "Events to your CRM\n\n"
        "1. http://127.0.0.1:9/…/npsbot\n"
        "Waiting: 0 · given up after 24 h: 0\n"
        f"Last delivered: {when}\n\n"
        "2. https://acme.bitrix24.ru/…/crm.timeline.comment.add.json\n"
        "Waiting: 1 · given up after 24 h: 0\n"
        "Last delivered: never\n"
        f"Last error: {when} — HTTP 503 Service Unavailable\n"
        f"Next attempt: {later.day} {months[later.month - 1]} {later:%H:%M} (attempt 2)"
    )
    assert "s3cr3tt0ken" not in shown.text


async def test_integrations_is_for_admins_checked_at_every_call(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await grant(check_db, 7_001, "viewer")
    await grant(check_db, 7_002, "admin")
    viewer, admin, stranger = Talk(api, 7_001), Talk(api, 7_002), Talk(api, 7_003)
    await viewer.say("/integrations", "/integrations is for admins and owners; you are a viewer.")
    refused = await stranger.say("/integrations", "not available to you")
    assert "CRM" not in refused.text
    await admin.say("/integrations", "Events to your CRM")
    async with check_db.transaction() as store:
        await store.staff.revoke(7_002)
    refused = await admin.say("/integrations", "not available to you")
    assert "CRM" not in refused.text


async def test_integrations_says_how_to_turn_events_on(
    api: BotApiEmulator, db_url: str, check_db: Database
) -> None:
    plain = HandlerBot(make_settings(api, db_url), api)
    await plain.start()
    try:
        owner = Talk(api, OWNER_ID)
        off = await owner.say("/integrations", "Events for a CRM are off")
        assert "EVENTS_URLS" in off.text and "EVENTS_SECRET" in off.text
    finally:
        await plain.stop()

"""The outbound rules without the network: the window, the template's body and quick reply,
statuses kept in Meta's order whatever order they come in, who an invitation by phone
reaches, WhatsApp people in the broadcast audience, and WhatsApp's own rate limiter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from bot.broadcast.sending_process import SendingProcess
from bot.i18n import Catalogs
from bot.settings import Settings, SettingsError, load_settings
from bot.whatsapp.questions import (
    QUICK_PREFIX,
    quick_reply_question,
    template_message,
)
from bot.whatsapp.render import Renderer
from storage.db import Database
from storage.models import Address, Channel, Respondent, utcnow
from storage.repos.audience import Fatigue, Segment
from storage.repos.respondents import Profile
from storage.repos.whatsapp import WHATSAPP_CHAT_BASE, window_open
from tests.conftest import BACKENDS, fresh_database
from tests.invitation_helpers import add_phone

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
async def db(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path, pg_template: str | None
) -> AsyncIterator[Database]:
    """A fresh database of each backend (PostgreSQL when configured)."""
    async with fresh_database(request.param, tmp_path, sqlite_template, pg_template) as url:
        database = Database(url)
        yield database
        await database.dispose()


def test_the_window_closes_five_minutes_early() -> None:
    assert not window_open(None, NOW)
    assert window_open(NOW - timedelta(hours=23, minutes=54), NOW)
    assert not window_open(NOW - timedelta(hours=23, minutes=56), NOW)


def test_the_template_carries_its_subject_and_the_quick_replys_payload() -> None:
    body = template_message("nps_invitation", "ro", "Acme", f"{QUICK_PREFIX}:ro:nps:s:7")
    template = body["template"]
    assert (template["name"], template["language"]) == ("nps_invitation", {"code": "ro"})
    [text, button] = template["components"]
    assert text["parameters"] == [{"type": "text", "text": "Acme"}]
    assert button["sub_type"] == "quick_reply"
    assert button["parameters"][0]["payload"] == "nps-wa:q:ro:nps:s:7"


def test_a_quick_reply_brings_the_two_lists_of_its_response() -> None:
    renderer = Renderer(Catalogs(default="en"))
    bodies = quick_reply_question(renderer, f"{QUICK_PREFIX}:ru:nps:s:42")
    assert bodies is not None
    first, second = (body["interactive"] for body in bodies)
    assert (first["action"]["button"], second["action"]["button"]) == ("0 – 5", "6 – 10")
    rows = [r["id"] for i in (first, second) for r in i["action"]["sections"][0]["rows"]]
    assert rows == [f"nps:s:42:{s}" for s in range(11)]
    assert first["body"]["text"] == "Выберите оценку"
    assert second["body"]["text"] == "…или от 6 до 10:"
    assert quick_reply_question(renderer, f"{QUICK_PREFIX}:ru:not-a-score") is None
    assert quick_reply_question(renderer, "Answer") is None


async def test_statuses_keep_the_latest_and_the_window_only_moves_on(db: Database) -> None:
    async with db.transaction() as store:
        chat, _ = await store.whatsapp.contact("37369000001", "Ana", "ro")
        out = store.whatsapp_outbound
        assert await out.record_status(11, "delivered", NOW, None)
        assert not await out.record_status(11, "sent", NOW, None)  # late: changes nothing
        assert await out.record_status(11, "read", NOW, None)
        assert not await out.record_status(11, "read", NOW, None)  # a redelivery
        assert await out.record_status(11, "failed", NOW, 131047)
        await out.heard(chat, NOW)
        await out.heard(chat, NOW - timedelta(hours=3))  # a redelivered older message
        target = await out.target(chat, None)
    assert target is not None
    assert (target.wa_id, target.last_inbound_at) == ("37369000001", NOW)


async def test_a_phone_reaches_telegram_first_else_a_whatsapp_address(db: Database) -> None:
    async with db.transaction() as store:
        tom = await store.respondents.touch(Profile(501, 501, "Tom", None, "en"))
        placeholder = Respondent(subscribed=True, unreachable=False)
        store.responses._session.add(placeholder)
        await store.responses._session.flush()
    person_ids = [tom.id]
    await add_phone(db, person_ids[0], "+37369000010")
    await add_phone(db, placeholder.id, "+37369000011")
    async with db.transaction() as store:
        reached = await store.whatsapp_outbound.reach_phones(
            {"+37369000010": person_ids[0], "+37369000011": placeholder.id, "+48601000000": None},
            lambda phone: "pl",
        )
        chats = {
            wa_id: await store.whatsapp.chat_of(wa_id)
            for wa_id in ("37369000010", "37369000011", "48601000000")
        }
    assert reached["+37369000010"] == person_ids[0]  # on Telegram: no WhatsApp address
    assert chats["37369000010"] is None
    assert reached["+37369000011"] == placeholder.id  # known by the number: it gets one
    assert all(
        c is not None and c > WHATSAPP_CHAT_BASE for w, c in chats.items() if w != "37369000010"
    )
    stranger = reached["+48601000000"]  # nobody had it: a person with the address
    assert stranger not in (person_ids[0], placeholder.id)


async def test_whatsapp_people_are_in_the_audience_telegram_wins(db: Database) -> None:
    async with db.transaction() as store:
        tom = (await store.respondents.touch(Profile(502, 502, "Tom", None, "en"))).id
        await store.whatsapp.contact("37369000020", "Ana", "ro")
    async with db.transaction() as store:  # Tom on WhatsApp too: still one recipient
        await store.responses._session.execute(
            insert(Address).values(
                respondent_id=tom,
                channel=Channel.WHATSAPP.value,
                address="37369000021",
                chat=str(WHATSAPP_CHAT_BASE + 999),
                created_at=utcnow(),
            )
        )
        survey = await store.surveys.add(slug="nps", name="NPS")
        preview = await store.audience.preview(
            survey.id, Segment(), Fatigue(), utcnow(), owners=[37369000020]
        )
    # 2 people, the wa_id that looks like an owner's Telegram id is no owner.
    assert (preview.eligible, preview.team) == (2, 0)


def test_whatsapp_chats_take_the_whatsapp_limiter_at_its_share() -> None:
    settings = Settings(_env_file=None, whatsapp_rate=20)  # type: ignore[call-arg]
    process = SendingProcess(settings, name="a")
    assert process.limiter_for(WHATSAPP_CHAT_BASE + 1) is process.whatsapp_limiter
    assert process.limiter_for(5001) is process.limiter
    assert process.whatsapp_limiter.rate == 20


def test_a_wrong_template_name_or_rate_stops_start_up_with_one_line() -> None:
    base = {"_env_file": None, "bot_token": "1:" + "x" * 30}
    with pytest.raises(SettingsError, match=r"^WHATSAPP_TEMPLATE is invalid .*nps_invitation"):
        load_settings(**base, whatsapp_template="NPS Invitation")
    with pytest.raises(SettingsError, match=r"^WHATSAPP_RATE is invalid"):
        load_settings(**base, whatsapp_rate=0)
    assert load_settings(**base).whatsapp_template == "nps_invitation"

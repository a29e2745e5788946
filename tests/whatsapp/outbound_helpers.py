"""What the outbound WhatsApp tests share: the bot with the trigger API, the templates
approved in the emulator, and reading an invitation back over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import update

from bot import invitations as sender
from bot.settings import Settings
from bot.wa_emulator import CloudApiEmulator
from bot.wa_emulator.models import BusinessMessage
from storage.db import Database
from storage.models import Address, utcnow
from tests.whatsapp.conftest import WhatsAppBot, wa_settings

API_TOKEN = "wa-api-token-0123456789abcdef-0123456789"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
TEMPLATE = "nps_invitation"
TEMPLATE_TEXT = (
    "Hello! How likely are you to recommend {{1}} to a friend or colleague? "
    "Tap the button below to answer, or reply with a number from 0 to 10."
)
QUICK_REPLY = "Answer"


def approve_templates(wa: CloudApiEmulator, name: str = TEMPLATE) -> None:
    """The invitation template in the four languages, as README "WhatsApp" lists them."""
    for language in ("en", "ru", "ro", "pl"):
        wa.register_template(name, language, TEMPLATE_TEXT, quick_replies=[QUICK_REPLY])


@pytest.fixture
async def wa_api_bot(
    wa: CloudApiEmulator, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[WhatsAppBot]:
    """npsbot on WhatsApp alone, with the trigger API, no quiet hours and fast polls."""
    monkeypatch.setattr(sender, "POLL_SECONDS", 0.05)
    running = WhatsAppBot(api_settings(wa, db_url), wa)
    await running.start()
    yield running
    await running.stop()


def api_settings(wa: CloudApiEmulator, db_url: str, **overrides: Any) -> Settings:
    """WhatsApp alone with the trigger API and no quiet hours; the templates approved."""
    approve_templates(wa)
    values: dict[str, Any] = {
        "api_token": API_TOKEN,
        "quiet_hours": "off",
        "broadcast_per_chat_interval": 0.0,
    }
    return wa_settings(wa, db_url, **{**values, **overrides})


def api_base(bot: WhatsAppBot) -> str:
    return f"http://127.0.0.1:{bot.settings.http_port}/api/v1/invitations"


async def invite(bot: WhatsAppBot, phone: str, survey: str = "nps") -> dict[str, Any]:
    """POST /api/v1/invitations by phone; the 202's body."""
    async with aiohttp.ClientSession() as client:
        body = {"survey": survey, "phone": phone}
        async with client.post(api_base(bot), json=body, headers=AUTH) as response:
            answer: dict[str, Any] = await response.json()
            assert response.status == 202, answer
    return answer


async def read_invitation(bot: WhatsAppBot, public_id: str) -> dict[str, Any]:
    """GET /api/v1/invitations/{id}."""
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{api_base(bot)}/{public_id}", headers=AUTH) as response:
            answer: dict[str, Any] = await response.json()
            assert response.status == 200, answer
    return answer


def is_template(message: BusinessMessage) -> bool:
    return message.type == "template"


async def close_window(db: Database, wa: CloudApiEmulator, wa_id: str) -> None:
    """A day passes since the customer last wrote, for the bot and for Meta."""
    async with db.transaction() as store:
        await store.responses._session.execute(
            update(Address)
            .where(Address.channel == "whatsapp", Address.address == wa_id)
            .values(last_inbound_at=utcnow() - timedelta(hours=25))
        )
    wa.advance_clock(25 * 3600)

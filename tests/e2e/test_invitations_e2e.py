"""End to end: a CRM invites through the HTTP API of a running bot (each runtime, each
database), the bot sends the question when due, the person answers in Telegram, and the
API reads the invitation back answered, with the score."""

from __future__ import annotations

import socket
from typing import Any

import aiohttp
import pytest

from bot import invitations as sender
from bot.emulator import BotApiEmulator
from storage.db import Database
from tests.broadcast_helpers import BROADCAST_SETTINGS, seed_audience
from tests.conftest import BACKENDS
from tests.e2e.conftest import QUESTION, RunningBot, make_settings
from tests.invitation_helpers import add_phone
from tests.scenario import wait_db

API_TOKEN = "e2e-api-token-0123456789abcdef-0123456789"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_an_invitation_by_phone_is_sent_and_answered(
    api: BotApiEmulator,
    db_url: str,
    runtime: str,
    check_db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sender, "POLL_SECONDS", 0.05)
    port = free_port()
    settings = make_settings(
        api,
        db_url,
        bot_framework=runtime,
        api_token=API_TOKEN,
        http_port=port,
        quiet_hours="off",
        **BROADCAST_SETTINGS,
    )
    bot = RunningBot(settings, api)
    await bot.start()
    base = f"http://127.0.0.1:{port}/api/v1/invitations"
    try:
        [anna] = await seed_audience(check_db, api, [51])
        async with check_db.snapshot() as store:
            person = await store.respondents.person_of(51)
        assert person is not None
        await add_phone(check_db, person, "+37369123456")
        body = {
            "survey": "nps",
            "phone": "+373 69 123 456",
            "attributes": {"agent": "olga", "source": "call", "order_id": "A-17"},
        }
        async with aiohttp.ClientSession() as client:
            async with client.post(base, json=body, headers=AUTH) as response:
                accepted: dict[str, Any] = await response.json()
                assert response.status == 202, accepted
            assert accepted["status"] == "scheduled"
            question = await anna.wait_for_message(lambda m: QUESTION in m.text)

            def reads(status: str) -> Any:
                async def probe(_: Database) -> dict[str, Any] | None:
                    async with client.get(f"{base}/{accepted['id']}", headers=AUTH) as response:
                        read: dict[str, Any] = await response.json()
                    return read if read["status"] == status else None

                return probe

            # Recorded sent within milliseconds of the call: before any person could tap.
            await wait_db(check_db, reads("sent"))
            anna.press(question, "9")
            await anna.wait_for_message(lambda m: "What do you like most" in m.text)
            read = await wait_db(check_db, reads("answered"))
        assert (read["score"], read["phone"], read["survey"]) == (9, "+37369123456", "nps")
        assert read["response_id"] is not None and read["sent_at"] is not None
        assert read["attributes"] == {"agent": "olga", "source": "call", "order_id": "A-17"}
        assert len([m for m in anna.bot_messages if QUESTION in m.text]) == 1
    finally:
        await bot.stop()

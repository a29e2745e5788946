"""WhatsApp's entry points, keywords, webhook security and error policy, end to end."""

from __future__ import annotations

import hmac
import json
from hashlib import sha256

import aiohttp
from sqlalchemy import func, select

from bot.wa_emulator import CloudApiEmulator
from storage.db import Database
from storage.models import Address, ProcessedUpdate, Respondent
from storage.repos.whatsapp import wamid_update_id
from tests.scenario import wait_for
from tests.whatsapp.conftest import APP_SECRET, VERIFY_TOKEN, WhatsAppBot
from tests.whatsapp.score_lists import question_lists
from tests.whatsapp.test_conversation import is_question, person, question, responses

UK = "447700900002"


async def count(db: Database, model: type) -> int:
    async with db.snapshot() as store:
        return int(
            await store.responses._session.scalar(select(func.count()).select_from(model)) or 0
        )


async def test_a_wa_me_link_starts_its_survey_with_its_tags(
    wa: CloudApiEmulator, wa_bot: WhatsAppBot
) -> None:
    ana = wa.customer(UK, "Ana")
    ana.send_text("start nps__s-shop__a-olga")
    await question(ana)
    [row] = await responses(wa_bot.db)
    assert (row.source, row.agent, row.start_payload) == ("shop", "olga", "nps__s-shop__a-olga")
    assert row.messenger == "whatsapp"


async def test_stop_unsubscribes_and_mydata_sends_the_file(
    wa: CloudApiEmulator, wa_bot: WhatsAppBot
) -> None:
    ana = wa.customer(UK, "Ana")
    ana.send_text("Hi")
    await question(ana)
    ana.send_text("STOP")
    await wait_for(lambda: _subscribed(wa_bot.db, False), "STOP unsubscribes", within=10)
    ana.send_text("my data")
    sent = await ana.wait_for_message(lambda m: m.type == "document", timeout=10)
    assert sent.media["filename"].endswith(".json")


async def _subscribed(db: Database, value: bool) -> bool:
    found = await person(db, UK)
    return found is not None and found.subscribed is value


async def test_a_sticker_or_a_picture_gets_the_usual_hint(
    wa: CloudApiEmulator, wa_bot: WhatsAppBot
) -> None:
    ana = wa.customer(UK, "Ana")
    ana.send_text("Hi")
    asked, rest = await question_lists(ana)
    ana.send_sticker()
    hint = await ana.wait_for_message(lambda m: m.at >= rest.at and m.id != rest.id, 10)
    ana.send_image(caption="look")
    await ana.wait_for_message(lambda m: m.id not in (asked.id, rest.id, hint.id) and m.text, 10)
    assert [r.score for r in await responses(wa_bot.db)] == [None]


async def test_a_redelivered_message_is_handled_once(
    wa: CloudApiEmulator, wa_bot: WhatsAppBot
) -> None:
    ana = wa.customer(UK, "Ana")
    wamid = ana.send_text("Hi")
    await question(ana)
    wa.redeliver(wamid)
    await wa.wait_until(lambda: len(wa.delivered_events) >= 2 and not wa.pending_events)
    await wait_for(lambda: _claimed(wa_bot.db, wamid), "the claim", within=5)
    assert len([m for m in ana.messages if is_question(m)]) == 1
    assert len(await responses(wa_bot.db)) == 1


async def _claimed(db: Database, wamid: str) -> bool:
    async with db.snapshot() as store:
        session = store.responses._session
        query = select(func.count()).where(ProcessedUpdate.update_id == wamid_update_id(wamid))
        return await session.scalar(query) == 1


async def test_a_forged_post_is_refused_and_nothing_stored(wa_bot: WhatsAppBot) -> None:
    value = {
        "contacts": [{"wa_id": "447700900009", "profile": {"name": "Eve"}}],
        "messages": [
            {"from": "447700900009", "id": "wamid.forged", "type": "text", "text": {"body": "Hi"}}
        ],
    }
    change = {"field": "messages", "value": value}
    envelope = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [change]}]}
    body = json.dumps(envelope).encode()
    wrong = "sha256=" + hmac.new(b"not the secret", body, sha256).hexdigest()
    right = "sha256=" + hmac.new(APP_SECRET.encode(), body, sha256).hexdigest()
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"X-Hub-Signature-256": wrong}):
            async with session.post(wa_bot.url, data=body, headers=headers) as answer:
                assert answer.status == 401
        assert await count(wa_bot.db, Respondent) == 0
        async with session.post(
            wa_bot.url, data=body, headers={"X-Hub-Signature-256": right}
        ) as answer:
            assert answer.status == 200  # the same bytes, signed: taken
        assert await count(wa_bot.db, Address) == 1
        query = {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "42"}
        async with session.get(wa_bot.url, params=query) as answer:
            assert answer.status == 403
        async with session.get(
            wa_bot.url, params={**query, "hub.verify_token": VERIFY_TOKEN}
        ) as answer:
            assert (answer.status, await answer.text()) == (200, "42")


async def test_a_rate_limit_is_waited_out_and_retried(
    wa: CloudApiEmulator, wa_bot: WhatsAppBot
) -> None:
    wa.inject_fault(130429, times=1)
    ana = wa.customer(UK, "Ana")
    ana.send_text("Hi")
    await question(ana)
    refused = [c for c in wa.calls if c.status == 400 and c.path.endswith("/messages")]
    assert len(refused) == 1 and refused[0].response["error"]["code"] == 130429


async def test_a_number_that_cannot_receive_becomes_unreachable(
    wa: CloudApiEmulator, wa_bot: WhatsAppBot
) -> None:
    ana = wa.customer(UK, "Ana")
    wa.inject_fault(131026, times=1)  # refused in the send's answer
    ana.send_text("Hi")
    await wait_for(lambda: _unreachable(wa_bot.db, UK), "unreachable at once", within=10)
    ion = wa.customer("447700900003", "Ion")
    ion.send_text("Hi")
    await question(ion)
    wa.customer("447700900003", on_whatsapp=False)
    ion.send_text("5")  # the reply fails later, in a `failed` status webhook
    await wait_for(
        lambda: _unreachable(wa_bot.db, "447700900003"), "unreachable by status", within=10
    )


async def _unreachable(db: Database, wa_id: str) -> bool:
    found = await person(db, wa_id)
    return found is not None and found.unreachable

"""Webhooks: the verification handshake, signatures over the exact bytes, statuses,
retries, redelivery and order."""

from __future__ import annotations

import hashlib
import hmac
import json

import aiohttp
import pytest

from bot.wa_emulator import SIGNATURE_HEADER, CloudApiEmulator, Customer, WebhookVerificationError
from tests.wa_emulator.conftest import (
    ANA,
    APP_SECRET,
    PHONE_ID,
    VERIFY_TOKEN,
    BotEndpoint,
    post,
    text,
)


async def test_handshake_must_echo_the_challenge(
    emulator: CloudApiEmulator, bot: BotEndpoint
) -> None:
    bot.challenge_override = "12345"
    with pytest.raises(WebhookVerificationError, match="expected 200 with the challenge"):
        await emulator.set_webhook(bot.url, VERIFY_TOKEN)
    assert emulator.webhook_url == ""
    bot.challenge_override = None
    with pytest.raises(WebhookVerificationError, match="answered 403"):
        await emulator.set_webhook(bot.url, "wrong-token")
    await emulator.set_webhook(bot.url, VERIFY_TOKEN)
    assert emulator.webhook_url == bot.url


async def test_signature_over_the_exact_bytes(hooked: CloudApiEmulator, bot: BotEndpoint) -> None:
    ana = hooked.customer(ANA, "Ана/Ana")
    wamid = ana.send_text("Привет / hi")
    await hooked.wait_until(lambda: len(bot.posts) == 1)
    raw, headers = bot.posts[0]
    expected = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == expected
    assert raw == hooked.event_body(f"message:{wamid}")  # byte-identical to what was signed
    # Meta's JSON: compact, \\u-escaped, "/" escaped; re-encoding it would not verify.
    assert b"\\u041f" in raw and b"\\/" in raw and b'": ' not in raw and b", " not in raw
    assert json.dumps(json.loads(raw)).encode() != raw
    body = json.loads(raw)
    assert body["object"] == "whatsapp_business_account"
    change = body["entry"][0]["changes"][0]
    assert change["field"] == "messages" and body["entry"][0]["id"] == hooked.business_account_id
    value = change["value"]
    assert value["metadata"] == {
        "display_phone_number": hooked.display_phone_number,
        "phone_number_id": PHONE_ID,
    }
    (contact,) = value["contacts"]
    assert contact["profile"] == {"name": "Ана/Ana"} and contact["wa_id"] == ANA
    assert contact["user_id"] == ana.user_id and contact["user_id"].startswith("MD.")
    (message,) = value["messages"]
    assert message["from"] == ANA and message["id"] == wamid and message["type"] == "text"
    assert message["text"] == {"body": "Привет / hi"} and message["timestamp"].isdigit()
    assert hooked.webhook_attempts[0].signature == expected


async def test_statuses_sent_delivered_read(
    hooked: CloudApiEmulator, bot: BotEndpoint, ana: Customer, http: aiohttp.ClientSession
) -> None:
    _, answer = await post(http, hooked, text(ANA, "How likely…?"))
    wamid = answer["messages"][0]["id"]
    await hooked.wait_until(lambda: len(bot.statuses(wamid)) == 2)
    sent, delivered = bot.statuses(wamid)
    assert [sent["status"], delivered["status"]] == ["sent", "delivered"]
    assert sent["recipient_id"] == ANA and sent["timestamp"].isdigit()
    assert sent["pricing"] == {
        "billable": False,
        "pricing_model": "PMP",
        "category": "service",
        "type": "free_customer_service",
    }
    assert bot.values()[-1]["contacts"][0]["user_id"] == ana.user_id
    ana.send_text("10")  # answering reads the chat first
    await hooked.wait_until(lambda: len(bot.statuses(wamid)) == 3 and len(bot.messages()) == 2)
    assert bot.statuses(wamid)[-1]["status"] == "read"
    assert bot.messages()[-1]["text"] == {"body": "10"}
    assert hooked.message(wamid).status == "read"  # type: ignore[union-attr]


async def test_retry_until_200_and_redelivery(hooked: CloudApiEmulator, bot: BotEndpoint) -> None:
    bot.answers.extend([500, 503])
    ana = hooked.customer(ANA, "Ana")
    wamid = ana.send_text("hello")
    await hooked.wait_until(lambda: hooked.delivered_events == [f"message:{wamid}"])
    statuses = [a.status for a in hooked.webhook_attempts]
    assert statuses == [500, 503, 200]
    assert len({a.body for a in hooked.webhook_attempts}) == 1  # the same bytes each time
    assert hooked.redeliver(wamid) == f"message:{wamid}"
    await hooked.wait_until(lambda: len(bot.posts) == 4)
    assert bot.posts[3][0] == bot.posts[2][0]
    assert [m["id"] for m in bot.messages()] == [wamid] * 4
    with pytest.raises(KeyError):
        hooked.redeliver("wamid.unknown")


async def test_out_of_order(
    hooked: CloudApiEmulator, bot: BotEndpoint, ana: Customer, http: aiohttp.ClientSession
) -> None:
    await hooked.wait_until(lambda: len(bot.posts) == 1)
    hooked.set_statuses(reorder=True)
    _, answer = await post(http, hooked, text(ANA, "x"))
    wamid = answer["messages"][0]["id"]
    await hooked.wait_until(lambda: len(bot.statuses(wamid)) == 2)
    assert [s["status"] for s in bot.statuses(wamid)] == ["delivered", "sent"]
    # A failed POST goes back in the queue while later events go first.
    ana.read_receipts = False
    bot.answers.append(500)
    first, second = ana.send_text("a"), ana.send_text("b")
    await hooked.wait_until(lambda: len(hooked.pending_events) == 0 and len(bot.messages()) >= 4)
    accepted = [m["id"] for m in bot.messages()]
    assert accepted[-2:] == [second, first]


async def test_events_wait_for_a_webhook(emulator: CloudApiEmulator, bot: BotEndpoint) -> None:
    ana = emulator.customer(ANA, "Ana")
    wamid = ana.send_text("before the webhook")
    assert emulator.pending_events == [f"message:{wamid}"]
    await emulator.set_webhook(bot.url, VERIFY_TOKEN)
    await emulator.wait_until(lambda: emulator.pending_events == [])
    assert bot.messages()[0]["id"] == wamid

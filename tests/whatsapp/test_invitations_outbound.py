"""Invitations by phone over WhatsApp, end to end against the Cloud API emulator: someone
who never wrote gets the approved template, its quick reply brings the 0–10 question, and
the API shows the answer and Meta's delivery statuses; inside the 24-hour window the
question goes free-form; a refusal for the window (131047), at once or as a later
`failed` status, brings the template instead of silence."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from sqlalchemy import update

from bot import invitations as sender
from bot.wa_emulator import CloudApiEmulator
from storage.models import Survey
from tests.e2e.events_receiver import Receiver
from tests.scenario import wait_for
from tests.whatsapp.conftest import WhatsAppBot
from tests.whatsapp.outbound_helpers import (
    AUTH,
    QUICK_REPLY,
    TEMPLATE,
    api_base,
    api_settings,
    approve_templates,
    invite,
    is_template,
    read_invitation,
    wa_api_bot,
)
from tests.whatsapp.score_lists import nps_score, question_lists
from tests.whatsapp.test_outputs import EVENTS_SECRET, _event, receiver

__all__ = ["receiver", "wa_api_bot"]  # the fixtures, used by name


async def reads(bot: WhatsAppBot, public_id: str, check: Any, what: str) -> dict[str, Any]:
    """The invitation once `check(read)` holds."""

    async def probe() -> dict[str, Any] | None:
        read = await read_invitation(bot, public_id)
        return read if check(read) else None

    result: dict[str, Any] = await wait_for(probe, what, 10)
    return result


async def tap_score(
    bot: WhatsAppBot, public_id: str, customer: Any, question: Any, score: int
) -> dict[str, Any]:
    """Two taps (the list that holds the score opened, its row chosen); the invitation
    once answered."""
    nps_score(customer, question, score)
    return await reads(bot, public_id, lambda r: r["status"] == "answered", "answered")


async def test_a_phone_that_never_wrote_gets_the_template_and_answers(
    wa: CloudApiEmulator, wa_api_bot: WhatsAppBot
) -> None:
    ana = wa.customer("447911123123", "Ana")
    accepted = await invite(wa_api_bot, "+44 7911 123123")
    assert accepted["status"] == "scheduled"
    template = await ana.wait_for_message(is_template, 10)
    assert (template.template, template.language) == (TEMPLATE, "en")
    assert template.parameters == ["Acme"]  # {{1}}: the brand (the survey has no subject)
    sent = await reads(wa_api_bot, accepted["id"], lambda r: r["status"] == "sent", "sent")
    assert sent["phone"] == "+447911123123"
    ana.read(template)
    read = await reads(
        wa_api_bot,
        accepted["id"],
        lambda r: (r.get("delivery") or {}).get("status") == "read",
        "read status",
    )
    assert read["delivery"]["error_code"] is None and read["delivery"]["at"]
    ana.tap_quick_reply(template, QUICK_REPLY)
    question = await question_lists(ana)  # both lists follow the quick reply
    assert question[0].text == "Choose your score"
    answered = await tap_score(wa_api_bot, accepted["id"], ana, question, 9)
    assert answered["score"] == 9
    assert [m.type for m in ana.messages].count("template") == 1


async def test_a_typed_number_answers_the_template(
    wa: CloudApiEmulator, wa_api_bot: WhatsAppBot
) -> None:
    bea = wa.customer("447911123124", "Bea")
    accepted = await invite(wa_api_bot, "+447911123124")
    await bea.wait_for_message(is_template, 10)
    await reads(wa_api_bot, accepted["id"], lambda r: r["status"] == "sent", "sent")
    bea.send_text("7")
    answered = await reads(
        wa_api_bot, accepted["id"], lambda r: r["status"] == "answered", "answered"
    )
    assert answered["score"] == 7


async def test_inside_the_window_the_question_goes_free_form(
    wa: CloudApiEmulator, wa_api_bot: WhatsAppBot
) -> None:
    cid = wa.customer("447911123125", "Cid")
    cid.send_text("help")  # writes (opens the window) without starting a survey
    await cid.wait_for_message(lambda m: m.type == "text", 10)
    accepted = await invite(wa_api_bot, "+447911123125")
    question = await question_lists(cid)
    assert "How likely" in question[0].text
    await reads(wa_api_bot, accepted["id"], lambda r: r["status"] == "sent", "sent")
    answered = await tap_score(wa_api_bot, accepted["id"], cid, question, 2)
    assert answered["score"] == 2
    assert not [m for m in cid.messages if is_template(m)]


async def refused_then_template(wa: CloudApiEmulator, bot: WhatsAppBot, wa_id: str) -> None:
    """The bot thinks the window open, Meta does not: the template follows the refusal."""
    eve = wa.customer(wa_id, "Eve")
    eve.send_text("help")
    await eve.wait_for_message(lambda m: m.type == "text", 10)
    wa.advance_clock(25 * 3600)  # Meta's day passes; the bot's clock does not
    accepted = await invite(bot, "+" + wa_id)
    template = await eve.wait_for_message(is_template, 10)
    assert template.template == TEMPLATE
    await reads(bot, accepted["id"], lambda r: r["status"] == "sent", "sent")
    eve.send_text("8")
    answered = await reads(bot, accepted["id"], lambda r: r["status"] == "answered", "answer")
    assert answered["score"] == 8
    assert answered["delivery"]["status"] in ("sent", "delivered", "read")
    asked = [
        c.body
        for c in wa.calls
        if isinstance(c.body, dict) and c.body.get("to") == wa_id and "type" in c.body
    ]
    # The free-form question first (refused: at once its first list; later both lists),
    # then the template.
    types = [b["type"] for b in asked]
    assert types[0] == "text" and types.index("interactive") < types.index("template")
    assert types.count("template") == 1


async def test_refused_at_once_for_the_window_the_template_goes(
    wa: CloudApiEmulator, wa_api_bot: WhatsAppBot
) -> None:
    wa.failures = "response"
    await refused_then_template(wa, wa_api_bot, "447911123127")
    refused = [c for c in wa.calls if c.status == 400]
    assert refused, "the free-form question was refused first"


async def test_refused_later_for_the_window_the_template_goes(
    wa: CloudApiEmulator, wa_api_bot: WhatsAppBot
) -> None:
    await refused_then_template(wa, wa_api_bot, "447911123128")


async def test_unreachable_number_reads_unreachable(
    wa: CloudApiEmulator, wa_api_bot: WhatsAppBot
) -> None:
    wa.customer("447911123126", "Dan", on_whatsapp=False)
    accepted = await invite(wa_api_bot, "+447911123126")
    read = await reads(
        wa_api_bot, accepted["id"], lambda r: r["status"] == "unreachable", "unreachable"
    )
    assert read["reason"] == "no_channel"
    assert read["delivery"]["status"] == "failed"
    assert read["delivery"]["error_code"] == 131026


async def test_an_invalid_phone_is_refused_as_before(wa_api_bot: WhatsAppBot) -> None:
    async with aiohttp.ClientSession() as client:
        body = {"survey": "nps", "phone": "12"}
        async with client.post(api_base(wa_api_bot), json=body, headers=AUTH) as response:
            assert response.status == 422, await response.text()


async def test_a_survey_may_name_its_own_template(
    wa: CloudApiEmulator, wa_api_bot: WhatsAppBot
) -> None:
    approve_templates(wa, "order_feedback")
    async with wa_api_bot.db.transaction() as store:
        await store.responses._session.execute(
            update(Survey)
            .where(Survey.slug == "nps")
            .values(whatsapp_template="order_feedback", subject="Pizza Roma")
        )
    fay = wa.customer("48601000300", "Fay")
    await invite(wa_api_bot, "+48601000300")
    template = await fay.wait_for_message(is_template, 10)
    assert (template.template, template.language) == ("order_feedback", "pl")
    assert template.parameters == ["Pizza Roma"]


async def test_a_number_found_not_on_whatsapp_later_tells_the_crm(
    wa: CloudApiEmulator, db_url: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Meta accepts the template, then reports 131026 in a `failed` status: the invitation
    becomes unreachable and the CRM gets `invitation.failed`, as for any invitation that
    reached nobody."""
    monkeypatch.setattr(sender, "POLL_SECONDS", 0.05)
    settings = api_settings(wa, db_url, events_urls=[receiver.url], events_secret=EVENTS_SECRET)
    running = WhatsAppBot(settings, wa)
    await running.start()
    try:
        wa.customer("447911123127", "Eve", on_whatsapp=False)
        accepted = await invite(running, "+447911123127")
        await reads(running, accepted["id"], lambda r: r["status"] == "unreachable", "failed")
        event = await wait_for(
            lambda: _event(receiver, "invitation.failed"), "the CRM was told", within=15
        )
    finally:
        await running.stop()
    data = event["data"]
    assert (data["invitation_id"], data["status"], data["reason"]) == (
        accepted["id"],
        "unreachable",
        "no_channel",
    )
    assert data["error"].startswith("131026") and data["phone"] == "+447911123127"
    assert receiver.bad_signatures == 0

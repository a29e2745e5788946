"""A WhatsApp customer's whole survey against the Cloud API emulator, on WhatsApp alone."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.wa_emulator import CloudApiEmulator
from bot.wa_emulator.models import BusinessMessage
from storage.db import Database
from storage.models import Address, Respondent, Response
from tests.scenario import wait_for
from tests.whatsapp.conftest import QUESTION, WhatsAppBot


async def responses(db: Database) -> list[Response]:
    async with db.snapshot() as store:
        session = store.responses._session
        return list((await session.scalars(select(Response).order_by(Response.id))).all())


async def person(db: Database, wa_id: str) -> Respondent | None:
    async with db.snapshot() as store:
        session = store.responses._session
        return await session.scalar(
            select(Respondent)
            .join(Address, Address.respondent_id == Respondent.id)
            .where(Address.channel == "whatsapp", Address.address == wa_id)
        )


def is_question(message: BusinessMessage) -> bool:
    """The 0–10 question's first message: the three ranges."""
    return [b.title for b in message.buttons][:1] == ["0 – 3"]


async def question(customer: Any) -> BusinessMessage:
    return await customer.wait_for_message(is_question, timeout=10)


async def test_hi_starts_the_survey_and_two_taps_give_any_score(
    wa: CloudApiEmulator, wa_bot: WhatsAppBot
) -> None:
    ana = wa.customer("447700900001", "Ana")
    ana.send_text("Hi")
    asked = await question(ana)
    assert QUESTION in asked.text
    # Three ranges in score order, none of them the promoters' 9–10, and the typed way.
    assert [b.title for b in asked.buttons] == ["0 – 3", "4 – 7", "8 – 10"]
    assert "0 to 10" in asked.footer
    ana.press_button(asked, "8 – 10")
    scores = await ana.wait_for_message(lambda m: m.interactive_type == "list", timeout=10)
    assert [r.title for r in scores.rows] == ["8", "9", "10"]
    ana.choose_row(scores, "9")
    why = await ana.wait_for_message(lambda m: "Skip" in [b.title for b in m.buttons], 10)
    ana.send_text("Fast delivery")
    improve = await ana.wait_for_message(
        lambda m: m.id != why.id and "Skip" in [b.title for b in m.buttons], 10
    )
    ana.press_button(improve, "Skip")
    await ana.wait_for_message(lambda m: "Ana" in m.text and m.id != asked.id, 10)
    [answer] = await wait_for(lambda: _done(wa_bot.db), "the answer is complete", within=10)
    assert (answer.score, answer.why, answer.improve) == (9, "Fast delivery", None)
    assert answer.messenger == "whatsapp"
    ana_person = await person(wa_bot.db, "447700900001")
    assert ana_person is not None and ana_person.first_name == "Ana"
    # No message broke WhatsApp's limits (the emulator refuses those with 131009).
    assert all(c.status == 200 for c in wa.calls if c.path.endswith("/messages"))


async def _done(db: Database) -> list[Response] | None:
    rows = await responses(db)
    return rows if rows and rows[-1].step == "done" else None


async def test_a_typed_number_is_a_score(wa: CloudApiEmulator, wa_bot: WhatsAppBot) -> None:
    ion = wa.customer("40712345678", "Ion")
    ion.send_text("hello")
    await question(ion)
    ion.send_text("3")
    await ion.wait_for_message(lambda m: "Omite" in [b.title for b in m.buttons], 10)
    rows = await responses(wa_bot.db)
    assert [r.score for r in rows] == [3]
    # Romania's number: the conversation is in Romanian.
    assert rows[0].language == "ro"

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
from tests.whatsapp.score_lists import is_question, nps_score, question_lists

__all__ = ["is_question"]  # imported from here by the other WhatsApp tests


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


async def question(customer: Any) -> BusinessMessage:
    """The 0–10 question's first message (the list "0 – 5"), once its second came too."""
    first, _ = await question_lists(customer)
    return first


async def test_hi_starts_the_survey_and_two_taps_give_any_score(
    wa: CloudApiEmulator, wa_bot: WhatsAppBot
) -> None:
    ana = wa.customer("447700900001", "Ana")
    ana.send_text("Hi")
    asked, rest = await question_lists(ana)
    assert QUESTION in asked.text
    # Two lists in score order, neither of them a group (0–6, 7–8, 9–10), and the typed way.
    assert [r.title for r in asked.rows] == [str(s) for s in range(6)]
    assert [r.title for r in rest.rows] == [str(s) for s in range(6, 11)]
    assert (asked.rows[0].description, rest.rows[-1].description) == (
        "not at all likely",
        "extremely likely",
    )
    assert rest.text == "…or from 6 to 10:"
    assert "0 to 10" in asked.footer
    # One after the other, nothing between.
    assert [m.id for m in ana.messages[-2:]] == [asked.id, rest.id]
    nps_score(ana, (asked, rest), 9)  # the second list: one tap opens it, one chooses
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

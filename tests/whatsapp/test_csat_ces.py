"""CSAT and CES surveys on WhatsApp, against the Cloud API emulator: the question is one
list of the scale's scores (one tap opens it, one chooses), its ends named, a typed number
in the scale answers and one outside it gets the range; an invitation's template brings
the same list."""

from __future__ import annotations

from sqlalchemy import select

from bot.wa_emulator import CloudApiEmulator, Customer
from bot.wa_emulator.models import BusinessMessage
from storage.db import Database
from storage.models import Response, Survey
from tests.scenario import wait_for
from tests.whatsapp.conftest import WhatsAppBot
from tests.whatsapp.outbound_helpers import QUICK_REPLY, invite, is_template, wa_api_bot
from tests.whatsapp.test_bad_input import _post_button
from tests.whatsapp.test_invitations_outbound import reads

__all__ = ["wa_api_bot"]  # the fixture, used by name

STARS = ["1 ⭐", "2 ⭐", "3 ⭐", "4 ⭐", "5 ⭐"]


async def _add(db: Database, slug: str, kind: str) -> None:
    async with db.transaction() as store:
        await store.surveys.add(slug=slug, name=slug.title(), kind=kind)


async def _scores(db: Database, slug: str) -> list[int | None]:
    async with db.snapshot() as store:
        rows = await store.responses._session.scalars(
            select(Response.score)
            .join(Survey, Survey.id == Response.survey_id)
            .where(Survey.slug == slug)
            .order_by(Response.id)
        )
        return list(rows.all())


def is_scale_list(message: BusinessMessage) -> bool:
    """A CSAT or CES question: a list whose first row is the scale's lowest score."""
    return message.interactive_type == "list" and message.rows[0].title in ("1 ⭐", "1")


async def scale_question(
    wa: CloudApiEmulator, db: Database, kind: str, slug: str, wa_id: str, name: str
) -> tuple[Customer, BusinessMessage]:
    """A survey of the kind; the customer starts it and is asked its question."""
    await _add(db, slug, kind)
    customer = wa.customer(wa_id, name)
    customer.send_text(f"start {slug}")
    return customer, await customer.wait_for_message(is_scale_list, timeout=10)


async def test_a_csat_question_is_one_list_of_stars_with_its_ends_named(
    wa: CloudApiEmulator, wa_bot: WhatsAppBot
) -> None:
    ana, question = await scale_question(wa, wa_bot.db, "csat", "checkout", "447700900101", "Ana")
    assert "How satisfied are you with Acme?" in question.text
    assert "1 ⭐ = very dissatisfied, 5 ⭐ = very satisfied" in question.text
    assert [r.title for r in question.rows] == STARS
    assert [r.description for r in question.rows] == [
        "very dissatisfied",
        "",
        "",
        "",
        "very satisfied",
    ]
    assert question.footer == "Or type a number from 1 to 5."
    # No range buttons first: the stars are one tap away.
    assert not [m for m in ana.messages if m.list_button in ("0 – 5", "6 – 10")]
    ana.choose_row(question, "4 ⭐")
    why = await ana.wait_for_message(lambda m: "What did you like most" in m.text, 10)
    assert "Skip" in [b.title for b in why.buttons]
    ana.send_text("Quick checkout")
    improve = await ana.wait_for_message(lambda m: "even better" in m.text, 10)
    ana.press_button(improve, "Skip")
    await ana.wait_for_message(lambda m: "glad you are satisfied" in m.text, 10)
    assert await _scores(wa_bot.db, "checkout") == [4]
    # Nothing broke WhatsApp's limits (the emulator refuses those with 131009).
    assert all(c.status == 200 for c in wa.calls if c.path.endswith("/messages"))


async def test_typed_numbers_answer_within_the_scale_only(
    wa: CloudApiEmulator, wa_bot: WhatsAppBot
) -> None:
    ion, question = await scale_question(wa, wa_bot.db, "ces", "support", "40712345101", "Ion")
    assert [r.title for r in question.rows] == ["1", "2", "3", "4", "5", "6", "7"]
    # A Romanian number: Romanian words for the ends, the hint and the follow-up.
    assert (question.rows[0].description, question.rows[-1].description) == (
        "foarte greu",
        "foarte ușor",
    )
    assert question.footer == "Sau scrieți un număr de la 1 la 7."
    seen = len(ion.messages)
    ion.send_text("9")
    await ion.wait_for_message(lambda m: "de la 1 (foarte greu) la 7 (foarte ușor)" in m.text, 10)
    await wait_for(
        lambda: [m for m in ion.messages[seen:] if is_scale_list(m)], "the list again", 10
    )
    assert await _scores(wa_bot.db, "support") == [None]
    ion.send_text("2")
    await ion.wait_for_message(lambda m: "Ce v-a încurcat?" in m.text, 10)
    assert await _scores(wa_bot.db, "support") == [2]


async def test_a_forged_row_outside_the_scale_changes_nothing(
    wa: CloudApiEmulator, wa_bot: WhatsAppBot
) -> None:
    eva, question = await scale_question(wa, wa_bot.db, "csat", "checkout", "447700900102", "Eva")
    prefix = question.rows[0].id.rsplit(":", 1)[0]
    # A correctly signed reply naming 9 (or 0) for this very response: not on 1–5.
    for score in (9, 0):
        seen = len(eva.messages)
        await _post_button(wa_bot, "447700900102", f"{prefix}:{score}")
        await wait_for(
            lambda s=seen: [m for m in eva.messages[s:] if "not valid" in m.text],
            "the refusal",
            10,
        )
    assert await _scores(wa_bot.db, "checkout") == [None]
    eva.choose_row(question, "1 ⭐")
    await eva.wait_for_message(lambda m: "What went wrong?" in m.text, 10)
    assert await _scores(wa_bot.db, "checkout") == [1]


async def test_an_invitation_template_brings_the_csat_list(
    wa: CloudApiEmulator, wa_api_bot: WhatsAppBot
) -> None:
    await _add(wa_api_bot.db, "checkout", "csat")
    bea = wa.customer("447911123201", "Bea")
    accepted = await invite(wa_api_bot, "+447911123201", "checkout")
    template = await bea.wait_for_message(is_template, 10)
    await reads(wa_api_bot, accepted["id"], lambda r: r["status"] == "sent", "sent")
    bea.tap_quick_reply(template, QUICK_REPLY)
    stars = await bea.wait_for_message(is_scale_list, 10)
    assert [r.title for r in stars.rows] == STARS
    assert stars.footer == "Or type a number from 1 to 5."
    bea.choose_row(stars, "2 ⭐")
    answered = await reads(
        wa_api_bot, accepted["id"], lambda r: r["status"] == "answered", "answered"
    )
    assert answered["score"] == 2
    await bea.wait_for_message(lambda m: "What went wrong?" in m.text, 10)

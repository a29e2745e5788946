"""Issue 9, items 3 and 4: the broadcast preview counts imported contacts who have not
pressed Start correctly, and a customer broadcast reaches customers only (not the team,
not employees who came only through an eNPS link)."""

from __future__ import annotations

from bot.emulator import BotApiEmulator
from storage.db import Database
from tests.admin_helpers import grant, make_survey
from tests.broadcast_helpers import (
    admin,
    latest_broadcast,
    preview_of,
    recipients_of,
    reply_to,
    seed_audience,
)
from tests.dialog_helpers import Talk
from tests.handlers.harness import HandlerBot
from tests.scenario import OWNER_ID, person_id

NOT_STARTED = "Imported contacts who have not pressed Start yet"
VIEWER, EMPLOYEE, ANNA, BORIS = 7101, 7102, 7103, 7104


async def test_preview_counts_imported_contacts_who_have_not_pressed_start(
    api: BotApiEmulator, sender: HandlerBot, check_db: Database
) -> None:
    await seed_audience(check_db, api, [7001, 7002])
    owner = admin(api)
    # None imported: no such line (it said 1).
    preview = await preview_of(owner, "/broadcast nps")
    assert "Recipients: 2 (en 2)" in preview.text.splitlines()
    assert NOT_STARTED not in preview.text
    # Three imported, none of them started: 3 (it said nothing). An imported person who
    # did press Start (7001) is in the audience, not in this count.
    await reply_to(owner, "/import\n7011,ru\n7012,pl,shop\n7013\n7001", "Contact list imported")
    preview = await preview_of(owner, "/broadcast nps")
    lines = preview.text.splitlines()
    assert "Recipients: 2 (en 2)" in lines
    assert any(line.startswith(f"{NOT_STARTED}: 3 ") for line in lines), lines
    # Segments narrow the count too.
    preview = await preview_of(owner, "/broadcast nps source:shop")
    assert any(line.startswith(f"{NOT_STARTED}: 1 ") for line in preview.text.splitlines())
    preview = await preview_of(owner, "/broadcast nps lang:ru")
    assert any(line.startswith(f"{NOT_STARTED}: 1 ") for line in preview.text.splitlines())
    assert all(api.deliveries(uid) == 0 for uid in (7011, 7012, 7013))


async def test_a_customer_broadcast_reaches_customers_only(
    api: BotApiEmulator, sender: HandlerBot, check_db: Database
) -> None:
    await make_survey(check_db, "pulse", "Team pulse", kind="enps")
    # An employee who came only through the eNPS link.
    employee = Talk(api, EMPLOYEE, first_name="Ivan")
    await employee.say("/start pulse", "place to work")
    # A viewer and the owner pressed Start too; two customers.
    await seed_audience(check_db, api, [VIEWER, ANNA, BORIS])
    await grant(check_db, VIEWER, "viewer")
    owner = admin(api)
    await reply_to(owner, "/start", "recommend Acme")
    preview = await preview_of(owner, "/broadcast nps")
    lines = preview.text.splitlines()
    assert "Recipients: 2 (en 2)" in lines
    assert any(
        line.startswith("Not included: 2 team members and 1 employee — a customer survey")
        for line in lines
    ), lines
    assert preview.button_texts == ["✅ Send to 2", "✖ Cancel"]
    before = {uid: api.deliveries(uid) for uid in (VIEWER, EMPLOYEE, ANNA, BORIS)}
    owner.press(preview, "✅ Send to 2")
    summary = await owner.wait_for_message(lambda m: "finished:" in m.text, timeout=15)
    assert "2 of 2 sent" in summary.text
    broadcast = await latest_broadcast(check_db)
    recipients = await recipients_of(check_db, broadcast.id)
    assert {r.chat_id for r in recipients} == {ANNA, BORIS}
    people = {await person_id(check_db, ANNA), await person_id(check_db, BORIS)}
    assert {r.respondent_id for r in recipients} == people
    after = {uid: api.deliveries(uid) for uid in (VIEWER, EMPLOYEE, ANNA, BORIS)}
    assert {uid: after[uid] - before[uid] for uid in after} == {
        VIEWER: 0,
        EMPLOYEE: 0,
        ANNA: 1,
        BORIS: 1,
    }
    # The owner got the preview, progress and summary, never the broadcast question.
    assert not [
        m
        for m in api.user(OWNER_ID).bot_messages
        if m.message_id > preview.message_id and m.text.startswith("Hi Olga! One quick")
    ]


async def test_an_employee_who_also_answers_as_a_customer_is_a_customer(
    api: BotApiEmulator, sender: HandlerBot, check_db: Database
) -> None:
    await make_survey(check_db, "pulse", "Team pulse", kind="enps")
    await make_survey(check_db, "delivery", "Delivery")
    employee = Talk(api, EMPLOYEE, first_name="Ivan")
    await employee.say("/start pulse", "place to work")
    owner = admin(api)
    preview = await preview_of(owner, "/broadcast delivery")
    # The owner and Ivan are left out.
    assert "Not included: 1 team member and 1 employee —" in preview.text
    # Ivan then answers as a customer (the default survey): he is a customer now, left out
    # only by the quiet period after that survey.
    await employee.say("/start", "recommend Acme")
    preview = await preview_of(owner, "/broadcast delivery")
    lines = preview.text.splitlines()
    assert any(line.startswith("Not included: 1 team member —") for line in lines), lines
    assert " • got a survey in the last 7 days: 1" in lines

"""Issue 9, item 14: /forgetme forgets everything, and /mydata shows everything.

A person who was on an imported contact list, got a broadcast, scored as a detractor and
was written to by the team: /mydata shows the contact row, and after /forgetme no row of
any table (walked through the SQLAlchemy metadata) holds their id or their name.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import insert

from bot.emulator import BotApiEmulator
from storage.db import Database
from storage.models import DigestDelivery, utcnow
from tests.broadcast_helpers import admin, preview_of, reply_to
from tests.conftest import BACKENDS
from tests.handlers.harness import HandlerBot
from tests.scenario import person_id, wait_db
from tests.storage.personal_walk import rows_about

ZEB = 7_654_321_987
NAMES = ("Zebediah", "zquill", "Quill")


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # SQL that differs on PostgreSQL
async def test_forgetme_leaves_no_row_anywhere_with_the_persons_id_or_name(
    api: BotApiEmulator, sender: HandlerBot, check_db: Database
) -> None:
    owner = admin(api)
    await reply_to(owner, "/help", "Owner commands")
    await reply_to(owner, f"/import\n{ZEB},en,fair,zoe,Zebediah Quill", "Contact list imported")
    zeb = api.user(ZEB, first_name="Zebediah", username="zquill", language_code="en")
    await reply_to(zeb, "/help", "")
    # The broadcast reaches Zebediah; his detractor score opens a case, the team writes.
    preview = await preview_of(owner, "/broadcast nps")
    owner.press(preview, preview.button_texts[0])
    await owner.wait_for_message(lambda m: "finished:" in m.text, timeout=15)
    question = await zeb.wait_for_message(lambda m: "recommend Acme" in m.text)
    zeb.press(question, "2")
    alert = await owner.wait_for_message(lambda m: m.text.startswith("🔴 Detractor · 2"))
    await zeb.wait_for_message(lambda m: "disappointed" in m.text)
    await reply_to(zeb, "Zebediah Quill here, call me", "give us a 10")
    owner.press(alert, "✉️ Reply")
    await owner.wait_for_message(lambda m: m.text.startswith("✉️ Write your reply to Zebediah"))
    await reply_to(owner, "Sorry, Zebediah!", "✅ Sent to Zebediah")
    async with check_db.transaction() as store:  # he also has a digest record
        await store.responses._session.execute(
            insert(DigestDelivery).values(day=utcnow().date(), user_id=ZEB)
        )
    person = await person_id(check_db, ZEB)  # the person's own id, not the Telegram id
    assert len(await rows_about(check_db, ZEB, NAMES, person)) > 10

    summary = await reply_to(zeb, "/mydata", "What I store about you")
    assert (
        "Imported contact list: name Zebediah Quill · language en · source fair · agent zoe"
        in summary.text
    )
    assert "broadcast_recipients (1)" in summary.text and "case_threads (1)" in summary.text
    document = await zeb.wait_for_message(lambda m: m.document is not None)
    assert document.document is not None
    records = json.loads(document.document.data)["records"]
    [contact] = records["contacts"]
    assert (contact["name"], contact["language"], contact["source"], contact["agent"]) == (
        "Zebediah Quill",
        "en",
        "fair",
        "zoe",
    )
    [recipient] = records["broadcast_recipients"]
    assert recipient["chat_id"] == ZEB and recipient["status"] == "sent"
    assert recipient["respondent_id"] == await person_id(check_db, ZEB)
    assert [row["user_id"] for row in records["digest_deliveries"]] == [ZEB]

    confirm = await reply_to(zeb, "/forgetme", "Erase your data?")
    zeb.press(confirm, "🗑 Erase")
    await zeb.wait_for_message(
        lambda m: m.message_id == confirm.message_id and "your data is erased" in m.text
    )

    async def nothing_left(db: Database) -> bool:
        return not await rows_about(db, ZEB, NAMES, person)

    try:
        await wait_db(check_db, nothing_left)
    except AssertionError:
        left = "\n".join(await rows_about(check_db, ZEB, NAMES, person))
        raise AssertionError(f"rows still naming the person after /forgetme:\n{left}") from None

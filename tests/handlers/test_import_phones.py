"""/import with a phone column (issue 11): numbers in E.164 become people's phone
addresses — at once for people who pressed Start, at their first update for the others,
as placeholders for phone-only lines — and bad, repeated or conflicting numbers are
reported, changing nothing."""

from __future__ import annotations

import pytest

from bot.emulator import BotApiEmulator
from storage.db import Database
from tests.broadcast_helpers import admin, reply_to, seed_audience
from tests.conftest import BACKENDS
from tests.handlers.harness import HandlerBot
from tests.phone_helpers import (
    SAVED,
    holder_of,
    imported_phones,
    people_count,
    phone_addresses,
    phone_of,
)
from tests.scenario import person_id

DONE = "Contact list imported"


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_a_phone_column_links_numbers_and_reports_bad_and_repeated_ones(
    bot: HandlerBot, api: BotApiEmulator, check_db: Database
) -> None:
    await seed_audience(check_db, api, [41])  # 41 pressed Start; 42 has not yet
    rows = [
        "id;phone;name",
        "41;+373 69 12 34 56;Anna",
        "42;0048601234567;Bob",
        ";+7 916 123-45-67;Carl",
        "43;069123456;Dan",
        "44;+1 555 555 0123;Eve",
        "45;+37369123456;Fay",
        "41;+40721234567;Anna again",
        ";;Zed",
    ]
    report = await reply_to(admin(api), "/import\n" + "\n".join(rows), DONE)
    lines = report.text.splitlines()
    assert lines[0] == "📇 Contact list imported: 8 lines read."
    assert lines[1] == "added 2 · updated 0 · unchanged 0"
    assert lines[2] == (
        "📱 phone numbers: 1 on people who pressed Start · 1 kept until the person presses "
        "Start · 1 people known by phone only · 0 left as they were (the number is someone "
        "else's, or the person has another)"
    )
    assert lines[3] == "duplicates removed: 1 (the first line of each id was kept)"
    assert lines[4] == "invalid lines skipped: 4"
    assert lines[5:9] == [
        " • line 5: “069123456” has no country code: write phone numbers with + and the "
        "country code, e.g. +37369123456",
        " • line 6: “+1 555 555 0123” is not a valid phone number",
        " • line 7: +37369123456 is already on line 2 (one number, one person)",
        " • line 9: neither a Telegram user id nor a phone number",
    ]
    assert lines[9].startswith("1 of 2 has pressed Start")
    phones = await phone_addresses(check_db)
    assert phones["+37369123456"] == await person_id(check_db, 41)
    assert "+48601234567" not in phones  # 42 has not pressed Start: it waits for them
    assert await imported_phones(check_db) == {41: "+37369123456", 42: "+48601234567"}
    carl = phones["+79161234567"]
    async with check_db.snapshot() as store:
        placeholder = await store.respondents.get(carl)
    assert placeholder is not None and placeholder.telegram_id is None
    assert placeholder.first_name == "Carl"
    # Bob presses Start: his first update makes the number his.
    bob = api.user(42, first_name="Bob")
    bob.send("/start")
    await bob.wait_for_message(lambda m: "recommend" in m.text)
    assert await phone_of(check_db, 42) == "+48601234567"
    # Importing the same list again changes nothing and says so.
    report = await reply_to(admin(api), "/import\n" + "\n".join(rows), DONE)
    assert report.text.splitlines()[2].startswith(
        "📱 phone numbers: 2 on people who pressed Start · 0 kept until the person presses "
        "Start · 1 people known by phone only · 0 left"
    )
    bob_id = await person_id(check_db, 42)
    assert await phone_addresses(check_db) == {**phones, "+48601234567": bob_id}


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_an_import_never_takes_a_number_from_a_person_or_gives_a_second_one(
    bot: HandlerBot, api: BotApiEmulator, check_db: Database
) -> None:
    await seed_audience(check_db, api, [46, 47])
    owner = admin(api)
    await reply_to(owner, "/import\nid,phone\n46,+380501234567", DONE)
    people = await people_count(check_db)
    rows = "id,phone\n47,+380501234567\n46,+40721234567"
    report = await reply_to(owner, "/import\n" + rows, DONE)
    assert report.text.splitlines()[2] == (
        "📱 phone numbers: 0 on people who pressed Start · 0 kept until the person presses "
        "Start · 0 people known by phone only · 2 left as they were (the number is someone "
        "else's, or the person has another)"
    )
    # A phone-only line for a number someone has: it is theirs already, nobody new comes.
    report = await reply_to(owner, "/import\n+380501234567,ru,,,Someone", DONE)
    assert "📱 phone numbers: 1 on people who pressed Start" in report.text
    assert await phone_addresses(check_db) == {"+380501234567": await person_id(check_db, 46)}
    assert await people_count(check_db) == people
    # Only the person themself moves the number: by sharing their own contact.
    user = api.user(47, first_name="User47")
    await reply_to(user, "/phone", "You have not shared")
    user.share_contact("380501234567")
    await user.wait_for_message(lambda m: SAVED in m.text)
    assert await holder_of(check_db, "+380501234567") == await person_id(check_db, 47)


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_a_telegram_line_takes_the_number_of_a_phone_only_placeholder(
    bot: HandlerBot, api: BotApiEmulator, check_db: Database
) -> None:
    await seed_audience(check_db, api, [48])
    owner = admin(api)
    # A number in the first column is a phone number (no header needed).
    await reply_to(owner, "/import\n+447911123456,en,,,Gus\n+4930123456,de,,,Hans", DONE)
    assert set(await phone_addresses(check_db)) == {"+447911123456", "+4930123456"}
    people = await people_count(check_db)
    # Now the CRM knows their Telegram ids: 48 pressed Start, 49 has not yet.
    report = await reply_to(owner, "/import\nid,phone\n48,+447911123456\n49,+4930123456", DONE)
    assert report.text.splitlines()[2].startswith(
        "📱 phone numbers: 1 on people who pressed Start · 1 kept until the person presses "
        "Start · 0 people known by phone only · 0 left"
    )
    assert await phone_addresses(check_db) == {"+447911123456": await person_id(check_db, 48)}
    assert await people_count(check_db) == people - 2  # both placeholders went
    hans = api.user(49, first_name="Hans")
    hans.send("/start")
    await hans.wait_for_message(lambda m: "recommend" in m.text)
    assert await phone_of(check_db, 49) == "+4930123456"


async def test_a_csv_file_with_a_phone_column_is_imported(
    bot: HandlerBot, api: BotApiEmulator, check_db: Database
) -> None:
    await seed_audience(check_db, api, [51])
    owner = admin(api)
    data = "Telephone;ID;Name\n+373 69 12 34 56;51;Ana\n".encode("utf-8-sig")
    before = max((m.message_id for m in owner.messages), default=0)
    owner.send_document(data, file_name="crm.csv", mime_type="text/csv", caption="/import")
    report = await owner.wait_for_message(lambda m: m.message_id > before and DONE in m.text)
    assert "📱 phone numbers: 1 on people who pressed Start" in report.text
    assert await phone_of(check_db, 51) == "+37369123456"

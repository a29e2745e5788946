"""/import of a contact list sent as a .csv file, at the handler tier."""

from __future__ import annotations

from sqlalchemy import select

from bot.emulator import BotApiEmulator, ChatMessage, EmulatedUser
from storage.broadcast_models import Contact
from storage.db import Database
from tests.broadcast_helpers import admin, reply_to
from tests.handlers.harness import HandlerBot

CONTACTS = "\n".join(
    [
        "id;language;source;agent;name",
        "41;ru;shop;olga;Анна Петрова",
        "42;pl;;;Bartek",
        "abc;en",
        "43;ru;;;Ёлка",
        "42;ro",
        "",
        "44",
    ]
).encode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM


async def send_file(
    user: EmulatedUser,
    data: bytes,
    fragment: str,
    *,
    file_name: str = "contacts.csv",
    mime_type: str = "text/csv",
    caption: str | None = None,
) -> ChatMessage:
    """Sends a document and returns the first later bot message containing `fragment`."""
    before = max((m.message_id for m in user.messages), default=0)
    user.send_document(data, file_name=file_name, mime_type=mime_type, caption=caption)
    return await user.wait_for_message(
        lambda m: m.message_id > before and fragment in m.text, timeout=15
    )


async def contacts_in(db: Database) -> dict[int, tuple[str | None, ...]]:
    """The stored contacts: user id → (language, source, agent, name)."""
    async with db.snapshot() as store:
        session = store.responses._session
        rows = await session.execute(select(Contact.__table__))
        return {r.user_id: (r.language, r.source, r.agent, r.name) for r in rows}


async def test_csv_file_captioned_import_is_imported_and_reported(
    bot: HandlerBot, api: BotApiEmulator, check_db: Database
) -> None:
    owner = admin(api)
    report = await send_file(owner, CONTACTS, "Contact list imported", caption="/import")
    lines = report.text.splitlines()
    assert lines[0] == "📇 Contact list imported: 6 lines read."
    assert lines[1] == "added 4 · updated 0 · unchanged 0"
    assert lines[2] == "duplicates removed: 1 (the first line of each id was kept)"
    assert lines[3] == "invalid lines skipped: 1"
    assert lines[4] == " • line 4: “abc” is not a Telegram user id"
    assert await contacts_in(check_db) == {
        41: ("ru", "shop", "olga", "Анна Петрова"),
        42: ("pl", None, None, "Bartek"),
        43: ("ru", None, None, "Ёлка"),
        44: (None, None, None, None),
    }
    # The file is downloaded through getFile and the file route, once.
    assert len(api.calls_for("getFile")) == 1


async def test_csv_file_after_import_prompt_is_imported(
    bot: HandlerBot, api: BotApiEmulator, check_db: Database
) -> None:
    owner = admin(api)
    await reply_to(owner, "/import", "Send the contact list now")
    # Excel on a Cyrillic Windows: Windows-1251, comma-separated, no header.
    data = "51,ru,,,Дмитрий\n52,en\n".encode("cp1251")
    report = await send_file(owner, data, "Contact list imported", mime_type="text/plain")
    assert "added 2 · updated 0 · unchanged 0" in report.text
    assert (await contacts_in(check_db))[51] == ("ru", None, None, "Дмитрий")
    # The request was used up: a later file is an ordinary message, not an import.
    owner.send_document(b"53\n", file_name="more.csv", mime_type="text/csv")
    await bot.idle()
    assert 53 not in await contacts_in(check_db)


async def test_wrong_or_too_big_file_gets_a_one_line_answer(
    bot: HandlerBot, api: BotApiEmulator, check_db: Database
) -> None:
    owner = admin(api)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    answer = await send_file(
        owner,
        b"PK\x03\x04",
        "not a CSV file",
        file_name="list.xlsx",
        mime_type=xlsx,
        caption="/import",
    )
    assert len(answer.text.splitlines()) == 1
    # After /import a wrong file keeps the bot waiting; a too big one is refused unread.
    await reply_to(owner, "/import", "Send the contact list now")
    await send_file(owner, b"%PDF-1.4", "not a CSV file", file_name="a.pdf", mime_type="x/y")
    big = b"61\n" * (7 * 1024 * 1024)  # 21 MB, above what a bot may download
    answer = await send_file(owner, big, "too big")
    assert answer.text == (
        "The file is too big: a bot can read files up to 20 MB. Split the list into smaller files."
    )
    assert api.calls_for("getFile") == []
    assert await contacts_in(check_db) == {}


async def test_outsider_file_captioned_import_is_not_permitted(
    bot: HandlerBot, api: BotApiEmulator, check_db: Database
) -> None:
    outsider = api.user(71, first_name="Eve")
    await send_file(outsider, b"72\n73\n", "not available to you", caption="/import")
    await bot.idle()
    assert api.calls_for("getFile") == []
    assert await contacts_in(check_db) == {}

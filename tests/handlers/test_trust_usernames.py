"""Issue 9, item 16: an @username two people have used names nobody until an id is given.

Telegram gives a dropped username to someone else; /grant, /revoke and /forget list the
candidates (name, id, last seen) instead of picking one.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.emulator import BotApiEmulator
from storage.db import Database
from storage.models import Respondent, StaffMember, utcnow
from tests.dialog_helpers import Talk
from tests.handlers.harness import HandlerBot
from tests.scenario import OWNER_ID

OLD, NEW = 601, 602


async def _staff_ids(db: Database) -> list[int]:
    async with db.snapshot() as store:
        session = store.responses._session
        return list((await session.scalars(select(StaffMember.user_id))).all())


async def _two_people_named_anna(api: BotApiEmulator, db: Database) -> None:
    """Anna Old used @anna and dropped it last month; Anna New has it now."""
    old = Talk(api, OLD, first_name="Anna Old", username="anna")
    await old.say("/start", "How likely are you to recommend")
    async with db.transaction() as store:
        await store.responses._session.execute(
            update(Respondent)
            .where(Respondent.id == await store.respondents.person_of(OLD))
            .values(last_seen_at=utcnow() - timedelta(days=30))
        )
    new = Talk(api, NEW, first_name="Anna New", username="anna")
    await new.say("/start", "How likely are you to recommend")


@pytest.mark.parametrize("command", ["/grant @anna admin", "/revoke @ANNA", "/forget @anna"])
async def test_a_recycled_username_is_refused_with_the_candidates(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database, command: str
) -> None:
    await _two_people_named_anna(api, check_db)
    owner = Talk(api, OWNER_ID)
    refused = await owner.say(command, "Several people have used the username")
    seen_new = utcnow().date()
    seen_old = (utcnow() - timedelta(days=30)).date()
    lines = refused.text.splitlines()
    assert lines[1:3] == [  # the latest seen first
        f" • Anna New · id {NEW} · last seen {seen_new}",
        f" • Anna Old · id {OLD} · last seen {seen_old}",
    ]
    assert lines[3] == "Send the command again with the numeric id of the person you mean."
    assert await _staff_ids(check_db) == []
    async with check_db.snapshot() as store:
        assert await store.respondents.by_telegram(OLD) is not None
        assert await store.respondents.by_telegram(NEW) is not None
    # The id settles it.
    await owner.say(f"/grant {NEW} admin", f"✅ Anna New (@anna · {NEW})")
    assert await _staff_ids(check_db) == [NEW]


async def test_a_username_only_one_person_used_still_works(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await _two_people_named_anna(api, check_db)
    await Talk(api, 603, first_name="Ivan", username="ivan_k").say("/start", "recommend")
    owner = Talk(api, OWNER_ID)
    await owner.say("/grant @Ivan_K viewer", "Ivan (@ivan_k · 603) now has the viewer role")
    assert await _staff_ids(check_db) == [603]

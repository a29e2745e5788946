"""The questions the bot sends itself (invitations; broadcasts share the path) are asked in
Telegram: their responses record it and count in Telegram's channel row, and a WhatsApp
answer next to them counts in its own, and so does one answered through its web link; the
histograms equal a recount from the rows."""

from __future__ import annotations

from datetime import UTC, timedelta

from storage.broadcast_models import RecipientStatus
from storage.db import Database
from storage.models import utcnow
from storage.repos.broadcast_recipients import Outcome
from tests.channel_helpers import answer_through, recount, stored
from tests.invitation_helpers import FATIGUE, add_people, resolve, response, schedule


async def test_a_sent_invitation_is_a_telegram_question(db: Database) -> None:
    async with db.transaction() as store:
        survey = (await store.surveys.ensure_default()).id
    await add_people(db, [1501])
    await schedule(db, survey, 1501, utcnow() - timedelta(seconds=1), public_id="inv_1501")
    async with db.transaction() as store:
        [claimed], _ = await store.invitation_queue.claim(
            now=utcnow(), worker="w1", limit=10, fatigue=FATIGUE, resolve=resolve
        )
        await store.invitation_queue.mark_sending([claimed.row_id], "w1", utcnow())
    async with db.transaction() as store:
        outcome = Outcome(claimed.row_id, RecipientStatus.SENT, utcnow(), message_id=5)
        await store.invitation_queue.record([outcome], "w1")
    opened = await response(db, claimed.response_id)
    assert opened is not None and (opened.channel, opened.messenger) == ("invitation", "telegram")
    await answer_through(db, "whatsapp", 1502, 10)

    counted = await stored(db)
    assert counted == await recount(db, UTC)
    by_value = {value: counts for (_, _, value), counts in counted.items()}
    assert by_value["telegram"] == [1] + [0] * 11  # invited, not answered yet
    assert by_value["whatsapp"] == [1] + [0] * 10 + [1]


async def test_a_telegram_question_answered_on_the_web_counts_there(db: Database) -> None:
    response_id = await answer_through(db, "telegram", 1601, None)
    await answer_through(db, "telegram", 1602, 9)
    async with db.transaction() as store:
        row = await store.responses.get(response_id)
        assert row is not None
        assert await store.responses.move_to_messenger(row, "web")
        assert not await store.responses.move_to_messenger(row, "web")  # already there
        assert await store.responses.record_score(row, 3)
        # Scored: it stays where it was answered.
        assert not await store.responses.move_to_messenger(row, "whatsapp")
    assert row.messenger == "web"
    counted = await stored(db)
    assert counted == await recount(db, UTC)
    by_value = {value: counts for (_, _, value), counts in counted.items()}
    assert by_value == {
        "telegram": [1] + [0] * 9 + [1, 0],
        "web": [1, 0, 0, 0, 1] + [0] * 7,
    }

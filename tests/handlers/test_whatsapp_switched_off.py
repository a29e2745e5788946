"""WhatsApp switched off after use (no WHATSAPP_* settings any more): the people reached
only there are left out of broadcast counts and sends, and said so in the preview; those
enrolled while it was on are skipped at their turn (never sent to Telegram as an unknown
chat); their standing reads "whatsapp_off", which an invitation reports as unreachable
(`no_channel`); Telegram people are unaffected."""

from __future__ import annotations

import pytest

from bot.channels import with_channels
from bot.emulator import BotApiEmulator
from handlers.port import Action, Rejected, SendText
from storage.db import Database
from storage.models import utcnow
from storage.repos.audience import Fatigue, Segment
from tests.broadcast_helpers import (
    admin,
    latest_broadcast,
    preview_of,
    recipients_of,
    seed_audience,
)
from tests.conftest import BACKENDS
from tests.handlers.conftest import broadcast_bot
from tests.handlers.harness import HandlerBot
from tests.scenario import OWNER_ID, wait_for

FINISHED = "finished:"
QUESTION = "recommend Acme"


async def _whatsapp_people(db: Database, wa_ids: list[str]) -> list[int]:
    """People known only by a WhatsApp address (they wrote while WhatsApp was on)."""
    chats = []
    async with db.transaction() as store:
        for wa_id in wa_ids:
            chat, _ = await store.whatsapp.contact(wa_id, f"WA{wa_id[-2:]}", "en")
            chats.append(chat)
    return chats


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_the_preview_says_who_only_whatsapp_reaches_and_nobody_of_them_is_sent(
    api: BotApiEmulator, sender: HandlerBot, check_db: Database
) -> None:
    assert not sender.settings.whatsapp_enabled  # as after WHATSAPP_* was removed
    telegram = await seed_audience(check_db, api, [7101, 7102])
    chats = await _whatsapp_people(check_db, ["37369000001", "37369000002", "37369000003"])
    owner = admin(api)
    preview = await preview_of(owner, "/broadcast nps")
    assert "Recipients: 2" in preview.text
    assert "Not messaged: 3" in preview.text
    assert "reached only on WhatsApp, which is not set up (WHATSAPP_*): 3" in preview.text
    owner.press(preview, "✅ Send to 2")
    summary = await owner.wait_for_message(lambda m: FINISHED in m.text, timeout=15)
    assert "2 of 2 sent" in summary.text
    broadcast = await latest_broadcast(check_db)
    recipients = await recipients_of(check_db, broadcast.id)
    assert sorted(r.chat_id for r in recipients) == [7101, 7102]
    assert not set(chats) & {c.params.get("chat_id") for c in api.calls_for("sendMessage")}
    for user in telegram:
        await user.wait_for_message(lambda m: QUESTION in m.text)


async def test_people_enrolled_while_it_was_on_are_skipped_at_their_turn(
    api: BotApiEmulator, db_url: str, check_db: Database
) -> None:
    [tom] = await seed_audience(check_db, api, [7201])
    chats = await _whatsapp_people(check_db, ["37369000011", "37369000012"])
    async with check_db.transaction() as store:  # confirmed while WhatsApp was on
        survey = await store.surveys.ensure_default()
        draft = await store.broadcasts.create_draft(
            survey_id=survey.id,
            segment="",
            created_by=OWNER_ID,
            chat_id=OWNER_ID,
            language="en",
            now=utcnow(),
        )
        total = await store.broadcasts.start(
            draft.id, Segment(), Fatigue(whatsapp=True), utcnow(), None, owners={OWNER_ID}
        )
    assert total == 3
    running = broadcast_bot(api, db_url)  # restarted without WhatsApp
    await running.start()
    try:
        await tom.wait_for_message(lambda m: QUESTION in m.text)

        async def settled() -> bool:
            rows = await recipients_of(check_db, draft.id)
            return all(r.status not in ("pending", "sending") for r in rows)

        await wait_for(settled, "every recipient settled", within=15)
    finally:
        await running.stop()
    rows = {r.chat_id: r for r in await recipients_of(check_db, draft.id)}
    assert rows[7201].status == "sent"
    for chat in chats:
        assert (rows[chat].status, rows[chat].detail) == ("skipped", "whatsapp_off")
    assert not set(chats) & {c.params.get("chat_id") for c in api.calls_for("sendMessage")}


async def test_an_invitation_to_someone_only_whatsapp_reaches_is_unreachable(
    check_db: Database,
) -> None:
    [chat] = await _whatsapp_people(check_db, ["37369000021"])
    async with check_db.snapshot() as store:
        person = await store.whatsapp.person_of(chat)
        assert person is not None
        standing = await store.audience.eligibility(
            [person], (await store.surveys.ensure_default()).id, Fatigue(whatsapp=False), utcnow()
        )
    assert standing[person].reason == "whatsapp_off"


class _Recorder:
    """A Telegram port that records what reaches it."""

    def __init__(self) -> None:
        self.actions: list[Action] = []

    async def perform(self, action: Action) -> int | None:
        self.actions.append(action)
        return 1

    async def download(self, file_id: str, max_bytes: int) -> bytes:
        return b""


async def test_an_action_for_a_whatsapp_chat_is_refused_not_sent_to_telegram() -> None:
    telegram = _Recorder()
    port = with_channels(telegram, None)
    with pytest.raises(Rejected, match="WhatsApp is not configured"):
        await port.perform(SendText(2**53 + 5, "Hi"))
    assert await port.perform(SendText(42, "Hi")) == 1
    assert [a.chat_id for a in telegram.actions if isinstance(a, SendText)] == [42]

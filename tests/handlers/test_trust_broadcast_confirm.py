"""Issue 9, item 15: only the preview message itself confirms a broadcast.

A Confirm carries just the broadcast id; copied into a button of another message (forged,
or pressed elsewhere) it must change nothing, and progress edits always go to the preview.
"""

from __future__ import annotations

from bot.emulator import BotApiEmulator, ChatMessage, EmulatedUser
from handlers.broadcast import BroadcastConfirm
from handlers.broadcast_messages import BroadcastStop
from handlers.callbacks import pack
from storage.db import Database
from tests.admin_helpers import grant
from tests.broadcast_helpers import (
    admin,
    latest_broadcast,
    preview_of,
    recipients_of,
    reply_to,
    seed_audience,
)
from tests.handlers.harness import HandlerBot

ADMIN = 7_101
NOT_THIS_MESSAGE = "This button does not belong to this message"
NOT_YOURS = "Only the person who made this preview can send it"


async def _refused(user: EmulatedUser, message: ChatMessage, data: str, expected: str) -> None:
    """Presses `data` on `message` and expects an alert saying `expected`."""
    answer = await user.wait_callback_answer(user.press_data(message, data))
    assert answer.show_alert and expected in (answer.text or "")


def _unchanged(user: EmulatedUser, message: ChatMessage) -> bool:
    live = user.message(message.message_id)
    assert live is not None
    return live.text == message.text and not live.edited and live.edit_count == 0


async def test_a_forged_or_foreign_confirm_changes_nothing_and_the_preview_still_confirms(
    api: BotApiEmulator, sender: HandlerBot, check_db: Database
) -> None:
    users = await seed_audience(check_db, api, range(4101, 4104))
    await grant(check_db, ADMIN, "admin")
    owner = admin(api)
    unrelated = await reply_to(owner, "/help", "")  # the owner's own earlier message
    preview = await preview_of(owner, "/broadcast nps")
    broadcast = await latest_broadcast(check_db)
    confirm = pack(BroadcastConfirm(broadcast.id))
    stop = pack(BroadcastStop(broadcast.id))

    # An admin forges the owner's Confirm (and Cancel) on a message of their own chat...
    olga = api.user(ADMIN, first_name="Vera", language_code="en")
    own = await reply_to(olga, "/help", "")
    await _refused(olga, own, confirm, NOT_THIS_MESSAGE)
    await _refused(olga, own, stop, NOT_THIS_MESSAGE)
    # ... the owner's Confirm is pressed on an unrelated message of the owner's chat ...
    await _refused(owner, unrelated, confirm, NOT_THIS_MESSAGE)
    # ... and someone else presses the real preview's Confirm (a shared chat).
    await _refused(olga, preview, confirm, NOT_YOURS)

    assert (await latest_broadcast(check_db)).status == "draft"
    assert await recipients_of(check_db, broadcast.id) == []
    assert _unchanged(owner, unrelated) and _unchanged(olga, own)
    live = owner.message(preview.message_id)
    assert live is not None and live.button_texts == preview.button_texts
    assert all(api.deliveries(u.id) == 0 for u in users)

    # The real preview still confirms, and every progress edit goes to it.
    owner.press(preview, preview.button_texts[0])  # "✅ Send to N" (N depends on item 4)
    await owner.wait_for_message(lambda m: "finished:" in m.text, timeout=15)
    assert all(api.deliveries(u.id) == 1 for u in users)
    progress = owner.message(preview.message_id)
    assert progress is not None and progress.text.splitlines()[1].startswith("✅ Finished in")
    assert _unchanged(owner, unrelated) and _unchanged(olga, own)
    done = await latest_broadcast(check_db)
    assert (done.status, done.progress_message_id) == ("done", preview.message_id)

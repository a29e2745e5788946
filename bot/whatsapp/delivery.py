"""Meta's delivery statuses of the bot's messages: kept per message (the latest wins,
whatever order they come in), shown on invitations; a number not on WhatsApp (131026)
makes its invitation unreachable; a question refused for the window (131047) is handed
back to be asked by the template (questions.py). A failure for a number that cannot
receive messages (131026) also makes its person unreachable."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.invitations import emit_failed
from bot.whatsapp.client import CANNOT_RECEIVE, OUTSIDE_WINDOW
from storage.models import utcnow
from storage.repos.whatsapp import wamid_message_id
from storage.repos.whatsapp_outbound import STATUS_RANK

if TYPE_CHECKING:
    from storage.store import Store

log = logging.getLogger(__name__)

# A question refused later for the window: (chat id, the refused message's id).
Refused = tuple[int, int]


def moment_of(item: dict[str, Any]) -> datetime:
    """When a message was written or a status happened: Meta's timestamp (seconds), never
    later than now (a redelivery hours later keeps its own moment)."""
    now = utcnow()
    try:
        at = datetime.fromtimestamp(int(item.get("timestamp") or ""), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return now
    return min(at, now)


def _codes(status: dict[str, Any]) -> list[int]:
    return [
        int(e["code"])
        for e in status.get("errors") or []
        if isinstance(e, dict) and isinstance(e.get("code"), int)
    ]


async def record_delivery(store: Store, status: dict[str, Any]) -> Refused | None:
    """Keeps one status; the refused question to ask again, if it is one. A number that
    cannot receive messages makes its person unreachable, as a Telegram 403 does."""
    wamid = str(status.get("id", ""))
    kind = str(status.get("status", ""))
    codes = _codes(status)
    if kind == "failed":
        if CANNOT_RECEIVE.intersection(codes):
            chat_id = await store.whatsapp.chat_of(str(status.get("recipient_id", "")))
            if chat_id is not None:
                await store.respondents.set_chat_unreachable(chat_id)
        else:
            log.info("WhatsApp message %s failed: %s", wamid, status.get("errors"))
    if not wamid or kind not in STATUS_RANK:
        return None
    message_id = wamid_message_id(wamid)
    changed = await store.whatsapp_outbound.record_status(
        message_id, kind, moment_of(status), codes[0] if codes else None
    )
    if kind != "failed" or not changed:  # a redelivered failure is handled once
        return None
    if CANNOT_RECEIVE.intersection(codes):
        # An invitation sent this way failed after all: the CRM hears of it as of any other.
        await emit_failed(store, await store.whatsapp_outbound.unreachable_invitation(message_id))
        return None
    if OUTSIDE_WINDOW.intersection(codes):
        chat_id = await store.whatsapp.chat_of(str(status.get("recipient_id", "")))
        if chat_id is not None:
            return chat_id, message_id
    return None

"""Detractor cases across channels: which chat a staff reply goes to, and what the alert
says about the channel of the answer.

A reply goes to the chat the answer came from (Telegram, or WhatsApp's synthetic chat),
else to the person's Telegram chat, else to their WhatsApp chat. A web-link answer by
someone with neither (a person known only by a phone number) cannot be replied to through
the bot: the alert says so and has no ✉️ Reply button. WhatsApp takes free-form messages
only within 24 hours of the customer's last message: a reply later than that is not sent
(the person's last message is at most as old as their last-seen time), and one the Cloud
API refuses with 131047 tells the staff member the same (SendText.if_outside_window).
"""

from __future__ import annotations

from handlers.context import UpdateContext
from handlers.forget_target import whatsapp_chat
from handlers.texts import TextsLike
from storage.case_models import DetractorCase
from storage.repos.response_rows import ResponseRow
from storage.repos.whatsapp import WINDOW, is_whatsapp_chat

_CHANNEL_NAMES = {"whatsapp": "tr_channel_whatsapp", "web": "tr_channel_web"}


async def reply_chat(ctx: UpdateContext, case: DetractorCase) -> int | None:
    """The chat a staff reply about this case reaches (None: nobody to write to)."""
    if case.respondent_id is None:
        return None
    response = await ctx.store.responses.get(case.response_id)
    if response is not None and response.chat_id is not None:
        return response.chat_id
    person = await ctx.store.respondents.get(case.respondent_id)
    if person is None:
        return None
    if person.chat_id is not None:
        return person.chat_id
    return await whatsapp_chat(ctx, person.id)


async def can_reply(ctx: UpdateContext, case: DetractorCase, response: ResponseRow) -> bool:
    """Whether ✉️ Reply can reach the person (an answer in a chat always can)."""
    if case.respondent_id is None:
        return False
    return response.chat_id is not None or await reply_chat(ctx, case) is not None


def channel_note(texts: TextsLike, messenger: str) -> str:
    """ " · via WhatsApp" for answers outside Telegram (Telegram's alerts read as before)."""
    key = _CHANNEL_NAMES.get(messenger)
    return f" · {texts('tr_alert_via', channel=texts.plain(key))}" if key else ""


async def outside_window(ctx: UpdateContext, chat_id: int, person_id: int) -> bool:
    """True when a WhatsApp chat's 24-hour window is surely closed: the person has not
    been seen for longer (a later Telegram message only makes this say False)."""
    if not is_whatsapp_chat(chat_id):
        return False
    person = await ctx.store.respondents.get(person_id)
    seen = person.last_seen_at if person is not None else None
    return seen is not None and ctx.now - seen > WINDOW

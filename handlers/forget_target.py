"""Whom an admin's /forget names: a Telegram id or @username, a phone number (E.164), or a
WhatsApp id (`wa:<digits>`, or the digits when no Telegram user has them): people known
only by a number (an invitation, a web link, an /import line) or only on WhatsApp have no
Telegram id to type."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.context import UpdateContext
from handlers.people import resolve_person
from nps.phones import PhoneError, display_phone, normalize_phone
from storage.models import Channel
from storage.repos.whatsapp import is_whatsapp_chat

WHATSAPP_PREFIXES = ("wa:", "whatsapp:")


@dataclass(frozen=True)
class Target:
    """A Telegram user id (`user_id`), or a person found by a number (`person_id`)."""

    user_id: int | None = None
    person_id: int | None = None
    label: str = ""


async def _whatsapp_person(ctx: UpdateContext, wa_id: str) -> int | None:
    chat = await ctx.store.whatsapp.chat_of(wa_id)
    return await ctx.store.whatsapp.person_of(chat) if chat is not None else None


async def forget_target(ctx: UpdateContext, chat_id: int, text: str) -> Target | None:
    """The person `text` names; else says why not in the chat and returns None."""
    text = text.strip()
    lowered = text.lower()
    if lowered.startswith(WHATSAPP_PREFIXES):
        wa_id = text.split(":", 1)[1].strip().lstrip("+")
        if not wa_id.isdigit() or not 6 <= len(wa_id) <= 15:
            ctx.out.send(chat_id, ctx.texts("tr_forget_bad_whatsapp", who=text))
            return None
        return await _found(ctx, chat_id, await _whatsapp_person(ctx, wa_id), f"WhatsApp +{wa_id}")
    if text.startswith(("+", "00")):
        try:
            phone = normalize_phone(text)
        except PhoneError:
            # WhatsApp ids are digits Meta vouches for, valid in libphonenumber or not.
            digits = text.lstrip("+")
            person_id = await _whatsapp_person(ctx, digits) if digits.isdigit() else None
            if person_id is not None:
                return Target(person_id=person_id, label=f"WhatsApp +{digits}")
            ctx.out.send(chat_id, ctx.texts("tr_forget_bad_phone", who=text))
            return None
        # A number given by a CRM or an import, else the WhatsApp account with that number.
        person_id = await ctx.store.phones.owner(phone) or await _whatsapp_person(ctx, phone[1:])
        return await _found(ctx, chat_id, person_id, display_phone(phone))
    if text.isdigit() and is_whatsapp_chat(int(text)):  # a WhatsApp chat's id
        person_id = await ctx.store.whatsapp.person_of(int(text))
        return await _found(ctx, chat_id, person_id, text)
    if text.isdigit() and await ctx.store.respondents.person_of(int(text)) is None:
        person_id = await _whatsapp_person(ctx, text)  # no such Telegram user: a wa_id?
        if person_id is not None:
            return Target(person_id=person_id, label=f"WhatsApp +{text}")
    user_id = await resolve_person(ctx, chat_id, text, "pv_forget_unknown")
    return Target(user_id=user_id, label=str(user_id)) if user_id is not None else None


async def _found(
    ctx: UpdateContext, chat_id: int, person_id: int | None, label: str
) -> Target | None:
    if person_id is None:
        ctx.out.send(chat_id, ctx.texts("pv_forget_nothing", who=label))
        return None
    return Target(person_id=person_id, label=label)


async def person_label(ctx: UpdateContext, person_id: int) -> str:
    """ "Ana (WhatsApp +44 7700 900001)" or "+373 60 000 001" for staff."""
    person = await ctx.store.respondents.get(person_id)
    if person is None:
        return f"#{person_id}"
    numbers = []
    for channel, address, _ in await ctx.store.respondents.addresses(person_id):
        if channel == Channel.PHONE:
            numbers.append(display_phone(address))
        elif channel == Channel.WHATSAPP:
            numbers.append(f"WhatsApp {display_phone('+' + address)}")
        elif channel == Channel.TELEGRAM:
            numbers.append(f"Telegram {address}")
    shown = " · ".join(numbers) or f"#{person_id}"
    return f"{person.first_name} ({shown})" if person.first_name else shown


async def whatsapp_chat(ctx: UpdateContext, person_id: int) -> int | None:
    """The person's WhatsApp chat id, if they have one."""
    for channel, _, chat in await ctx.store.respondents.addresses(person_id):
        if channel == Channel.WHATSAPP and chat is not None:
            return int(chat)
    return None

"""Phone numbers: a survey may ask for one after its thank-you, /phone shows, shares again
or removes it, and a shared contact is stored only when it is the sender's own.

Telegram shares a user's own number through a reply keyboard's request_contact button
(`ReplyButton(share_contact=True)`, handlers/port.py); it comes back as a message whose
contact has the sender's user id. Anything else (a forwarded contact, someone from the
address book) is refused and stores nothing. Numbers are kept in E.164 (nps/phones.py) as
the person's phone address, which invitations by phone look up; a person proving a number
takes it from whoever had it (storage/repos/phones.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.callbacks import Payload, pack, payload
from handlers.context import UpdateContext
from handlers.events import ButtonPress, Command, IncomingMessage
from handlers.kinds import is_anonymous
from handlers.port import Button, Keyboard, RemoveReplyKeyboard, ReplyButton, ReplyKeyboard
from handlers.texts import TextsLike
from nps.phones import PhoneError, display_phone, from_telegram
from storage.repos.surveys import SurveyView

# Shown of a refused contact's number (it is the sender's text, escaped, but kept short).
SHOWN_DIGITS = 40


@payload("ph")
@dataclass(frozen=True)
class PhoneAction(Payload):
    """A /phone button: "share" (again) or "remove"."""

    action: str


def share_keyboard(texts: TextsLike) -> ReplyKeyboard:
    """The one-tap share of the user's own number, and "Not now"."""
    return ReplyKeyboard.of(
        [ReplyButton(texts.plain("ph_btn_share"), share_contact=True)],
        [ReplyButton(texts.plain("ph_btn_not_now"))],
    )


async def offer_after_thanks(ctx: UpdateContext, survey: SurveyView) -> None:
    """After the thank-you of a survey that asks for it: one tap shares the phone number
    (never for anonymous surveys, nor to someone who shared it already)."""
    person = ctx.respondent
    if not survey.ask_phone or is_anonymous(survey.kind) or person is None:
        return
    if person.chat_id is None or await ctx.store.phones.of(person.id) is not None:
        return
    texts = ctx.survey_texts(survey)
    ctx.out.send(
        person.chat_id, texts("ph_offer", brand=ctx.brand_of(survey)), share_keyboard(texts)
    )


async def on_phone(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Shows the user's phone number with buttons to share it again or remove it; with
    none stored, offers to share it; `/phone remove` removes it at once."""
    assert ctx.respondent is not None  # a private chat
    texts = ctx.texts
    if command.args.strip().lower() == "remove":
        await _remove(ctx, event.chat_id)
        return
    phone = await ctx.store.phones.of(ctx.respondent.id)
    if phone is None:
        ctx.out.send(
            event.chat_id, texts("ph_none", brand=ctx.config.brand), share_keyboard(texts)
        )
        return
    keyboard = Keyboard.of(
        [Button(texts.plain("ph_btn_change"), pack(PhoneAction("share")))],
        [Button(texts.plain("ph_btn_remove"), pack(PhoneAction("remove")))],
    )
    ctx.out.send(event.chat_id, texts("ph_status", phone=display_phone(phone)), keyboard)


async def on_phone_pressed(event: ButtonPress, choice: PhoneAction, ctx: UpdateContext) -> None:
    """ "Share it again" brings the share keyboard; "Remove it" forgets the number."""
    texts = ctx.texts
    if choice.action not in ("share", "remove") or ctx.respondent is None:
        ctx.out.answer(event.callback_id, texts.plain("bad_button"), alert=True)
        return
    ctx.out.answer(event.callback_id)
    if event.message_id is not None:
        ctx.out.drop_keyboard(event.chat_id, event.message_id)  # answered: no second press
    if choice.action == "share":
        ctx.out.send(event.chat_id, texts("ph_share_again"), share_keyboard(texts))
    else:
        await _remove(ctx, event.chat_id)


async def _remove(ctx: UpdateContext, chat_id: int) -> None:
    assert ctx.respondent is not None
    removed = await ctx.store.phones.remove(ctx.respondent.id, ctx.respondent.telegram_id)
    if removed is None:
        ctx.out.send(chat_id, ctx.texts("ph_nothing_to_remove"), RemoveReplyKeyboard())
    else:
        phone = display_phone(removed)
        ctx.out.send(chat_id, ctx.texts("ph_removed", phone=phone), RemoveReplyKeyboard())


def _not_now_labels(ctx: UpdateContext) -> set[str]:
    """The "Not now" button's text in every language (the keyboard was drawn in the
    language of its day; /language may have changed since)."""
    return {ctx.catalogs.texts(code).plain("ph_btn_not_now") for code in ctx.catalogs.languages}


async def intercept_contact(event: IncomingMessage, ctx: UpdateContext) -> bool:
    """Takes a shared contact (stored only when it is the sender's own) and the share
    keyboard's "Not now"; lets every other message through."""
    if not event.private or ctx.respondent is None:
        return False
    texts = ctx.texts
    if event.contact is None:
        if event.kind != "text" or (event.text or "").strip() not in _not_now_labels(ctx):
            return False
        ctx.out.send(event.chat_id, texts("ph_not_now"), RemoveReplyKeyboard())
        return True
    if not event.own_contact:
        # Someone else's number: storing it would key a stranger to this person.
        ctx.out.send(event.chat_id, texts("ph_not_yours"))
        return True
    try:
        phone = from_telegram(event.contact.phone_number)
    except PhoneError:
        shown = event.contact.phone_number[:SHOWN_DIGITS]
        ctx.out.send(event.chat_id, texts("ph_invalid", phone=shown), RemoveReplyKeyboard())
        return True
    await ctx.store.phones.claim(ctx.respondent.id, phone, ctx.now)
    ctx.out.send(
        event.chat_id, texts("ph_saved", phone=display_phone(phone)), RemoveReplyKeyboard()
    )
    return True

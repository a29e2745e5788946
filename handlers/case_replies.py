"""Closing the loop on detractor cases: ✉️ Reply and ✅ Resolved on an alert, and the
messages relayed between a staff member and the respondent."""

from __future__ import annotations

from datetime import datetime, timedelta

from handlers import crm_events
from handlers.access import role_of
from handlers.alerts import case_keyboard, person_line, refresh_alerts, staff_texts
from handlers.callbacks import CaseReply, CaseResolve
from handlers.case_channel import outside_window, reply_chat
from handlers.context import UpdateContext
from handlers.events import ButtonPress, IncomingMessage
from handlers.port import SendText
from handlers.relay_parts import chain, split_relay
from handlers.roles import Role
from storage.case_models import DetractorCase

# Reply mode (after ✉️ Reply) and the respondent's side of a thread end after this long
# without a message relayed either way.
RELAY_EXPIRY = timedelta(hours=24)


async def _short_who(ctx: UpdateContext, user_id: int | None) -> str:
    """The respondent's first name (or id) for staff confirmations."""
    respondent = await ctx.store.respondents.get(user_id) if user_id else None
    return (respondent.first_name if respondent else None) or f"id {user_id}"


async def _may_act(ctx: UpdateContext, event: ButtonPress) -> bool:
    """Members of the alert chat, and anyone with a team role, may act on cases."""
    return await _allowed(ctx, event.chat_id, event.sender.id)


async def _allowed(ctx: UpdateContext, chat_id: int, staff_id: int | None) -> bool:
    """Whether cases may be handled by this person in this chat: any member of the alert
    chat, elsewhere only someone whose team role is still in force (checked at every
    relay: a revoked role closes the conversation at once)."""
    if chat_id in ctx.config.alert_chats:
        return True
    if staff_id is None:
        return False
    return await role_of(ctx, staff_id) >= Role.VIEWER


def _expired(ctx: UpdateContext, since: datetime) -> bool:
    return ctx.now - since > RELAY_EXPIRY


async def _case_for(ctx: UpdateContext, event: ButtonPress, case_id: int) -> DetractorCase | None:
    texts = staff_texts(ctx)
    if not await _may_act(ctx, event):
        ctx.out.answer(event.callback_id, texts.plain("case_not_allowed"), alert=True)
        return None
    case = await ctx.store.cases.get(case_id)
    if case is None:
        ctx.out.answer(event.callback_id, ctx.texts.plain("bad_button"), alert=True)
    return case


async def on_reply_pressed(event: ButtonPress, choice: CaseReply, ctx: UpdateContext) -> None:
    """Puts the staff member in reply mode: their next message goes to the respondent."""
    case = await _case_for(ctx, event, choice.case_id)
    if case is None:
        return
    texts = staff_texts(ctx)
    if case.respondent_id is None:
        ctx.out.answer(event.callback_id, texts.plain("reply_anonymous"), alert=True)
        return
    await ctx.store.cases.start_reply(event.sender.id, event.chat_id, case.id)
    ctx.out.answer(event.callback_id)
    who = await _short_who(ctx, case.respondent_id)
    ctx.out.send(event.chat_id, texts("reply_prompt", who=who))


async def on_resolve_pressed(event: ButtonPress, choice: CaseResolve, ctx: UpdateContext) -> None:
    """Marks the case resolved (who and when) and updates its alerts."""
    case = await _case_for(ctx, event, choice.case_id)
    if case is None:
        return
    texts = staff_texts(ctx)
    if not await ctx.store.cases.resolve(case.id, event.sender.id):
        ctx.out.answer(event.callback_id, texts.plain("case_already_resolved"))
        return
    await ctx.store.cases.close_threads(case.id)
    await ctx.store.cases.reload(case)
    await crm_events.case_resolved(ctx, case)
    ctx.out.answer(event.callback_id, texts.plain("case_resolved_toast"))
    await refresh_alerts(ctx, case, pressed=(event.chat_id, event.message_id))


async def relay_staff_reply(event: IncomingMessage, ctx: UpdateContext) -> bool:
    """Delivers a staff member's message to the respondent while in reply mode."""
    if not ctx.pending.reply:
        return False
    pending = await ctx.store.cases.pending_reply(event.sender.id, event.chat_id)
    if pending is None:
        return False
    texts = staff_texts(ctx)
    if not await _allowed(ctx, event.chat_id, event.sender.id):
        await ctx.store.cases.finish_reply(event.sender.id, event.chat_id)
        ctx.out.send(event.chat_id, texts("reply_role_gone"))
        return True
    if _expired(ctx, pending.started_at):
        await ctx.store.cases.finish_reply(event.sender.id, event.chat_id)
        ctx.out.send(event.chat_id, texts("reply_expired"))
        return True
    if event.kind != "text" or not (event.text or "").strip():
        ctx.out.send(event.chat_id, texts("reply_text_only"))
        return True
    case = await ctx.store.cases.get(pending.case_id)
    await ctx.store.cases.finish_reply(event.sender.id, event.chat_id)
    if case is None or case.respondent_id is None:
        return True
    respondent = await ctx.store.respondents.get(case.respondent_id)
    # The chat the answer came from (Telegram or WhatsApp), else any chat of the person.
    chat_id = await reply_chat(ctx, case) if respondent is not None else None
    who = await _short_who(ctx, case.respondent_id)
    if respondent is None or chat_id is None:
        # Forgotten, or a web-link answer by someone with no chat: nothing can be delivered.
        key = "reply_failed" if respondent is None else "tr_reply_no_chat"
        ctx.out.send(event.chat_id, texts(key, who=who))
        return True
    if await outside_window(ctx, chat_id, respondent.id):
        ctx.out.send(event.chat_id, texts("tr_reply_outside_window", who=who))
        return True
    language = ctx.catalogs.resolve(respondent.language_override, respondent.telegram_language)
    theirs = ctx.catalogs.texts(language)
    parts = split_relay(
        lambda piece: theirs("team_message", brand=ctx.config.brand, text=piece),
        event.text or "",
    )
    await ctx.store.cases.open_thread(case.respondent_id, case.id, event.chat_id, event.sender.id)
    # "Sent" only once every part was delivered; "could not deliver" when one was not,
    # and why when WhatsApp's 24-hour window had closed.
    ctx.out.actions.append(
        chain(
            chat_id,
            parts,
            done=SendText(event.chat_id, texts("reply_sent", who=who)),
            failed=SendText(event.chat_id, texts("reply_failed", who=who)),
            outside_window=SendText(event.chat_id, texts("tr_reply_outside_window", who=who)),
        )
    )
    return True


async def relay_respondent_answer(event: IncomingMessage, ctx: UpdateContext) -> bool:
    """Passes a respondent's answer to the team back to the staff chat that wrote."""
    if not event.private or ctx.respondent is None or event.kind != "text":
        return False
    if not ctx.pending.case_thread:
        return False
    thread = await ctx.store.cases.thread_of(ctx.respondent.id)
    if thread is None or await ctx.store.responses.open_for(ctx.respondent.id) is not None:
        return False  # an open survey question takes the text first
    if _expired(ctx, thread.updated_at) or not await _allowed(
        ctx, thread.staff_chat_id, thread.staff_id
    ):
        # Gone quiet, or whoever wrote lost their role: the text is not passed on.
        await ctx.store.cases.close_thread(ctx.respondent.id)
        return False
    case = await ctx.store.cases.get(thread.case_id)
    if case is None:
        return False
    await ctx.store.cases.touch_thread(ctx.respondent.id)
    texts = staff_texts(ctx)
    who = await person_line(ctx, ctx.respondent.id)
    parts = split_relay(
        lambda piece: texts("respondent_replied", who=who, case=case.id, text=piece),
        event.text or "",
    )
    # The respondent is thanked once every part reached the team, else told it did not.
    relayed = chain(
        thread.staff_chat_id,
        parts,
        done=SendText(event.chat_id, ctx.texts("reply_forwarded")),
        failed=SendText(event.chat_id, ctx.texts("reply_not_forwarded")),
        keyboard=case_keyboard(texts, case),
    )
    ctx.out.actions.append(relayed)
    return True


async def cancel_reply(event: IncomingMessage, ctx: UpdateContext) -> bool:
    """/cancel while in reply mode."""
    if not await ctx.store.cases.finish_reply(event.sender.id, event.chat_id):
        return False
    ctx.out.send(event.chat_id, staff_texts(ctx)("reply_cancelled"))
    return True

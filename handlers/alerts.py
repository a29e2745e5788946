"""Detractor alerts: posted to staff at once, updated as answers arrive, replied to, resolved."""

from __future__ import annotations

import html as htmllib
import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from handlers.access import role_of
from handlers.callbacks import CaseReply, CaseResolve, pack
from handlers.context import UpdateContext
from handlers.events import BlockChange, ButtonPress, Event, IncomingMessage
from handlers.kinds import is_anonymous
from handlers.port import Button, Keyboard, SendText, after_send_kind
from handlers.roles import Role
from handlers.texts import TextsLike
from nps.nps_math import Group, classify
from nps.scope import Scope
from storage.case_models import DetractorCase
from storage.models import Respondent
from storage.repos.respondents import Visitor
from storage.repos.responses import ResponseRow
from storage.repos.surveys import SurveyLike
from storage.store import Store

log = logging.getLogger(__name__)

# Reply mode (after ✉️ Reply) and the respondent's side of a thread end after this long
# without a message relayed either way.
RELAY_EXPIRY = timedelta(hours=24)
# Telegram's limit: characters of text after entity parsing (counted in UTF-16 units).
TEXT_LIMIT = 4096
# Room kept for the "(k/n)" line under each part of a split relay.
_PART_MARK = len("\n(99/99)")


def _staff_texts(ctx: UpdateContext) -> TextsLike:
    """Texts for shared staff chats, whose readers may speak different languages."""
    return ctx.catalogs.texts(ctx.config.staff_language)


def _when(ctx: UpdateContext, texts: TextsLike, moment: datetime | None) -> str:
    """ "22 Nov 14:03" in the reporting time zone."""
    if moment is None:
        return texts.plain("alert_none")
    local = moment.astimezone(ctx.store.stats.tz)
    month = texts.plain("months").split()[local.month - 1]
    return f"{local.day} {month} {local:%H:%M}"


async def _who(ctx: UpdateContext, user_id: int | None) -> str:
    """ "Anna (@anna · id 123456)", or the id when the profile was erased."""
    if user_id is None:
        return "?"
    respondent: Visitor | Respondent | None = ctx.respondent
    if respondent is None or respondent.id != user_id:
        # Staff acting on a case: the respondent is someone else than who wrote.
        respondent = await ctx.store.respondents.get(user_id)
    if respondent is None:
        return f"id {user_id}"
    handle = f"@{respondent.username} · " if respondent.username else ""
    return f"{respondent.first_name or '?'} ({handle}id {user_id})"


async def _short_who(ctx: UpdateContext, user_id: int | None) -> str:
    """The respondent's first name (or id) for staff confirmations."""
    respondent = await ctx.store.respondents.get(user_id) if user_id else None
    return (respondent.first_name if respondent else None) or f"id {user_id}"


def _keyboard(texts: TextsLike, case: DetractorCase) -> Keyboard | None:
    """Reply (only when someone can be replied to) and Resolved, while the case is open."""
    if case.status != "open":
        return None
    buttons = []
    if case.respondent_id is not None:
        buttons.append(Button(texts.plain("btn_reply"), pack(CaseReply(case.id))))
    buttons.append(Button(texts.plain("btn_resolved"), pack(CaseResolve(case.id))))
    return Keyboard.of(buttons)


async def render_alert(
    ctx: UpdateContext, case: DetractorCase, survey: SurveyLike, response: ResponseRow
) -> str:
    """The alert as staff see it (HTML), with whatever answers have arrived."""
    texts = _staff_texts(ctx)
    none = texts.plain("alert_none")
    lines = [f"<b>{texts('alert_title', score=response.score, survey=survey.name)}</b>"]
    when = _when(ctx, texts, response.scored_at)
    if response.respondent_id is None and is_anonymous(survey.kind):
        # The day only: the minute an answer came in could identify an employee.
        lines.append(texts("alert_anonymous", when=when.rsplit(" ", 1)[0]))
    else:  # _who says "?" for an erased respondent
        lines.append(
            texts(
                "alert_who",
                who=await _who(ctx, case.respondent_id),
                language=response.language,
                agent=response.agent or none,
                source=response.source or none,
                when=when,
            )
        )
    if response.why:
        lines.append(texts("alert_why", text=response.why))
    if response.improve:
        lines.append(texts("alert_improve", text=response.improve))
    if case.status == "resolved":
        who = await _who(ctx, case.resolved_by)
        lines.append(texts("alert_resolved", who=who, when=_when(ctx, texts, case.resolved_at)))
    html = "\n".join(lines)
    # Long comments: keep the alert within Telegram's 4096 characters; the answer is whole
    # in the database, exports and /comments.
    return html if len(html) <= 4000 else html[:3990] + "…"


@after_send_kind("alerts.delivered")
async def _alert_delivered(store: Store, message_id: int, case_id: int, chat_id: int) -> None:
    """The alert reached the chat: remember where, stop holding it for later."""
    await store.cases.alert_delivered(case_id, chat_id, message_id)


def _units(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _visible(html_text: str) -> str:
    """The text Telegram shows for an HTML message (tags removed, entities decoded)."""
    return htmllib.unescape(re.sub(r"<[^>]*>", "", html_text))


def _chunks(text: str, room: int) -> list[str]:
    """`text` cut into pieces of at most `room` units, at a space or line break near the
    end of each piece when there is one; nothing is dropped."""
    chunks = []
    rest = text
    while _units(rest) > room:
        units = cut = 0
        for index, char in enumerate(rest):
            units += 2 if ord(char) > 0xFFFF else 1
            if units > room:
                break
            cut = index + 1
        gap = max(rest.rfind(" ", 0, cut), rest.rfind("\n", 0, cut))
        if gap >= cut * 3 // 4:
            cut = gap + 1
        chunks.append(rest[:cut])
        rest = rest[cut:]
    chunks.append(rest)
    return chunks


def split_relay(frame: Callable[[str], str], text: str) -> list[str]:
    """A relayed text as messages within Telegram's limit: `frame(piece)` renders one
    (the prefix, the piece, any footer); a text too long for one message is sent in parts
    numbered "(1/2)", "(2/2)", each part framed, nothing cut off."""
    whole = frame(text)
    if _units(_visible(whole).strip()) <= TEXT_LIMIT:
        return [whole]
    room = TEXT_LIMIT - _units(_visible(frame(""))) - _PART_MARK
    pieces = _chunks(text, max(room, 100))
    return [f"{frame(piece)}\n({k}/{len(pieces)})" for k, piece in enumerate(pieces, 1)]


def _chain(
    chat_id: int,
    parts: list[str],
    *,
    done: SendText,
    failed: SendText,
    keyboard: Keyboard | None = None,
) -> SendText:
    """The parts as one message that sends the next once delivered; `done` follows the
    last (which carries the keyboard), `failed` replaces whichever part is not delivered
    (and the rest)."""
    chain = done
    for index, part in enumerate(reversed(parts)):
        chain = SendText(
            chat_id, part, keyboard if index == 0 else None, if_sent=chain, if_unreachable=failed
        )
    return chain


async def on_score(ctx: UpdateContext, survey: SurveyLike, response: ResponseRow) -> None:
    """Opens a case for a detractor score and posts the alert to the staff chat(s)."""
    if response.score is None or classify(response.score) is not Group.DETRACTOR:
        return
    case = await ctx.store.cases.open(response.id, survey.id, response.respondent_id)
    if not ctx.config.alert_chats:
        return  # counted in reports; nobody to alert
    # Held until Telegram accepts it: a chat that cannot be reached gets it later
    # (deliver_held: when the owner presses Start, or at the next start-up).
    await ctx.store.cases.hold_alert(case.id, ctx.config.alert_chats)
    html = await render_alert(ctx, case, survey, response)
    keyboard = _keyboard(_staff_texts(ctx), case)
    for chat_id in ctx.config.alert_chats:
        ctx.out.send(chat_id, html, keyboard, after=_alert_delivered(case.id, chat_id))


async def deliver_held(ctx: UpdateContext, chat_id: int) -> int:
    """Queues the alerts this chat has not received yet (each is released once
    delivered, so it arrives once); how many."""
    cases = await ctx.store.cases.undelivered_to(chat_id)
    texts = _staff_texts(ctx)
    for case in cases:
        response = await ctx.store.responses.get(case.response_id)
        survey = await ctx.store.surveys.view(case.survey_id)
        if response is None or survey is None:
            continue
        html = await render_alert(ctx, case, survey, response)
        keyboard = _keyboard(texts, case)
        ctx.out.send(chat_id, html, keyboard, after=_alert_delivered(case.id, chat_id))
    return len(cases)


async def on_owner_seen(event: Event, ctx: UpdateContext) -> None:
    """An alert chat's owner wrote to the bot (pressed Start) or unblocked it: the alerts
    it could not deliver to them go now."""
    if not event.private or event.chat_id not in ctx.config.alert_chats:
        return
    if isinstance(event, BlockChange) and event.blocked:
        return
    await deliver_held(ctx, event.chat_id)


async def unreachable_targets(ctx: UpdateContext) -> list[tuple[int, str, int]]:
    """The owners and the alert chat the bot cannot write to: (chat, reason key, alerts
    waiting). An owner who never wrote to the bot, or blocked it, is known from their
    row; a group, from the alerts it did not receive."""
    waiting = await ctx.store.cases.undelivered_counts()
    found = []
    targets = sorted(set(ctx.config.admin_ids) | set(ctx.config.alert_chats))
    for chat_id in targets:
        if chat_id > 0:
            person = await ctx.store.respondents.get(chat_id)
            if person is None:
                reason = "unreachable_never_started"
            elif person.unreachable:
                reason = "unreachable_blocked"
            elif waiting.get(chat_id):
                reason = "unreachable_unknown"
            else:
                continue
        elif waiting.get(chat_id):
            reason = "unreachable_not_in_group"
        else:
            continue
        found.append((chat_id, reason, waiting.get(chat_id, 0)))
    return found


async def refresh_alerts(
    ctx: UpdateContext,
    case: DetractorCase,
    pressed: tuple[int, int | None] | None = None,
    posted: dict[int, int] | None = None,
) -> None:
    """Re-renders every posted alert of a case (new answers, resolution).

    `pressed` is the (chat, message) a staff member acted on. It is edited even when its
    id is not stored yet: the id is written after the send returns, and a quick press
    (or a failed write) must still see its own alert change. `posted`: the stored alerts,
    when the caller has read them already.
    """
    targets = (
        posted
        if posted is not None
        else await ctx.store.cases.alerts_of_response(case.response_id)
    )
    if pressed is not None and pressed[1] is not None:
        targets[pressed[0]] = pressed[1]
    if not targets:
        return  # none was posted (no alert chat, or every send failed): nothing to render
    response = await ctx.store.responses.get(case.response_id)
    survey = await ctx.store.surveys.view(case.survey_id)
    if response is None or survey is None:
        return
    html = await render_alert(ctx, case, survey, response)
    keyboard = _keyboard(_staff_texts(ctx), case)
    for chat_id, message_id in targets.items():
        ctx.out.edit(chat_id, message_id, html, keyboard)


async def on_text(ctx: UpdateContext, survey: SurveyLike, response: ResponseRow) -> None:
    """Adds the "why" and "improve" answers to the case's alert as they arrive."""
    if response.score is None or classify(response.score) is not Group.DETRACTOR:
        return  # only detractor scores open cases: nothing to look up
    if not (response.why or response.improve):
        return  # skipped: the alert has nothing new to show
    posted = await ctx.store.cases.alerts_of_response(response.id)
    if not posted:
        return  # no alert was posted for this answer (no alert chat, or sends failed)
    case = await ctx.store.cases.for_response(response.id)
    if case is not None:
        await refresh_alerts(ctx, case, posted=posted)


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
    texts = _staff_texts(ctx)
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
    texts = _staff_texts(ctx)
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
    texts = _staff_texts(ctx)
    if not await ctx.store.cases.resolve(case.id, event.sender.id):
        ctx.out.answer(event.callback_id, texts.plain("case_already_resolved"))
        return
    await ctx.store.cases.close_threads(case.id)
    await ctx.store.cases.reload(case)
    ctx.out.answer(event.callback_id, texts.plain("case_resolved_toast"))
    await refresh_alerts(ctx, case, pressed=(event.chat_id, event.message_id))


async def relay_staff_reply(event: IncomingMessage, ctx: UpdateContext) -> bool:
    """Delivers a staff member's message to the respondent while in reply mode."""
    if not ctx.pending.reply:
        return False
    pending = await ctx.store.cases.pending_reply(event.sender.id, event.chat_id)
    if pending is None:
        return False
    texts = _staff_texts(ctx)
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
    language = ctx.catalogs.resolve(
        respondent.language_override if respondent else None,
        respondent.telegram_language if respondent else None,
    )
    theirs = ctx.catalogs.texts(language)
    parts = split_relay(
        lambda piece: theirs("team_message", brand=ctx.config.brand, text=piece),
        event.text or "",
    )
    await ctx.store.cases.open_thread(case.respondent_id, case.id, event.chat_id, event.sender.id)
    who = await _short_who(ctx, case.respondent_id)
    # "Sent" only once every part was delivered; "could not deliver" when one was not.
    ctx.out.actions.append(
        _chain(
            case.respondent_id,  # a private chat's id is the user's id
            parts,
            done=SendText(event.chat_id, texts("reply_sent", who=who)),
            failed=SendText(event.chat_id, texts("reply_failed", who=who)),
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
    texts = _staff_texts(ctx)
    who = await _who(ctx, ctx.respondent.id)
    parts = split_relay(
        lambda piece: texts("respondent_replied", who=who, case=case.id, text=piece),
        event.text or "",
    )
    # The respondent is thanked once every part reached the team, else told it did not.
    chain = _chain(
        thread.staff_chat_id,
        parts,
        done=SendText(event.chat_id, ctx.texts("reply_forwarded")),
        failed=SendText(event.chat_id, ctx.texts("reply_not_forwarded")),
        keyboard=_keyboard(texts, case),
    )
    ctx.out.actions.append(chain)
    return True


async def cancel_reply(event: IncomingMessage, ctx: UpdateContext) -> bool:
    """/cancel while in reply mode."""
    if not await ctx.store.cases.finish_reply(event.sender.id, event.chat_id):
        return False
    ctx.out.send(event.chat_id, _staff_texts(ctx)("reply_cancelled"))
    return True


async def forget_person(ctx: UpdateContext, user_id: int) -> None:
    """/forgetme and /forget: cases keep their counts but no longer point at the person."""
    await ctx.store.cases.forget_person(user_id)


async def cases_line(ctx: UpdateContext, scope: Scope) -> list[str]:
    """ "Detractor cases: 12 open · 58 resolved" under the /nps figures."""
    start, end = scope.period.bounds(ctx.store.stats.tz)
    counts = await ctx.store.cases.counts(scope.survey_ids, start, end)
    if not counts["open"] and not counts["resolved"]:
        return []
    return [ctx.texts("cases_line", open=counts["open"], resolved=counts["resolved"])]

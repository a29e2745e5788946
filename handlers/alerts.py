"""Detractor alerts: posted to staff at once, updated as answers arrive, replied to, resolved."""

from __future__ import annotations

from datetime import datetime

from bot.reports.nps_math import Group, classify
from bot.reports.scope import Scope
from handlers.access import Role, role_of
from handlers.callbacks import CaseReply, CaseResolve, pack
from handlers.context import Context, TextsLike
from handlers.events import ButtonPress, Message
from handlers.kinds import is_anonymous
from handlers.port import Button, Keyboard, SendText
from storage.case_models import DetractorCase
from storage.models import Respondent
from storage.repos.respondents import Visitor
from storage.repos.responses import ResponseRow
from storage.repos.surveys import SurveyLike
from storage.store import Store


def _staff_texts(ctx: Context) -> TextsLike:
    """Texts for shared staff chats, whose readers may speak different languages."""
    return ctx.catalogs.texts(ctx.config.staff_language)


def _when(ctx: Context, texts: TextsLike, moment: datetime | None) -> str:
    """ "22 Nov 14:03" in the reporting time zone."""
    if moment is None:
        return texts.plain("alert_none")
    local = moment.astimezone(ctx.store.stats.tz)
    month = texts.plain("months").split()[local.month - 1]
    return f"{local.day} {month} {local:%H:%M}"


async def _who(ctx: Context, user_id: int | None) -> str:
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


async def _short_who(ctx: Context, user_id: int | None) -> str:
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
    ctx: Context, case: DetractorCase, survey: SurveyLike, response: ResponseRow
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


def _remember_alert(case_id: int, chat_id: int):  # type: ignore[no-untyped-def]
    async def after(store: Store, message_id: int) -> None:
        await store.cases.remember_alert(case_id, chat_id, message_id)

    return after


async def on_score(ctx: Context, survey: SurveyLike, response: ResponseRow) -> None:
    """Opens a case for a detractor score and posts the alert to the staff chat(s)."""
    if response.score is None or classify(response.score) is not Group.DETRACTOR:
        return
    case = await ctx.store.cases.open(response.id, survey.id, response.respondent_id)
    if not ctx.config.alert_chats:
        return  # counted in reports; nobody to alert
    html = await render_alert(ctx, case, survey, response)
    keyboard = _keyboard(_staff_texts(ctx), case)
    for chat_id in ctx.config.alert_chats:
        ctx.out.send(chat_id, html, keyboard, after=_remember_alert(case.id, chat_id))


async def refresh_alerts(
    ctx: Context,
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


async def on_text(ctx: Context, survey: SurveyLike, response: ResponseRow) -> None:
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


async def _may_act(ctx: Context, event: ButtonPress) -> bool:
    """Members of the alert chat, and anyone with a team role, may act on cases."""
    if event.chat_id in ctx.config.alert_chats:
        return True
    return await role_of(ctx, event.sender.id) >= Role.VIEWER


async def _case_for(ctx: Context, event: ButtonPress, case_id: int) -> DetractorCase | None:
    texts = _staff_texts(ctx)
    if not await _may_act(ctx, event):
        ctx.out.answer(event.callback_id, texts.plain("case_not_allowed"), alert=True)
        return None
    case = await ctx.store.cases.get(case_id)
    if case is None:
        ctx.out.answer(event.callback_id, ctx.texts.plain("bad_button"), alert=True)
    return case


async def on_reply_pressed(event: ButtonPress, choice: CaseReply, ctx: Context) -> None:
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


async def on_resolve_pressed(event: ButtonPress, choice: CaseResolve, ctx: Context) -> None:
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


async def relay_staff_reply(event: Message, ctx: Context) -> bool:
    """Delivers a staff member's message to the respondent while in reply mode."""
    if not ctx.pending.reply:
        return False
    pending = await ctx.store.cases.pending_reply(event.sender.id, event.chat_id)
    if pending is None:
        return False
    texts = _staff_texts(ctx)
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
    message = ctx.catalogs.texts(language)("team_message", brand=ctx.config.brand, text=event.text)
    await ctx.store.cases.open_thread(case.respondent_id, case.id, event.chat_id)
    who = await _short_who(ctx, case.respondent_id)
    ctx.out.send(
        case.respondent_id,  # a private chat's id is the user's id
        message,
        if_sent=SendText(event.chat_id, texts("reply_sent", who=who)),
        if_unreachable=SendText(event.chat_id, texts("reply_failed", who=who)),
    )
    return True


async def relay_respondent_answer(event: Message, ctx: Context) -> bool:
    """Passes a respondent's answer to the team back to the staff chat that wrote."""
    if not event.private or ctx.respondent is None or event.kind != "text":
        return False
    if not ctx.pending.case_thread:
        return False
    thread = await ctx.store.cases.thread_of(ctx.respondent.id)
    if thread is None or await ctx.store.responses.open_for(ctx.respondent.id) is not None:
        return False  # an open survey question takes the text first
    case = await ctx.store.cases.get(thread.case_id)
    if case is None:
        return False
    texts = _staff_texts(ctx)
    who = await _who(ctx, ctx.respondent.id)
    ctx.out.send(
        thread.staff_chat_id,
        texts("respondent_replied", who=who, case=case.id, text=event.text or ""),
        _keyboard(texts, case),
    )
    ctx.out.send(event.chat_id, ctx.texts("reply_forwarded"))
    return True


async def cancel_reply(event: Message, ctx: Context) -> bool:
    """/cancel while in reply mode."""
    if not await ctx.store.cases.finish_reply(event.sender.id, event.chat_id):
        return False
    ctx.out.send(event.chat_id, _staff_texts(ctx)("reply_cancelled"))
    return True


async def forget_person(ctx: Context, user_id: int) -> None:
    """/forgetme and /forget: cases keep their counts but no longer point at the person."""
    await ctx.store.cases.forget_person(user_id)


async def cases_line(ctx: Context, scope: Scope) -> list[str]:
    """ "Detractor cases: 12 open · 58 resolved" under the /nps figures."""
    start, end = scope.period.bounds(ctx.store.stats.tz)
    counts = await ctx.store.cases.counts(scope.survey_ids, start, end)
    if not counts["open"] and not counts["resolved"]:
        return []
    return [ctx.texts("cases_line", open=counts["open"], resolved=counts["resolved"])]

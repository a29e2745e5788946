"""Detractor alerts: posted to staff at once, held for chats that cannot be reached yet,
updated as answers arrive and when resolved (replies and resolving: handlers/case_replies.py)."""

from __future__ import annotations

import logging
from datetime import datetime

from handlers import crm_events
from handlers.attribute_line import attribute_line
from handlers.callbacks import CaseReply, CaseResolve, pack
from handlers.case_channel import can_reply, channel_note
from handlers.context import UpdateContext
from handlers.events import BlockChange, Event
from handlers.forget_target import person_label
from handlers.kinds import is_anonymous
from handlers.port import Button, Keyboard, after_send_kind
from handlers.texts import TextsLike
from nps.cases_text import cases_text
from nps.scales import CES, CSAT, scale_of
from nps.scope import Scope
from storage.case_models import DetractorCase
from storage.repos.respondents import Person
from storage.repos.response_rows import ResponseRow
from storage.repos.surveys import SurveyView
from storage.store import Store

log = logging.getLogger(__name__)


def staff_texts(ctx: UpdateContext) -> TextsLike:
    """Texts for shared staff chats, whose readers may speak different languages."""
    return ctx.catalogs.texts(ctx.config.staff_language)


def _when(ctx: UpdateContext, texts: TextsLike, moment: datetime | None) -> str:
    """ "22 Nov 14:03" in the reporting time zone."""
    if moment is None:
        return texts.plain("alert_none")
    local = moment.astimezone(ctx.store.stats.tz)
    month = texts.plain("months").split()[local.month - 1]
    return f"{local.day} {month} {local:%H:%M}"


async def person_line(ctx: UpdateContext, person_id: int | None) -> str:
    """ "Anna (@anna · id 123456)" for a respondent (a person id), or the id when the
    profile was erased."""
    if person_id is None:
        return "?"
    respondent: Person | None = ctx.respondent
    if respondent is None or respondent.id != person_id:
        # Staff acting on a case: the respondent is someone else than who wrote.
        respondent = await ctx.store.respondents.get(person_id)
    if respondent is not None and respondent.telegram_id is None:
        # WhatsApp or a phone number: the number, which staff can type (/forget +…).
        return await person_label(ctx, person_id)
    return _described(respondent, person_id)


async def team_line(ctx: UpdateContext, user_id: int | None) -> str:
    """ "Olga (id 900)" for a team member who acted: the team are Telegram accounts."""
    if user_id is None:
        return "?"
    return _described(await ctx.store.respondents.by_telegram(user_id), user_id)


def _described(person: Person | None, fallback_id: int) -> str:
    if person is None:
        return f"id {fallback_id}"
    handle = f"@{person.username} · " if person.username else ""
    # The Telegram id, which staff can type (/forget); the internal id for anyone else.
    shown = person.telegram_id if person.telegram_id is not None else fallback_id
    return f"{person.first_name or '?'} ({handle}id {shown})"


def case_keyboard(texts: TextsLike, case: DetractorCase, reply: bool = True) -> Keyboard | None:
    """Reply (only when someone can be replied to: `reply` False for a web-link answer
    with no chat, handlers/case_channel.py) and Resolved, while the case is open."""
    if case.status != "open":
        return None
    buttons = []
    if case.respondent_id is not None and reply:
        buttons.append(Button(texts.plain("btn_reply"), pack(CaseReply(case.id))))
    buttons.append(Button(texts.plain("btn_resolved"), pack(CaseResolve(case.id))))
    return Keyboard.of(buttons)


async def render_alert(
    ctx: UpdateContext, case: DetractorCase, survey: SurveyView, response: ResponseRow
) -> str:
    """The alert as staff see it (HTML), with whatever answers have arrived."""
    texts = staff_texts(ctx)
    none = texts.plain("alert_none")
    # CSAT and CES name their scale: a 2 of 5 is not an NPS 2.
    title = _TITLES.get(survey.kind, "alert_title")
    lines = [f"<b>{texts(title, score=response.score, survey=survey.name)}</b>"]
    when = _when(ctx, texts, response.scored_at)
    if response.respondent_id is None and is_anonymous(survey.kind):
        # The day only: the minute an answer came in could identify an employee.
        lines.append(texts("alert_anonymous", when=when.rsplit(" ", 1)[0]))
    else:  # person_line says "?" for an erased respondent
        lines.append(
            texts(
                "alert_who",
                who=await person_line(ctx, case.respondent_id),
                language=response.language,
                agent=response.agent or none,
                source=response.source or none,
                when=when,
            )
            + channel_note(texts, response.messenger)
        )
        # Campaign, order id and custom attributes (agent and source are in the line above).
        attributes = attribute_line(
            texts,
            agent=response.agent,
            source=response.source,
            campaign=response.campaign,
            attributes=response.attributes,
            skip=("agent", "source"),
        )
        if attributes:
            lines.append(attributes)
    if response.why:
        lines.append(texts("alert_why", text=response.why))
    if response.improve:
        lines.append(texts("alert_improve", text=response.improve))
    if case.status == "open" and not await can_reply(ctx, case, response):
        if case.respondent_id is not None:  # known, but only by a number
            lines.append(texts("tr_alert_no_reply"))
    if case.status == "resolved":
        who = await team_line(ctx, case.resolved_by)
        lines.append(texts("alert_resolved", who=who, when=_when(ctx, texts, case.resolved_at)))
    html = "\n".join(lines)
    # Long comments: keep the alert within Telegram's 4096 characters; the answer is whole
    # in the database, exports and /comments.
    return html if len(html) <= 4000 else html[:3990] + "…"


_TITLES = {CSAT: "alert_title_csat", CES: "alert_title_ces"}


def _is_low(survey: SurveyView, response: ResponseRow) -> bool:
    """The answer's score is in its scale's low group (an NPS detractor): a case opens."""
    return response.score is not None and scale_of(survey.kind).is_low(response.score)


@after_send_kind("alerts.delivered")
async def _alert_delivered(store: Store, message_id: int, case_id: int, chat_id: int) -> None:
    """The alert reached the chat: remember where, stop holding it for later."""
    await store.cases.alert_delivered(case_id, chat_id, message_id)


async def on_score(ctx: UpdateContext, survey: SurveyView, response: ResponseRow) -> None:
    """Opens a case for a low score (an NPS detractor, CSAT 1–2, CES 1–3) and posts the
    alert to the staff chat(s)."""
    if not _is_low(survey, response):
        return
    case = await ctx.store.cases.open(response.id, survey.id, response.respondent_id)
    await crm_events.case_opened(ctx, case, survey, response)
    if not ctx.config.alert_chats:
        return  # counted in reports; nobody to alert
    # Held until Telegram accepts it: a chat that cannot be reached gets it later
    # (deliver_held: when the owner presses Start, or at the next start-up).
    await ctx.store.cases.hold_alert(case.id, ctx.config.alert_chats)
    html = await render_alert(ctx, case, survey, response)
    keyboard = case_keyboard(staff_texts(ctx), case, await can_reply(ctx, case, response))
    for chat_id in ctx.config.alert_chats:
        ctx.out.send(chat_id, html, keyboard, after=_alert_delivered(case.id, chat_id))


async def deliver_held(ctx: UpdateContext, chat_id: int) -> int:
    """Queues the alerts this chat has not received yet (each is released once
    delivered, so it arrives once); how many."""
    cases = await ctx.store.cases.undelivered_to(chat_id)
    texts = staff_texts(ctx)
    for case in cases:
        response = await ctx.store.responses.get(case.response_id)
        survey = await ctx.store.surveys.get(case.survey_id)
        if response is None or survey is None:
            continue
        html = await render_alert(ctx, case, survey, response)
        keyboard = case_keyboard(texts, case, await can_reply(ctx, case, response))
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
            person = await ctx.store.respondents.by_telegram(chat_id)  # an owner
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
    survey = await ctx.store.surveys.get(case.survey_id)
    if response is None or survey is None:
        return
    html = await render_alert(ctx, case, survey, response)
    keyboard = case_keyboard(staff_texts(ctx), case, await can_reply(ctx, case, response))
    for chat_id, message_id in targets.items():
        ctx.out.edit(chat_id, message_id, html, keyboard)


async def on_text(ctx: UpdateContext, survey: SurveyView, response: ResponseRow) -> None:
    """Adds the "why" and "improve" answers to the case's alert as they arrive."""
    if not _is_low(survey, response):
        return  # only low scores open cases: nothing to look up
    if not (response.why or response.improve):
        return  # skipped: the alert has nothing new to show
    posted = await ctx.store.cases.alerts_of_response(response.id)
    if not posted:
        return  # no alert was posted for this answer (no alert chat, or sends failed)
    case = await ctx.store.cases.for_response(response.id)
    if case is not None:
        await refresh_alerts(ctx, case, posted=posted)


async def forget_person(ctx: UpdateContext, user_id: int) -> None:
    """/forgetme and /forget: cases keep their counts but no longer point at the person."""
    person = await ctx.store.respondents.by_sender(user_id)  # Telegram or WhatsApp
    if person is not None:
        await ctx.store.cases.forget_person(person.id)


async def cases_line(ctx: UpdateContext, scope: Scope) -> list[str]:
    """ "Detractor cases: 12 open · 58 resolved" under the /nps figures."""
    start, end = scope.period.bounds(ctx.store.stats.tz)
    counts = await ctx.store.cases.counts(scope.survey_ids, start, end)
    if not counts["open"] and not counts["resolved"]:
        return []
    return [cases_text(ctx.texts, counts["open"], counts["resolved"])]

"""The respondent's conversation: question, score, why, what to improve, thanks (what is
sent at each step is handlers/respondent_messages.py's)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from babel.dates import format_date

from handlers.callbacks import ScoreChoice, SkipStep
from handlers.context import UpdateContext
from handlers.deeplink import parse_payload
from handlers.events import ButtonPress, Command, IncomingMessage
from handlers.kinds import is_anonymous
from handlers.phones import offer_after_thanks
from handlers.respondent_messages import (
    ask_follow_up,
    ask_score,
    chat_of,
    question_html,
    remember_prompt,
    score_label,
    score_prompts,
    skip_keyboard,
    thank,
)
from handlers.states import TEXT_STEPS, group_of
from nps.scales import scale_of
from storage.models import Step
from storage.repos.response_rows import ResponseRow
from storage.repos.response_start import AnswerContext, Previous
from storage.repos.surveys import SurveyView

# "7", " 10 ", "9/10", "4/5", "4 ⭐" (a star typed after a CSAT score).
_SCORE_TEXT = re.compile(r"^\s*(\d{1,2})\s*(?:/\s*(\d{1,2}))?\s*(?:⭐\ufe0f?|\*)?\s*[.!]?\s*$")


def typed_number(text: str | None, kind: str | None = None) -> int | None:
    """The number a typed score names ("7", "9/10", "4/5"), on any scale; None when the
    message is no score at all, or its "out of" is not the kind's top score."""
    match = _SCORE_TEXT.match(text or "")
    if not match:
        return None
    if match.group(2) is not None and int(match.group(2)) != scale_of(kind).highest:
        return None
    return int(match.group(1))


def parse_score(text: str | None, kind: str | None = None) -> int | None:
    """A typed score on the kind's scale (NPS 0–10 by default, CSAT 1–5, CES 1–7); None
    when it is not one."""
    value = typed_number(text, kind)
    return value if value is not None and scale_of(kind).contains(value) else None


async def on_start(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Greets the user and asks the survey's question (a deep link picks the survey)."""
    assert ctx.respondent is not None
    store = ctx.store
    if not ctx.respondent.subscribed or ctx.respondent.unreachable:
        await store.respondents.restart(ctx.respondent.id)  # /start undoes /stop and blocks
    link = parse_payload(command.args or None)
    survey: SurveyView | None = None
    if link.valid and link.survey_slug:
        survey = await store.surveys.by_slug(link.survey_slug)
        if survey is not None and not survey.active:
            survey = None
    # A payload that names no active survey (or is malformed) falls back to the default.
    unknown = link.raw is not None and survey is None and bool(link.survey_slug or not link.valid)
    if survey is None:
        # Read on every /start; created once, on the very first.
        survey = await store.surveys.default() or await store.surveys.ensure_default()
    anonymous = is_anonymous(survey.kind)
    if anonymous and await store.anonymity.has_answered(survey.id, ctx.respondent.id):
        # eNPS: one answer per employee (only a salted hash of survey + user records it).
        texts = ctx.survey_texts(survey)
        ctx.out.send(event.chat_id, texts("enps_already_answered", brand=ctx.brand_of(survey)))
        return
    answer_context = AnswerContext(
        source=link.source if link.valid else None,
        agent=link.agent if link.valid else None,
        campaign=link.campaign if link.valid else None,
        start_payload=link.raw,
        payload_unknown=unknown,
        messenger=ctx.channel,
    )
    previous = Previous()
    if not anonymous:
        # One counted answer per person, survey and door within SURVEY_COOLDOWN_DAYS.
        cooldown = ctx.config.survey_cooldown_days
        since = ctx.now - timedelta(days=cooldown) if cooldown > 0 else None
        # The role is the Telegram user's (team accounts), the answers the person's.
        previous = await store.responses.before_start(
            ctx.respondent.id, survey.id, answer_context.door, since, event.sender.id
        )
        ctx.known_roles[event.sender.id] = previous.role
    open_response = await store.responses.open_for(ctx.respondent.id)
    if (
        open_response is not None
        and open_response.survey_id == survey.id
        and open_response.step == Step.SCORE
        # eNPS rows never keep the payload (its agent tag may name the employee).
        and open_response.start_payload == (None if anonymous else link.raw)
    ):
        # Pressing Start again must not create a second response: ask the same one again.
        response = open_response
    else:
        response = await store.responses.start(
            survey_id=survey.id,
            respondent_id=ctx.respondent.id,
            chat_id=event.chat_id,
            language=ctx.language,
            context=answer_context,
            anonymous=anonymous,
            replaces=previous.answer_id,
            # The team (owners, granted roles) is not invited: counted only if they answer.
            invite_pending=previous.team_member or event.sender.id in ctx.config.admin_ids,
        )
        if link.valid and (link.source or link.agent) and not anonymous:
            await store.respondents.set_origin(ctx.respondent.id, link.source, link.agent)
    texts = ctx.survey_texts(survey)
    brand = ctx.brand_of(survey)
    if ctx.respondent.first_name:
        greeting = texts("greeting", name=ctx.respondent.first_name, brand=brand)
    else:
        greeting = texts("greeting_anonymous", brand=brand)
    ctx.out.send(event.chat_id, greeting)
    notice = None
    if previous.scored_at is not None:
        notice = ctx.texts("answer_replaces", date=_local_date(ctx, previous.scored_at))
    ask_score(ctx, survey, response, prefix=notice)


def _local_date(ctx: UpdateContext, moment: datetime) -> str:
    """ "3 December" in the user's language (with the year when it is not this one)."""
    tz = ctx.store.stats.tz
    local = moment.astimezone(tz).date()
    same_year = local.year == ctx.now.astimezone(tz).year
    return format_date(local, "d MMMM" if same_year else "d MMMM y", locale=ctx.language)


async def _survey_of(ctx: UpdateContext, response: ResponseRow) -> SurveyView:
    # Rows loaded for a step carry their survey (read with them in one statement).
    survey = response.survey or await ctx.store.surveys.get(response.survey_id)
    assert survey is not None  # foreign key
    return survey


async def _accept_score(
    ctx: UpdateContext, response: ResponseRow, score: int, message_id: int | None
) -> bool:
    """Stores the score, shows it in the question message, asks why; False if beaten."""
    survey = await take_score(ctx, response, score, message_id)
    if survey is None:
        return False
    ask_follow_up(ctx, survey, response, Step.WHY)
    return True


async def take_score(
    ctx: UpdateContext, response: ResponseRow, score: int, message_id: int | None
) -> SurveyView | None:
    """Stores the score and does what follows any score, whichever channel it came
    through: the question in Telegram shows it, the listeners run (alerts, events); the
    survey, or None if another answer won. The next question is the caller's."""
    if not await ctx.store.responses.record_score(response, score):
        return None
    survey = await _survey_of(ctx, response)
    replaced = await ctx.store.responses.supersede_replaced(response)
    # A replaced answer is to the same survey: the same scale.
    if replaced is not None and group_of(replaced.score, survey.kind) == "detractor":
        # The person's own newer answer stands for them: the older case is no longer open.
        await ctx.store.cases.close_superseded(replaced.id)
    shown = ctx.texts("your_answer", score=score_label(survey.kind, score))
    answered = f"{question_html(ctx, survey)}\n\n— <b>{shown}</b>"
    # The pressed message, the latest question if that was a newer one (asked again after
    # words instead of a score), a broadcast's question and reminder: no 0–10 buttons stay.
    for target in await score_prompts(ctx, response, message_id):
        ctx.out.edit(chat_of(ctx, response), target, answered)
    await _after_score(ctx, survey, response)
    return survey


async def _after_score(ctx: UpdateContext, survey: SurveyView, response: ResponseRow) -> None:
    """Hook for what follows a score besides the next question (alerts, integrations)."""
    for listener in ctx.hooks.on_score:
        await listener(ctx, survey, response)


def _close_prompt(
    ctx: UpdateContext,
    survey: SurveyView,
    response: ResponseRow,
    step: Step,
    message_id: int | None,
    note: str | None,
) -> None:
    """Removes the Skip button from the follow-up that was just answered."""
    target = message_id or response.prompt_message_id
    if target is None:
        return
    if note is None:
        # Only the buttons go: the prompt may be the "please type text" hint that repeated
        # Skip, and rewriting its text would turn it into a second copy of the question.
        ctx.out.drop_keyboard(chat_of(ctx, response), target)
        return
    texts = ctx.survey_texts(survey)
    assert response.score is not None
    group = group_of(response.score, survey.kind)
    question = texts(f"{step.value}_{group}", brand=ctx.brand_of(survey))
    html = f"{question}\n\n— <i>{note}</i>" if note else question
    ctx.out.edit(chat_of(ctx, response), target, html)


async def _accept_text(
    ctx: UpdateContext, response: ResponseRow, text: str | None, message_id: int | None = None
) -> bool:
    """Stores a follow-up answer (None = skipped) and moves to the next step."""
    survey = await take_text(ctx, response, text, message_id)
    if survey is None:
        return False
    if response.step == Step.IMPROVE:
        ask_follow_up(ctx, survey, response, Step.IMPROVE)
    else:
        thank(ctx, survey, response)
        await offer_after_thanks(ctx, survey)
    return True


async def take_text(
    ctx: UpdateContext,
    response: ResponseRow,
    text: str | None,
    message_id: int | None = None,
    *,
    close_prompt: bool = True,
) -> SurveyView | None:
    """Stores a follow-up answer (None = skipped), whichever channel it came through: the
    Telegram prompt loses its Skip button (`close_prompt`: it was a follow-up), the
    listeners run; the survey, or None if the step was taken already. The next question
    (or the thanks) is the caller's."""
    repo = ctx.store.responses
    answered = Step(response.step)
    # Taken now: finishing an anonymous (eNPS) answer forgets the prompt's message id.
    message_id = message_id or response.prompt_message_id
    if answered == Step.WHY:
        done = await repo.record_why(response, text)
    else:
        done = await repo.record_improve(response, text)
    if not done:
        return None
    note = ctx.texts("skipped") if text is None else None
    # Read once for the whole step: the listeners and the next question share it.
    survey = await _survey_of(ctx, response)
    if close_prompt:
        _close_prompt(ctx, survey, response, answered, message_id, note)
    for listener in ctx.hooks.on_text:
        await listener(ctx, survey, response)
    return survey


async def on_message(event: IncomingMessage, ctx: UpdateContext) -> None:
    """Takes a typed score or follow-up answer; anything else gets a clear hint."""
    assert ctx.respondent is not None
    response = await ctx.store.responses.open_for(ctx.respondent.id)
    if response is None:
        latest = await ctx.store.responses.latest_for(ctx.respondent.id)
        key = "already_done" if latest is not None and latest.step == Step.DONE else "nothing_open"
        ctx.out.send(event.chat_id, ctx.texts(key))
        return
    if response.step == Step.SCORE:
        survey = await _survey_of(ctx, response)
        score = parse_score(event.text, survey.kind) if event.kind == "text" else None
        if score is None or not await _accept_score(ctx, response, score, None):
            # The hint is a plain message of its own; the question (with its buttons) follows,
            # and the copy above loses its buttons. It names the kind's range (a 9 typed to
            # a CSAT survey hears "from 1 to 5").
            ctx.out.send(event.chat_id, ctx.survey_texts(survey)("score_please"))
            ask_score(ctx, survey, response)
        return
    if event.kind != "text" or not (event.text or "").strip():
        texts = ctx.texts
        ctx.out.send(
            event.chat_id,
            texts("text_please"),
            skip_keyboard(texts, response.id, Step(response.step)),
            after=remember_prompt(response.id),
        )
        return
    await _accept_text(ctx, response, event.text)


async def _owned_response(
    event: ButtonPress, response_id: int, ctx: UpdateContext
) -> ResponseRow | None:
    """The response a button refers to, if it belongs to the presser; else alerts."""
    response = await ctx.store.responses.get(response_id)
    # eNPS rows have no respondent_id: ownership is the presser's anonymous thread.
    presser = ctx.respondent.id if ctx.respondent is not None else None
    if response is None or not await ctx.store.responses.belongs_to(response, presser):
        ctx.out.answer(event.callback_id, ctx.texts.plain("bad_button"), alert=True)
        return None
    return response


async def on_score_pressed(event: ButtonPress, choice: ScoreChoice, ctx: UpdateContext) -> None:
    """Records a tapped score (the first tap wins) and asks why."""
    response = await _owned_response(event, choice.response_id, ctx)
    if response is None:
        return
    survey = await _survey_of(ctx, response)
    if not scale_of(survey.kind).contains(choice.score):
        # Forged, or a keyboard of another kind: a 9 never answers a 1–5 CSAT question.
        ctx.out.answer(event.callback_id, ctx.texts.plain("bad_button"), alert=True)
        return
    if response.step != Step.SCORE:
        if response.score is not None:
            shown = score_label(survey.kind, response.score)
            text = ctx.texts.plain("already_scored", score=shown)
            ctx.out.answer(event.callback_id, text, alert=False)
            waiting = Step(response.step) in TEXT_STEPS
            if (
                waiting
                and response.prompt_message_id in (None, event.message_id)
                and not await ctx.store.outbox.holds(event.chat_id)
            ):
                # The follow-up ("why?") was never recorded as sent and is not kept to be
                # sent (given up on): the keyboard left behind asks it again. While it is
                # kept — another replica sending it after a quick first tap, or a crash
                # leaving it for the next start — or once it was sent, a tap only gets
                # the toast.
                await _reask_after_press(ctx, response, event.message_id)
        else:
            ctx.out.answer(event.callback_id, ctx.texts.plain("stale_button"), alert=True)
        return
    if await _accept_score(ctx, response, choice.score, event.message_id):
        ctx.out.answer(event.callback_id)
    else:  # another press won the race
        await ctx.store.responses.refresh(response)
        shown = "?" if response.score is None else score_label(survey.kind, response.score)
        ctx.out.answer(event.callback_id, ctx.texts.plain("already_scored", score=shown))


async def _reask_after_press(
    ctx: UpdateContext, response: ResponseRow, message_id: int | None
) -> None:
    """A score keyboard pressed after the score was taken: shows the taken score on that
    message (its buttons go) and asks the pending follow-up question again."""
    survey = await _survey_of(ctx, response)
    if message_id is not None:
        assert response.score is not None  # pressed after the score was taken
        shown = ctx.texts("your_answer", score=score_label(survey.kind, response.score))
        answered = f"{question_html(ctx, survey)}\n\n— <b>{shown}</b>"
        ctx.out.edit(chat_of(ctx, response), message_id, answered)
    await reask_current(ctx, response)


async def on_skip_pressed(event: ButtonPress, skip: SkipStep, ctx: UpdateContext) -> None:
    """Skips the follow-up question the response is waiting for."""
    response = await _owned_response(event, skip.response_id, ctx)
    if response is None:
        return
    if response.step != skip.step or Step(response.step) not in TEXT_STEPS:
        ctx.out.answer(event.callback_id, ctx.texts.plain("stale_button"), alert=True)
        return
    ctx.out.answer(event.callback_id)
    await _accept_text(ctx, response, None, event.message_id)


async def reask_current(ctx: UpdateContext, response: ResponseRow) -> None:
    """Asks the question a response is waiting for again (e.g. after /language)."""
    survey = await _survey_of(ctx, response)
    if response.step == Step.SCORE:
        ask_score(ctx, survey, response)
    elif Step(response.step) in TEXT_STEPS:
        ask_follow_up(ctx, survey, response, Step(response.step))

"""What a respondent is sent in the survey conversation: the question and its keyboard
(0–10 for NPS, 1–5 ⭐ for CSAT, 1–7 for CES), the follow-up questions with Skip, the thanks
(handlers/survey.py decides when)."""

from __future__ import annotations

from handlers.callbacks import ScoreChoice, SkipStep, pack
from handlers.context import UpdateContext
from handlers.port import Button, Keyboard, after_send_kind
from handlers.states import group_of
from handlers.texts import TextsLike
from nps.scales import CSAT, NPS, scale_of
from storage.models import Step
from storage.repos.response_rows import ResponseRow
from storage.repos.surveys import SurveyView
from storage.store import Store


def score_label(kind: str, score: int) -> str:
    """A score as its button reads: "4 ⭐" on CSAT's star scale, the bare number elsewhere."""
    return f"{score} ⭐" if kind == CSAT else str(score)


def score_keyboard(response_id: int, kind: str = NPS) -> Keyboard:
    """The kind's scale as buttons: 0–10 in two rows (clients show at most 8 buttons a row
    comfortably); CSAT's five stars and CES's seven numbers fit one row."""
    row = [
        Button(score_label(kind, s), pack(ScoreChoice(response_id, s)))
        for s in scale_of(kind).scores()
    ]
    if len(row) > 8:
        return Keyboard.of(row[:6], row[6:])
    return Keyboard.of(row)


def keyboard_preview(kind: str) -> str:
    """The kind's score buttons as text ("[0] [1] … [5]" over "[6] … [10]"), for previews."""
    keyboard = score_keyboard(0, kind)
    return "\n".join(" ".join(f"[{b.text}]" for b in row) for row in keyboard.rows)


def skip_keyboard(texts: TextsLike, response_id: int, step: Step) -> Keyboard:
    """A single Skip button for a follow-up question."""
    return Keyboard.of([Button(texts.plain("skip"), pack(SkipStep(response_id, step.value)))])


def score_question(texts: TextsLike, brand: str) -> str:
    """The question with its scale hint (HTML), in every message that asks it (`texts`
    worded for the survey's kind: handlers/kinds.py)."""
    return f"{texts('question', brand=brand)}\n<i>{texts('scale_hint')}</i>"


def question_html(ctx: UpdateContext, survey: SurveyView) -> str:
    """The survey's question in the respondent's language, with its brand."""
    return score_question(ctx.survey_texts(survey), ctx.brand_of(survey))


def _name(ctx: UpdateContext) -> str:
    """How the thanks address the respondent (their first name, else "friend")."""
    respondent = ctx.respondent
    return (respondent.first_name if respondent else None) or ctx.texts.plain("friend")


def chat_of(ctx: UpdateContext, response: ResponseRow) -> int:
    """The chat a response's conversation is in.

    eNPS: anonymous rows keep no chat id; the conversation is always with the user whose
    update is being handled (private chat id = user id).
    """
    if response.chat_id is not None:
        return response.chat_id
    respondent = ctx.respondent
    return (respondent.chat_id or 0) if respondent is not None else 0


@after_send_kind("survey.prompt")
async def remember_prompt(store: Store, message_id: int, response_id: int) -> None:
    """After sending a message with buttons, store its id to edit it once answered.

    A registered kind (data, not a closure): a question re-sent from the persisted outbox
    after a crash is remembered too (bot/outbox.py).
    """
    await store.responses.set_prompt_message(response_id, message_id)


def ask_score(
    ctx: UpdateContext, survey: SurveyView, response: ResponseRow, *, prefix: str | None = None
) -> None:
    """Sends the 0–10 question (optionally after a one-line notice).

    Only the newest copy of a question keeps the 0–10 buttons: the copy asked before (asked
    again after /start, a hint or /language) loses them here, so that once answered no
    keyboard is left behind anywhere (`score_prompts`).
    """
    question = question_html(ctx, survey)
    html = f"{prefix}\n\n{question}" if prefix else question
    chat_id = chat_of(ctx, response)
    if response.prompt_message_id is not None:
        ctx.out.edit(chat_id, response.prompt_message_id, question)
    keyboard = score_keyboard(response.id, survey.kind)
    ctx.out.send(chat_id, html, keyboard, after=remember_prompt(response.id))


async def score_prompts(
    ctx: UpdateContext, response: ResponseRow, message_id: int | None
) -> list[int]:
    """Every message that may still carry this response's 0–10 buttons: the one pressed,
    the latest copy, and for a broadcast or an invitation its question and reminder."""
    shown = {message_id, response.prompt_message_id}
    if response.channel in ("broadcast", "invitation"):
        shown.update(await ctx.store.reminders.question_messages(response.id))
    return sorted(t for t in shown if t is not None)


def ask_follow_up(
    ctx: UpdateContext, survey: SurveyView, response: ResponseRow, step: Step
) -> None:
    """Asks "why?" or "what to improve?", worded for the respondent's group."""
    assert response.score is not None
    texts = ctx.survey_texts(survey)
    key = f"{step.value}_{group_of(response.score, survey.kind)}"
    ctx.out.send(
        chat_of(ctx, response),
        texts(key, brand=ctx.brand_of(survey)),
        skip_keyboard(texts, response.id, step),
        after=remember_prompt(response.id),
    )


def thank(ctx: UpdateContext, survey: SurveyView, response: ResponseRow) -> None:
    """Thanks the respondent, inviting promoters to a public review when there is a link."""
    assert response.score is not None
    texts = ctx.survey_texts(survey)
    group = group_of(response.score, survey.kind)
    keyboard = None
    key = f"thanks_{group}"
    if group == "promoter" and survey.review_url:
        key = "thanks_promoter_review"
        keyboard = Keyboard.of([Button(texts.plain("review_button"), url=survey.review_url)])
    ctx.out.send(
        chat_of(ctx, response),
        texts(key, name=_name(ctx), brand=ctx.brand_of(survey)),
        keyboard,
    )

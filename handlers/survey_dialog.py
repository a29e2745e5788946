"""The guided dialog that creates a survey (/newsurvey) or edits one field of it (the card).

It runs the table in handlers/survey_steps.py: the current step's record asks the
question, turns the answer into a value, stores it where the record says and moves to the
step it names. The dialog's state is a row (storage/repos/dialogs.py), so a restart
mid-dialog continues where it was. Every step offers Cancel (a button, and /cancel); bad
input gets one clear line and the same step again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from handlers.access import role_of
from handlers.context import UpdateContext
from handlers.events import ButtonPress, IncomingMessage
from handlers.port import Keyboard
from handlers.roles import Role
from handlers.survey_fields import Invalid, clean_texts
from handlers.survey_questions import CREATE, EDIT, DialogChoice, DialogStep, Question
from handlers.survey_steps import CREATE_ORDER, CREATE_SURVEY, SAME, STEPS, Goto, StepSpec
from handlers.survey_views import deep_link, send_card
from storage.admin_models import StaffDialog
from storage.repos.surveys import SurveyView

# A dialog untouched this long is dropped: the admin's texts go to surveys again.
DIALOG_TTL = timedelta(hours=24)


async def start_create(ctx: UpdateContext, chat_id: int, user_id: int) -> None:
    """Opens the creation dialog (replacing any other dialog of the user)."""
    dialog = await ctx.store.dialogs.start(user_id, CREATE, CREATE_ORDER[0], data={"texts": {}})
    await _ask(ctx, dialog, chat_id)


async def start_edit(
    ctx: UpdateContext, chat_id: int, user_id: int, survey: SurveyView, step: DialogStep
) -> None:
    """Opens a one-field edit dialog on an existing survey."""
    data = {
        "name": survey.name,
        "kind": survey.kind,
        "slug": survey.slug,
        "subject": survey.subject,
        "review_url": survey.review_url,
        "texts": dict(survey.texts or {}),
    }
    dialog = await ctx.store.dialogs.start(user_id, EDIT, step, survey_id=survey.id, data=data)
    await _ask(ctx, dialog, chat_id)


async def intercept_dialog_text(event: IncomingMessage, ctx: UpdateContext) -> bool:
    """Feeds a staff member's message to their open survey dialog (before the survey)."""
    if not event.private or not ctx.pending.dialog:
        return False
    dialog = await ctx.store.dialogs.of(event.sender.id)
    if dialog is None:
        return False
    if (
        ctx.now - dialog.updated_at > DIALOG_TTL
        or await role_of(ctx, event.sender.id) < Role.ADMIN
    ):
        # Abandoned, or the role was revoked: the text is an ordinary message again.
        await ctx.store.dialogs.end(event.sender.id)
        return False
    # The newest conversation gets the text: a survey started after the dialog's last step
    # (an admin trying their own survey) is answered first, then the dialog resumes.
    person = ctx.respondent  # a private chat: the admin as a respondent
    response = await ctx.store.responses.open_for(person.id) if person is not None else None
    if response is not None and response.asked_at > dialog.updated_at:
        return False
    if event.kind != "text" or not (event.text or "").strip():
        await _ask(ctx, dialog, event.chat_id, error=ctx.texts("sv_err_text_only"))
        return True
    spec = STEPS[DialogStep(dialog.step)]
    try:
        if spec.typed is None:  # an answer only a button gives (texts menu, active, confirm)
            raise Invalid("sv_err_use_buttons")
        value = await spec.typed(ctx, dialog, (event.text or "").strip())
        await _apply(ctx, dialog, event.chat_id, spec, value)
    except Invalid as bad:
        await _ask(ctx, dialog, event.chat_id, error=ctx.texts(bad.key, **bad.values))
    return True


async def cancel_dialog(event: IncomingMessage, ctx: UpdateContext) -> bool:
    """/cancel: ends the user's survey dialog, if there is one."""
    dialog = await ctx.store.dialogs.of(event.sender.id)
    if dialog is None:
        return False
    await _cancel(ctx, dialog, event.chat_id)
    return True


async def on_dialog_choice(event: ButtonPress, choice: DialogChoice, ctx: UpdateContext) -> None:
    """Takes a button of the survey dialog; Cancel works from any of its messages."""
    dialog = await ctx.store.dialogs.of(event.sender.id)
    if dialog is None or dialog.id != choice.dialog_id:
        ctx.out.answer(event.callback_id, ctx.texts.plain("stale_button"), alert=True)
        return
    if choice.value == "cancel":
        ctx.out.answer(event.callback_id)
        await _cancel(ctx, dialog, event.chat_id)
        return
    if choice.step != dialog.step:
        ctx.out.answer(event.callback_id, ctx.texts.plain("stale_button"), alert=True)
        return
    ctx.out.answer(event.callback_id)
    spec = STEPS[DialogStep(dialog.step)]
    try:
        if choice.value == "keep" and dialog.flow == EDIT and spec.keep_ends_edit:
            await _finish_edit(ctx, dialog, event.chat_id, changed=False)
            return
        if spec.pressed is None:
            raise Invalid("sv_err_use_buttons")
        value = await spec.pressed(ctx, dialog, choice.value)
        await _apply(ctx, dialog, event.chat_id, spec, value)
    except Invalid as bad:
        await _ask(ctx, dialog, event.chat_id, error=ctx.texts(bad.key, **bad.values))


async def _cancel(ctx: UpdateContext, dialog: StaffDialog, chat_id: int) -> None:
    await ctx.store.dialogs.end(dialog.user_id)
    key = "sv_cancelled_edit" if dialog.flow == EDIT else "sv_cancelled_new"
    ctx.out.send(chat_id, ctx.texts(key, name=dialog.data.get("name") or ""))


async def _ask(
    ctx: UpdateContext, dialog: StaffDialog, chat_id: int, *, error: str | None = None
) -> None:
    """Sends the prompt of the dialog's current step (after a one-line error, if any)."""
    texts = ctx.texts
    step = DialogStep(dialog.step)
    spec = STEPS[step]
    question = Question(ctx, dialog, spec.prompt)
    if spec.ask is not None:
        await spec.ask(question)
    question.button("sv_btn_cancel", "cancel")
    if dialog.flow == EDIT:
        header = texts("sv_editing", name=dialog.data["name"])
    else:
        shown = step if step in CREATE_ORDER else DialogStep.TEXTS  # the texts loop
        header = texts("sv_creating", n=CREATE_ORDER.index(shown) + 1, total=len(CREATE_ORDER))
    html = f"{header}\n{texts(question.key, **question.values)}"
    if error:
        html = f"⚠️ {error}\n\n{html}"
    ctx.out.send(chat_id, html, Keyboard.of(*question.rows))


async def _apply(
    ctx: UpdateContext, dialog: StaffDialog, chat_id: int, spec: StepSpec, value: Any
) -> None:
    """Acts on a step's answer: a value for its field, or a jump, or the final create."""
    if value is CREATE_SURVEY:
        await _create(ctx, dialog, chat_id)
    elif isinstance(value, Goto):
        await ctx.store.dialogs.save(dialog, step=value.step)
        await _ask(ctx, dialog, chat_id)
    elif value is SAME or spec.field is None:
        await _advance(ctx, dialog, chat_id, spec)
    else:
        await _advance(ctx, dialog, chat_id, spec, **{spec.field: value})


async def _advance(
    ctx: UpdateContext, dialog: StaffDialog, chat_id: int, spec: StepSpec, **changes: Any
) -> None:
    """Stores the step's answer and asks the next step (an edit of one field saves it)."""
    if dialog.flow == EDIT and not spec.loop:
        if changes:  # the texts menu's "done" brings none: the loop stored them
            await ctx.store.dialogs.save(dialog, **changes)
        await _finish_edit(ctx, dialog, chat_id, changed=True)
    else:
        await ctx.store.dialogs.save(dialog, step=spec.next, **changes)
        await _ask(ctx, dialog, chat_id)


async def _create(ctx: UpdateContext, dialog: StaffDialog, chat_id: int) -> None:
    """Creates the survey the dialog collected and shows its card and link."""
    data = dialog.data
    if await ctx.store.surveys.by_slug(data["slug"]) is not None:
        # Someone took the name meanwhile: back to that step.
        await ctx.store.dialogs.save(dialog, step=DialogStep.SLUG, suggested=None)
        await _ask(ctx, dialog, chat_id, error=ctx.texts("sv_err_slug_taken", slug=data["slug"]))
        return
    survey = await ctx.store.surveys.add(
        slug=data["slug"],
        name=data["name"],
        kind=data["kind"],
        subject=data.get("subject"),
        texts=clean_texts(data.get("texts", {})),
        review_url=data.get("review_url"),
        active=bool(data.get("active")),
        is_default=False,
    )
    await ctx.store.dialogs.end(dialog.user_id)
    ctx.out.send(
        chat_id, ctx.texts("sv_created", name=survey.name, link=deep_link(ctx, survey.slug))
    )
    await send_card(ctx, chat_id, survey)


async def _finish_edit(
    ctx: UpdateContext, dialog: StaffDialog, chat_id: int, *, changed: bool
) -> None:
    """Saves an edited field to the survey, ends the dialog and shows the card again."""
    await ctx.store.dialogs.end(dialog.user_id)
    survey_id = dialog.survey_id or 0
    spec = STEPS[DialogStep(dialog.step)]
    if changed and spec.field is not None:
        value = spec.to_survey(dialog.data.get(spec.field))
        survey = await ctx.store.surveys.update(survey_id, **{spec.field: value})
    else:
        survey = await ctx.store.surveys.get(survey_id)
    if survey is None:
        ctx.out.send(chat_id, ctx.texts("sv_survey_gone"))
        return
    ctx.out.send(chat_id, ctx.texts("sv_saved" if changed else "sv_unchanged", name=survey.name))
    await send_card(ctx, chat_id, survey)

"""The steps of the survey dialog, as a table: `STEPS` maps each step to a small record.

A record says which catalog text asks the step (its `ask` function, in
handlers/survey_questions.py, adds what else the question shows and its buttons), how a
typed answer or a pressed button becomes a value, where the value goes (`field`, a key of
the dialog's data and the survey's attribute an edit saves) and which step follows
(`next`). handlers/survey_dialog.py runs the table; nothing there depends on a step.

Creating walks `next` from NAME to CONFIRM; the TEXTS menu loops through TEXT_LANG and
the four text steps per language. Editing from a card opens one step (`EDITS`): its
answer is saved and the edit ends, except inside the texts loop, which goes on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from handlers.context import UpdateContext
from handlers.kinds import KINDS
from handlers.survey_fields import (
    MAX_NAME,
    MAX_SUBJECT,
    Invalid,
    check_template,
    check_text,
    check_url,
    clean_texts,
    free_slug,
    one_line,
)
from handlers.survey_questions import (
    TEXT_FIELDS,
    TEXT_KEYS,
    DialogStep,
    Question,
    ask_active,
    ask_confirm,
    ask_kind,
    ask_language,
    ask_name,
    ask_review,
    ask_slug,
    ask_subject,
    ask_text,
    ask_texts,
    ask_wa_template,
)
from handlers.survey_views import language_name
from storage.admin_models import StaffDialog

S = DialogStep


# An answer is a value for the step's field, or one of these.
@dataclass(frozen=True)
class Goto:
    """Jump to another step (the texts menu opens the language step)."""

    step: DialogStep


SAME = object()  # nothing to store: go on as after an answer
CREATE_SURVEY = object()  # the last step: create the survey from the dialog's data

Parse = Callable[[UpdateContext, StaffDialog, str], Awaitable[Any]]


@dataclass(frozen=True)
class StepSpec:
    """One step of the dialog."""

    prompt: str  # the catalog key asking it (`ask` may pick a variant)
    field: str | None  # where its value goes: the dialog's data, and the survey on an edit
    next: DialogStep | None  # the step after it (None: the last)
    typed: Parse | None = None  # a typed answer → the value (None: buttons only)
    pressed: Parse | None = None  # a button's value → the value, SAME, Goto or CREATE_SURVEY
    ask: Callable[[Question], Awaitable[None]] | None = None  # adds values and buttons
    loop: bool = False  # in the texts loop: goes on to `next` in an edit too
    keep_ends_edit: bool = False  # editing, its "keep" button ends the edit unchanged
    to_survey: Callable[[Any], Any] = lambda value: value  # as the survey stores the value


def _only(*accepted: str, value: Callable[[str], Any] = lambda picked: picked) -> Parse:
    """A button answer among `accepted`, turned into the field's value."""

    async def parse(ctx: UpdateContext, dialog: StaffDialog, picked: str) -> Any:
        if picked not in accepted:
            raise Invalid("sv_err_use_buttons")
        return value(picked)

    return parse


# ------------------------------------------------------------------ typed answers


async def _name(ctx: UpdateContext, dialog: StaffDialog, text: str) -> str:
    return one_line(text, MAX_NAME, "sv_err_name")


async def _kind(ctx: UpdateContext, dialog: StaffDialog, text: str) -> str:
    if text.lower() not in KINDS:
        raise Invalid("sv_err_kind")
    return text.lower()


async def _slug(ctx: UpdateContext, dialog: StaffDialog, text: str) -> str:
    return await free_slug(ctx, text, dialog.survey_id)


async def _subject(ctx: UpdateContext, dialog: StaffDialog, text: str) -> str:
    return one_line(text, MAX_SUBJECT, "sv_err_subject")


async def _language(ctx: UpdateContext, dialog: StaffDialog, text: str) -> str:
    wanted = text.lower()
    for code in ctx.catalogs.languages:
        if wanted in (code, language_name(ctx, code).lower()):
            return code
    raise Invalid("sv_err_language")


async def _text(ctx: UpdateContext, dialog: StaffDialog, text: str) -> dict[str, Any]:
    """Every per-language text, with this step's wording in the chosen language."""
    step = DialogStep(dialog.step)
    check_text(text, TEXT_FIELDS[step])
    all_texts = {code: dict(entries) for code, entries in dialog.data.get("texts", {}).items()}
    all_texts.setdefault(dialog.data["lang"], {}).update(dict.fromkeys(TEXT_KEYS[step], text))
    return all_texts


async def _review(ctx: UpdateContext, dialog: StaffDialog, text: str) -> str:
    return check_url(text)


async def _wa_template(ctx: UpdateContext, dialog: StaffDialog, text: str) -> str:
    return check_template(text)


# ------------------------------------------------------------------ buttons


async def _suggested_slug(ctx: UpdateContext, dialog: StaffDialog, picked: str) -> str:
    if picked != "suggested" or not dialog.data.get("suggested"):
        raise Invalid("sv_err_use_buttons")
    return await free_slug(ctx, dialog.data["suggested"], dialog.survey_id)


async def _review_button(ctx: UpdateContext, dialog: StaffDialog, picked: str) -> str | None:
    if picked not in ("keep", "none"):
        raise Invalid("sv_err_use_buttons")
    return dialog.data.get("review_url") if picked == "keep" else None


async def _language_button(ctx: UpdateContext, dialog: StaffDialog, picked: str) -> str:
    if not ctx.catalogs.supports(picked):
        raise Invalid("sv_err_use_buttons")
    return picked


async def _text_button(ctx: UpdateContext, dialog: StaffDialog, picked: str) -> object:
    """Keep goes on; Default drops this step's wording in the chosen language."""
    if picked == "keep":
        return SAME
    if picked != "default":
        raise Invalid("sv_err_use_buttons")
    all_texts = {code: dict(entries) for code, entries in dialog.data.get("texts", {}).items()}
    for key in TEXT_KEYS[DialogStep(dialog.step)]:
        all_texts.get(dialog.data["lang"], {}).pop(key, None)
    return all_texts


# ------------------------------------------------------------------ the table


def _text_step(prompt: str, next_step: DialogStep) -> StepSpec:
    """A text of the per-language loop (one wording for every score group)."""
    return StepSpec(
        prompt=prompt,
        field="texts",
        next=next_step,
        typed=_text,
        pressed=_text_button,
        ask=ask_text,
        loop=True,
    )


STEPS: dict[DialogStep, StepSpec] = {
    S.NAME: StepSpec(
        prompt="sv_ask_name",
        field="name",
        next=S.KIND,
        typed=_name,
        ask=ask_name,
        keep_ends_edit=True,
    ),
    S.KIND: StepSpec(
        prompt="sv_ask_kind",
        field="kind",
        next=S.SLUG,
        typed=_kind,
        pressed=_only(*KINDS),
        ask=ask_kind,
    ),
    S.SLUG: StepSpec(
        prompt="sv_ask_slug",
        field="slug",
        next=S.SUBJECT,
        typed=_slug,
        pressed=_suggested_slug,
        ask=ask_slug,
        keep_ends_edit=True,
    ),
    # Creating, "keep" is the bot's name; editing, "brand" goes back to it.
    S.SUBJECT: StepSpec(
        prompt="sv_ask_subject",
        field="subject",
        next=S.TEXTS,
        typed=_subject,
        pressed=_only("keep", "brand", value=lambda picked: None),
        ask=ask_subject,
        keep_ends_edit=True,
    ),
    # The texts menu: "change" opens the loop over one language's texts, "done" goes on.
    S.TEXTS: StepSpec(
        prompt="sv_ask_texts",
        field="texts",
        next=S.REVIEW,
        pressed=_only(
            "change", "done", value=lambda p: Goto(S.TEXT_LANG) if p == "change" else SAME
        ),
        ask=ask_texts,
        to_survey=lambda value: clean_texts(value or {}),
    ),
    S.TEXT_LANG: StepSpec(
        prompt="sv_ask_text_lang",
        field="lang",
        next=S.T_QUESTION,
        typed=_language,
        pressed=_language_button,
        ask=ask_language,
        loop=True,
    ),
    S.T_QUESTION: _text_step("sv_ask_t_question", S.T_WHY),
    S.T_WHY: _text_step("sv_ask_t_why", S.T_IMPROVE),
    S.T_IMPROVE: _text_step("sv_ask_t_improve", S.T_THANKS),
    S.T_THANKS: _text_step("sv_ask_t_thanks", S.TEXTS),
    S.REVIEW: StepSpec(
        prompt="sv_ask_review",
        field="review_url",
        next=S.ACTIVE,
        typed=_review,
        pressed=_review_button,
        ask=ask_review,
        keep_ends_edit=True,
    ),
    S.WA_TEMPLATE: StepSpec(
        prompt="sv_ask_wa_template",
        field="whatsapp_template",
        next=S.CONFIRM,  # never reached: an edit ends after it
        typed=_wa_template,
        pressed=_only("default", value=lambda picked: None),
        ask=ask_wa_template,
        keep_ends_edit=True,
    ),
    S.ACTIVE: StepSpec(
        prompt="sv_ask_active",
        field="active",
        next=S.CONFIRM,
        pressed=_only("yes", "no", value=lambda p: p == "yes"),
        ask=ask_active,
    ),
    S.CONFIRM: StepSpec(
        prompt="sv_ask_confirm",
        field=None,
        next=None,
        pressed=_only("create", value=lambda p: CREATE_SURVEY),
        ask=ask_confirm,
    ),
}


def _create_order() -> list[DialogStep]:
    order, step = [S.NAME], STEPS[S.NAME].next
    while step is not None:
        order.append(step)
        step = STEPS[step].next
    return order


# Creating, step by step (the header counts them); the texts loop counts as TEXTS.
CREATE_ORDER = _create_order()
# Card buttons that open a one-step edit dialog.
EDITS: dict[str, DialogStep] = {
    "e_name": S.NAME,
    "e_slug": S.SLUG,
    "e_subject": S.SUBJECT,
    "e_texts": S.TEXTS,
    "e_review": S.REVIEW,
    "e_wa_template": S.WA_TEMPLATE,
}

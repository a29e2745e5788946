"""The survey dialog is a table of steps (handlers/survey_steps.py) that reads whole: every
step has a record, every record leads somewhere real, every question exists in every
language, and the survey modules stay small enough to hold in one's head."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.i18n import Catalogs
from handlers.survey_steps import CREATE_ORDER, EDITS, STEPS, DialogStep

S = DialogStep
CATALOGS = Catalogs()
# The variants an `ask` function may switch to (an edit, eNPS, a text of one's own).
VARIANTS = {
    S.SLUG: ("sv_ask_slug_edit",),
    S.SUBJECT: ("sv_ask_subject_enps",),
    S.REVIEW: ("sv_ask_review_own",),
    **{step: (f"sv_ask_{step.value}_own",) for step in (S.T_QUESTION, S.T_WHY, S.T_IMPROVE)},
    S.T_THANKS: ("sv_ask_t_thanks_own",),
}
HANDLERS = Path(__file__).resolve().parents[2] / "handlers"
MODULES = [
    "surveys_admin",
    "survey_fields",
    "survey_views",
    "survey_questions",
    "survey_steps",
    "survey_dialog",
]


def test_every_step_has_a_record_that_leads_to_a_real_step() -> None:
    assert set(STEPS) == set(DialogStep)
    for step, spec in STEPS.items():
        assert spec.next is None or spec.next in STEPS, step
        assert spec.typed or spec.pressed, f"{step} cannot be answered"
        assert spec.ask is not None or spec.typed is not None, step


def test_creating_walks_every_step_outside_the_texts_loop_once() -> None:
    assert CREATE_ORDER == [
        S.NAME,
        S.KIND,
        S.SLUG,
        S.SUBJECT,
        S.TEXTS,
        S.REVIEW,
        S.ACTIVE,
        S.CONFIRM,
    ]
    loop = [step for step, spec in STEPS.items() if spec.loop]
    # The WhatsApp template is set from the card only (its button shows with WhatsApp on).
    edit_only = {S.WA_TEMPLATE}
    assert edit_only <= set(EDITS.values())
    assert set(loop) | set(CREATE_ORDER) | edit_only == set(DialogStep)
    # The loop starts at the language and comes back to the texts menu.
    step, seen = S.TEXT_LANG, []
    while step in loop:
        seen.append(step)
        step = STEPS[step].next  # type: ignore[assignment]
    assert step == S.TEXTS and seen == [
        S.TEXT_LANG,
        S.T_QUESTION,
        S.T_WHY,
        S.T_IMPROVE,
        S.T_THANKS,
    ]


def test_a_card_edit_opens_a_step_that_saves_a_survey_field() -> None:
    for action, step in EDITS.items():
        spec = STEPS[step]
        assert spec.field is not None and not spec.loop, action
    # "keep" ends an edit unchanged on the one-field steps (the texts menu has "done").
    assert {step for step, spec in STEPS.items() if spec.keep_ends_edit} == set(EDITS.values()) - {
        S.TEXTS
    }


@pytest.mark.parametrize("language", CATALOGS.languages)
def test_every_question_exists_in_every_language(language: str) -> None:
    keys = CATALOGS.keys(language)
    for step, spec in STEPS.items():
        for key in (spec.prompt, *VARIANTS.get(step, ())):
            assert key in keys, (language, step, key)


@pytest.mark.parametrize("name", MODULES)
def test_the_survey_modules_stay_small(name: str) -> None:
    lines = (HANDLERS / f"{name}.py").read_text(encoding="utf-8").count("\n")
    assert lines <= 400, f"handlers/{name}.py has {lines} lines"

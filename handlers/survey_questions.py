"""What each step of the survey dialog asks: its text, the values it shows, its buttons.

The steps themselves (answers, where they go, what follows) are the table in
handlers/survey_steps.py; `Question` is what an `ask` function of that table fills in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from handlers.callbacks import Payload, pack, payload
from handlers.context import UpdateContext
from handlers.kinds import CES, CSAT, ENPS, NPS, for_kind
from handlers.port import Button
from handlers.survey_fields import MAX_SLUG, fields_hint, suggest_slug
from handlers.survey_views import deep_link, kind_label, language_name, languages_line
from storage.admin_models import StaffDialog

CREATE, EDIT = "create", "edit"


class DialogStep(StrEnum):
    """Where a survey dialog stands."""

    NAME = "name"
    KIND = "kind"
    SLUG = "slug"
    SUBJECT = "subject"
    TEXTS = "texts"  # the menu: change a language's texts, or go on
    TEXT_LANG = "text_lang"
    T_QUESTION = "t_question"
    T_WHY = "t_why"
    T_IMPROVE = "t_improve"
    T_THANKS = "t_thanks"
    REVIEW = "review"
    ACTIVE = "active"
    CONFIRM = "confirm"
    WA_TEMPLATE = "wa_template"  # edited from the card only (README "WhatsApp")


S = DialogStep


@payload("dg")
@dataclass(frozen=True)
class DialogChoice(Payload):
    """A button in a survey dialog: which dialog, at which step, what was chosen."""

    dialog_id: int
    step: str
    value: str


# One wording per step, used for every score group (admins type 4 texts, not 13).
TEXT_KEYS: dict[DialogStep, tuple[str, ...]] = {
    S.T_QUESTION: ("question",),
    S.T_WHY: ("why_promoter", "why_passive", "why_detractor"),
    S.T_IMPROVE: ("improve_promoter", "improve_passive", "improve_detractor"),
    S.T_THANKS: (
        "thanks_promoter",
        "thanks_passive",
        "thanks_detractor",
        "thanks_promoter_review",
    ),
}
TEXT_FIELDS: dict[DialogStep, frozenset[str]] = {
    S.T_QUESTION: frozenset({"brand"}),
    S.T_WHY: frozenset({"brand"}),
    S.T_IMPROVE: frozenset({"brand"}),
    S.T_THANKS: frozenset({"brand", "name"}),
}


@dataclass
class Question:
    """A step's question being built: its catalog key, the values it shows, its buttons."""

    ctx: UpdateContext
    dialog: StaffDialog
    key: str
    values: dict[str, Any] = field(default_factory=dict)
    rows: list[list[Button]] = field(default_factory=list)

    @property
    def data(self) -> dict[str, Any]:
        return self.dialog.data

    @property
    def editing(self) -> bool:
        return self.dialog.flow == EDIT

    def pick(self, picked: str) -> str:
        """A button payload answering this step with `picked`."""
        return pack(DialogChoice(self.dialog.id, self.dialog.step, picked))

    def button(self, key: str, picked: str, **values: Any) -> None:
        """Adds a row with one button; long names are shortened on the label only."""
        short = {k: v if len(str(v)) <= 30 else f"{str(v)[:29]}…" for k, v in values.items()}
        self.rows.append([Button(self.ctx.texts.plain(key, **short), self.pick(picked))])


async def ask_name(q: Question) -> None:
    if q.editing:
        q.button("sv_btn_keep_value", "keep", value=q.data["name"])


async def ask_kind(q: Question) -> None:
    q.button("sv_btn_kind_nps", NPS)
    q.button("sv_btn_kind_enps", ENPS)
    q.button("sv_btn_kind_csat", CSAT)
    q.button("sv_btn_kind_ces", CES)


async def ask_slug(q: Question) -> None:
    data, store = q.data, q.ctx.store
    if q.editing:
        q.key = "sv_ask_slug_edit"
        q.button("sv_btn_keep_value", "keep", value=data["slug"])
    else:
        taken = {s.slug for s in await store.surveys.all()}
        suggested = data.get("suggested") or suggest_slug(data["name"], taken)
        if suggested in taken:
            suggested = suggest_slug(data["name"], taken)
        if data.get("suggested") != suggested:
            await store.dialogs.save(q.dialog, suggested=suggested)
        q.values["suggested"] = suggested
        q.button("sv_btn_use_slug", "suggested", slug=suggested)
    q.values["max"] = MAX_SLUG


async def ask_subject(q: Question) -> None:
    brand = q.ctx.config.brand
    q.values["brand"] = brand
    q.values["current"] = q.data.get("subject") or brand
    if q.data.get("kind") in (ENPS, CSAT, CES):
        q.key = f"sv_ask_subject_{q.data['kind']}"  # the question as the kind words it
    q.button("sv_btn_keep_value", "keep", value=q.values["current"])
    if q.editing and q.data.get("subject"):
        q.button("sv_btn_use_brand", "brand", brand=brand)


async def ask_texts(q: Question) -> None:
    q.values["changed"] = languages_line(q.ctx, q.data.get("texts", {}))
    changed = any(entries for entries in q.data.get("texts", {}).values())
    q.button("sv_btn_change_texts", "change")
    q.button("sv_btn_texts_done" if changed or q.editing else "sv_btn_keep_defaults", "done")


async def ask_language(q: Question) -> None:
    languages = q.ctx.catalogs.languages
    q.rows.append([Button(language_name(q.ctx, code), q.pick(code)) for code in languages])


def _defaults(
    ctx: UpdateContext, dialog: StaffDialog, language: str, step: DialogStep
) -> list[str]:
    """The standard wording of a text step in a language, as a respondent would read it."""
    texts = for_kind(ctx.catalogs.texts(language), dialog.data.get("kind", NPS), None, language)
    brand = dialog.data.get("subject") or ctx.config.brand
    keys = TEXT_KEYS[step]
    if step == S.T_THANKS:
        keys = keys[:3]  # the review variant only adds the invitation
    # {name} is shown as is: it becomes the respondent's first name.
    seen: list[str] = []
    for key in keys:
        wording = texts.plain(key, brand=brand, name="{name}")
        if wording not in seen:
            seen.append(wording)
    return seen


async def ask_text(q: Question) -> None:
    step = DialogStep(q.dialog.step)
    language = q.data["lang"]
    q.values["language"] = language_name(q.ctx, language)
    defaults = _defaults(q.ctx, q.dialog, language, step)
    q.values["default"] = "\n".join(f"«{d}»" for d in defaults)
    q.values["fields"] = fields_hint(TEXT_FIELDS[step])
    current = q.data.get("texts", {}).get(language, {}).get(TEXT_KEYS[step][0])
    if current:
        q.key = f"{q.key}_own"
        q.values["current"] = current
        q.button("sv_btn_keep_own", "keep")
        q.button("sv_btn_use_default", "default")
    else:
        q.button("sv_btn_keep_default", "keep")


async def ask_review(q: Question) -> None:
    if q.data.get("review_url"):
        q.key = "sv_ask_review_own"
        q.values["current"] = q.data["review_url"]
        q.button("sv_btn_keep_own", "keep")
    q.button("sv_btn_no_review", "none")


async def ask_wa_template(q: Question) -> None:
    current = await q.ctx.store.surveys.whatsapp_template(q.dialog.survey_id or 0)
    q.values["current"] = current or "WHATSAPP_TEMPLATE"
    if current:
        q.button("sv_btn_keep_value", "keep", value=current)
        q.button("sv_btn_wa_default", "default")


async def ask_active(q: Question) -> None:
    q.button("sv_btn_active_now", "yes")
    q.button("sv_btn_inactive", "no")


async def ask_confirm(q: Question) -> None:
    ctx, data = q.ctx, q.data
    q.values.update(
        name=data["name"],
        kind=kind_label(ctx.texts, data["kind"]),
        link=deep_link(ctx, data["slug"]),
        subject=data.get("subject") or ctx.config.brand,
        languages=languages_line(ctx, data.get("texts", {})),
        review=data.get("review_url") or "—",
        state=ctx.texts.plain("sv_active" if data.get("active") else "sv_inactive"),
    )
    q.button("sv_btn_create", "create")

"""Surveys from the chat: /surveys, /newsurvey, /link and the guided create / edit dialog.

The dialog's state is a row (storage/repos/dialogs.py), so a restart mid-dialog
continues where it was. Every step offers Cancel (a button, and /cancel); bad input gets
one clear line and the same step again. Steps and transitions are declared below.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from handlers.access import Role, role_of
from handlers.callbacks import Payload, pack, payload
from handlers.context import Context, TextsLike
from handlers.deeplink import build_payload
from handlers.events import ButtonPress, Command, Message
from handlers.kinds import ENPS, KINDS, NPS, for_kind, is_anonymous
from handlers.port import Button, Keyboard
from storage.admin_models import StaffDialog
from storage.models import Survey

# A dialog untouched this long is dropped: the admin's texts go to surveys again.
DIALOG_TTL = timedelta(hours=24)
CREATE, EDIT = "create", "edit"
MAX_NAME = 100
MAX_SUBJECT = 100
MAX_TEXT = 1000
MAX_URL = 500
# Short enough that a payload with source and agent tags still fits in 64 characters.
MAX_SLUG = 32
SLUG_RE = re.compile(rf"^[a-z0-9](?:[a-z0-9-]{{0,{MAX_SLUG - 2}}}[a-z0-9])?$")
# Tag values in /link: no "_" so they can never form the "__" separator.
TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,30}$")
# Cyrillic has no decomposition to ASCII; the Latin-script languages mostly do (ł aside).
_TRANSLIT = dict(zip("абвгдезийклмнопрстуфхыэ", "abvgdeziiklmnoprstufhye", strict=True)) | {
    "ё": "e",
    "ж": "zh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "sch",
    "ъ": "",
    "ь": "",
    "ю": "yu",
    "я": "ya",
    "ł": "l",
    "ß": "ss",
}


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


S = DialogStep
# Creating a survey, step by step; the texts menu loops through TEXT_NEXT per language.
CREATE_NEXT: dict[DialogStep, DialogStep] = {
    S.NAME: S.KIND,
    S.KIND: S.SLUG,
    S.SLUG: S.SUBJECT,
    S.SUBJECT: S.TEXTS,
    S.TEXTS: S.REVIEW,
    S.REVIEW: S.ACTIVE,
    S.ACTIVE: S.CONFIRM,
}
CREATE_ORDER = [S.NAME, S.KIND, S.SLUG, S.SUBJECT, S.TEXTS, S.REVIEW, S.ACTIVE, S.CONFIRM]
TEXT_NEXT: dict[DialogStep, DialogStep] = {
    S.TEXT_LANG: S.T_QUESTION,
    S.T_QUESTION: S.T_WHY,
    S.T_WHY: S.T_IMPROVE,
    S.T_IMPROVE: S.T_THANKS,
    S.T_THANKS: S.TEXTS,
}
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
# Card buttons that open a one-step edit dialog.
EDITS: dict[str, DialogStep] = {
    "e_name": S.NAME,
    "e_slug": S.SLUG,
    "e_subject": S.SUBJECT,
    "e_texts": S.TEXTS,
    "e_review": S.REVIEW,
}


@payload("sa")
@dataclass(frozen=True)
class SurveyAction(Payload):
    """A button on the /surveys list or on a survey's card (survey 0: none yet)."""

    survey_id: int
    action: str


@payload("dg")
@dataclass(frozen=True)
class DialogChoice(Payload):
    """A button in a survey dialog: which dialog, at which step, what was chosen."""

    dialog_id: int
    step: str
    value: str


class Invalid(Exception):
    """Input a step cannot take; `key` names the catalog text that explains why."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


# ----------------------------------------------------------------------------- helpers


def deep_link(ctx: Context, payload_text: str) -> str:
    """`https://t.me/<bot>?start=<payload>`, or the bare payload when the name is unknown."""
    if ctx.config.bot_username:
        return f"https://t.me/{ctx.config.bot_username}?start={payload_text}"
    return f"/start {payload_text}"


def suggest_slug(name: str, taken: set[str]) -> str:
    """A deep-link name from the survey's name: "Доставка Киев" → "dostavka-kiev"."""
    text = "".join(_TRANSLIT.get(c, c) for c in name.lower())
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[: MAX_SLUG - 3].strip("-") or "survey"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def check_placeholders(text: str, allowed: frozenset[str]) -> None:
    """Rejects braces other than the allowed {placeholders} (the text is .format()-ed)."""
    hint = _fields_hint(allowed)
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:  # a lone "{" or "}"
        raise Invalid("sv_err_braces", allowed=hint) from None
    for _, name, spec, conv in parsed:
        if name is None:
            continue
        if not name:  # "{}" has no name for format() to fill
            raise Invalid("sv_err_braces", allowed=hint)
        if name not in allowed or spec or conv:
            raise Invalid("sv_err_placeholder", field=name, allowed=hint)


def _fields_hint(allowed: frozenset[str]) -> str:
    return ", ".join(f"{{{name}}}" for name in sorted(allowed))


def check_url(text: str) -> str:
    """A review link Telegram accepts on a URL button: http(s)://host.tld/…"""
    url = text.strip()
    if len(url) > MAX_URL or any(c.isspace() for c in url):
        raise Invalid("sv_err_url")
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or "." not in host or host.endswith("."):
        raise Invalid("sv_err_url")
    return url


def _one_line(text: str | None, limit: int, key: str) -> str:
    value = (text or "").strip()
    if not value or len(value) > limit or "\n" in value:
        raise Invalid(key, limit=limit)
    return value


async def _answer_counts(ctx: Context, surveys: list[Survey]) -> dict[int, int]:
    """Scored answers per survey, from the histograms (they survive erasure)."""
    if not surveys:
        return {}
    totals = await ctx.store.stats.totals_by_survey([s.id for s in surveys], date.min, date.max)
    return {survey_id: sum(counts[1:]) for survey_id, counts in totals.items()}


def _kind_label(texts: TextsLike, kind: str) -> str:
    return texts.plain("sv_kind_enps" if kind == ENPS else "sv_kind_nps")


def _state_label(texts: TextsLike, survey: Survey) -> str:
    parts = [texts.plain("sv_active" if survey.active else "sv_inactive")]
    if survey.is_default:
        parts.append(texts.plain("sv_default"))
    return " · ".join(parts)


def _language_name(ctx: Context, code: str) -> str:
    return ctx.catalogs.texts(code).plain("language_name")


# ------------------------------------------------------------------------ list and card


async def _listing(ctx: Context) -> tuple[str, Keyboard]:
    """The /surveys message: every survey with its counts and link, and buttons."""
    texts = ctx.texts
    surveys = await ctx.store.surveys.all()
    counts = await _answer_counts(ctx, surveys)
    lines = [texts("sv_list_title")]
    for survey in surveys:
        lines.append(
            texts(
                "sv_list_line",
                name=survey.name,
                kind=_kind_label(texts, survey.kind),
                state=_state_label(texts, survey),
                answers=counts.get(survey.id, 0),
            )
        )
        lines.append(f"   {deep_link(ctx, survey.slug)}")
    example = surveys[0].slug if surveys else "nps"
    lines.append("")
    lines.append(texts("sv_list_tags", link=deep_link(ctx, f"{example}__s-call__a-olga")))
    lines.append(texts("sv_list_hint"))
    buttons = [Button(s.name[:40], pack(SurveyAction(s.id, "open"))) for s in surveys[:90]]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append([Button(texts.plain("sv_btn_new"), pack(SurveyAction(0, "new")))])
    return "\n".join(lines), Keyboard.of(*rows)


async def _card(ctx: Context, survey: Survey) -> tuple[str, Keyboard]:
    """One survey: its settings, answers, link, and buttons to change them."""
    texts = ctx.texts
    counts = await _answer_counts(ctx, [survey])
    own = sorted(code for code, entries in (survey.texts or {}).items() if entries)
    lines = [
        texts(
            "sv_card_title",
            name=survey.name,
            kind=_kind_label(texts, survey.kind),
            state=_state_label(texts, survey),
        ),
        texts("sv_card_answers", answers=counts.get(survey.id, 0)),
        texts("sv_card_link", link=deep_link(ctx, survey.slug)),
        texts("sv_card_subject", subject=ctx.brand_of(survey)),
        texts("sv_card_review", url=survey.review_url or "—"),
        texts(
            "sv_card_texts",
            languages=", ".join(_language_name(ctx, c) for c in own) or texts.plain("sv_none"),
        ),
    ]
    if is_anonymous(survey.kind):
        lines.append(texts("sv_card_anonymous"))

    def button(key: str, action: str) -> Button:
        return Button(texts.plain(key), pack(SurveyAction(survey.id, action)))

    toggle = (
        button("sv_btn_deactivate", "off") if survey.active else button("sv_btn_activate", "on")
    )
    rows: list[list[Button]] = [
        [button("sv_btn_name", "e_name"), button("sv_btn_slug", "e_slug")],
        [button("sv_btn_subject", "e_subject"), button("sv_btn_texts", "e_texts")],
        [button("sv_btn_review", "e_review"), toggle],
    ]
    if not survey.is_default:
        rows.append([button("sv_btn_default", "default")])
    rows.append([button("sv_btn_back", "list")])
    return "\n".join(lines), Keyboard.of(*rows)


async def on_surveys(event: Message, command: Command, ctx: Context) -> None:
    """Lists the surveys with answer counts and deep links; `/surveys <slug>` opens one."""
    wanted = command.args.strip()
    if wanted:
        survey = await ctx.store.surveys.by_slug(wanted.lower())
        if survey is None:
            known = ", ".join(s.slug for s in await ctx.store.surveys.all())
            ctx.out.send(event.chat_id, ctx.texts("sv_unknown_survey", name=wanted, known=known))
            return
        html, keyboard = await _card(ctx, survey)
    else:
        html, keyboard = await _listing(ctx)
    ctx.out.send(event.chat_id, html, keyboard)


async def on_new_survey(event: Message, command: Command, ctx: Context) -> None:
    """Starts the guided dialog that creates a survey."""
    await _start_create(ctx, event.chat_id, event.sender.id)


async def on_link(event: Message, command: Command, ctx: Context) -> None:
    """Builds a survey's deep link with optional source and agent tags."""
    texts = ctx.texts
    parts = command.args.split()
    if not 1 <= len(parts) <= 3:
        ctx.out.send(event.chat_id, texts("sv_link_usage"))
        return
    survey = await ctx.store.surveys.by_slug(parts[0].lower())
    if survey is None:
        known = ", ".join(s.slug for s in await ctx.store.surveys.all())
        ctx.out.send(event.chat_id, texts("sv_unknown_survey", name=parts[0], known=known))
        return
    # "-" leaves a tag out: `/link delivery - olga` tags the agent only.
    source, agent = [None if p == "-" else p for p in [*parts[1:], "-", "-"][:2]]
    for value in (source, agent):
        if value is not None and not TAG_RE.match(value):
            ctx.out.send(event.chat_id, texts("sv_link_bad_tag", tag=value))
            return
    if agent and is_anonymous(survey.kind):
        ctx.out.send(event.chat_id, texts("sv_link_enps_agent"))
        return
    try:
        link = deep_link(ctx, build_payload(survey.slug, source=source, agent=agent))
    except ValueError:
        ctx.out.send(event.chat_id, texts("sv_link_too_long"))
        return
    lines = [texts("sv_link_result", name=survey.name, link=link)]
    if not survey.active:
        lines.append(texts("sv_link_inactive"))
    if source and is_anonymous(survey.kind):
        lines.append(texts("sv_link_enps_source"))
    ctx.out.send(event.chat_id, "\n".join(lines))


async def on_survey_action(event: ButtonPress, action: SurveyAction, ctx: Context) -> None:
    """Opens a survey's card, starts an edit, (de)activates it or makes it the default."""
    texts = ctx.texts
    if action.action == "new":
        ctx.out.answer(event.callback_id)
        await _start_create(ctx, event.chat_id, event.sender.id)
        return
    if action.action == "list":
        ctx.out.answer(event.callback_id)
        html, keyboard = await _listing(ctx)
        _show(ctx, event, html, keyboard)
        return
    survey = await ctx.store.surveys.get(action.survey_id)
    if survey is None:
        ctx.out.answer(event.callback_id, texts.plain("stale_button"), alert=True)
        return
    if action.action in EDITS:
        ctx.out.answer(event.callback_id)
        await _start_edit(ctx, event.chat_id, event.sender.id, survey, EDITS[action.action])
        return
    if action.action == "off" and survey.is_default:
        ctx.out.answer(event.callback_id, texts.plain("sv_cannot_deactivate_default"), alert=True)
        return
    if action.action == "default" and not survey.active:
        ctx.out.answer(event.callback_id, texts.plain("sv_default_needs_active"), alert=True)
        return
    if action.action in ("on", "off"):
        survey.active = action.action == "on"
        note = "sv_activated" if survey.active else "sv_deactivated"
    elif action.action == "default":
        for other in await ctx.store.surveys.all():
            other.is_default = other.id == survey.id
        note = "sv_made_default"
    elif action.action == "open":
        note = None
    else:
        ctx.out.answer(event.callback_id, texts.plain("bad_button"), alert=True)
        return
    ctx.out.answer(event.callback_id, texts.plain(note, name=survey.name) if note else None)
    html, keyboard = await _card(ctx, survey)
    _show(ctx, event, html, keyboard)


def _show(ctx: Context, event: ButtonPress, html: str, keyboard: Keyboard) -> None:
    """Replaces the pressed message (list ⇄ card), or sends a new one."""
    if event.message_id is not None:
        ctx.out.edit(event.chat_id, event.message_id, html, keyboard)
    else:
        ctx.out.send(event.chat_id, html, keyboard)


# ------------------------------------------------------------------------------ dialog


async def _start_create(ctx: Context, chat_id: int, user_id: int) -> None:
    """Opens the creation dialog (replacing any other dialog of the user)."""
    dialog = await ctx.store.dialogs.start(user_id, CREATE, S.NAME, data={"texts": {}})
    await _ask(ctx, dialog, chat_id)


async def _start_edit(
    ctx: Context, chat_id: int, user_id: int, survey: Survey, step: DialogStep
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


def _choice(ctx: Context, dialog: StaffDialog, key: str, picked: str, **values: Any) -> Button:
    """A dialog button; long names are shortened on the label only."""
    short = {k: v if len(str(v)) <= 30 else f"{str(v)[:29]}…" for k, v in values.items()}
    return Button(
        ctx.texts.plain(key, **short), pack(DialogChoice(dialog.id, dialog.step, picked))
    )


def _defaults(ctx: Context, dialog: StaffDialog, language: str, step: DialogStep) -> list[str]:
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


async def _ask(
    ctx: Context, dialog: StaffDialog, chat_id: int, *, error: str | None = None
) -> None:
    """Sends the prompt of the dialog's current step (after a one-line error, if any)."""
    texts = ctx.texts
    step = DialogStep(dialog.step)
    data = dialog.data
    editing = dialog.flow == EDIT
    rows: list[list[Button]] = []
    values: dict[str, Any] = {}
    key = f"sv_ask_{step.value}"
    if step == S.NAME:
        if editing:
            rows.append([_choice(ctx, dialog, "sv_btn_keep_value", "keep", value=data["name"])])
    elif step == S.KIND:
        rows.append([_choice(ctx, dialog, "sv_btn_kind_nps", NPS)])
        rows.append([_choice(ctx, dialog, "sv_btn_kind_enps", ENPS)])
    elif step == S.SLUG:
        if editing:
            key = "sv_ask_slug_edit"
            rows.append([_choice(ctx, dialog, "sv_btn_keep_value", "keep", value=data["slug"])])
        else:
            taken = {s.slug for s in await ctx.store.surveys.all()}
            suggested = data.get("suggested") or suggest_slug(data["name"], taken)
            if suggested in taken:
                suggested = suggest_slug(data["name"], taken)
            if data.get("suggested") != suggested:
                await ctx.store.dialogs.save(dialog, suggested=suggested)
            values["suggested"] = suggested
            rows.append([_choice(ctx, dialog, "sv_btn_use_slug", "suggested", slug=suggested)])
        values["max"] = MAX_SLUG
    elif step == S.SUBJECT:
        values["brand"] = ctx.config.brand
        values["current"] = data.get("subject") or ctx.config.brand
        if data.get("kind") == ENPS:
            key = "sv_ask_subject_enps"
        rows.append([_choice(ctx, dialog, "sv_btn_keep_value", "keep", value=values["current"])])
        if editing and data.get("subject"):
            rows.append(
                [_choice(ctx, dialog, "sv_btn_use_brand", "brand", brand=ctx.config.brand)]
            )
    elif step == S.TEXTS:
        changed = sorted(code for code, entries in data.get("texts", {}).items() if entries)
        values["changed"] = ", ".join(_language_name(ctx, c) for c in changed) or texts.plain(
            "sv_none"
        )
        rows.append([_choice(ctx, dialog, "sv_btn_change_texts", "change")])
        done = "sv_btn_texts_done" if changed or editing else "sv_btn_keep_defaults"
        rows.append([_choice(ctx, dialog, done, "done")])
    elif step == S.TEXT_LANG:
        rows.append(
            [
                Button(
                    _language_name(ctx, code),
                    pack(DialogChoice(dialog.id, dialog.step, code)),
                )
                for code in ctx.catalogs.languages
            ]
        )
    elif step in TEXT_KEYS:
        language = data["lang"]
        values["language"] = _language_name(ctx, language)
        values["default"] = "\n".join(f"«{d}»" for d in _defaults(ctx, dialog, language, step))
        values["fields"] = _fields_hint(TEXT_FIELDS[step])
        current = data.get("texts", {}).get(language, {}).get(TEXT_KEYS[step][0])
        if current:
            key = f"{key}_own"
            values["current"] = current
            rows.append([_choice(ctx, dialog, "sv_btn_keep_own", "keep")])
            rows.append([_choice(ctx, dialog, "sv_btn_use_default", "default")])
        else:
            rows.append([_choice(ctx, dialog, "sv_btn_keep_default", "keep")])
    elif step == S.REVIEW:
        if data.get("review_url"):
            key = "sv_ask_review_own"
            values["current"] = data["review_url"]
            rows.append([_choice(ctx, dialog, "sv_btn_keep_own", "keep")])
            rows.append([_choice(ctx, dialog, "sv_btn_no_review", "none")])
        else:
            rows.append([_choice(ctx, dialog, "sv_btn_no_review", "none")])
    elif step == S.ACTIVE:
        rows.append([_choice(ctx, dialog, "sv_btn_active_now", "yes")])
        rows.append([_choice(ctx, dialog, "sv_btn_inactive", "no")])
    elif step == S.CONFIRM:
        values.update(_summary_values(ctx, data))
        rows.append([_choice(ctx, dialog, "sv_btn_create", "create")])
    rows.append([_choice(ctx, dialog, "sv_btn_cancel", "cancel")])
    if editing:
        header = texts("sv_editing", name=data["name"])
    else:
        position = CREATE_ORDER.index(step) + 1 if step in CREATE_ORDER else 5
        header = texts("sv_creating", n=position, total=len(CREATE_ORDER))
    body = texts(key, **values)
    html = f"{header}\n{body}"
    if error:
        html = f"⚠️ {error}\n\n{html}"
    ctx.out.send(chat_id, html, Keyboard.of(*rows))


def _summary_values(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    texts = ctx.texts
    own = sorted(code for code, entries in data.get("texts", {}).items() if entries)
    return {
        "name": data["name"],
        "kind": _kind_label(texts, data["kind"]),
        "link": deep_link(ctx, data["slug"]),
        "subject": data.get("subject") or ctx.config.brand,
        "languages": ", ".join(_language_name(ctx, c) for c in own) or texts.plain("sv_none"),
        "review": data.get("review_url") or "—",
        "state": texts.plain("sv_active" if data.get("active") else "sv_inactive"),
    }


async def intercept_dialog_text(event: Message, ctx: Context) -> bool:
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
    response = await ctx.store.responses.open_for(event.sender.id)
    if response is not None and response.asked_at > dialog.updated_at:
        return False
    if event.kind != "text" or not (event.text or "").strip():
        await _ask(ctx, dialog, event.chat_id, error=ctx.texts("sv_err_text_only"))
        return True
    try:
        await _take_text(ctx, dialog, event.chat_id, (event.text or "").strip())
    except Invalid as bad:
        await _ask(ctx, dialog, event.chat_id, error=ctx.texts(bad.key, **bad.values))
    return True


async def cancel_dialog(event: Message, ctx: Context) -> bool:
    """/cancel: ends the user's survey dialog, if there is one."""
    dialog = await ctx.store.dialogs.of(event.sender.id)
    if dialog is None:
        return False
    await _cancel(ctx, dialog, event.chat_id)
    return True


async def _cancel(ctx: Context, dialog: StaffDialog, chat_id: int) -> None:
    await ctx.store.dialogs.end(dialog.user_id)
    key = "sv_cancelled_edit" if dialog.flow == EDIT else "sv_cancelled_new"
    ctx.out.send(chat_id, ctx.texts(key, name=dialog.data.get("name") or ""))


async def on_dialog_choice(event: ButtonPress, choice: DialogChoice, ctx: Context) -> None:
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
    try:
        await _take_choice(ctx, dialog, event.chat_id, choice.value)
    except Invalid as bad:
        await _ask(ctx, dialog, event.chat_id, error=ctx.texts(bad.key, **bad.values))


async def _take_text(ctx: Context, dialog: StaffDialog, chat_id: int, text: str) -> None:
    """Validates typed input for the current step; raises Invalid to ask again."""
    step = DialogStep(dialog.step)
    data = dialog.data
    if step == S.NAME:
        await _advance(ctx, dialog, chat_id, name=_one_line(text, MAX_NAME, "sv_err_name"))
    elif step == S.KIND:
        kind = text.lower()
        if kind not in KINDS:
            raise Invalid("sv_err_kind")
        await _advance(ctx, dialog, chat_id, kind=kind)
    elif step == S.SLUG:
        await _advance(ctx, dialog, chat_id, slug=await _valid_slug(ctx, dialog, text))
    elif step == S.SUBJECT:
        subject = _one_line(text, MAX_SUBJECT, "sv_err_subject")
        await _advance(ctx, dialog, chat_id, subject=subject)
    elif step == S.TEXT_LANG:
        wanted = text.lower()
        for code in ctx.catalogs.languages:
            if wanted in (code, _language_name(ctx, code).lower()):
                await _advance(ctx, dialog, chat_id, lang=code)
                return
        raise Invalid("sv_err_language")
    elif step in TEXT_KEYS:
        if len(text) > MAX_TEXT:
            raise Invalid("sv_err_text_long", limit=MAX_TEXT)
        check_placeholders(text, TEXT_FIELDS[step])
        language = data["lang"]
        all_texts = {code: dict(entries) for code, entries in data.get("texts", {}).items()}
        all_texts.setdefault(language, {}).update(dict.fromkeys(TEXT_KEYS[step], text))
        await _advance(ctx, dialog, chat_id, texts=all_texts)
    elif step == S.REVIEW:
        await _advance(ctx, dialog, chat_id, review_url=check_url(text))
    else:  # kind of answer that only a button gives (texts menu, active, confirm)
        raise Invalid("sv_err_use_buttons")


async def _take_choice(ctx: Context, dialog: StaffDialog, chat_id: int, value: str) -> None:
    """Applies a dialog button for the current step."""
    step = DialogStep(dialog.step)
    data = dialog.data
    editing = dialog.flow == EDIT
    if value == "keep" and editing and step in (S.NAME, S.SLUG, S.SUBJECT, S.REVIEW):
        await _finish_edit(ctx, dialog, chat_id, changed=False)
    elif step == S.KIND and value in KINDS:
        await _advance(ctx, dialog, chat_id, kind=value)
    elif step == S.SLUG and value == "suggested" and data.get("suggested"):
        await _advance(
            ctx, dialog, chat_id, slug=await _valid_slug(ctx, dialog, data["suggested"])
        )
    elif step == S.SUBJECT and value in ("keep", "brand"):
        # Creating, "keep" is the bot's name; editing, "brand" goes back to it.
        await _advance(ctx, dialog, chat_id, subject=None)
    elif step == S.TEXTS and value == "change":
        await _goto(ctx, dialog, chat_id, S.TEXT_LANG)
    elif step == S.TEXTS and value == "done":
        if editing:
            await _finish_edit(ctx, dialog, chat_id, changed=True)
        else:
            await _goto(ctx, dialog, chat_id, CREATE_NEXT[S.TEXTS])
    elif step == S.TEXT_LANG and ctx.catalogs.supports(value):
        await _advance(ctx, dialog, chat_id, lang=value)
    elif step in TEXT_KEYS and value in ("keep", "default"):
        if value == "default":
            language = data["lang"]
            all_texts = {code: dict(entries) for code, entries in data.get("texts", {}).items()}
            for key in TEXT_KEYS[step]:
                all_texts.get(language, {}).pop(key, None)
            await _advance(ctx, dialog, chat_id, texts=all_texts)
        else:
            await _advance(ctx, dialog, chat_id)
    elif step == S.REVIEW and value in ("keep", "none"):
        await _advance(
            ctx, dialog, chat_id, review_url=data.get("review_url") if value == "keep" else None
        )
    elif step == S.ACTIVE and value in ("yes", "no"):
        await _advance(ctx, dialog, chat_id, active=value == "yes")
    elif step == S.CONFIRM and value == "create":
        await _create(ctx, dialog, chat_id)
    else:
        raise Invalid("sv_err_use_buttons")


async def _valid_slug(ctx: Context, dialog: StaffDialog, text: str) -> str:
    slug = text.strip().lower()
    if not SLUG_RE.match(slug):
        raise Invalid("sv_err_slug", max=MAX_SLUG)
    existing = await ctx.store.surveys.by_slug(slug)
    if existing is not None and existing.id != dialog.survey_id:
        raise Invalid("sv_err_slug_taken", slug=slug)
    return slug


async def _goto(ctx: Context, dialog: StaffDialog, chat_id: int, step: DialogStep) -> None:
    await ctx.store.dialogs.save(dialog, step=step)
    await _ask(ctx, dialog, chat_id)


async def _advance(ctx: Context, dialog: StaffDialog, chat_id: int, **changes: Any) -> None:
    """Stores the step's answer and asks the next step (an edit of one field saves it)."""
    step = DialogStep(dialog.step)
    if step in TEXT_NEXT:
        await ctx.store.dialogs.save(dialog, step=TEXT_NEXT[step], **changes)
        await _ask(ctx, dialog, chat_id)
    elif dialog.flow == EDIT:
        await ctx.store.dialogs.save(dialog, **changes)
        await _finish_edit(ctx, dialog, chat_id, changed=True)
    else:
        await ctx.store.dialogs.save(dialog, step=CREATE_NEXT[step], **changes)
        await _ask(ctx, dialog, chat_id)


def _clean_texts(raw: dict[str, Any]) -> dict[str, Any]:
    """Per-language overrides without empty languages (a new dict, so JSON notices)."""
    return {code: dict(entries) for code, entries in raw.items() if entries}


async def _create(ctx: Context, dialog: StaffDialog, chat_id: int) -> None:
    """Creates the survey the dialog collected and shows its card and link."""
    data = dialog.data
    if await ctx.store.surveys.by_slug(data["slug"]) is not None:
        # Someone took the name meanwhile: back to that step.
        await ctx.store.dialogs.save(dialog, step=S.SLUG, suggested=None)
        await _ask(ctx, dialog, chat_id, error=ctx.texts("sv_err_slug_taken", slug=data["slug"]))
        return
    survey = await ctx.store.surveys.add(
        Survey(
            slug=data["slug"],
            name=data["name"],
            kind=data["kind"],
            subject=data.get("subject"),
            texts=_clean_texts(data.get("texts", {})),
            review_url=data.get("review_url"),
            active=bool(data.get("active")),
            is_default=False,
        )
    )
    await ctx.store.dialogs.end(dialog.user_id)
    ctx.out.send(
        chat_id, ctx.texts("sv_created", name=survey.name, link=deep_link(ctx, survey.slug))
    )
    html, keyboard = await _card(ctx, survey)
    ctx.out.send(chat_id, html, keyboard)


async def _finish_edit(ctx: Context, dialog: StaffDialog, chat_id: int, *, changed: bool) -> None:
    """Saves an edited field to the survey, ends the dialog and shows the card again."""
    await ctx.store.dialogs.end(dialog.user_id)
    survey = await ctx.store.surveys.get(dialog.survey_id or 0)
    if survey is None:
        ctx.out.send(chat_id, ctx.texts("sv_survey_gone"))
        return
    if changed:
        data = dialog.data
        step = DialogStep(dialog.step)
        if step == S.NAME:
            survey.name = data["name"]
        elif step == S.SLUG:
            survey.slug = data["slug"]
        elif step == S.SUBJECT:
            survey.subject = data.get("subject")
        elif step == S.REVIEW:
            survey.review_url = data.get("review_url")
        elif step == S.TEXTS:
            survey.texts = _clean_texts(data.get("texts", {}))
    ctx.out.send(chat_id, ctx.texts("sv_saved" if changed else "sv_unchanged", name=survey.name))
    html, keyboard = await _card(ctx, survey)
    ctx.out.send(chat_id, html, keyboard)

"""What an admin sees of the surveys: the /surveys list and a survey's card, with buttons."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

from handlers.callbacks import Payload, pack, payload
from handlers.context import UpdateContext
from handlers.events import ButtonPress
from handlers.kinds import KINDS, NPS, is_anonymous
from handlers.port import Button, Keyboard
from handlers.texts import TextsLike
from storage.repos.surveys import SurveyView


@payload("sa")
@dataclass(frozen=True)
class SurveyAction(Payload):
    """A button on the /surveys list or on a survey's card (survey 0: none yet)."""

    survey_id: int
    action: str


def deep_link(ctx: UpdateContext, payload_text: str) -> str:
    """`https://t.me/<bot>?start=<payload>`, or the bare payload when the name is unknown."""
    if ctx.config.bot_username:
        return f"https://t.me/{ctx.config.bot_username}?start={payload_text}"
    return f"/start {payload_text}"


def whatsapp_link(number: str, payload_text: str) -> str:
    """WhatsApp's click-to-chat link whose prefilled text starts the survey."""
    return f"https://wa.me/{number}?text={quote(f'start {payload_text}')}"


def kind_label(texts: TextsLike, kind: str) -> str:
    """NPS, eNPS, CSAT or CES, as the admin's language names it."""
    return texts.plain(f"sv_kind_{kind if kind in KINDS else NPS}")


def language_name(ctx: UpdateContext, code: str) -> str:
    """A language as its own speakers name it ("Русский")."""
    return ctx.catalogs.texts(code).plain("language_name")


def languages_line(ctx: UpdateContext, texts_by_language: dict[str, dict[str, str]]) -> str:
    """The languages that have their own texts, or "none"."""
    own = sorted(code for code, entries in texts_by_language.items() if entries)
    return ", ".join(language_name(ctx, c) for c in own) or ctx.texts.plain("sv_none")


def _state_label(texts: TextsLike, survey: SurveyView) -> str:
    parts = [texts.plain("sv_active" if survey.active else "sv_inactive")]
    if survey.is_default:
        parts.append(texts.plain("sv_default"))
    return " · ".join(parts)


async def _answer_counts(ctx: UpdateContext, surveys: list[SurveyView]) -> dict[int, int]:
    """Scored answers per survey, from the histograms (they survive erasure)."""
    if not surveys:
        return {}
    totals = await ctx.store.stats.totals_by_survey([s.id for s in surveys], date.min, date.max)
    return {survey_id: sum(counts[1:]) for survey_id, counts in totals.items()}


async def listing(ctx: UpdateContext) -> tuple[str, Keyboard]:
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
                kind=kind_label(texts, survey.kind),
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


async def card(ctx: UpdateContext, survey: SurveyView) -> tuple[str, Keyboard]:
    """One survey: its settings, answers, link, and buttons to change them."""
    texts = ctx.texts
    counts = await _answer_counts(ctx, [survey])
    lines = [
        texts(
            "sv_card_title",
            name=survey.name,
            kind=kind_label(texts, survey.kind),
            state=_state_label(texts, survey),
        ),
        texts("sv_card_answers", answers=counts.get(survey.id, 0)),
        texts("sv_card_link", link=deep_link(ctx, survey.slug)),
        texts("sv_card_subject", subject=ctx.brand_of(survey)),
        texts("sv_card_review", url=survey.review_url or "—"),
        texts("sv_card_texts", languages=languages_line(ctx, survey.texts or {})),
    ]
    if is_anonymous(survey.kind):
        lines.append(texts("sv_card_anonymous"))
    else:
        asked = texts.plain("ph_card_asked" if survey.ask_phone else "ph_card_not_asked")
        lines.append(texts("ph_card_line", asked=asked))

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
    if not is_anonymous(survey.kind):  # an anonymous survey never asks who answered
        rows.append(
            [
                button("ph_btn_ask_off", "phone_off")
                if survey.ask_phone
                else button("ph_btn_ask_on", "phone_on")
            ]
        )
    if ctx.config.whatsapp_number:  # the template that asks outside the 24-hour window
        rows.append([button("sv_btn_wa_template", "e_wa_template")])
    if not survey.is_default:
        rows.append([button("sv_btn_default", "default")])
    rows.append([button("sv_btn_back", "list")])
    return "\n".join(lines), Keyboard.of(*rows)


async def send_card(ctx: UpdateContext, chat_id: int, survey: SurveyView) -> None:
    """Sends a survey's card as a new message."""
    html, keyboard = await card(ctx, survey)
    ctx.out.send(chat_id, html, keyboard)


def show(ctx: UpdateContext, event: ButtonPress, html: str, keyboard: Keyboard) -> None:
    """Replaces the pressed message (list ⇄ card), or sends a new one."""
    if event.message_id is not None:
        ctx.out.edit(event.chat_id, event.message_id, html, keyboard)
    else:
        ctx.out.send(event.chat_id, html, keyboard)

"""Surveys from the chat: /surveys, /newsurvey, /link and the buttons of a survey's card.

The pieces live next to it: handlers/survey_fields.py checks what an admin types,
handlers/survey_views.py draws the list and the card, handlers/survey_steps.py declares
the guided create / edit dialog as a table of steps and handlers/survey_dialog.py runs it.
"""

from __future__ import annotations

from handlers.context import UpdateContext
from handlers.deeplink import build_payload
from handlers.events import ButtonPress, Command, IncomingMessage
from handlers.kinds import is_anonymous
from handlers.survey_dialog import start_create, start_edit
from handlers.survey_fields import TAG_RE
from handlers.survey_steps import EDITS
from handlers.survey_views import SurveyAction, card, deep_link, listing, show, whatsapp_link

__all__ = ["SurveyAction", "on_link", "on_new_survey", "on_survey_action", "on_surveys"]


async def on_surveys(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Lists the surveys with answer counts and deep links; `/surveys <slug>` opens one."""
    wanted = command.args.strip()
    if wanted:
        survey = await ctx.store.surveys.by_slug(wanted.lower())
        if survey is None:
            known = ", ".join(s.slug for s in await ctx.store.surveys.all())
            ctx.out.send(event.chat_id, ctx.texts("sv_unknown_survey", name=wanted, known=known))
            return
        html, keyboard = await card(ctx, survey)
    else:
        html, keyboard = await listing(ctx)
    ctx.out.send(event.chat_id, html, keyboard)


async def on_new_survey(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Starts the guided dialog that creates a survey."""
    await start_create(ctx, event.chat_id, event.sender.id)


async def on_link(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
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
        payload = build_payload(survey.slug, source=source, agent=agent)
        link = deep_link(ctx, payload)
    except ValueError:
        ctx.out.send(event.chat_id, texts("sv_link_too_long"))
        return
    lines = [texts("sv_link_result", name=survey.name, link=link)]
    if ctx.config.whatsapp_number:
        lines.append(texts("wa_link", link=whatsapp_link(ctx.config.whatsapp_number, payload)))
    if not survey.active:
        lines.append(texts("sv_link_inactive"))
    if source and is_anonymous(survey.kind):
        lines.append(texts("sv_link_enps_source"))
    ctx.out.send(event.chat_id, "\n".join(lines))


async def on_survey_action(event: ButtonPress, action: SurveyAction, ctx: UpdateContext) -> None:
    """Opens a survey's card, starts an edit, (de)activates it or makes it the default."""
    texts = ctx.texts
    if action.action == "new":
        ctx.out.answer(event.callback_id)
        await start_create(ctx, event.chat_id, event.sender.id)
        return
    if action.action == "list":
        ctx.out.answer(event.callback_id)
        html, keyboard = await listing(ctx)
        show(ctx, event, html, keyboard)
        return
    survey = await ctx.store.surveys.get(action.survey_id)
    if survey is None:
        ctx.out.answer(event.callback_id, texts.plain("stale_button"), alert=True)
        return
    if action.action in EDITS:
        ctx.out.answer(event.callback_id)
        await start_edit(ctx, event.chat_id, event.sender.id, survey, EDITS[action.action])
        return
    if action.action == "off" and survey.is_default:
        ctx.out.answer(event.callback_id, texts.plain("sv_cannot_deactivate_default"), alert=True)
        return
    if action.action == "default" and not survey.active:
        ctx.out.answer(event.callback_id, texts.plain("sv_default_needs_active"), alert=True)
        return
    if action.action in ("phone_on", "phone_off") and is_anonymous(survey.kind):
        ctx.out.answer(event.callback_id, texts.plain("ph_card_anonymous"), alert=True)
        return
    if action.action in ("on", "off"):
        survey = await ctx.store.surveys.update(survey.id, active=action.action == "on")
        assert survey is not None  # read above, in this transaction
        note = "sv_activated" if survey.active else "sv_deactivated"
    elif action.action == "default":
        survey = await ctx.store.surveys.make_default(survey.id)
        assert survey is not None  # read above, in this transaction
        note = "sv_made_default"
    elif action.action in ("phone_on", "phone_off"):
        # The thank-you offers to share the phone number (handlers/phones.py).
        survey = await ctx.store.surveys.update(survey.id, ask_phone=action.action == "phone_on")
        assert survey is not None  # read above, in this transaction
        note = "ph_card_now_asked" if survey.ask_phone else "ph_card_now_not_asked"
    elif action.action == "open":
        note = None
    else:
        ctx.out.answer(event.callback_id, texts.plain("bad_button"), alert=True)
        return
    ctx.out.answer(event.callback_id, texts.plain(note, name=survey.name) if note else None)
    html, keyboard = await card(ctx, survey)
    show(ctx, event, html, keyboard)

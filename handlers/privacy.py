"""Personal data: /mydata shows it; /forgetme and an admin's /forget erase it.

Erasing detaches answers instead of deleting them: the score histograms keep counting
them, so every NPS figure stays what it was (see PrivacyRepo.forget for what is kept).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from handlers.access import role_of
from handlers.callbacks import Payload, pack, payload
from handlers.context import UpdateContext
from handlers.events import ButtonPress, Command, IncomingMessage
from handlers.forget_target import forget_target, person_label, whatsapp_chat
from handlers.port import Button, Keyboard
from handlers.staff import describe_user
from handlers.texts import TextsLike
from nps.phones import display_phone
from storage.models import Channel
from storage.repos.privacy import Erased, PersonalData

# Answers listed in the /mydata message; the attached file has all of them.
SHOWN_ANSWERS = 10
SHOWN_COMMENT = 120


@payload("fm")
@dataclass(frozen=True)
class ForgetMe(Payload):
    """The user's answer to "erase my data?" (1 erase, 0 keep)."""

    confirm: int


@payload("fu")
@dataclass(frozen=True)
class ForgetUser(Payload):
    """An admin's answer to "erase this user's data?" (1 erase, 0 keep)."""

    user_id: int
    confirm: int


@payload("fp")
@dataclass(frozen=True)
class ForgetPerson(Payload):
    """An admin's answer to "erase this person's data?" for a person named by a phone
    number or a WhatsApp id (their internal id; 1 erase, 0 keep)."""

    person_id: int
    confirm: int


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _day(ctx: UpdateContext, moment: datetime | None) -> str:
    return moment.astimezone(ctx.store.stats.tz).date().isoformat() if moment else "—"


def _clip(text: str) -> str:
    return text if len(text) <= SHOWN_COMMENT else text[: SHOWN_COMMENT - 1] + "…"


def as_json(data: PersonalData, role: str | None, now: datetime) -> dict[str, Any]:
    """Everything stored about the user, as the /mydata file holds it."""
    respondent = data.respondent
    profile = None
    if respondent is not None:
        profile = {
            "person_id": respondent.id,
            "telegram_user_id": respondent.telegram_id,
            "chat_id": respondent.chat_id,
            # Every way the bot reaches the person (Telegram, phone, WhatsApp…).
            "addresses": [
                {"channel": channel, "address": address, "chat": chat}
                for channel, address, chat in data.addresses
            ],
            "first_name": respondent.first_name,
            "username": respondent.username,
            "telegram_language": respondent.telegram_language,
            "chosen_language": respondent.language_override,
            "subscribed": respondent.subscribed,
            "unreachable": respondent.unreachable,
            "came_from_source": respondent.source,
            "came_from_agent": respondent.agent,
            "first_contact_at": _iso(respondent.started_at),
            "last_seen_at": _iso(respondent.last_seen_at),
        }
    answers = [
        {
            "survey": record.survey.slug,
            "survey_name": record.survey.name,
            "step": record.response.step,
            "score": record.response.score,
            "why": record.response.why,
            "improve": record.response.improve,
            "language": record.response.language,
            "source": record.response.source,
            "agent": record.response.agent,
            "campaign": record.response.campaign,
            "attributes": record.response.attributes,
            "start_payload": record.response.start_payload,
            "channel": record.response.channel,
            "messenger": record.response.messenger,
            "asked_at": _iso(record.response.asked_at),
            "scored_at": _iso(record.response.scored_at),
            "completed_at": _iso(record.response.completed_at),
        }
        for record in data.answers
    ]
    return {
        "generated_at": now.isoformat(),
        "telegram_user_id": respondent.telegram_id if respondent else data.user_id,
        "profile": profile,
        "team_role": role,
        "answers": answers,
        "anonymous_surveys_answered": [
            {"survey": s.slug, "survey_name": s.name} for s in data.anonymous_surveys
        ],
        "anonymous_conversation_open": data.anonymous_open,
        "survey_dialog_open": data.in_dialog,
        # Every other table that holds something about the user, rows as stored.
        "records": data.records,
    }


def render(ctx: UpdateContext, data: PersonalData, role: str | None) -> str:
    """The /mydata message: the profile, the latest answers, anonymous participation."""
    texts = ctx.texts
    lines = [texts("pv_mydata_title")]
    respondent = data.respondent
    if respondent is not None:
        name = respondent.first_name or "—"
        if respondent.telegram_id is not None:
            lines.append(
                texts(
                    "pv_mydata_profile",
                    name=name,
                    username=f"@{respondent.username}" if respondent.username else "—",
                    id=respondent.telegram_id,
                )
            )
        else:  # reached on WhatsApp, or known only by a number
            lines.append(texts("tr_mydata_profile", name=name))
        lines.append(
            texts(
                "pv_mydata_settings",
                language=respondent.language_override or "—",
                telegram=respondent.telegram_language or "—",
                subscribed=texts.plain("pv_yes" if respondent.subscribed else "pv_no"),
                since=_day(ctx, respondent.started_at),
                seen=_day(ctx, respondent.last_seen_at),
            )
        )
        phones = [a for channel, a, _ in data.addresses if channel == Channel.PHONE]
        if phones:  # shared from Telegram or imported (/phone removes it)
            shown = ", ".join(display_phone(phone) for phone in phones)
            lines.append(texts("ph_mydata_line", phone=shown))
        whatsapp = [a for channel, a, _ in data.addresses if channel == Channel.WHATSAPP]
        if whatsapp:
            shown = ", ".join(display_phone("+" + wa_id) for wa_id in whatsapp)
            lines.append(texts("tr_mydata_whatsapp", number=shown))
        if respondent.source or respondent.agent:
            lines.append(
                texts(
                    "pv_mydata_origin",
                    source=respondent.source or "—",
                    agent=respondent.agent or "—",
                )
            )
    contact = data.contact
    if contact is not None:
        lines.append(
            texts(
                "pv_mydata_contact",
                **{key: contact[key] or "—" for key in ("name", "language", "source", "agent")},
            )
        )
    if role:
        lines.append(texts("pv_mydata_role", role=role))
    others = [
        f"{table} ({len(rows)})" for table, rows in data.records.items() if table != "contacts"
    ]
    if others:
        lines.append(texts("pv_mydata_records", tables=", ".join(others)))
    lines.append("")
    if data.answers:
        lines.append(texts("pv_mydata_answers", n=len(data.answers)))
        for record in data.answers[-SHOWN_ANSWERS:]:
            response = record.response
            line = texts(
                "pv_mydata_answer",
                day=_day(ctx, response.asked_at),
                survey=record.survey.name,
                score="—" if response.score is None else response.score,
            )
            comments = [c for c in (response.why, response.improve) if c]
            if comments:
                line += " — " + " · ".join(
                    f"«{html.escape(_clip(c), quote=False)}»" for c in comments
                )
            lines.append(line)
        if len(data.answers) > SHOWN_ANSWERS:
            lines.append(texts("pv_mydata_more", n=len(data.answers) - SHOWN_ANSWERS))
    else:
        lines.append(texts("pv_mydata_no_answers"))
    if data.anonymous_surveys:
        names = ", ".join(s.name for s in data.anonymous_surveys)
        lines.append(texts("pv_mydata_anonymous", surveys=names))
    if data.anonymous_open:
        lines.append(texts("pv_mydata_anonymous_open"))
    lines.append("")
    lines.append(texts("pv_mydata_footer"))
    return "\n".join(lines)


async def on_mydata(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Sends the user what the bot stores about them: a summary and a JSON file."""
    user_id = event.sender.id
    data = await ctx.store.privacy.collect(user_id)
    granted = await role_of(ctx, user_id)
    role = granted.name.lower() if granted else None
    ctx.out.send(event.chat_id, render(ctx, data, role))
    document = json.dumps(as_json(data, role, ctx.now), ensure_ascii=False, indent=2)
    # Named by the Telegram id, else the person's internal id (a WhatsApp chat's is long).
    respondent = data.respondent
    named = (respondent.telegram_id or respondent.id) if respondent is not None else user_id
    ctx.out.document(
        event.chat_id,
        f"mydata-{named}.json",
        document.encode(),
        ctx.texts("pv_mydata_caption"),
    )


def _confirm_keyboard(texts: TextsLike, yes: Payload, no: Payload) -> Keyboard:
    return Keyboard.of(
        [Button(texts.plain("pv_btn_erase"), pack(yes))],
        [Button(texts.plain("pv_btn_keep"), pack(no))],
    )


async def on_forget_me(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Explains what erasing means and asks the user to confirm it."""
    data = await ctx.store.privacy.collect(event.sender.id)
    ctx.out.send(
        event.chat_id,
        ctx.texts("pv_forgetme_confirm", answers=len(data.answers)),
        _confirm_keyboard(ctx.texts, ForgetMe(1), ForgetMe(0)),
    )


async def erase(ctx: UpdateContext, user_id: int) -> Erased:
    """Erases a user's personal data here and in every feature that keeps some (features
    first: they may look the person up by the Telegram id, whose address goes below)."""
    for forget in ctx.hooks.forgetters:
        await forget(ctx, user_id)
    erased = await ctx.store.privacy.forget(user_id)
    return erased


async def erase_person(ctx: UpdateContext, person_id: int) -> Erased:
    """Erases the person with this internal id: as their Telegram or WhatsApp sender when
    they have one (the features' erasers run), else from the registry alone."""
    person = await ctx.store.respondents.get(person_id)
    if person is None:
        return Erased(profile=False, answers=0)
    sender = person.telegram_id or await whatsapp_chat(ctx, person_id)
    if sender is not None:
        return await erase(ctx, sender)
    return await ctx.store.privacy.forget_person(person_id)


def _reply(ctx: UpdateContext, event: ButtonPress, html: str) -> None:
    """Replaces the confirmation (its buttons go), or says it anew."""
    if event.message_id is not None:
        ctx.out.edit(event.chat_id, event.message_id, html)
    else:
        ctx.out.send(event.chat_id, html)


async def on_forget_me_pressed(event: ButtonPress, choice: ForgetMe, ctx: UpdateContext) -> None:
    """Erases the user's data once they confirmed; Cancel leaves everything as it was."""
    ctx.out.answer(event.callback_id)
    if not choice.confirm:
        _reply(ctx, event, ctx.texts("pv_forgetme_cancelled"))
        return
    erased = await erase(ctx, event.sender.id)
    _reply(ctx, event, ctx.texts("pv_forgetme_done", answers=erased.answers))


async def on_forget(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Asks an admin to confirm erasing a person's data (`/forget <user id or @username>`,
    or a phone number or WhatsApp id: handlers/forget_target.py)."""
    parts = command.args.split()
    if len(parts) != 1:
        usage = ctx.texts("pv_forget_usage") + "\n" + ctx.texts("tr_forget_usage_numbers")
        ctx.out.send(event.chat_id, usage)
        return
    target = await forget_target(ctx, event.chat_id, parts[0])
    if target is None:
        return
    if target.person_id is not None:
        person_id = target.person_id
        found = await ctx.store.privacy.collect_person(person_id)
        ctx.out.send(
            event.chat_id,
            ctx.texts(
                "pv_forget_confirm",
                who=await person_label(ctx, person_id),
                answers=len(found.answers),
            ),
            _confirm_keyboard(ctx.texts, ForgetPerson(person_id, 1), ForgetPerson(person_id, 0)),
        )
        return
    user_id = target.user_id
    assert user_id is not None
    data = await ctx.store.privacy.collect(user_id)
    if data.empty:
        ctx.out.send(event.chat_id, ctx.texts("pv_forget_nothing", who=user_id))
        return
    ctx.out.send(
        event.chat_id,
        ctx.texts(
            "pv_forget_confirm", who=await describe_user(ctx, user_id), answers=len(data.answers)
        ),
        _confirm_keyboard(ctx.texts, ForgetUser(user_id, 1), ForgetUser(user_id, 0)),
    )


async def on_forget_user_pressed(
    event: ButtonPress, choice: ForgetUser, ctx: UpdateContext
) -> None:
    """Erases the user's data once the admin confirmed; Cancel keeps it."""
    ctx.out.answer(event.callback_id)
    if not choice.confirm:
        _reply(ctx, event, ctx.texts("pv_forget_cancelled", who=choice.user_id))
        return
    erased = await erase(ctx, choice.user_id)
    _reply(ctx, event, ctx.texts("pv_forget_done", who=choice.user_id, answers=erased.answers))


async def on_forget_person_pressed(
    event: ButtonPress, choice: ForgetPerson, ctx: UpdateContext
) -> None:
    """Erases a person named by a number once the admin confirmed; Cancel keeps it."""
    ctx.out.answer(event.callback_id)
    who = await person_label(ctx, choice.person_id)
    if not choice.confirm:
        _reply(ctx, event, ctx.texts("pv_forget_cancelled", who=who))
        return
    erased = await erase_person(ctx, choice.person_id)
    _reply(ctx, event, ctx.texts("pv_forget_done", who=who, answers=erased.answers))

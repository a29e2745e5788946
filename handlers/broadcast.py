"""`/broadcast <survey> [segment]`: preview, Confirm / Cancel, and the progress texts.

Nothing is sent from here: Confirm turns the draft into a running broadcast (a row per
recipient) and the sending worker (bot/broadcast/worker.py) does the rest, editing the
same message with its progress (its texts: handlers/broadcast_messages.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from handlers.audience import SegmentError, describe_segment, parse_segment
from handlers.broadcast_messages import (
    BroadcastStop,
    duration,
    number,
    progress_html,
    question_html,
    segment_label,
    stop_keyboard,
)
from handlers.broadcast_split import (
    assign_arms,
    drawn_line,
    messaged,
    preview_lines,
    save_split,
)
from handlers.callbacks import Payload, pack, payload
from handlers.context import UpdateContext
from handlers.events import ButtonPress, Command, IncomingMessage
from handlers.kinds import for_kind, is_anonymous
from handlers.port import Button, Keyboard, after_send_kind
from handlers.respondent_messages import keyboard_preview
from nps.ab_split import SplitError, parse_split, split_off
from storage.broadcast_models import Broadcast, BroadcastStatus, RecipientStatus
from storage.repos.audience import EXCLUSIONS, AudiencePreview, Fatigue
from storage.repos.broadcasts import Tally
from storage.repos.surveys import SurveyView
from storage.store import Store

# A preview older than this must be made again: the audience may have changed a lot.
DRAFT_LIFETIME = timedelta(hours=1)
SEGMENT_EXAMPLES = "lang:ru · source:shop · agent:olga · promoters · passives · detractors · never"


@payload("bcgo")
@dataclass(frozen=True)
class BroadcastConfirm(Payload):
    """Confirm on a broadcast preview: start sending."""

    broadcast_id: int


# --- /broadcast ---------------------------------------------------------------------------


def fatigue_of(ctx: UpdateContext) -> Fatigue:
    """The quiet periods from the settings."""
    return Fatigue(
        ctx.config.survey_cooldown_days,
        ctx.config.any_survey_cooldown_days,
        whatsapp=ctx.config.whatsapp_enabled,
    )


async def _active_slugs(ctx: UpdateContext) -> str:
    surveys = await ctx.store.surveys.all()
    return ", ".join(s.slug for s in surveys if s.active) or "—"


async def on_broadcast(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Previews a broadcast: the question, who gets it, who not and why, how long it takes."""
    texts = ctx.texts
    slug, _, rest = command.args.strip().partition(" ")
    if not slug:
        ctx.out.send(
            event.chat_id,
            texts("bc_usage", surveys=await _active_slugs(ctx), segments=SEGMENT_EXAMPLES),
        )
        return
    survey = await ctx.store.surveys.by_slug(slug)
    if survey is None or not survey.active:
        ctx.out.send(
            event.chat_id,
            texts("bc_unknown_survey", slug=slug, surveys=await _active_slugs(ctx)),
        )
        return
    if is_anonymous(survey.kind):
        # A broadcast ties each message to a person (recipient rows, response rows); eNPS
        # answers must not be. Employees get the survey's link instead.
        ctx.out.send(event.chat_id, texts("bc_enps_refused", slug=slug))
        return
    # `… split A:"text" B:"text" control 10%`: an A/B broadcast (handlers/broadcast_split.py).
    rest, split_words = split_off(rest)
    split = None
    if split_words is not None:
        try:
            split = parse_split(split_words)
        except SplitError as exc:
            ctx.out.send(event.chat_id, texts(exc.key, **exc.values))
            return
    try:
        segment = parse_segment(rest)
    except SegmentError as exc:
        ctx.out.send(
            event.chat_id,
            texts("bc_bad_segment", term=exc.term, slug=slug, segments=SEGMENT_EXAMPLES),
        )
        return
    fatigue = fatigue_of(ctx)
    preview = await ctx.store.audience.preview(
        survey.id, segment, fatigue, ctx.now, owners=ctx.config.admin_ids
    )
    segment_text = describe_segment(segment)
    html = _preview_html(ctx, survey, segment_text, preview, fatigue)
    if split is not None:
        html += "\n" + "\n".join(preview_lines(ctx, split, preview.eligible))
    if not preview.eligible:
        ctx.out.send(event.chat_id, f"{html}\n\n{texts('bc_nobody')}")
        return
    draft = await ctx.store.broadcasts.create_draft(
        survey_id=survey.id,
        segment=segment_text,
        created_by=event.sender.id,
        chat_id=event.chat_id,
        language=ctx.language,
        now=ctx.now,
    )
    if split is not None:
        await save_split(ctx.store, draft.id, split)
    keyboard = Keyboard.of(
        [
            Button(
                # A held-back control group is not messaged: not counted on the button.
                texts.plain(
                    "bc_confirm_button", count=number(texts, messaged(split, preview.eligible))
                ),
                pack(BroadcastConfirm(draft.id)),
            ),
            Button(texts.plain("bc_cancel_button"), pack(BroadcastStop(draft.id))),
        ]
    )
    ctx.out.send(event.chat_id, html, keyboard, after=_remember_preview(draft.id))


@after_send_kind("broadcast.preview")
async def _remember_preview(store: Store, message_id: int, broadcast_id: int) -> None:
    """Records which message is the preview: only it confirms, and progress edits go to it.

    A registered kind, so a preview re-sent from the persisted outbox is bound too.
    """
    await store.broadcasts.remember_preview(broadcast_id, message_id)


def _preview_language(ctx: UpdateContext, preview: AudiencePreview) -> tuple[str, list[str]]:
    """The most common recipient language (the preview shows the question in it)."""
    counts: dict[str, int] = {}
    for code, count in preview.languages.items():
        language = ctx.catalogs.resolve(code, None)
        counts[language] = counts.get(language, 0) + count
    ordered = sorted(counts, key=lambda code: (-counts[code], code))
    parts = [f"{code} {number(ctx.texts, counts[code])}" for code in ordered]
    return (ordered[0] if ordered else ctx.language), parts


def _preview_html(
    ctx: UpdateContext,
    survey: SurveyView,
    segment_text: str,
    preview: AudiencePreview,
    fatigue: Fatigue,
) -> str:
    texts = ctx.texts
    language, by_language = _preview_language(ctx, preview)
    survey_texts = for_kind(
        ctx.catalogs.texts(language, survey.texts), survey.kind, survey.texts, language
    )
    brand = ctx.brand_of(survey)
    name = ctx.respondent.first_name if ctx.respondent is not None else None
    keyboard_hint = keyboard_preview(survey.kind)  # the kind's scale: 0–10, 1–5 ⭐, 1–7
    lines = [
        texts("bc_preview_title", survey=survey.name, segment=segment_label(texts, segment_text)),
        texts("bc_preview_intro", language=survey_texts.plain("language_name")),
        "",
        question_html(survey_texts, brand, name),
        keyboard_hint,
        "",
        texts(
            "bc_recipients",
            count=number(texts, preview.eligible),
            languages=" · ".join(by_language) or "—",
        ),
    ]
    excluded = sum(preview.excluded.values())
    if excluded:
        lines.append(texts("bc_excluded", count=number(texts, excluded)))
        days = {
            "same_survey": fatigue.survey_days,
            "any_survey": fatigue.any_days,
        }
        for reason in EXCLUSIONS:
            count = preview.excluded[reason]
            if count:
                lines.append(
                    texts(
                        f"bc_excluded_{reason}",
                        count=number(texts, count),
                        days=days.get(reason, 0),
                    )
                )
    if preview.team or preview.employees:
        # Customer broadcasts reach customers only; the team tests with /start.
        lines.append(_not_customers(ctx, preview))
    if preview.not_started:
        lines.append(texts("bc_not_started", count=number(texts, preview.not_started)))
    if preview.eligible:
        rate = ctx.config.broadcast_rate
        lines.append(
            texts(
                "bc_estimate",
                duration=duration(texts, preview.eligible / rate),
                rate=f"{rate:g}",
            )
        )
    return "\n".join(lines)


def _not_customers(ctx: UpdateContext, preview: AudiencePreview) -> str:
    """ "Not included: 3 team members and 2 employees" (only the non-zero parts)."""
    texts = ctx.texts
    parts = []
    if preview.team:
        parts.append(texts.plain("bc_team_members", count=number(texts, preview.team)))
    if preview.employees:
        parts.append(texts.plain("bc_employees", count=number(texts, preview.employees)))
    joined = (
        texts.plain("bc_and", first=parts[0], second=parts[1]) if len(parts) == 2 else parts[0]
    )
    return texts("bc_not_customers", who=joined)


async def _broadcast_of(
    event: ButtonPress, broadcast_id: int, ctx: UpdateContext
) -> Broadcast | None:
    """The broadcast a button names (a "bad button" alert when it is gone)."""
    broadcast = await ctx.store.broadcasts.get(broadcast_id)
    if broadcast is None:
        ctx.out.answer(event.callback_id, ctx.texts.plain("bad_button"), alert=True)
    return broadcast


def _pressed_on_its_message(event: ButtonPress, broadcast: Broadcast, ctx: UpdateContext) -> bool:
    """False (with an alert) for a button pressed anywhere but on the broadcast's own message.

    A Confirm or Cancel carries only the broadcast id, which anyone can copy into a button
    of another message; the id of the message it was pressed on cannot be forged.
    """
    if (
        event.chat_id == broadcast.admin_chat_id
        and event.message_id is not None
        and event.message_id == broadcast.progress_message_id
    ):
        return True
    ctx.out.answer(event.callback_id, ctx.texts.plain("bc_not_this_message"), alert=True)
    return False


async def on_confirm(event: ButtonPress, confirm: BroadcastConfirm, ctx: UpdateContext) -> None:
    """Starts sending a previewed broadcast; the preview becomes the progress message."""
    broadcast = await _broadcast_of(event, confirm.broadcast_id, ctx)
    if broadcast is None or not _pressed_on_its_message(event, broadcast, ctx):
        return
    if event.sender.id != broadcast.created_by:
        # Sending is the decision of whoever made the preview, even in a shared chat.
        ctx.out.answer(event.callback_id, ctx.texts.plain("bc_not_your_preview"), alert=True)
        return
    survey = await ctx.store.surveys.get(broadcast.survey_id)
    assert survey is not None  # foreign key; surveys are deactivated, never deleted
    texts = ctx.texts
    if broadcast.status != BroadcastStatus.DRAFT:
        ctx.out.answer(event.callback_id, texts.plain("bc_already_handled"), alert=True)
        return
    if broadcast.created_at < ctx.now - DRAFT_LIFETIME:
        await ctx.store.broadcasts.discard(broadcast.id)
        ctx.out.answer(event.callback_id, texts.plain("bc_expired"), alert=True)
        if event.message_id is not None:
            ctx.out.edit(event.chat_id, event.message_id, texts("bc_expired"))
        return
    total = await ctx.store.broadcasts.start(
        broadcast.id,
        parse_segment(broadcast.segment),
        fatigue_of(ctx),
        ctx.now,
        broadcast.progress_message_id,
        owners=ctx.config.admin_ids,
    )
    if total is None:  # a second press raced this one
        ctx.out.answer(event.callback_id, texts.plain("bc_already_handled"), alert=True)
        return
    # An A/B broadcast: everyone's arm is drawn and stored now, with the recipients, so
    # it is fixed before the first message (a restart never draws again).
    drawn = await assign_arms(ctx.store, broadcast.id)
    ctx.out.answer(event.callback_id, texts.plain("bc_started"))
    # A split broadcast reads its rows back: a held-back control group is not "to send".
    tally = (
        await ctx.store.broadcasts.tally(broadcast.id)
        if drawn
        else Tally({RecipientStatus.PENDING.value: total})
    )
    # An unfinished progress message shows the segment, which starting does not change.
    html = progress_html(
        texts,
        survey,
        broadcast,
        tally,
        elapsed=0.0,
        rate=ctx.config.broadcast_rate,
        finished=False,
    )
    if broadcast.progress_message_id is not None:
        ctx.out.edit(
            broadcast.admin_chat_id,
            broadcast.progress_message_id,
            html,
            stop_keyboard(texts, broadcast.id),
        )
    if drawn:
        ctx.out.send(broadcast.admin_chat_id, drawn_line(ctx, drawn))


async def on_stop(event: ButtonPress, stop: BroadcastStop, ctx: UpdateContext) -> None:
    """Cancel: drops a preview, or stops a running broadcast (messages in flight finish)."""
    broadcast = await _broadcast_of(event, stop.broadcast_id, ctx)
    if broadcast is None or not _pressed_on_its_message(event, broadcast, ctx):
        return
    texts = ctx.texts
    if broadcast.status == BroadcastStatus.DRAFT:
        await ctx.store.broadcasts.discard(broadcast.id)
        ctx.out.answer(event.callback_id)
        if event.message_id is not None:
            ctx.out.edit(event.chat_id, event.message_id, texts("bc_discarded"))
        return
    if broadcast.status == BroadcastStatus.RUNNING and await ctx.store.broadcasts.cancel(
        broadcast.id, event.sender.id
    ):
        # The worker edits this message into the final figures once in-flight sends end.
        ctx.out.answer(event.callback_id, texts.plain("bc_cancelling"))
        return
    ctx.out.answer(event.callback_id, texts.plain("bc_already_handled"), alert=True)

"""The messages of a broadcast, shared by the /broadcast preview and the sending worker
(bot/broadcast/worker.py): the question, the progress message with its Cancel button, and
the final summary."""

from __future__ import annotations

import math
from dataclasses import dataclass

from handlers.callbacks import Payload, pack, payload
from handlers.port import Button, Keyboard
from handlers.respondent_messages import score_question
from handlers.texts import TextsLike
from storage.broadcast_models import Broadcast, BroadcastStatus, RecipientStatus
from storage.repos.broadcasts import Tally
from storage.repos.surveys import SurveyView


@payload("bcstop")
@dataclass(frozen=True)
class BroadcastStop(Payload):
    """Cancel on a preview (nothing is sent) or on the progress message (stop sending)."""

    broadcast_id: int


def number(texts: TextsLike, value: int) -> str:
    """1234567 → "1,234,567" with the language's thousands separator."""
    return f"{value:,}".replace(",", texts.plain("bc_thousands"))


def duration(texts: TextsLike, seconds: float) -> str:
    """A short human duration: "41 s", "5 min 34 s", "2 h 5 min"."""
    total = max(1, math.ceil(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return texts.plain("bc_duration_h", hours=hours, minutes=minutes)
    if minutes:
        return texts.plain("bc_duration_min", minutes=minutes, seconds=secs)
    return texts.plain("bc_duration_s", seconds=secs)


def question_html(texts: TextsLike, brand: str, first_name: str | None) -> str:
    """The broadcast message: a greeting and the 0–10 question, in one message."""
    if first_name:
        greeting = texts("greeting", name=first_name, brand=brand)
    else:
        greeting = texts("greeting_anonymous", brand=brand)
    return f"{greeting}\n\n{score_question(texts, brand)}"


def segment_label(texts: TextsLike, segment_text: str) -> str:
    """The segment as shown to admins."""
    return segment_text or texts.plain("bc_everyone")


def progress_html(
    texts: TextsLike,
    survey: SurveyView,
    broadcast: Broadcast,
    tally: Tally,
    *,
    elapsed: float,
    rate: float,
    finished: bool,
) -> str:
    """The progress message: counts, what is left and the estimated time, or the result."""
    title = texts("bc_title", survey=survey.name, segment=segment_label(texts, broadcast.segment))
    counts = texts(
        "bc_counts",
        sent=number(texts, tally.delivered),
        unreachable=number(texts, tally[RecipientStatus.UNREACHABLE]),
        failed=number(texts, tally[RecipientStatus.FAILED]),
        remaining=number(texts, tally.remaining),
    )
    lines = [title]
    if finished:
        key = "bc_cancelled_after" if broadcast.status == BroadcastStatus.CANCELLED else "bc_done"
        lines.append(texts(key, elapsed=duration(texts, elapsed)))
    else:
        lines.append(
            texts(
                "bc_sending",
                handled=number(texts, tally.handled),
                total=number(texts, tally.total),
            )
        )
    lines.append(counts)
    skipped = tally[RecipientStatus.SKIPPED]
    cancelled = tally[RecipientStatus.CANCELLED]
    if skipped:
        lines.append(texts("bc_skipped", count=number(texts, skipped)))
    if cancelled:
        lines.append(texts("bc_not_sent_cancelled", count=number(texts, cancelled)))
    uncertain = tally[RecipientStatus.UNCERTAIN]
    if uncertain:
        lines.append(texts("bc_uncertain", count=number(texts, uncertain)))
    if tally.held_back:
        # An A/B broadcast's control group held back (`control 10% none`): not a failure.
        lines.append(texts("bc_held_back", count=number(texts, tally.held_back)))
    if not finished and tally.remaining:
        # Observed pace once there is one, else the configured rate.
        pace = tally.handled / elapsed if elapsed >= 2 and tally.handled else rate
        lines.append(texts("bc_eta", eta=duration(texts, tally.remaining / max(pace, 0.01))))
    return "\n".join(lines)


def summary_html(texts: TextsLike, survey: SurveyView, broadcast: Broadcast, tally: Tally) -> str:
    """The final summary, sent as a new message so the admin is notified."""
    key = (
        "bc_summary_cancelled"
        if broadcast.status == BroadcastStatus.CANCELLED
        else "bc_summary_done"
    )
    summary = texts(
        key,
        survey=survey.name,
        sent=number(texts, tally.delivered),
        total=number(texts, tally.total),
        unreachable=number(texts, tally[RecipientStatus.UNREACHABLE]),
        failed=number(texts, tally[RecipientStatus.FAILED]),
    )
    if tally.held_back:
        summary += "\n" + texts("bc_held_back", count=number(texts, tally.held_back))
    return summary


def stop_keyboard(texts: TextsLike, broadcast_id: int) -> Keyboard:
    """The Cancel button under the progress message."""
    return Keyboard.of(
        [Button(texts.plain("bc_cancel_button"), pack(BroadcastStop(broadcast_id)))]
    )

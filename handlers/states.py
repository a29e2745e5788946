"""The respondent's conversation: its states and transitions, in one place.

A response is a row whose `step` (storage.models.Step, the enum the column stores) says
where its conversation stands:

    SCORE ──0–10──▶ WHY ──reason / Skip──▶ IMPROVE ──text / Skip──▶ DONE
      └────────────────┴───────────────────────┴──a newer survey──▶ CLOSED

Storage moves a row on with conditional updates (first writer wins) and, being below
handlers, cannot import this table: its statements spell the same steps, and
tests/storage/test_conversation_states.py fails when they disagree with it.
"""

from __future__ import annotations

from nps.nps_math import classify
from nps.scales import scale_of
from storage.models import OPEN_STEPS, Step

__all__ = ["FINAL_STEPS", "INTERRUPTED", "NEXT_STEP", "OPEN_STEPS", "TEXT_STEPS", "Step"]

# An answer moves a response one step on: storage's record_score, record_why and
# record_improve, in that order.
NEXT_STEP: dict[Step, Step] = {
    Step.SCORE: Step.WHY,
    Step.WHY: Step.IMPROVE,
    Step.IMPROVE: Step.DONE,
}

# Where a newer survey (or an erasure, a broadcast's new question) puts an unfinished one:
# from any of OPEN_STEPS, the steps that still wait for an answer (the keys above).
INTERRUPTED = Step.CLOSED

# Nothing more is expected of a response at these steps.
FINAL_STEPS = (Step.DONE, Step.CLOSED)

# Follow-up steps answered with free text (and skippable).
TEXT_STEPS = (Step.WHY, Step.IMPROVE)


def group_of(score: int, kind: str | None = None) -> str:
    """promoter (9–10), passive (7–8) or detractor (0–6), as catalog keys spell it; for a
    CSAT or CES survey (`kind`) its high, middle or low group (nps/scales.py)."""
    if kind is None:
        return classify(score).value
    return scale_of(kind).group(score).value

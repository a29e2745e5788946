"""The survey conversation's states and transitions, in one place."""

from __future__ import annotations

from bot.reports.nps_math import classify
from storage.models import Step

# score → why → improve → done; a newer survey closes an unfinished one.
NEXT_STEP: dict[Step, Step] = {
    Step.SCORE: Step.WHY,
    Step.WHY: Step.IMPROVE,
    Step.IMPROVE: Step.DONE,
}

# Follow-up steps answered with free text (and skippable).
TEXT_STEPS = (Step.WHY, Step.IMPROVE)


def group_of(score: int) -> str:
    """promoter (9–10), passive (7–8) or detractor (0–6), as catalog keys spell it."""
    return classify(score).value

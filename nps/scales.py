"""Answer scales of the survey kinds: NPS and eNPS 0–10, CSAT 1–5, CES 1–7.

Pure (no I/O). Every kind stores its score in the same column and the same 11-count histogram
(index = score), so only the range and the three groups differ between kinds. The groups reuse
nps_math.Group: PROMOTER is the high group, PASSIVE the middle one, DETRACTOR the low one
(a low score is what raises an alert).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from nps.nps_math import Group, classify

__all__ = ["CES", "CSAT", "ENPS", "NPS", "SCALES", "Scale", "scale_of"]

NPS: Final = "nps"
ENPS: Final = "enps"
CSAT: Final = "csat"
CES: Final = "ces"


@dataclass(frozen=True)
class Scale:
    """The scores a kind of survey accepts and where its high and low groups begin."""

    kind: str
    lowest: int
    highest: int
    #: Scores at or above this are the high group (NPS promoters).
    high_from: int
    #: Scores at or below this are the low group (NPS detractors).
    low_to: int

    def scores(self) -> range:
        """lowest..highest inclusive."""
        return range(self.lowest, self.highest + 1)

    def contains(self, score: int) -> bool:
        """True when score is an int on this scale (bool is not a score)."""
        return (
            isinstance(score, int)
            and not isinstance(score, bool)
            and self.lowest <= score <= self.highest
        )

    def group(self, score: int) -> Group:
        """PROMOTER (high), PASSIVE (middle) or DETRACTOR (low); ValueError off the scale."""
        if not self.contains(score):
            raise ValueError(
                f"A {self.kind} score must be from {self.lowest} to {self.highest}, got {score!r}."
            )
        if self.kind in (NPS, ENPS):
            # One rule for NPS, kept in nps_math.
            return classify(score)
        if score >= self.high_from:
            return Group.PROMOTER
        if score <= self.low_to:
            return Group.DETRACTOR
        return Group.PASSIVE

    def is_low(self, score: int) -> bool:
        """True when the score is in the low group: alerts fire for it."""
        return self.group(score) is Group.DETRACTOR


SCALES: Final[dict[str, Scale]] = {
    NPS: Scale(NPS, 0, 10, high_from=9, low_to=6),
    ENPS: Scale(ENPS, 0, 10, high_from=9, low_to=6),
    # CSAT: satisfied 4–5, neutral 3, dissatisfied 1–2.
    CSAT: Scale(CSAT, 1, 5, high_from=4, low_to=2),
    # CES (7 = very easy): easy 5–7, neutral 4, difficult 1–3.
    CES: Scale(CES, 1, 7, high_from=5, low_to=3),
}


def scale_of(kind: str | None) -> Scale:
    """The scale of a survey kind; an unknown or missing kind is NPS (surveys before kinds)."""
    return SCALES.get(kind or NPS, SCALES[NPS])

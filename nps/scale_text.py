"""A score written with its scale where the scale is not 0–10: "2 of 5 ⭐" (CSAT), "3 of 7"
(CES); NPS and eNPS scores stay bare numbers. Shared by /comments and the daily digest."""

from __future__ import annotations

from nps.nps_report import Texts
from nps.scales import CES, CSAT, scale_of

#: The kinds whose scores are written with their scale.
SCALED_KINDS = (CSAT, CES)


def score_text(kind: str, score: int, texts: Texts) -> str:
    """The score as HTML: NPS's "<b>7</b>", CSAT's "<b>2</b> of 5 ⭐", CES's "<b>3</b> of 7"
    (a 3 read as an NPS score would be a harsh detractor; on CES it is a middling answer)."""
    if kind not in SCALED_KINDS:
        return f"<b>{score}</b>"
    text = texts("score_of_scale", score=score, highest=scale_of(kind).highest)
    return f"{text} ⭐" if kind == CSAT else text

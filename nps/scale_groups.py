"""The group an answer belongs to, named for its survey kind: NPS promoter / passive /
detractor, CSAT satisfied / neutral / dissatisfied, CES easy / neutral / difficult.

These are machine values (exports' Group column, never translated), stable once written.
"""

from __future__ import annotations

from typing import Final

from nps.nps_math import Group
from nps.scales import CES, CSAT, SCALES, scale_of

#: The group names of the kinds whose groups are not NPS's.
_NAMES: Final = {
    CSAT: {Group.PROMOTER: "satisfied", Group.PASSIVE: "neutral", Group.DETRACTOR: "dissatisfied"},
    CES: {Group.PROMOTER: "easy", Group.PASSIVE: "neutral", Group.DETRACTOR: "difficult"},
}


def group_name(kind: str, group: Group) -> str:
    """The export name of a group in a kind of survey ("satisfied", "promoter"…)."""
    return _NAMES.get(kind, {}).get(group, group.value)


def groups_of(kind: str) -> dict[int, str]:
    """Score → group name for every score on the kind's scale (an unknown kind is NPS)."""
    scale = scale_of(kind)
    return {score: group_name(scale.kind, scale.group(score)) for score in scale.scores()}


#: Score → group name per known kind, looked up per exported row.
GROUPS_BY_KIND: Final = {kind: groups_of(kind) for kind in SCALES}


def group_of_answer(kind: str | None, score: int | None) -> str | None:
    """The group name of one answer; None without a score or off its kind's scale (an
    answer given before its survey changed kind)."""
    if score is None:
        return None
    return GROUPS_BY_KIND.get(kind or "nps", GROUPS_BY_KIND["nps"]).get(score)

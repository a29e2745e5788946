"""The eNPS anonymity threshold (`ENPS_MIN_GROUP`): no figure of too few anonymous answers.

A score of 1 to 4 answers tells their authors' scores to anyone who knows who answered,
so for a scope holding an anonymous (eNPS) survey every figure, segment row, comment list,
chart and exported answer resting on fewer than `min_group` answers is withheld with a
note saying why. Segment tables also withhold enough other rows that the hidden ones
cannot be worked out from the total (`hidden_rows`). Nothing narrower than a day is shown
for an anonymous answer (`storage.repos.anonymity.coarse`).
"""

from __future__ import annotations

from collections.abc import Sequence

from nps.scope import Scope
from storage.admin_models import ANONYMOUS_KINDS

#: ENPS_MIN_GROUP's default.
DEFAULT_MIN_GROUP = 5


def anonymous_scope(scope: Scope) -> bool:
    """True when the scope holds an anonymous (eNPS) survey: the threshold applies."""
    return any(s.kind in ANONYMOUS_KINDS for s in scope.surveys)


def too_few(n: int, anonymous: bool, min_group: int) -> bool:
    """True when a figure of `n` anonymous answers must not be shown (none is no figure)."""
    return anonymous and 0 < n < min_group


def hidden_rows(counts: Sequence[int], anonymous: bool, min_group: int) -> set[int]:
    """The indexes of segment rows to withhold.

    Every row of 1 to min_group - 1 answers; then, while the withheld rows hold fewer than
    min_group answers together (or just one row is withheld), the smallest other row too —
    else the total minus the shown rows would give the hidden row's figures back.
    """
    hidden = {i for i, n in enumerate(counts) if too_few(n, anonymous, min_group)}
    if not hidden:
        return hidden
    others = sorted((n, i) for i, n in enumerate(counts) if i not in hidden and n)
    while others and (len(hidden) < 2 or sum(counts[i] for i in hidden) < min_group):
        hidden.add(others.pop(0)[1])
    return hidden

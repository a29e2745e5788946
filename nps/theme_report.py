"""What /themes shows: each theme's mentions, share, impact on NPS and change, with examples,
and suggested new themes from the comments no theme covers.

Counts come grouped from the database (theme × survey × score), so a report over a year
of answers reads a few hundred rows; groups are each survey kind's (nps/scales.py).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from nps.nps_math import Group
from nps.periods import Period, PeriodError, previous
from nps.scales import scale_of
from nps.scope import Scope
from nps.theme_index import Dictionary
from nps.themes import suggest
from storage.repos.themes import CommentText, ScopeFilter
from storage.store import Store
from storage.theme_models import OPEN

EXAMPLES = 2
# Latest answers of a theme whose comments the examples are chosen from (shortest first).
EXAMPLE_POOL = 12
# Examples shorter than this say little ("ok", "late"): taken only when nothing longer is.
MIN_EXAMPLE = 12
# Uncovered comments the suggestions are drawn from (the latest of the scope).
SUGGEST_POOL = 3000
SUGGESTIONS = 3
# A suggestion sharing this share of its terms with a dismissed one is not offered again.
DISMISSED_OVERLAP = 0.5


@dataclass
class _Tally:
    answers: int = 0
    promoters: int = 0
    detractors: int = 0

    def add(self, group: Group, n: int) -> None:
        self.answers += n
        self.promoters += n if group is Group.PROMOTER else 0
        self.detractors += n if group is Group.DETRACTOR else 0

    def minus(self, other: _Tally) -> _Tally:
        return _Tally(
            self.answers - other.answers,
            self.promoters - other.promoters,
            self.detractors - other.detractors,
        )

    @property
    def nps(self) -> float | None:
        if not self.answers:
            return None
        return 100.0 * (self.promoters - self.detractors) / self.answers


@dataclass(frozen=True)
class ThemeLine:
    """One theme's row."""

    key: str
    mentions: int
    previous: int
    share: float | None  # % of the scope's commented answers
    nps_with: float | None  # None: not shown (a group filter, or too few anonymous answers)
    nps_without: float | None
    examples: tuple[str, ...]

    @property
    def impact(self) -> float | None:
        """NPS of those who mention it minus that of those who do not, in points."""
        if self.nps_with is None or self.nps_without is None:
            return None
        return self.nps_with - self.nps_without

    @property
    def change(self) -> int:
        """Mentions against the previous period of the same length."""
        return self.mentions - self.previous


@dataclass(frozen=True)
class SuggestedTheme:
    """A suggestion shown under the table, with the id its buttons carry."""

    id: int
    key: str
    terms: tuple[str, ...]
    size: int
    examples: tuple[str, ...]


@dataclass(frozen=True)
class ThemesReport:
    """Everything /themes shows for one scope and group."""

    answers: int  # scored answers in scope (of the group)
    commented: int  # of them with a comment
    themed: int  # of them mentioning some theme
    lines: tuple[ThemeLine, ...]
    suggestions: tuple[SuggestedTheme, ...]
    # eNPS: fewer answers than ENPS_MIN_GROUP, so nothing is shown.
    hidden: bool = False


def _in_group(kind: str, score: int, group: Group | None) -> Group | None:
    """The score's group on its survey's scale, or None when the filter drops it."""
    scale = scale_of(kind)
    if not scale.contains(score):
        return None
    found = scale.group(score)
    return found if group is None or found is group else None


def group_scores(kinds: Iterable[str], group: Group | None) -> list[int]:
    """Scores that fall in the group on any of these scales (every score with no group)."""
    scores: set[int] = set()
    for kind in set(kinds):
        scale = scale_of(kind)
        scores.update(s for s in scale.scores() if group is None or scale.group(s) is group)
    return sorted(scores)


def _part(comment: CommentText, key: str, dictionary: Dictionary) -> str:
    """The comment (why or improve) that mentions the theme; both when neither alone does."""
    for part in (comment.why, comment.improve):
        if part and part.strip() and key in dictionary.matcher.match(part, comment.language):
            return " ".join(part.split())
    return " ".join(comment.text.split())


def pick_examples(texts: Sequence[str], count: int = EXAMPLES) -> tuple[str, ...]:
    """The shortest telling comments, newest first among equals; no repeats."""
    unique = list(dict.fromkeys(t for t in texts if t))
    ranked = sorted(unique, key=lambda t: (len(t) < MIN_EXAMPLE, len(t)))
    return tuple(ranked[:count])


def _dismissed(terms: Sequence[str], dismissed: Sequence[Sequence[str]]) -> bool:
    wanted = {t.casefold() for t in terms}
    for old in dismissed:
        seen = {t.casefold() for t in old}
        if (
            wanted
            and seen
            and len(wanted & seen) >= DISMISSED_OVERLAP * min(len(wanted), len(seen))
        ):
            return True
    return False


def _before(period: Period) -> Period | None:
    """The period of equal length just before (None when there is none)."""
    try:
        return previous(period)
    except PeriodError:
        return None


async def _counts(
    store: Store, scope: Scope, period: Period, tz: tzinfo, group: Group | None
) -> Counter[str]:
    """Each theme's answers of the group in the scope's surveys over `period`."""
    kinds = {s.id: s.kind for s in scope.surveys}
    first, last = period.bounds(tz)
    found: Counter[str] = Counter()
    for key, survey_id, score, n in await store.themes.mentions(
        ScopeFilter(scope.survey_ids, first, last)
    ):
        if _in_group(kinds.get(survey_id, "nps"), score, group) is not None:
            found[key] += n
    return found


async def build_themes(
    store: Store,
    dictionary: Dictionary,
    scope: Scope,
    tz: tzinfo,
    now: datetime,
    *,
    group: Group | None = None,
    min_group: int = 0,
    anonymous: bool = False,
    with_suggestions: bool = True,
) -> ThemesReport:
    """The report for a scope; answers must have been refreshed (nps/theme_index.refresh)."""
    kinds = {s.id: s.kind for s in scope.surveys}
    start, end = scope.period.bounds(tz)
    current = ScopeFilter(scope.survey_ids, start, end)
    everyone, commented, themed = _Tally(), 0, 0
    for survey_id, score, has_comment, has_theme, n in await store.themes.answers(current):
        found = _in_group(kinds.get(survey_id, "nps"), score, group)
        if found is not None:
            everyone.add(found, n)
            commented += n if has_comment else 0
            themed += n if has_comment and has_theme else 0
    if anonymous and 0 < everyone.answers < min_group:
        return ThemesReport(everyone.answers, commented, 0, (), (), hidden=True)
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    for key, survey_id, score, n in await store.themes.mentions(current):
        found = _in_group(kinds.get(survey_id, "nps"), score, group)
        if found is not None:
            tallies[key].add(found, n)
    before = _before(scope.period)
    earlier: Counter[str] = Counter()
    if before is not None:
        earlier = await _counts(store, scope, before, tz, group)
    scores = group_scores(kinds.values(), group)
    lines = []
    for key in dictionary.keys:
        tally = tallies.get(key, _Tally())
        if not tally.answers and not earlier[key]:
            continue
        rest = everyone.minus(tally)
        # eNPS: no score figure of fewer than min_group answers, on either side.
        small = anonymous and (tally.answers < min_group or rest.answers < min_group)
        show_nps = group is None and not small
        examples: tuple[str, ...] = ()
        if tally.answers:
            pool = await store.themes.examples(current, key, scores, limit=EXAMPLE_POOL)
            examples = pick_examples([_part(c, key, dictionary) for c in pool])
        lines.append(
            ThemeLine(
                key=key,
                mentions=tally.answers,
                previous=earlier[key],
                share=100.0 * tally.answers / commented if commented else None,
                nps_with=tally.nps if show_nps else None,
                nps_without=rest.nps if show_nps else None,
                examples=examples,
            )
        )
    lines.sort(key=lambda line: (-line.mentions, -line.previous, line.key))
    suggestions: tuple[SuggestedTheme, ...] = ()
    if with_suggestions and themed < commented:
        uncovered = await store.themes.uncovered(current, scores, limit=SUGGEST_POOL)
        suggestions = await _suggestions(store, dictionary, uncovered, now)
    return ThemesReport(everyone.answers, commented, themed, tuple(lines), suggestions)


async def _suggestions(
    store: Store, dictionary: Dictionary, uncovered: Sequence[CommentText], now: datetime
) -> tuple[SuggestedTheme, ...]:
    """The engine's suggestions that are not themes already, nor dismissed, stored so that
    their buttons can name them."""
    by_id = {c.response_id: c for c in uncovered}
    found = suggest(
        [(c.response_id, c.text, c.language) for c in uncovered],
        dictionary.matcher,
        limit=SUGGESTIONS * 3,
    )
    taken = {key.casefold() for key in dictionary.keys}
    candidates = [s for s in found if s.key.casefold() not in taken and len(s.key) <= 40]
    stored = await store.themes.suggestions([s.key for s in candidates])
    dismissed = await store.themes.dismissed_terms()
    shown: list[SuggestedTheme] = []
    for candidate in candidates:
        known = stored.get(candidate.key)
        if known is not None and known.state != OPEN:
            continue
        if _dismissed(candidate.terms, dismissed):
            continue
        examples = [by_id[i] for i in candidate.example_ids if i in by_id]
        languages = Counter(c.language for c in examples if c.language)
        language = languages.most_common(1)[0][0] if languages else None
        row = await store.themes.offer(candidate.key, candidate.terms, language, now)
        shown.append(
            SuggestedTheme(
                id=row.id,
                key=candidate.key,
                terms=candidate.terms,
                size=candidate.size,
                examples=tuple(dict.fromkeys(" ".join(c.text.split()) for c in examples)),
            )
        )
        if len(shown) >= SUGGESTIONS:
            break
    return tuple(shown)


@dataclass(frozen=True)
class ThemeCount:
    """A theme's mentions in a period and in the one of equal length before it."""

    key: str
    mentions: int
    previous: int

    @property
    def change(self) -> int:
        return self.mentions - self.previous


async def top_themes(
    store: Store,
    dictionary: Dictionary,
    scope: Scope,
    tz: tzinfo,
    *,
    group: Group | None = None,
    limit: int = 3,
) -> tuple[int, list[ThemeCount]]:
    """The answers of the group in scope, and its most mentioned themes with their change
    (the digest's line; reads only, so it runs in a snapshot)."""
    kinds = {s.id: s.kind for s in scope.surveys}
    start, end = scope.period.bounds(tz)
    current = ScopeFilter(scope.survey_ids, start, end)
    answers = sum(
        n
        for survey_id, score, _, _, n in await store.themes.answers(current)
        if _in_group(kinds.get(survey_id, "nps"), score, group) is not None
    )
    now = await _counts(store, scope, scope.period, tz, group)
    earlier = _before(scope.period)
    before: Counter[str] = Counter()
    if earlier is not None:
        before = await _counts(store, scope, earlier, tz, group)
    active = set(dictionary.keys)
    ranked = sorted((key for key in now if key in active and now[key]), key=lambda k: (-now[k], k))
    return answers, [ThemeCount(key, now[key], before[key]) for key in ranked[:limit]]

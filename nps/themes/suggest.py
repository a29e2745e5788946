"""Suggested new themes: what comments that match no theme have in common.

Deterministic and cheap (no clustering library, no model): each uncovered comment is reduced
to the stems of its informative words (no stop words, at least three letters). A stem scores
by how many uncovered comments use it times its inverse document frequency over all comments
given (so words common everywhere, "order", "service", weigh less than "parking"). Greedily,
the best stem takes the uncovered comments that use it and are not yet in a group; a group
needs min_size comments. Its terms are the stem and up to three stems that recur in the group.
Ties are broken by the written term, so the same comments give the same suggestions.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nps.themes.matcher import Matcher
from nps.themes.text import LANGUAGES, guess_language, stem_keys, stop_words, strip_marks, words

TERMS_MAX = 4
EXAMPLES = 2
_WORD_MIN = 3  # letters: shorter words are mostly particles and abbreviations
_READABLE_WORDS = 3  # an example of fewer words says little ("ok parking")


@dataclass(frozen=True)
class Suggestion:
    """A proposed theme: its top terms, example comment ids and how many comments it groups."""

    terms: tuple[str, ...]  # up to 4 readable top terms (the commonest written form of each stem)
    example_ids: tuple[int, ...]  # up to 2 comment ids, shortest readable first
    size: int  # comments in the group
    key: str  # a proposed theme key: the first term


_Term = tuple[str, str]  # (language, stem)


class _Terms:
    """Informative stems of texts, memoised per (language, word) for one call."""

    def __init__(self) -> None:
        self._memo: dict[tuple[str, str], str | None] = {}
        self.written: dict[_Term, Counter[str]] = defaultdict(Counter)

    def of(self, text: str, language: str | None) -> set[_Term]:
        lang = language if language in LANGUAGES else guess_language(text)
        assert lang is not None
        found: set[_Term] = set()
        for word in words(text):
            stem = self._stem(lang, word)
            if stem is not None:
                found.add((lang, stem))
                self.written[(lang, stem)][word] += 1
        return found

    def _stem(self, lang: str, word: str) -> str | None:
        memo_key = (lang, word)
        if memo_key in self._memo:
            return self._memo[memo_key]
        stem: str | None = None
        bare = strip_marks(word)
        if len(word) >= _WORD_MIN and bare not in stop_words(lang):
            stem = stem_keys(word, lang)[0]
        self._memo[memo_key] = stem
        return stem

    def readable(self, term: _Term) -> str:
        """The commonest written form of a stem (ties: alphabetical)."""
        forms = self.written[term]
        return min(forms, key=lambda form: (-forms[form], form))


def suggest(
    comments: Sequence[tuple[int, str, str | None]],
    matcher: Matcher,
    *,
    limit: int = 5,
    min_size: int = 3,
) -> list[Suggestion]:
    """Groups of comments the matcher does not cover, best first (see the module's notes).

    comments: (id, text, language); those the matcher already covers are ignored.
    """
    if limit <= 0 or not comments:
        return []
    min_size = max(1, min_size)
    terms = _Terms()
    everywhere: Counter[_Term] = Counter()  # comments using a stem, covered or not
    uncovered: dict[int, tuple[str, set[_Term]]] = {}
    for comment_id, text, language in comments:
        found = terms.of(text, language)
        everywhere.update(found)
        if found and not matcher.covered(text, language):
            uncovered[comment_id] = (text, found)
    users: dict[_Term, list[int]] = defaultdict(list)
    for comment_id, (_, found) in uncovered.items():
        for term in found:
            users[term].append(comment_id)
    total = len(comments)

    def weight(term: _Term) -> float:
        return math.log((1 + total) / (1 + everywhere[term])) + 1.0

    ranked = sorted(
        (term for term, ids in users.items() if len(ids) >= min_size),
        key=lambda term: (-len(users[term]) * weight(term), terms.readable(term), term),
    )
    grouped: set[int] = set()
    out: list[Suggestion] = []
    for term in ranked:
        group = [cid for cid in users[term] if cid not in grouped]
        if len(group) < min_size:
            continue
        grouped.update(group)
        out.append(_suggestion(term, group, uncovered, terms, weight))
        if len(out) >= limit:
            break
    return out


def _suggestion(
    term: _Term,
    group: list[int],
    uncovered: dict[int, tuple[str, set[_Term]]],
    terms: _Terms,
    weight: Callable[[_Term], float],
) -> Suggestion:
    together: Counter[_Term] = Counter()
    for cid in group:
        together.update(other for other in uncovered[cid][1] if other != term)
    # A companion term must recur in the group: in two comments and a third of them at least.
    needed = max(2, math.ceil(len(group) / 3))
    companions = sorted(
        (other for other, count in together.items() if count >= needed),
        key=lambda other: (-together[other] * weight(other), terms.readable(other), other),
    )
    readable: list[str] = []
    for each in [term, *companions]:
        form = terms.readable(each)
        if form not in readable:
            readable.append(form)
        if len(readable) >= TERMS_MAX:
            break

    def example_order(cid: int) -> tuple[bool, int, int]:
        text = uncovered[cid][0]
        return (len(words(text)) < _READABLE_WORDS, len(text), cid)

    examples = tuple(sorted(group, key=example_order)[:EXAMPLES])
    return Suggestion(
        terms=tuple(readable), example_ids=examples, size=len(group), key=readable[0]
    )

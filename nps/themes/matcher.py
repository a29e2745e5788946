"""Which themes of a dictionary a comment mentions: stems of its words against stems of the
dictionary's words and phrases, per language."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from nps.themes.text import LANGUAGES, normalise, prefixes, stem_keys, words

# Distinct words remembered per language before the memo starts afresh: a long-running bot
# meets new words (names, typos) for ever. Most words name no theme and share one record, so
# an entry is its word and a dict slot, ~150 bytes: 200 000 words ≈ 30 MB.
_MEMO_LIMIT = 200_000


@dataclass(frozen=True)
class ThemeSpec:
    """A theme and its words or phrases per language, as the owner wrote them."""

    key: str
    words: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class _Phrase:
    theme: str
    rest: tuple[frozenset[str], ...]  # stem keys of the second, third, … word


@dataclass(frozen=True)
class _Word:
    """What one written word means to one language's dictionary (memoised per word)."""

    themes: frozenset[str]  # themes this word names on its own
    starts: tuple[_Phrase, ...]  # phrases whose first word it can be
    follows: frozenset[str]  # keys it matches among phrases' later words (usually none)


_NOTHING = _Word(frozenset(), (), frozenset())


class _Language:
    """One language's dictionary, stemmed once, and the memo of words seen in comments."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.single: dict[str, set[str]] = defaultdict(set)  # stem key -> theme keys
        self.phrases: dict[str, list[_Phrase]] = defaultdict(list)  # first word's key -> …
        self.later: set[str] = set()  # keys of phrases' second, third, … words
        self.memo: dict[str, _Word] = {}

    def add(self, theme: str, entry: str) -> None:
        parts = [frozenset(stem_keys(word, self.language)) for word in words(entry)]
        if len(parts) == 1:
            for key in parts[0]:
                self.single[key].add(theme)
        elif parts:
            phrase = _Phrase(theme, tuple(parts[1:]))
            for key in parts[0]:
                self.phrases[key].append(phrase)
            for later in parts[1:]:
                self.later.update(later)

    def word(self, written: str) -> _Word:
        known = self.memo.get(written)
        if known is not None:
            return known
        stems = frozenset(p for key in stem_keys(written, self.language) for p in prefixes(key))
        themes: set[str] = set()
        starts: list[_Phrase] = []
        for key in sorted(stems):
            themes.update(self.single.get(key, ()))
            starts.extend(self.phrases.get(key, ()))
        follows = stems & self.later
        found = (
            _Word(frozenset(themes), tuple(starts), follows)
            if themes or starts or follows
            else _NOTHING
        )
        if len(self.memo) >= _MEMO_LIMIT:
            self.memo.clear()
        self.memo[written] = found
        return found

    def match(self, written: list[str]) -> set[str]:
        memo = self.memo
        seen = [memo.get(w) or self.word(w) for w in written]
        found: set[str] = set()
        for at, word in enumerate(seen):
            if word.themes:
                found |= word.themes
            for phrase in word.starts:
                end = at + 1 + len(phrase.rest)
                if end <= len(seen) and all(
                    not need.isdisjoint(seen[at + 1 + i].follows)
                    for i, need in enumerate(phrase.rest)
                ):
                    found.add(phrase.theme)
        return found


class Matcher:
    """Assigns theme keys to comments; build once per dictionary, reuse for many comments."""

    def __init__(self, themes: Iterable[ThemeSpec]) -> None:
        self._languages: dict[str, _Language] = {}
        for theme in themes:
            for language, entries in theme.words.items():
                if language not in LANGUAGES:
                    continue
                table = self._languages.get(language)
                if table is None:
                    table = self._languages[language] = _Language(language)
                for entry in entries:
                    table.add(theme.key, normalise(entry))

    def match(self, text: str, language: str | None) -> frozenset[str]:
        """Theme keys the text mentions; word forms match through the language's stemmer.
        language None or unknown: every language's words are tried."""
        written = words(text)
        if not written:
            return frozenset()
        if language is not None and language in LANGUAGES:
            table = self._languages.get(language)
            return frozenset(table.match(written)) if table is not None else frozenset()
        found: set[str] = set()
        for each in self._languages.values():
            found |= each.match(written)
        return frozenset(found)

    def covered(self, text: str, language: str | None) -> bool:
        """Whether the text mentions any theme."""
        return bool(self.match(text, language))

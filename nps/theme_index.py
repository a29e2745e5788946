"""The stored theme dictionary as the engine reads it, and each answer's themes kept current.

The dictionary's version is a hash of what it matches with (every active theme's words and
the engine's own code), so any edit, removal or new release makes every answer due again;
`refresh` reads the due answers in batches and writes their themes. It runs before each
/themes (and what else shows themes) and from a background job (bot/theme_job.py), so a
report finds the work done and answers at once.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from nps.themes import LANGUAGES, Matcher, ThemeSpec, starter_themes
from storage.repos.themes import ThemeRow
from storage.store import Store
from storage.theme_models import STARTER

# Answers read per batch: one statement to read them, three to write their themes.
BATCH = 500
# At most this many Matchers are kept (one per dictionary version a process has seen).
_MATCHERS = 4


@dataclass(frozen=True)
class Dictionary:
    """The active themes with the words the engine matches, and their version."""

    specs: tuple[ThemeSpec, ...]
    rows: tuple[ThemeRow, ...]
    version: str

    @property
    def keys(self) -> tuple[str, ...]:
        """Active theme keys, in dictionary order."""
        return tuple(spec.key for spec in self.specs)

    def find(self, key: str) -> ThemeRow | None:
        """The stored theme with this key, any case (removed ones too)."""
        wanted = key.casefold()
        return next((row for row in self.rows if row.key.casefold() == wanted), None)

    @property
    def matcher(self) -> Matcher:
        """The engine built on these themes (shared while the version stays)."""
        return _matcher(self.version, self.specs)


@functools.cache
def _starters() -> dict[str, ThemeSpec]:
    return {spec.key: spec for spec in starter_themes()}


@functools.cache
def engine_fingerprint() -> str:
    """A hash of the engine's source: a new release's better matching re-reads answers."""
    package = Path(starter_themes.__code__.co_filename).parent
    digest = hashlib.sha256()
    for path in sorted(package.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def effective_words(row: ThemeRow) -> dict[str, tuple[str, ...]]:
    """A theme's words by language: a starter theme's from the code, the owner's own
    languages over them."""
    words: dict[str, tuple[str, ...]] = {}
    if row.origin == STARTER and row.key in _starters():
        words.update(_starters()[row.key].words)
    for language, listed in row.words.items():
        words[language] = tuple(listed)
    return {language: found for language, found in words.items() if found}


def version_of(specs: tuple[ThemeSpec, ...]) -> str:
    """The dictionary's version: a hash of the themes and words matched, and the engine."""
    plain = [
        [spec.key, {lang: list(spec.words[lang]) for lang in sorted(spec.words)}] for spec in specs
    ]
    digest = hashlib.sha256(json.dumps(plain, ensure_ascii=False).encode())
    digest.update(engine_fingerprint().encode())
    return digest.hexdigest()[:16]


_built: dict[str, Matcher] = {}


def _matcher(version: str, specs: tuple[ThemeSpec, ...]) -> Matcher:
    """The Matcher of a version, built once (stemming every word costs milliseconds)."""
    found = _built.get(version)
    if found is None:
        if len(_built) >= _MATCHERS:
            _built.pop(next(iter(_built)))
        found = _built[version] = Matcher(specs)
    return found


async def dictionary(store: Store, now: datetime, *, seed: bool = True) -> Dictionary:
    """The stored dictionary, seeded with the starter themes on first use (`seed` False,
    for a read-only transaction: the starter set it would seed, unstored)."""
    rows = await store.themes.rows()
    if not rows and seed:
        await store.themes.seed([spec.key for spec in starter_themes()], STARTER, now)
        rows = await store.themes.rows()
    elif not rows:
        rows = [ThemeRow(spec.key, {}, STARTER, True) for spec in starter_themes()]
    specs = tuple(
        ThemeSpec(row.key, words) for row in rows if row.active and (words := effective_words(row))
    )
    return Dictionary(specs, tuple(rows), version_of(specs))


async def refresh(
    store: Store, now: datetime, *, limit: int | None = None, current: Dictionary | None = None
) -> int:
    """Reads the answers due (see ThemeRepo.pending) and writes their themes; returns how
    many were read. `limit` caps the work of one call (a background pass); None reads all.
    `current`: the dictionary the caller has read already in this transaction (read once)."""
    if current is None:
        current = await dictionary(store, now)
    matcher = current.matcher
    done = 0
    while limit is None or done < limit:
        size = BATCH if limit is None else min(BATCH, limit - done)
        due = await store.themes.pending(current.version, size)
        if not due:
            break
        await store.themes.assign(
            current.version,
            [(comment, matcher.match(comment.text, comment.language)) for comment in due],
        )
        done += len(due)
        if len(due) < size:
            break
    return done


def words_in(row: ThemeRow, language: str) -> tuple[str, ...]:
    """A theme's words in one language (empty when it has none there)."""
    return effective_words(row).get(language, ())


def with_words(
    row: ThemeRow | None, language: str, words: tuple[str, ...]
) -> dict[str, list[str]]:
    """The stored words after replacing one language's (the others kept as they were)."""
    stored: Mapping[str, list[str]] = row.words if row is not None else {}
    updated = {lang: list(found) for lang, found in stored.items() if lang in LANGUAGES}
    updated[language] = list(words)
    return updated

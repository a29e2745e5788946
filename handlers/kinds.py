"""Survey kinds: NPS (customers) and eNPS (employees, answered anonymously).

An eNPS survey asks about the company as a place to work, so its default wording comes
from the catalog's `enps_<key>` entries; a survey's own texts still win over both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from storage.admin_models import ANONYMOUS_KINDS

if TYPE_CHECKING:
    from handlers.texts import TextsLike

NPS = "nps"
ENPS = "enps"
KINDS = (NPS, ENPS)

# Catalog keys an eNPS survey words differently (each has an `enps_<key>` entry).
ENPS_KEYS = frozenset(
    {
        "greeting",
        "greeting_anonymous",
        "question",
        "why_promoter",
        "why_passive",
        "why_detractor",
        "improve_promoter",
        "improve_passive",
        "improve_detractor",
        "thanks_promoter",
        "thanks_promoter_review",
        "thanks_passive",
        "thanks_detractor",
    }
)


def is_anonymous(kind: str) -> bool:
    """True when answers of this kind of survey are stored without the respondent."""
    return kind in ANONYMOUS_KINDS


class KindTexts:
    """A language's texts where the kind's defaults replace the standard wording."""

    def __init__(self, texts: TextsLike, prefix: str, keys: frozenset[str]) -> None:
        self._texts = texts
        self._prefix = prefix
        self._keys = keys
        self.language = texts.language

    def _key(self, key: str) -> str:
        return f"{self._prefix}{key}" if key in self._keys else key

    def __call__(self, key: str, **values: Any) -> str:
        """The text as HTML."""
        return self._texts(self._key(key), **values)

    def plain(self, key: str, **values: Any) -> str:
        """The text without markup."""
        return self._texts.plain(self._key(key), **values)


def for_kind(
    texts: TextsLike, kind: str, survey_texts: Mapping[str, Any] | None, language: str
) -> TextsLike:
    """Texts with the kind's default wording, except where the survey has its own."""
    if kind != ENPS:
        return texts
    own = {key for key, text in ((survey_texts or {}).get(language) or {}).items() if text}
    return KindTexts(texts, f"{ENPS}_", ENPS_KEYS - own)

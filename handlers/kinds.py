"""Survey kinds: NPS (customers), eNPS (employees, answered anonymously), CSAT and CES.

An eNPS survey asks about the company as a place to work, so its default wording comes
from the catalog's `enps_<key>` entries; CSAT (1–5) and CES (1–7) ask their own questions
from `csat_<key>` and `ces_<key>`; a survey's own texts still win over all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from storage.admin_models import ANONYMOUS_KINDS

if TYPE_CHECKING:
    from handlers.texts import TextsLike

NPS = "nps"
ENPS = "enps"
CSAT = "csat"
CES = "ces"
KINDS = (NPS, ENPS, CSAT, CES)

# The follow-up questions and thanks per group: every kind but NPS words them its own way.
_FOLLOW_UP_KEYS = frozenset(
    {
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
# Catalog keys an eNPS survey words differently (each has an `enps_<key>` entry).
ENPS_KEYS = _FOLLOW_UP_KEYS | {"greeting", "greeting_anonymous", "question"}
# Catalog keys a CSAT or CES survey words differently (`csat_<key>`, `ces_<key>`): its
# question and the scale's hint, follow-ups and thanks per group, the "please choose"
# hint of its own range, the web page's scale ends.
SCALE_KEYS = _FOLLOW_UP_KEYS | {
    "question",
    "scale_hint",
    "score_please",
    "web_scale_low",
    "web_scale_high",
}
KIND_KEYS: dict[str, frozenset[str]] = {ENPS: ENPS_KEYS, CSAT: SCALE_KEYS, CES: SCALE_KEYS}


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
    keys = KIND_KEYS.get(kind)
    if keys is None:
        return texts
    own = {key for key, text in ((survey_texts or {}).get(language) or {}).items() if text}
    return KindTexts(texts, f"{kind}_", keys - own)

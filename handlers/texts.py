"""What handlers need of the translations: a language's texts and the loaded catalogs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class TextsLike(Protocol):
    """A language's catalog: `texts(key, **values)` gives HTML, `.plain` plain text."""

    language: str

    def __call__(self, key: str, **values: Any) -> str:
        """The text as HTML."""
        ...

    def plain(self, key: str, **values: Any) -> str:
        """The text without markup."""
        ...


class CatalogsLike(Protocol):
    """The loaded languages (bot.i18n.Catalogs)."""

    @property
    def languages(self) -> list[str]:
        """Codes of the supported languages, reference first (read-only)."""
        ...

    def supports(self, code: str | None) -> bool:
        """True when a catalog exists for the code."""
        ...

    def texts(self, language: str, survey_texts: Mapping[str, Any] | None = None) -> TextsLike:
        """Texts of a language, with a survey's own wording on top."""
        ...

    def resolve(self, override: str | None, telegram_code: str | None) -> str:
        """The language to talk to a user in."""
        ...

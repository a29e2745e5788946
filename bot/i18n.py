"""Text catalogs and language resolution.

Catalogs live in `bot/locales/<feature>/<language>.toml` (one folder per feature, so
features add texts without touching each other's files); they are merged per language
and a key defined by two features is an error.
"""

from __future__ import annotations

import html
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

LOCALES = Path(__file__).with_name("locales")
REFERENCE = "en"


class _Value(str):
    """A value in a template; `{n:answer|answers}` picks the word for the count `n`.

    Two forms (one, other) are what English needs; catalogs of languages with more forms
    name the count apart from the noun instead ("ответов: {n}").
    """

    def __format__(self, spec: str) -> str:
        if "|" not in spec:
            return super().__format__(spec)
        one, other = spec.split("|", 1)
        # Values arrive formatted ("12 345"): the digits say which form.
        return one if "".join(ch for ch in self if ch.isdigit()) == "1" else other


class Texts:
    """The catalog of one language, with a survey's own wording layered on top."""

    def __init__(
        self,
        language: str,
        entries: Mapping[str, str],
        fallback: Mapping[str, str],
        overrides: Mapping[str, str] | None = None,
    ) -> None:
        self.language = language
        self._entries = entries
        self._fallback = fallback
        self._overrides = overrides or {}

    def _template(self, key: str) -> tuple[str, bool]:
        """Returns (template, is_html); survey overrides are plain text typed by admins."""
        if self._overrides.get(key):
            return self._overrides[key], False
        if key in self._entries:
            return self._entries[key], True
        return self._fallback[key], True

    def __call__(self, key: str, **values: Any) -> str:
        """The text as HTML, with every value escaped."""
        template, is_html = self._template(key)
        if not is_html:
            template = html.escape(template, quote=False)
        escaped = {k: _Value(html.escape(str(v), quote=False)) for k, v in values.items()}
        return template.format(**escaped)

    def plain(self, key: str, **values: Any) -> str:
        """The text without markup, for button labels and pop-up answers."""
        template, is_html = self._template(key)
        text = template.format(**{k: _Value(v) for k, v in values.items()})
        return html.unescape(text) if is_html else text


class Catalogs:
    """All loaded languages and the rule for picking a user's language."""

    def __init__(self, directory: Path = LOCALES, default: str = REFERENCE) -> None:
        self._catalogs: dict[str, dict[str, str]] = {}
        for path in sorted(directory.glob("*/*.toml")):
            with path.open("rb") as fh:
                entries = tomllib.load(fh)
            catalog = self._catalogs.setdefault(path.stem, {})
            clash = set(catalog) & set(entries)
            if clash:
                raise RuntimeError(f"{path}: keys defined twice: {', '.join(sorted(clash))}")
            catalog.update(entries)
        if REFERENCE not in self._catalogs:
            raise RuntimeError(f"no {REFERENCE}.toml catalog under {directory}")
        self.default = default if default in self._catalogs else REFERENCE

    @property
    def languages(self) -> list[str]:
        """Codes of the supported languages, reference first."""
        return [REFERENCE, *sorted(c for c in self._catalogs if c != REFERENCE)]

    def supports(self, code: str | None) -> bool:
        """True when a catalog exists for the code."""
        return code in self._catalogs

    def resolve(self, override: str | None, telegram_code: str | None) -> str:
        """The chosen language, else the Telegram client's, else the default."""
        if override and override in self._catalogs:
            return override
        if telegram_code:
            base = telegram_code.split("-")[0].split("_")[0].lower()
            if base in self._catalogs:
                return base
        return self.default

    def texts(self, language: str, survey_texts: Mapping[str, Any] | None = None) -> Texts:
        """Texts of a language, with a survey's per-language wording if it has any."""
        entries = self._catalogs.get(language, self._catalogs[self.default])
        overrides = (survey_texts or {}).get(language) or {}
        return Texts(language, entries, self._catalogs[REFERENCE], overrides)

    def keys(self, language: str) -> set[str]:
        """Keys defined by one catalog (tests check every language is complete)."""
        return set(self._catalogs[language])

"""Text catalogs and language resolution.

Catalogs live in `bot/locales/<feature>/<language>.toml` (one folder per feature, so
features add texts without touching each other's files); they are merged per language
and a key defined by two features is an error.
"""

from __future__ import annotations

import html
import re
import tomllib
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale

LOCALES = Path(__file__).with_name("locales")
REFERENCE = "en"


@cache
def plural_categories(language: str) -> frozenset[str]:
    """The CLDR plural categories a language's texts must name (always with "other")."""
    return frozenset(Locale.parse(language).plural_form.tags | {"other"})


@cache
def _plural_rule(language: str) -> Any:
    try:
        return Locale.parse(language).plural_form
    except (ValueError, LookupError):  # not a CLDR language: English's rule
        return Locale.parse(REFERENCE).plural_form


def plural_category(language: str, number: str | int | float | Decimal) -> str:
    """The CLDR category ("one", "few", "many", "other"…) of a count in a language.

    Counts arrive formatted ("12 345", "1.200", "1,5"): spaces and thousands separators
    are dropped and a decimal comma read as a point, so "1,5" is one and a half (its
    category differs from 15's).
    """
    if isinstance(number, (int, Decimal)):
        value: int | Decimal = number
    else:
        text = re.sub(r"\s", "", str(number))
        if re.fullmatch(r"\d{1,3}([.,]\d{3})+", text):
            text = re.sub(r"[.,]", "", text)  # 1.200 or 1,200: thousands, not a fraction
        text = text.replace(",", ".")
        try:
            value = Decimal(text)
        except InvalidOperation:
            digits = "".join(ch for ch in text if ch.isdigit())
            value = Decimal(digits or 0)
    return str(_plural_rule(language)(value))


def plural_forms(spec: str) -> dict[str, str] | None:
    """The forms a `{n:...}` spec names, by category; None when it is not a plural spec.

    `one|other` (two bare forms, as English needs) or `one=…|few=…|many=…|other=…`.
    """
    if "|" not in spec:
        return None
    parts = spec.split("|")
    if all("=" not in part for part in parts):
        if len(parts) != 2:
            raise ValueError(f"bare plural forms must be exactly one|other: {spec!r}")
        return {"one": parts[0], "other": parts[1]}
    forms: dict[str, str] = {}
    for part in parts:
        category, sep, word = part.partition("=")
        if not sep:
            raise ValueError(f"plural form without a category in {spec!r}")
        forms[category.strip()] = word
    return forms


class _Value(str):
    """A value in a template; `{n:one=ответ|few=ответа|many=ответов|other=ответа}` picks
    the word for the count `n` by the CLDR plural category of the text's language.

    `{n:answer|answers}` (one|other) is the short form English and other two-category
    languages use.
    """

    language = REFERENCE

    def __format__(self, spec: str) -> str:
        forms = plural_forms(spec)
        if forms is None:
            return super().__format__(spec)
        category = plural_category(self.language, str(self))
        return forms.get(category, forms["other"])


@cache
def _value_type(language: str) -> type[_Value]:
    return type(f"_Value_{language}", (_Value,), {"language": language})


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
        value = _value_type(self.language)
        escaped = {k: value(html.escape(str(v), quote=False)) for k, v in values.items()}
        return template.format(**escaped)

    def plain(self, key: str, **values: Any) -> str:
        """The text without markup, for button labels and pop-up answers."""
        template, is_html = self._template(key)
        value = _value_type(self.language)
        text = template.format(**{k: value(v) for k, v in values.items()})
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
        if language not in self._catalogs:
            language = self.default
        overrides = (survey_texts or {}).get(language) or {}
        return Texts(language, self._catalogs[language], self._catalogs[REFERENCE], overrides)

    def keys(self, language: str) -> set[str]:
        """Keys defined by one catalog (tests check every language is complete)."""
        return set(self._catalogs[language])

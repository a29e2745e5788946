"""Text catalogs (gettext `.po` files) and language resolution.

Catalogs live in `bot/locales/<language>/LC_MESSAGES/<feature>.po`: one gettext domain per
feature, so features add texts without touching each other's files; a language's domains
are merged and a key defined by two of them is an error.

The msgid is the key the handlers already use ("greeting", "score_line"), and English's .po
holds the source text (a keyed, "monolingual" catalog): call sites stay as they are, and a
change of English wording does not orphan every translation. A plural message has
`msgid_plural` naming its count bare (`n` for `{n}`) and one msgstr per form of the
language's `Plural-Forms` header (CLDR rules, as Babel writes them); gettext's `ngettext`
picks the form.

The .po files are compiled to .mo with Babel at start, once per content (cached by hash in
a user cache directory), and read with the standard library's `gettext`: a warm start does
not parse .po files or import babel.messages.
"""

from __future__ import annotations

import gettext
import hashlib
import html
import os
import re
import struct
import tempfile
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from io import BytesIO
from pathlib import Path
from typing import Any

LOCALES = Path(__file__).with_name("locales")
REFERENCE = "en"
MO_MAGIC = 0x950412DE


def po_files(directory: Path, language: str) -> list[Path]:
    """A language's .po files, one per feature (gettext domain)."""
    return sorted((directory / language / "LC_MESSAGES").glob("*.po"))


def compile_language(paths: list[Path]) -> bytes:
    """One .mo image of a language's .po files (fuzzy entries left out, as msgfmt does)."""
    # Imported only when the cache misses: a warm start does without it (~40 ms).
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    merged: Catalog | None = None
    for path in paths:
        with path.open("rb") as fh:
            catalog = read_po(fh, domain=path.stem)
        if merged is None:
            merged = Catalog(locale=catalog.locale, domain="npsbot")
            merged.mime_headers = catalog.mime_headers  # keeps the file's Plural-Forms
        for message in catalog:
            if not message.id:
                continue
            if isinstance(message.string, tuple | list) and not all(message.string):
                continue  # half-translated plural: English in full rather than an empty form
            if message.id in merged:  # a plural message is looked up by its msgid too
                raise RuntimeError(f"{path}: key {message.id!r} is defined by another feature too")
            merged[message.id] = message
    buffer = BytesIO()
    write_mo(buffer, merged or Catalog(domain="npsbot"), use_fuzzy=False)
    return buffer.getvalue()


def _cache_dirs(source: Path) -> list[Path]:
    """Where compiled catalogs may be kept: the user's cache, else the temp directory; a
    folder per source tree, so two checkouts do not evict each other's files."""
    configured = os.environ.get("NPSBOT_LOCALE_CACHE")
    if configured:
        return [Path(configured)]
    tree = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:12]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return [base / "npsbot" / "mo" / tree, Path(tempfile.gettempdir()) / f"npsbot-mo-{tree}"]


def compiled(directory: Path, language: str) -> bytes:
    """The language's .mo, from the cache when its .po files have not changed."""
    paths = po_files(directory, language)
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    name = f"{language}-{digest.hexdigest()[:20]}.mo"
    for folder in _cache_dirs(directory):
        try:
            return (folder / name).read_bytes()
        except OSError:
            continue
    data = compile_language(paths)
    for folder in _cache_dirs(directory):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # Written aside then renamed: a parallel start never reads half a file.
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, folder / name)
            for stale in folder.glob(f"{language}-*.mo"):
                if stale.name != name:
                    stale.unlink(missing_ok=True)
            break
        except OSError:
            continue  # read-only: compile again next start
    return data


def message_ids(mo: bytes) -> dict[str, str | None]:
    """Every key of a .mo image, with its msgid_plural (the count's name) or None.

    The standard library's reader keeps msgid_plural nowhere, so the originals table is
    read here (the layout is fixed by the .mo format).
    """
    order = "<" if struct.unpack("<I", mo[:4])[0] == MO_MAGIC else ">"
    count, originals = struct.unpack_from(order + "4x2I", mo, 4)
    ids: dict[str, str | None] = {}
    for index in range(count):
        length, offset = struct.unpack_from(order + "2I", mo, originals + 8 * index)
        key, sep, plural = mo[offset : offset + length].decode("utf-8").partition("\0")
        if key:
            ids[key] = plural if sep else None
    return ids


def plural_count(value: Any) -> int:
    """The whole number a count stands for; counts often arrive formatted ("12 345").

    Spaces and thousands separators are dropped ("1.200", "1,200" are twelve hundred). A
    fraction is not a count: it maps to a large number, whose form (gettext's last) is
    the general plural in every language the bot speaks.
    """
    if isinstance(value, int):
        return value
    text = re.sub(r"\s", "", str(value))
    if re.fullmatch(r"\d{1,3}([.,]\d{3})+", text):
        text = re.sub(r"[.,]", "", text)
    try:
        number = Decimal(text.replace(",", "."))
    except InvalidOperation:
        digits = "".join(ch for ch in text if ch.isdigit())
        return int(digits or 0)
    return int(number) if number == number.to_integral_value() else 1_000_005


class Texts:
    """The catalog of one language, with a survey's own wording layered on top."""

    def __init__(
        self,
        language: str,
        translations: gettext.GNUTranslations,
        counts: Mapping[str, str | None],
        overrides: Mapping[str, str] | None = None,
    ) -> None:
        self.language = language
        self._translations = translations
        self._counts = counts
        self._overrides = overrides or {}

    def template(self, key: str, values: Mapping[str, Any]) -> tuple[str, bool]:
        """(template, is_html); survey overrides are plain text typed by admins."""
        if self._overrides.get(key):
            return self._overrides[key], False
        if key not in self._counts:
            raise KeyError(
                f"{key!r} is not in the English catalog (bot/locales/en/LC_MESSAGES/*.po)"
            )
        count = self._counts[key]
        if count is None:
            return self._translations.gettext(key), True
        return self._translations.ngettext(key, count, plural_count(values[count])), True

    def __call__(self, key: str, **values: Any) -> str:
        """The text as HTML, with every value escaped."""
        template, is_html = self.template(key, values)
        if not is_html:
            template = html.escape(template, quote=False)
        return template.format(**{k: html.escape(str(v), quote=False) for k, v in values.items()})

    def plain(self, key: str, **values: Any) -> str:
        """The text without markup, for button labels and pop-up answers."""
        template, is_html = self.template(key, values)
        text = template.format(**{k: str(v) for k, v in values.items()})
        return html.unescape(text) if is_html else text


class Catalogs:
    """All loaded languages and the rule for picking a user's language."""

    def __init__(self, directory: Path = LOCALES, default: str = REFERENCE) -> None:
        self._translations: dict[str, gettext.GNUTranslations] = {}
        self._keys: dict[str, set[str]] = {}
        for folder in sorted(p for p in directory.iterdir() if (p / "LC_MESSAGES").is_dir()):
            mo = compiled(directory, folder.name)
            self._translations[folder.name] = gettext.GNUTranslations(BytesIO(mo))
            ids = message_ids(mo)
            self._keys[folder.name] = set(ids)
            if folder.name == REFERENCE:
                self._counts = ids
        if REFERENCE not in self._translations:
            raise RuntimeError(f"no {REFERENCE} catalog under {directory}")
        for language, translations in self._translations.items():
            if language != REFERENCE:  # a missing or fuzzy text falls back to English
                translations.add_fallback(self._translations[REFERENCE])
        self.default = default if default in self._translations else REFERENCE

    @property
    def languages(self) -> list[str]:
        """Codes of the supported languages, reference first."""
        return [REFERENCE, *sorted(c for c in self._translations if c != REFERENCE)]

    def supports(self, code: str | None) -> bool:
        """True when a catalog exists for the code."""
        return code in self._translations

    def resolve(self, override: str | None, telegram_code: str | None) -> str:
        """The chosen language, else the Telegram client's, else the default."""
        if override and override in self._translations:
            return override
        if telegram_code:
            base = telegram_code.split("-")[0].split("_")[0].lower()
            if base in self._translations:
                return base
        return self.default

    def texts(self, language: str, survey_texts: Mapping[str, Any] | None = None) -> Texts:
        """Texts of a language, with a survey's per-language wording if it has any."""
        if language not in self._translations:
            language = self.default
        overrides = (survey_texts or {}).get(language) or {}
        return Texts(language, self._translations[language], self._counts, overrides)

    def keys(self, language: str) -> set[str]:
        """Keys a language translates (untranslated and fuzzy ones fall back to English)."""
        return set(self._keys[language])

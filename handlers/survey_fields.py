"""A survey's settings as an admin types them: names, slugs, subjects, links and texts.

Each check returns the clean value or raises `Invalid`, whose catalog key says what was
wrong; the dialog (handlers/survey_dialog.py) shows it and asks the same step again.
"""

from __future__ import annotations

import re
import string
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from handlers.context import UpdateContext

MAX_NAME = 100
MAX_SUBJECT = 100
MAX_TEXT = 1000
MAX_URL = 500
# Short enough that a payload with source and agent tags still fits in 64 characters.
MAX_SLUG = 32
SLUG_RE = re.compile(rf"^[a-z0-9](?:[a-z0-9-]{{0,{MAX_SLUG - 2}}}[a-z0-9])?$")
# Tag values in /link: no "_" so they can never form the "__" separator.
TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,30}$")
# A WhatsApp template's name: lowercase letters, digits and underscores (Meta's rule).
TEMPLATE_RE = re.compile(r"^[a-z0-9_]{1,512}$")
# Cyrillic has no decomposition to ASCII; the Latin-script languages mostly do (ł aside).
_TRANSLIT = dict(zip("абвгдезийклмнопрстуфхыэ", "abvgdeziiklmnoprstufhye", strict=True)) | {
    "ё": "e",
    "ж": "zh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "sch",
    "ъ": "",
    "ь": "",
    "ю": "yu",
    "я": "ya",
    "ł": "l",
    "ß": "ss",
}


class Invalid(Exception):
    """Input a step cannot take; `key` names the catalog text that explains why."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


def one_line(text: str | None, limit: int, key: str) -> str:
    """A non-empty single line of at most `limit` characters (a name, a subject)."""
    value = (text or "").strip()
    if not value or len(value) > limit or "\n" in value:
        raise Invalid(key, limit=limit)
    return value


def suggest_slug(name: str, taken: set[str]) -> str:
    """A deep-link name from the survey's name: "Доставка Киев" → "dostavka-kiev"."""
    text = "".join(_TRANSLIT.get(c, c) for c in name.lower())
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[: MAX_SLUG - 3].strip("-") or "survey"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


async def free_slug(ctx: UpdateContext, text: str, survey_id: int | None) -> str:
    """A well-formed deep-link name that no other survey than `survey_id` uses."""
    slug = text.strip().lower()
    if not SLUG_RE.match(slug):
        raise Invalid("sv_err_slug", max=MAX_SLUG)
    existing = await ctx.store.surveys.by_slug(slug)
    if existing is not None and existing.id != survey_id:
        raise Invalid("sv_err_slug_taken", slug=slug)
    return slug


def fields_hint(allowed: frozenset[str]) -> str:
    """The placeholders a text may use, as an admin types them: "{brand}, {name}"."""
    return ", ".join(f"{{{name}}}" for name in sorted(allowed))


def check_placeholders(text: str, allowed: frozenset[str]) -> None:
    """Rejects braces other than the allowed {placeholders} (the text is .format()-ed)."""
    hint = fields_hint(allowed)
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:  # a lone "{" or "}"
        raise Invalid("sv_err_braces", allowed=hint) from None
    for _, name, spec, conv in parsed:
        if name is None:
            continue
        if not name:  # "{}" has no name for format() to fill
            raise Invalid("sv_err_braces", allowed=hint)
        if name not in allowed or spec or conv:
            raise Invalid("sv_err_placeholder", field=name, allowed=hint)


def check_text(text: str, allowed: frozenset[str]) -> str:
    """A survey text: at most MAX_TEXT characters, only the allowed placeholders."""
    if len(text) > MAX_TEXT:
        raise Invalid("sv_err_text_long", limit=MAX_TEXT)
    check_placeholders(text, allowed)
    return text


def check_url(text: str) -> str:
    """A review link Telegram accepts on a URL button: http(s)://host.tld/…"""
    url = text.strip()
    if len(url) > MAX_URL or any(c.isspace() for c in url):
        raise Invalid("sv_err_url")
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or "." not in host or host.endswith("."):
        raise Invalid("sv_err_url")
    return url


def check_template(text: str) -> str:
    """An approved WhatsApp template's name as WhatsApp Manager spells it."""
    name = text.strip()
    if not TEMPLATE_RE.match(name):
        raise Invalid("sv_err_wa_template")
    return name


def clean_texts(raw: dict[str, Any]) -> dict[str, Any]:
    """Per-language overrides without empty languages (a new dict, so JSON notices)."""
    return {code: dict(entries) for code, entries in raw.items() if entries}

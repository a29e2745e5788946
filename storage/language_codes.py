"""Telegram's `language_code` made fit to store.

Telegram passes the client's IETF language tag through unchecked: usually `en` or `pt-br`,
but a tag such as `zh-hant-tw-x-private1` is longer than the column (PostgreSQL refused the
whole update; SQLite stored it). Every place that stores a user's Telegram language keeps
what this function returns: the tag lowercased, with `_` read as `-`, cut at a whole subtag
before any private-use or extension part (`-x-…`, `-u-…`) and within the column's length.
Only the language subtag matters to the bot (catalogs and segments use its first two
letters), so nothing the bot uses is lost.
"""

from __future__ import annotations

import re
from functools import lru_cache

MAX_LENGTH = 16  # respondents.telegram_language
_LANGUAGE = re.compile(r"^[a-z]{2,8}$")
_SUBTAG = re.compile(r"^[a-z0-9]{2,8}$")  # single characters start extensions: stop there


@lru_cache(maxsize=512)  # called on every update; a handful of distinct codes in practice
def normalize_language_code(code: str | None, max_length: int = MAX_LENGTH) -> str | None:
    """The storable form of a Telegram language code, or None when it names no language."""
    if not code:
        return None
    parts = code.strip().lower().replace("_", "-").split("-")
    if not _LANGUAGE.match(parts[0]) or len(parts[0]) > max_length:
        return None
    kept = parts[0]
    for part in parts[1:]:
        if not _SUBTAG.match(part) or len(kept) + 1 + len(part) > max_length:
            break
        kept = f"{kept}-{part}"
    return kept

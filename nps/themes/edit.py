"""An owner's line that sets a theme's words: "delivery: courier, late, delivery, tracking"."""

from __future__ import annotations

import re

from nps.themes.text import words

KEY_MAX = 40
WORDS_MAX = 100
WORD_MAX = 60

_SPACES = re.compile(r"\s+")


def parse_edit(line: str) -> tuple[str, tuple[str, ...]]:
    """The theme key and its words or phrases; ValueError with a short reason if malformed.

    Words are separated by commas (a phrase keeps its spaces), trimmed, with repeated spaces
    collapsed and repeats (ignoring case) dropped; the key keeps its case.
    """
    key, colon, rest = line.partition(":")
    if not colon:
        raise ValueError("no colon: write 'theme: word, word'")
    key = _SPACES.sub(" ", key).strip()
    if not key:
        raise ValueError("empty theme name before the colon")
    if len(key) > KEY_MAX:
        raise ValueError(f"theme name longer than {KEY_MAX} characters")
    found: list[str] = []
    seen: set[str] = set()
    for part in rest.split(","):
        word = _SPACES.sub(" ", part).strip()
        if not word:
            continue
        if len(word) > WORD_MAX:
            raise ValueError(f"a word longer than {WORD_MAX} characters")
        if not words(word):
            raise ValueError(f"'{word}' has no letters")
        if word.casefold() not in seen:
            seen.add(word.casefold())
            found.append(word)
    if not found:
        raise ValueError("no words after the colon")
    if len(found) > WORDS_MAX:
        raise ValueError(f"more than {WORDS_MAX} words")
    return key, tuple(found)

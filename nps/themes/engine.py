"""Themes of comments, offline: the API other modules use (see notes in each module).

- text: normalised words and their Snowball stems per language (PyStemmer's wheel);
- matcher: ThemeSpec and Matcher, a comment's themes by stems of words and phrases;
- starter: the starter dictionary (price, delivery, staff, waiting, quality, app, support,
  payment) in en, ru, ro, pl;
- edit: parse_edit, an owner's "theme: word, word" line;
- suggest: groups of comments no theme covers, by their most telling stems.
Pure: no I/O, no storage.
"""

from __future__ import annotations

from nps.themes.edit import parse_edit
from nps.themes.matcher import Matcher, ThemeSpec
from nps.themes.starter import starter_themes
from nps.themes.suggest import Suggestion, suggest
from nps.themes.text import LANGUAGES

__all__ = [
    "LANGUAGES",
    "Matcher",
    "Suggestion",
    "ThemeSpec",
    "parse_edit",
    "starter_themes",
    "suggest",
]

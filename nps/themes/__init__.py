"""Themes of comments, found offline: a stemmed word dictionary per language (see engine)."""

from nps.themes.engine import (
    LANGUAGES,
    Matcher,
    Suggestion,
    ThemeSpec,
    parse_edit,
    starter_themes,
    suggest,
)

__all__ = [
    "LANGUAGES",
    "Matcher",
    "Suggestion",
    "ThemeSpec",
    "parse_edit",
    "starter_themes",
    "suggest",
]

"""How the team sees a theme's name, and which theme a `/comments` word names."""

from __future__ import annotations

from handlers.texts import TextsLike
from nps.nps_report import Texts
from storage.repos.surveys import SurveyView
from storage.repos.themes import ThemeRow

# Starter themes with a catalog label (theme_<key>); other keys are shown as typed.
LABELLED = frozenset(
    {"price", "delivery", "staff", "waiting", "quality", "app", "support", "payment"}
)
# `/comments theme:delivery` names a theme even where a survey has the same name.
THEME_PREFIX = "theme:"


def label(key: str, texts: Texts) -> str:
    """A theme's name for the team: a starter theme's in their language, an owner's as
    typed (plain text)."""
    return texts.plain(f"theme_{key}") if key in LABELLED else key


def change_mark(change: int) -> str:
    """A theme's change in mentions since the period before: "▲5", "▼2" or "="."""
    if change > 0:
        return f"▲{change}"
    if change < 0:
        return f"▼{-change}"
    return "="


class UnknownTheme(ValueError):
    """`theme:<name>` names no theme in use."""


def take_theme(
    args: str, rows: tuple[ThemeRow, ...], surveys: list[SurveyView], texts: TextsLike
) -> tuple[str, ThemeRow | None]:
    """Finds the theme a command's words name and returns the other words with it.

    `theme:<key>` always names a theme; a bare word does when it is an active theme's key
    or one-word name and no survey is called so (the survey wins: `theme:` reaches the
    theme). Raises UnknownTheme for a `theme:` word that names none.
    """
    active = [row for row in rows if row.active]
    names: dict[str, ThemeRow] = {}
    for row in active:
        names.setdefault(label(row.key, texts).casefold(), row)
        names[row.key.casefold()] = row
    taken = {s.slug.casefold() for s in surveys} | {s.name.casefold() for s in surveys}
    words = args.split()
    for i, word in enumerate(words):
        lowered = word.casefold()
        if lowered.startswith(THEME_PREFIX):
            found = names.get(lowered[len(THEME_PREFIX) :])
            if found is None:
                raise UnknownTheme(word[len(THEME_PREFIX) :])
        else:
            found = names.get(lowered) if lowered not in taken else None
        if found is not None:
            return " ".join(words[:i] + words[i + 1 :]), found
    return args, None

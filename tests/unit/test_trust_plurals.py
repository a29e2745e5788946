"""Plural forms follow each language's CLDR rules through gettext (issue 9 item 22, issue 10):
the real catalog messages, counted the way users see them."""

from __future__ import annotations

import pytest
from babel import Locale
from babel.messages.plurals import get_plural

from bot.i18n import Catalogs, plural_count

CATALOGS = Catalogs()


def _say(language: str, key: str, n: int | str) -> str:
    name = {"cases_open": "open", "bc_team_members": "count", "pv_mydata_more": "n"}[key]
    return CATALOGS.texts(language).plain(key, **{name: n})


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, "1 открытое"),
        (2, "2 открытых"),
        (5, "5 открытых"),
        (11, "11 открытых"),
        (21, "21 открытое"),
        (22, "22 открытых"),
        (0, "0 открытых"),
        ("1\u202f001", "1\u202f001 открытое"),
    ],
)
def test_russian_open_cases_agree_with_the_count(n: int | str, expected: str) -> None:
    assert _say("ru", "cases_open", n) == expected


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, "1 otwarta"),
        (2, "2 otwarte"),
        (5, "5 otwartych"),
        (12, "12 otwartych"),
        (21, "21 otwartych"),  # 21 is "many" in Polish, unlike Russian's "one"
        (22, "22 otwarte"),
        (0, "0 otwartych"),
    ],
)
def test_polish_open_cases_agree_with_the_count(n: int, expected: str) -> None:
    assert _say("pl", "cases_open", n) == expected


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, "1 membru al echipei"),
        (2, "2 membri ai echipei"),
        (19, "19 membri ai echipei"),
        (20, "20 de membri ai echipei"),
        (101, "101 membri ai echipei"),
        (120, "120 de membri ai echipei"),
        ("1.200", "1.200 de membri ai echipei"),  # thousands, not a fraction
    ],
)
def test_romanian_takes_de_from_twenty(n: int | str, expected: str) -> None:
    assert _say("ro", "bc_team_members", n) == expected


@pytest.mark.parametrize(
    ("n", "expected"),
    [(1, "1 team member"), (2, "2 team members"), (21, "21 team members"), (0, "0 team members")],
)
def test_english_counts(n: int, expected: str) -> None:
    assert _say("en", "bc_team_members", n) == expected


def test_the_cases_line_joins_two_counts() -> None:
    from nps.cases_text import cases_text

    assert cases_text(CATALOGS.texts("ru"), 5, 1) == "Обращения критиков: 5 открытых, 1 решённое"
    assert cases_text(CATALOGS.texts("pl"), 3, 5) == "Sprawy krytyków: 3 otwarte · 5 rozwiązanych"
    assert cases_text(CATALOGS.texts("en"), 0, 1) == "Detractor cases: 0 open · 1 resolved"


@pytest.mark.parametrize("language", ["ru", "pl", "ro", "en"])
def test_gettext_forms_match_cldr_categories(language: str) -> None:
    """The Plural-Forms expression Babel wrote and CLDR agree on every whole count."""
    import gettext

    pick = gettext.c2py(get_plural(language).plural_expr)
    rule = Locale.parse(language).plural_form
    seen: dict[int, set[str]] = {}
    for n in range(0, 2000):
        seen.setdefault(pick(n), set()).add(rule(n))
    assert all(len(categories) == 1 for categories in seen.values()), seen


@pytest.mark.parametrize(
    ("value", "count"),
    [
        (7, 7),
        ("1\u202f001", 1001),
        ("12 345", 12345),
        ("1\u00a0019", 1019),
        ("1.200", 1200),
        ("1,200", 1200),
        ("3", 3),
    ],
)
def test_formatted_counts_are_read_as_whole_numbers(value: int | str, count: int) -> None:
    assert plural_count(value) == count


def test_a_fraction_takes_the_general_plural() -> None:
    assert _say("en", "bc_team_members", "1,5") == "1,5 team members"
    assert _say("pl", "cases_open", "1,5") == "1,5 otwartych"

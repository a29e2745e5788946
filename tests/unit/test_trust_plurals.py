"""Plural forms follow each language's CLDR rules; every catalog is complete and uses
exactly the plural categories its language has (issue 9, item 22)."""

from __future__ import annotations

import string

import pytest

from bot.i18n import Catalogs, Texts, plural_categories, plural_category, plural_forms

CATALOGS = Catalogs()

RU = "{n} {n:one=ответ|few=ответа|many=ответов|other=ответа}"
PL = "{n} {n:one=odpowiedź|few=odpowiedzi|many=odpowiedzi|other=odpowiedzi}"
RO = "{n} {n:one=răspuns|few=răspunsuri|other=de răspunsuri}"
EN = "{n} {n:answer|answers}"


def _say(language: str, template: str, n: str) -> str:
    return Texts(language, {"k": template}, {"k": template}).plain("k", n=n)


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        ("1", "1 ответ"),
        ("2", "2 ответа"),
        ("5", "5 ответов"),
        ("21", "21 ответ"),
        ("22", "22 ответа"),
        ("25", "25 ответов"),
        ("11", "11 ответов"),
        ("0", "0 ответов"),
        ("1.5", "1.5 ответа"),
        ("1,5", "1,5 ответа"),
        ("1\u202f001", "1\u202f001 ответ"),
    ],
)
def test_russian_counts(n: str, expected: str) -> None:
    assert _say("ru", RU, n) == expected


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        ("1", "1 odpowiedź"),
        ("2", "2 odpowiedzi"),
        ("5", "5 odpowiedzi"),
        ("21", "21 odpowiedzi"),
        ("22", "22 odpowiedzi"),
        ("25", "25 odpowiedzi"),
        ("11", "11 odpowiedzi"),
        ("0", "0 odpowiedzi"),
    ],
)
def test_polish_counts(n: str, expected: str) -> None:
    assert _say("pl", PL, n) == expected


@pytest.mark.parametrize(
    ("n", "category"),
    [
        ("1", "one"),
        ("2", "few"),
        ("5", "many"),
        ("21", "many"),
        ("22", "few"),
        ("25", "many"),
        ("11", "many"),
        ("0", "many"),
        ("1.5", "other"),
    ],
)
def test_polish_categories(n: str, category: str) -> None:
    # 21 is "many" in Polish (21 odpowiedzi, 21 plików), unlike Russian's "one".
    assert plural_category("pl", n) == category


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        ("1", "1 răspuns"),
        ("2", "2 răspunsuri"),
        ("5", "5 răspunsuri"),
        ("11", "11 răspunsuri"),
        ("0", "0 răspunsuri"),
        ("1.5", "1.5 răspunsuri"),
        ("20", "20 de răspunsuri"),
        ("21", "21 de răspunsuri"),
        ("25", "25 de răspunsuri"),
        ("119", "119 răspunsuri"),
    ],
)
def test_romanian_counts(n: str, expected: str) -> None:
    assert _say("ro", RO, n) == expected


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        ("1", "1 answer"),
        ("2", "2 answers"),
        ("21", "21 answers"),
        ("0", "0 answers"),
        ("1.5", "1.5 answers"),
        ("1\u202f001", "1\u202f001 answers"),
    ],
)
def test_english_two_form_syntax_still_works(n: str, expected: str) -> None:
    assert _say("en", EN, n) == expected
    assert _say("en", "{n} {n:one=answer|other=answers}", n) == expected


@pytest.mark.parametrize(
    ("n", "category"),
    [("1.200", "other"), ("1,200", "other"), ("1\u00a0019", "few"), ("1,5", "few"), ("19", "few")],
)
def test_formatted_counts_are_read_as_numbers(n: str, category: str) -> None:
    # Romanian: 1.200 (thousands) takes "de" (other); 1,5 (a fraction) and 19 are "few".
    assert plural_category("ro", n) == category


def test_each_language_has_its_cldr_categories() -> None:
    assert plural_categories("en") == {"one", "other"}
    assert plural_categories("ru") == {"one", "few", "many", "other"}
    assert plural_categories("pl") == {"one", "few", "many", "other"}
    assert plural_categories("ro") == {"one", "few", "other"}


def _fields(template: str) -> dict[str, set[str]]:
    """Placeholder name → the format specs it is used with."""
    found: dict[str, set[str]] = {}
    for _, name, spec, _ in string.Formatter().parse(template):
        if name:
            found.setdefault(name, set()).add(spec or "")
    return found


@pytest.mark.parametrize("language", [lang for lang in CATALOGS.languages if lang != "en"])
def test_plural_specs_use_their_languages_categories(language: str) -> None:
    """Every count names exactly the CLDR categories its language has (keys and
    placeholders matching English are checked by tests/unit/test_i18n.py)."""
    texts = CATALOGS.texts(language)
    needed = plural_categories(language)
    problems = []
    for key in sorted(CATALOGS.keys(language)):
        for name, specs in _fields(texts._template(key)[0]).items():
            for spec in specs:
                forms = plural_forms(spec)
                if forms is None:
                    continue
                if len(forms) == 2 and "=" not in spec and needed != {"one", "other"}:
                    problems.append(f"{key}: {{{name}:{spec}}} has only one|other forms")
                elif set(forms) != needed:
                    problems.append(
                        f"{key}: {{{name}}} names {sorted(forms)}, {language} needs "
                        f"{sorted(needed)}"
                    )
    assert not problems, "\n".join(problems)


def test_english_plural_specs_use_englishs_categories() -> None:
    texts = CATALOGS.texts("en")
    for key in CATALOGS.keys("en"):
        for specs in _fields(texts._template(key)[0]).values():
            for spec in specs:
                forms = plural_forms(spec)
                assert forms is None or set(forms) == {"one", "other"}, key

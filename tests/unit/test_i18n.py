"""Catalogs: every language complete, placeholders consistent, values escaped."""

from __future__ import annotations

import string

import pytest

from bot.i18n import Catalogs

CATALOGS = Catalogs()


@pytest.mark.parametrize("language", CATALOGS.languages)
def test_every_catalog_has_every_key_with_the_same_placeholders(language: str) -> None:
    reference = CATALOGS.texts("en")
    texts = CATALOGS.texts(language)
    assert CATALOGS.keys(language) == CATALOGS.keys("en")
    for key in CATALOGS.keys("en"):
        fields = {f for _, f, _, _ in string.Formatter().parse(texts._template(key)[0]) if f}
        ref = {f for _, f, _, _ in string.Formatter().parse(reference._template(key)[0]) if f}
        assert fields == ref, (language, key)


def test_values_are_escaped_but_catalog_markup_is_kept() -> None:
    texts = CATALOGS.texts("en")
    assert texts("greeting", name="<b>x</b>", brand="A&B") == (
        "Hi &lt;b&gt;x&lt;/b&gt;! One quick question about A&amp;B — it takes 20 seconds."
    )
    assert texts.plain("greeting", name="<b>x</b>", brand="A&B").startswith("Hi <b>x</b>!")


def test_survey_wording_overrides_the_catalog_and_is_escaped() -> None:
    texts = CATALOGS.texts("en", {"en": {"question": "Would you recommend {brand} <today>?"}})
    assert texts("question", brand="Acme") == "Would you recommend Acme &lt;today&gt;?"
    assert CATALOGS.texts("ru", {"en": {"question": "x"}})("question", brand="A").startswith(
        "Насколько"
    )


@pytest.mark.parametrize(
    ("override", "telegram", "expected"),
    [
        (None, "ru", "ru"),
        ("pl", "ru", "pl"),
        (None, "pt-BR", "en"),
        (None, None, "en"),
        (None, "ro-MD", "ro"),
    ],
)
def test_language_resolution(override: str | None, telegram: str | None, expected: str) -> None:
    assert CATALOGS.resolve(override, telegram) == expected


@pytest.mark.parametrize(
    ("n", "expected"),
    [("1", "(1 answer)"), ("2", "(2 answers)"), ("0", "(0 answers)"), ("11", "(11 answers)")],
)
def test_a_count_picks_its_word(n: str, expected: str) -> None:
    texts = CATALOGS.texts("en")
    assert expected in texts("score_line_small", nps="+10", margin="5", n=n)
    assert expected in texts.plain("score_line_small", nps="+10", margin="5", n=n)
    # Counts arrive formatted with thin spaces between thousands.
    assert "1\u202f001 answers" in texts(
        "score_line", nps="0", margin="1", low="-1", high="1", n="1\u202f001"
    )

"""Catalogs: gettext .po files that parse, every language complete (messages, placeholders,
plural forms), values escaped, survey wording on top (issue 10)."""

from __future__ import annotations

import gettext
import os
import shutil
import string
import subprocess
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from bot.i18n import LOCALES, REFERENCE, Catalogs

CATALOGS = Catalogs()
LANGUAGES = sorted(p.name for p in LOCALES.iterdir() if (p / "LC_MESSAGES").is_dir())
OTHERS = [language for language in LANGUAGES if language != REFERENCE]
PO_FILES = sorted(LOCALES.glob("*/LC_MESSAGES/*.po"))


@cache
def _catalog(path: Path) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, abort_invalid=True)  # a syntax error fails here, not silently


def _messages(language: str) -> dict[str, tuple[str, Message]]:
    """Key → (feature, message) over a language's .po files."""
    found: dict[str, tuple[str, Message]] = {}
    for path in sorted((LOCALES / language / "LC_MESSAGES").glob("*.po")):
        for message in _catalog(path):
            if message.id:
                key = str(message.id[0] if message.pluralizable else message.id)
                assert key not in found, f"{path}: {key} is also in {found[key][0]}.po"
                found[key] = (path.stem, message)
    return found


def _forms(message: Message) -> list[str]:
    string = message.string
    return [str(form) for form in string] if isinstance(string, tuple | list) else [string or ""]


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_no_toml_catalog_is_left_unconverted() -> None:
    stray = sorted(str(p.relative_to(LOCALES)) for p in LOCALES.glob("**/*.toml"))
    assert not stray, (
        f"TOML catalogs are no longer read: {stray}. Convert them into the .po files with "
        "`.venv/bin/python scripts/toml_to_po.py` (it merges their keys and deletes them)."
    )


def test_every_language_has_every_feature_file() -> None:
    expected = {p.name for p in (LOCALES / REFERENCE / "LC_MESSAGES").glob("*.po")}
    for language in OTHERS:
        found = {p.name for p in (LOCALES / language / "LC_MESSAGES").glob("*.po")}
        assert found == expected, language


@pytest.mark.parametrize("path", PO_FILES, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_po_file_parses_and_uses_its_languages_cldr_plural_forms(path: Path) -> None:
    catalog = _catalog(path)
    language = path.parent.parent.name
    assert str(catalog.locale) == language
    # Any spelling of the rule will do (msginit's, Babel's) if it picks the same forms.
    assert catalog.num_plurals == get_plural(language).num_plurals
    ours, cldr = gettext.c2py(catalog.plural_expr), gettext.c2py(get_plural(language).plural_expr)
    assert [ours(n) for n in range(1000)] == [cldr(n) for n in range(1000)]
    # Babel's own checks (python-format, number of plural forms).
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()]
    assert not problems


# .ci/run installs GNU gettext, so CI never skips this; elsewhere it needs `msgfmt`.
@pytest.mark.skipif(
    shutil.which("msgfmt") is None and not os.environ.get("CI"),
    reason="GNU gettext (msgfmt) is not installed; .ci/run installs it",
)
@pytest.mark.parametrize("path", PO_FILES, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_po_file_passes_msgfmt_check(path: Path) -> None:
    result = subprocess.run(
        ["msgfmt", "--check", "-o", "/dev/null", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_translates_every_message_with_its_placeholders(language: str) -> None:
    reference = _messages(REFERENCE)
    messages = _messages(language)
    nplurals = get_plural(language).num_plurals
    problems = [f"missing: {key}" for key in sorted(set(reference) - set(messages))]
    problems += [f"not in English: {key}" for key in sorted(set(messages) - set(reference))]
    for key, (feature, message) in sorted(messages.items()):
        if key not in reference:
            continue
        ref_feature, ref = reference[key]
        wanted = set().union(*(_fields(form) for form in _forms(ref)))
        if feature != ref_feature:
            problems.append(f"{key}: in {feature}.po, English has it in {ref_feature}.po")
        if message.fuzzy:
            problems.append(f"{key}: fuzzy (not used until reviewed)")
        if message.pluralizable != ref.pluralizable or message.id != ref.id:
            problems.append(f"{key}: msgid/msgid_plural {message.id!r}, English {ref.id!r}")
            continue
        forms = _forms(message)
        if message.pluralizable and len(forms) != nplurals:
            problems.append(f"{key}: {len(forms)} plural forms, {language} needs {nplurals}")
        for index, form in enumerate(forms):
            if not form:
                problems.append(f"{key}[{index}]: empty")
            elif _fields(form) != wanted:
                problems.append(f"{key}[{index}]: placeholders {_fields(form)}, want {wanted}")
            else:
                form.format(**dict.fromkeys(wanted, "x"))  # a stray brace raises here
    assert not problems, "\n".join(problems)


def test_the_loaded_catalogs_hold_every_message() -> None:
    assert CATALOGS.languages == [REFERENCE, *OTHERS]
    for language in LANGUAGES:
        assert CATALOGS.keys(language) == set(_messages(REFERENCE)), language


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
    # An override of a plural message is the admin's text whatever the count.
    texts = CATALOGS.texts("ru", {"ru": {"bc_employees": "{count} чел."}})
    assert texts.plain("bc_employees", count=5) == "5 чел."


def test_an_unknown_key_names_the_catalog() -> None:
    with pytest.raises(KeyError, match="English catalog"):
        CATALOGS.texts("ru")("no_such_key")


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

"""The gettext loader on small catalogs in a temporary folder: compiled once per content,
fuzzy or missing texts fall back to English, a key in two features is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.i18n import Catalogs

HEADER = """msgid ""
msgstr ""
"Language: {language}\\n"
"Plural-Forms: {plural}\\n"
"Content-Type: text/plain; charset=utf-8\\n"

"""
PLURALS = {
    "en": "nplurals=2; plural=(n != 1);",
    "ru": "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && "
    "(n%100<10 || n%100>=20) ? 1 : 2);",
}


def _write(root: Path, language: str, feature: str, body: str) -> Path:
    path = root / language / "LC_MESSAGES" / f"{feature}.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER.format(language=language, plural=PLURALS[language]) + body, "utf-8")
    return path


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("NPSBOT_LOCALE_CACHE", str(folder))
    return folder


def test_plurals_fallback_and_fuzzy(tmp_path: Path) -> None:
    root = tmp_path / "locales"
    _write(
        root,
        "en",
        "main",
        'msgid "hello"\nmsgstr "Hello {name}"\n\nmsgid "bye"\nmsgstr "Bye"\n\n'
        'msgid "files"\nmsgid_plural "n"\nmsgstr[0] "{n} file"\nmsgstr[1] "{n} files"\n\n'
        'msgid "pages"\nmsgid_plural "n"\nmsgstr[0] "{n} page"\nmsgstr[1] "{n} pages"\n',
    )
    _write(
        root,
        "ru",
        "main",
        '#, fuzzy\nmsgid "hello"\nmsgstr "Привет, {name}"\n\n'
        'msgid "files"\nmsgid_plural "n"\n'
        'msgstr[0] "{n} файл"\nmsgstr[1] "{n} файла"\nmsgstr[2] "{n} файлов"\n\n'
        'msgid "pages"\nmsgid_plural "n"\nmsgstr[0] "{n} страница"\nmsgstr[1] ""\nmsgstr[2] ""\n',
    )
    catalogs = Catalogs(root)
    ru = catalogs.texts("ru")
    assert [ru.plain("files", n=n) for n in (1, 3, 5, 21)] == [
        "1 файл",
        "3 файла",
        "5 файлов",
        "21 файл",
    ]
    assert ru("hello", name="Ann") == "Hello Ann"  # fuzzy: not used until reviewed
    assert ru("bye") == "Bye"  # missing: English
    # A plural with a form left empty: English in full, never an empty message.
    assert [ru.plain("pages", n=n) for n in (1, 5)] == ["1 page", "5 pages"]
    assert catalogs.keys("ru") == {"files"}
    assert catalogs.texts("en").plain("files", n=1) == "1 file"


def test_a_changed_po_file_is_compiled_again(tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "locales"
    path = _write(root, "en", "main", 'msgid "hello"\nmsgstr "Hello"\n')
    assert Catalogs(root).texts("en")("hello") == "Hello"
    assert len(list(cache.glob("en-*.mo"))) == 1
    assert Catalogs(root).texts("en")("hello") == "Hello"  # from the cache
    path.write_text(path.read_text("utf-8").replace('"Hello"', '"Hi"'), "utf-8")
    assert Catalogs(root).texts("en")("hello") == "Hi"
    assert len(list(cache.glob("en-*.mo"))) == 1  # the stale one is gone


def test_a_key_in_two_features_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "locales"
    _write(root, "en", "one", 'msgid "hello"\nmsgstr "Hello"\n')
    _write(root, "en", "two", 'msgid "hello"\nmsgstr "Hi"\n')
    with pytest.raises(RuntimeError, match="hello"):
        Catalogs(root)

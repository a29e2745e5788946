"""Words of a comment for theme matching: normalised tokens and their stems per language.

Stemming is Snowball's (PyStemmer, a C extension in its wheel): English, Russian, Romanian and,
since Snowball 3.1, Polish. Nothing is downloaded or loaded from disk at run time.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable
from functools import cache

import Stemmer

LANGUAGES = ("en", "ru", "ro", "pl")

_SNOWBALL = {"en": "english", "ru": "russian", "ro": "romanian", "pl": "polish"}

# Letters only: digits, "_" and punctuation split words, so "site-ul" is "site" + "ul" and
# "трек-номер" is "трек" + "номер" (phrases match such pairs).
_WORD = re.compile(r"[^\W\d_]+")

# Romanian is typed with cedillas (ş ţ, old keyboards) as often as with commas (ș ț); "ё" is
# usually typed as "е". One spelling for each before anything else.
_SPELLING = str.maketrans({"ё": "е", "ş": "ș", "ţ": "ț", "Ş": "ș", "Ţ": "ț"})

# Letters that NFD does not split into base + mark but people replace by the bare letter.
_BARE = str.maketrans({"ł": "l", "ß": "ss", "ø": "o", "đ": "d"})


def normalise(text: str) -> str:
    """Lower case with one spelling of ё/е and of Romanian ș ț (the matcher's input)."""
    return text.lower().translate(_SPELLING)


def words(text: str) -> list[str]:
    """The normalised words of a text, in order."""
    return _WORD.findall(normalise(text))


def strip_marks(word: str) -> str:
    """Latin letters without diacritics ("întârziere" → "intarziere"); Cyrillic left alone."""
    if word.isascii():
        return word
    # NFD would turn "й" into "и" + breve: only Latin letters lose their marks.
    out: list[str] = []
    for char in unicodedata.normalize("NFD", word.translate(_BARE)):
        if unicodedata.combining(char) and out and "a" <= out[-1] <= "z":
            continue
        out.append(char)
    return unicodedata.normalize("NFC", "".join(out))


_PER_THREAD = threading.local()


def stemmer(language: str) -> Callable[[str], str]:
    """The language's Snowball stemmer (stemWord), one per thread: PyStemmer's objects are
    not safe to share between threads, and matching may run in a worker thread."""
    mine: dict[str, Callable[[str], str]] | None = getattr(_PER_THREAD, "stemmers", None)
    if mine is None:
        mine = _PER_THREAD.stemmers = {}
    stem = mine.get(language)
    if stem is None:
        stem = mine[language] = Stemmer.Stemmer(_SNOWBALL[language]).stemWord
    return stem


def stem_keys(word: str, language: str) -> tuple[str, ...]:
    """Stems a normalised word is known by, diacritics removed.

    Customers write "intarziere" as often as "întârziere" and "kolejke" for "kolejkę". The
    stem of the bare word and the bare stem of the written word are both kept: the bare one
    groups diacritic-less spellings, the written one keeps the suffix rules that need the marks
    (Polish "czekałem" → "czek"). Two words match when they share a key.
    """
    stem = stemmer(language)
    bare = strip_marks(word)
    first = stem(bare)
    second = strip_marks(stem(word))
    return (first,) if first == second else (first, second)


# Stems shorter than this never match by prefix: "cen" (ru/pl price) must not match "center".
PREFIX_MIN = 5
# A text stem may run on this many letters past a dictionary stem: Snowball leaves some
# suffixes ("pricey" → "pricey", "aplicatia" → "aplicat", "deliveri") that a prefix joins.
PREFIX_SLACK = 3


def prefixes(key: str) -> tuple[str, ...]:
    """The key and its prefixes a dictionary stem may equal (see PREFIX_MIN, PREFIX_SLACK)."""
    shortest = max(PREFIX_MIN, len(key) - PREFIX_SLACK)
    return (key, *(key[:n] for n in range(len(key) - 1, shortest - 1, -1)))


_CYRILLIC = re.compile(r"[а-я]")
_ROMANIAN = re.compile(r"[ăâîșț]")
_POLISH = re.compile(r"[ąćęłńóśźż]")


def guess_language(text: str) -> str:
    """A language for a comment whose language is not known (suggestions stem by it).

    By letters only one language has; else, for Latin text typed without diacritics, by
    which language's function words it uses most ("nu", "si" / "nie", "jest"); else English.
    """
    low = normalise(text)
    if _CYRILLIC.search(low):
        return "ru"
    if _ROMANIAN.search(low):
        return "ro"
    if _POLISH.search(low):
        return "pl"
    found = words(low)
    hits = {lang: sum(1 for w in found if w in common) for lang, common in _COMMON.items()}
    return max(_COMMON, key=lambda lang: hits[lang])  # ties: the first, English


# The commonest function words of the Latin-script languages, as typed without diacritics
# (the stop-word lists are too long for this: the English one holds "nu", "si", "de").
_COMMON = {
    "en": frozenset("the and is was are to of it not for with my you very but this".split()),
    "ro": frozenset("si nu cu la de pe este e sunt mai foarte din pentru am ca se".split()),
    "pl": frozenset("nie jest i w na z sie za do bardzo mi ze jak juz tylko".split()),
}


# Thanks and please are in many comments that name no theme; as a suggested theme they say
# nothing, so suggestions skip them like function words.
_COURTESY = {
    "en": ("thanks", "thank", "thx", "please", "okay"),
    "ru": ("спасибо", "благодарю", "пожалуйста", "спс"),
    "ro": ("mulțumesc", "mulțumim", "mersi", "vă rog"),
    "pl": ("dziękuję", "dziękujemy", "dzięki", "proszę"),
}


@cache
def stop_words(language: str) -> frozenset[str]:
    """Function words of a language, bare of diacritics (stop-words' lists, in its wheel)."""
    from stop_words import get_stop_words  # only suggestions need them: imported when asked

    listed = [*get_stop_words(_SNOWBALL[language]), *_COURTESY[language]]
    return frozenset(strip_marks(w) for phrase in listed for w in words(phrase))

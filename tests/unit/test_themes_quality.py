"""Themes of comments (issue 15): quality on a labelled corpus, and the engine's behaviour.

tests/data/themes_corpus.jsonl: 850 comments written for these tests in en, ru, ro, pl, each
with its true set of starter themes, in parts that say how the starter word lists
(nps/themes/starter.py) were made:

- "tune" (4 × ~110, shop / delivery / call centre / SaaS): written first; the lists were
  tuned while looking at its errors;
- "held_out": every fifth comment of that first batch; never looked at while tuning;
- "tune2" (4 × 25, telecom / hotel / repairs), "tune3" (4 × 25, clinic / gym / rental /
  e-learning): each written after the lists were frozen, measured once (first look: P 0.84
  R 0.53, then P 0.71 R 0.66), then used for tuning;
- "blind" (4 × 25, mixed domains, each language written on its own): written after the last
  tuning and measured once; never tuned on.

Figures: micro precision and recall of (comment, theme) pairs; `pytest -s` prints the table.
The 0.8 target holds for the whole set, per language; "blind" (new wording and domains the
lists have not seen) has lower recall, asserted as a floor against regressions.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from nps.themes import (
    LANGUAGES,
    Matcher,
    Suggestion,
    ThemeSpec,
    parse_edit,
    starter_themes,
    suggest,
)
from nps.themes import matcher as matcher_module
from nps.themes.text import guess_language, strip_marks

CORPUS = Path(__file__).resolve().parents[1] / "data" / "themes_corpus.jsonl"
TARGET = 0.8
PARTS = ("tune", "held_out", "tune2", "tune3", "blind")
BLIND_PRECISION = 0.8
BLIND_RECALL = 0.7  # below the target: words outside the lists are missed (see the docstring)
STARTER_KEYS = {"price", "delivery", "staff", "waiting", "quality", "app", "support", "payment"}


def _corpus() -> list[dict[str, object]]:
    with CORPUS.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


@dataclass
class _Score:
    right: int = 0  # theme assigned and true
    wrong: int = 0  # assigned, not true
    missed: int = 0  # true, not assigned

    @property
    def precision(self) -> float:
        return self.right / (self.right + self.wrong) if self.right + self.wrong else 1.0

    @property
    def recall(self) -> float:
        return self.right / (self.right + self.missed) if self.right + self.missed else 1.0


def _score(rows: Iterable[dict[str, object]], matcher: Matcher) -> _Score:
    score = _Score()
    for row in rows:
        got = matcher.match(str(row["text"]), str(row["lang"]))
        want = set(row["themes"])  # type: ignore[call-overload]
        score.right += len(got & want)
        score.wrong += len(got - want)
        score.missed += len(want - got)
    return score


def _table(rows: list[dict[str, object]], matcher: Matcher) -> dict[tuple[str, str], _Score]:
    table: dict[tuple[str, str], _Score] = {}
    for language in (*LANGUAGES, "all"):
        for part in (*PARTS, "all"):
            chosen = [
                r for r in rows if language in ("all", r["lang"]) and part in ("all", r["part"])
            ]
            table[(language, part)] = _score(chosen, matcher)
    return table


def _render(table: dict[tuple[str, str], _Score]) -> str:
    lines = [
        "language | part     | precision | recall",
        "---------|----------|-----------|-------",
    ]
    for (language, part), score in table.items():
        if part == "all" or language == "all" or part in ("tune", "held_out", "blind"):
            lines.append(f"{language:8} | {part:8} | {score.precision:9.3f} | {score.recall:6.3f}")
    return "\n".join(lines)


def test_corpus_is_big_varied_and_labelled_with_starter_themes() -> None:
    rows = _corpus()
    assert len(rows) >= 400
    for language in LANGUAGES:
        mine = [r for r in rows if r["lang"] == language]
        assert len(mine) >= 100, language
        held = [r for r in mine if r["part"] == "held_out"]
        assert len(held) >= 25, language
        assert {r["part"] for r in mine} == set(PARTS)
        assert sum(1 for r in mine if r["part"] == "blind") >= 25
    assert all(set(r["themes"]) <= STARTER_KEYS for r in rows)  # type: ignore[call-overload]
    none = sum(1 for r in rows if not r["themes"])
    two = sum(1 for r in rows if len(r["themes"]) >= 2)  # type: ignore[arg-type]
    assert 0.1 <= none / len(rows) <= 0.25
    assert two / len(rows) >= 0.1
    assert len({(r["lang"], r["text"]) for r in rows}) == len(rows)  # no comment twice


def test_starter_themes_reach_the_target_in_every_language() -> None:
    table = _table(_corpus(), Matcher(starter_themes()))
    report = _render(table)
    print("\nTheme assignment on tests/data/themes_corpus.jsonl\n" + report)
    for language in (*LANGUAGES, "all"):
        score = table[(language, "all")]
        assert score.precision >= TARGET, f"{language} precision\n{report}"
        assert score.recall >= TARGET, f"{language} recall\n{report}"
    held = table[("all", "held_out")]
    assert held.precision >= TARGET and held.recall >= TARGET, f"held-out part\n{report}"
    blind = table[("all", "blind")]
    assert blind.precision >= BLIND_PRECISION, f"blind part\n{report}"
    assert blind.recall >= BLIND_RECALL, f"blind part\n{report}"


def test_a_matcher_without_the_words_misses_the_target() -> None:
    """The figures come from the dictionary: an English-only one fails the other languages."""
    english_only = [ThemeSpec(t.key, {"en": t.words["en"]}) for t in starter_themes()]
    table = _table(_corpus(), Matcher(english_only))
    assert table[("ru", "all")].recall < 0.1
    assert table[("all", "all")].recall < TARGET


def test_starter_dictionary_has_every_theme_in_every_language() -> None:
    themes = starter_themes()
    assert [t.key for t in themes] == [
        "price",
        "delivery",
        "staff",
        "waiting",
        "quality",
        "app",
        "support",
        "payment",
    ]
    for theme in themes:
        assert set(theme.words) == set(LANGUAGES), theme.key
        for language, entries in theme.words.items():
            assert len(entries) >= 10, (theme.key, language)
            assert all(entry == entry.strip() and entry for entry in entries)


STARTER = Matcher(starter_themes())


@pytest.mark.parametrize(
    ("language", "text", "theme"),
    [
        ("en", "Deliveries are always late", "delivery"),
        ("en", "the couriers never call", "delivery"),
        ("en", "Prices went up again", "price"),
        ("en", "we waited for ages", "waiting"),
        ("ru", "Курьера ждали весь день", "delivery"),
        ("ru", "доставкой недоволен", "delivery"),
        ("ru", "о качестве ничего плохого не скажу", "quality"),
        ("ru", "с оплатой картой проблемы", "payment"),
        ("ro", "Livrările întârzie mereu", "delivery"),
        ("ro", "livrarile intarzie mereu", "delivery"),
        ("ro", "coletele vin deschise", "delivery"),
        ("ro", "Aplicatia nu merge", "app"),
        ("ro", "plățile nu trec", "payment"),
        ("pl", "Kurierzy są niesolidni", "delivery"),
        ("pl", "na przesyłkę czekałem tydzień", "delivery"),
        ("pl", "w kolejkach stoi się godzinę", "waiting"),
        ("pl", "dostawe mialem po tygodniu", "delivery"),
        ("pl", "płatnościami kartą są problemy", "payment"),
    ],
)
def test_word_forms_match_through_the_languages_stemmer(
    language: str, text: str, theme: str
) -> None:
    assert theme in STARTER.match(text, language)


@pytest.mark.parametrize(
    ("language", "dictionary_word", "written"),
    [
        ("ro", "întârziere", "intarzierea"),
        ("ro", "intarziere", "întârzierile"),
        ("ro", "țeapă", "ţeapă"),  # comma below in the dictionary, cedilla in the comment
        ("ro", "ţeapă", "teapa"),
        ("ru", "ёлка", "елки"),
        ("ru", "елка", "Ёлки"),
        ("pl", "kolejka", "kolejke"),
        ("pl", "łódź", "LODZ"),
        ("en", "café", "cafe"),
    ],
)
def test_spelling_variants_match(language: str, dictionary_word: str, written: str) -> None:
    matcher = Matcher([ThemeSpec("t", {language: (dictionary_word,)})])
    assert matcher.match(written, language) == {"t"}


def test_cyrillic_letters_keep_their_marks() -> None:
    """ "й" is a letter of its own (NFD would split it): only Latin letters lose marks."""
    assert strip_marks("мой чай") == "мой чай"
    assert strip_marks("întârziere şi łódź") == "intarziere si lodz"
    matcher = Matcher([ThemeSpec("t", {"ru": ("чай",)})])
    assert matcher.match("Чаю не налили", "ru") == {"t"}


def test_phrases_match_consecutive_words_in_any_form() -> None:
    matcher = Matcher(
        [
            ThemeSpec("parking", {"en": ("parking lot",), "ru": ("пункт выдачи",)}),
            ThemeSpec("hold", {"en": ("on hold",)}),
        ]
    )
    assert matcher.match("The parking lots were full", "en") == {"parking"}
    assert matcher.match("Parking-lot, again", "en") == {"parking"}
    assert matcher.match("a lot of parking", "en") == frozenset()
    assert matcher.match("parking near the lot", "en") == frozenset()
    assert matcher.match("parking", "en") == frozenset()
    assert matcher.match("в пункте выдачи грязно", "ru") == {"parking"}
    assert matcher.match("выдачи в пункте нет", "ru") == frozenset()
    assert matcher.match("kept on hold", "en") == {"hold"}
    assert matcher.match("hold on", "en") == frozenset()


def test_short_stems_match_whole_words_only() -> None:
    """Prefix matching starts at five letters: "cen" (price) must not find "center"."""
    matcher = Matcher([ThemeSpec("price", {"pl": ("cena",), "en": ("price",)})])
    assert matcher.match("centrum handlowe", "pl") == frozenset()
    assert matcher.match("ceny", "pl") == {"price"}
    assert matcher.match("a bit pricey", "en") == {"price"}
    assert matcher.match("priceless memories", "en") == frozenset()


def test_language_restricts_the_words_tried_and_none_or_unknown_tries_all() -> None:
    assert STARTER.match("Курьер опоздал", "en") == frozenset()
    assert STARTER.match("Курьер опоздал", "ru") == {"delivery"}
    assert STARTER.match("Курьер опоздал", None) == {"delivery"}
    assert STARTER.match("Курьер опоздал", "de") == {"delivery"}
    assert STARTER.match("kurier i płatność", "xx") == {"delivery", "payment"}
    matcher = Matcher([ThemeSpec("t", {"en": ("parking",), "de": ("parkplatz",)})])
    assert matcher.match("parking", "ro") == frozenset()  # no Romanian words for it
    assert matcher.match("parkplatz", None) == frozenset()  # languages we do not stem: ignored


def test_owner_themes_with_any_key_and_two_themes_in_one_comment() -> None:
    matcher = Matcher(
        [
            ThemeSpec("доставка", {"ru": ("курьер", "доставка")}),
            ThemeSpec("парковка", {"ru": ("парковка",)}),
        ]
    )
    assert matcher.match("Курьеру негде встать: парковки нет", "ru") == {"доставка", "парковка"}
    assert matcher.covered("Парковкой доволен", "ru")
    assert not matcher.covered("Всё отлично", "ru")
    assert not matcher.covered("", "ru")
    assert not matcher.covered("12345 !!!", None)


def test_empty_dictionary_matches_nothing() -> None:
    assert Matcher([]).match("courier late, rude staff", None) == frozenset()


def test_the_memo_of_words_starts_afresh_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matcher_module, "_MEMO_LIMIT", 3)
    matcher = Matcher(starter_themes())
    for _ in range(2):
        assert matcher.match("one two three four courier", "en") == {"delivery"}
    memo = matcher._languages["en"].memo
    assert 0 < len(memo) <= 3


def test_parse_edit_reads_an_owners_line() -> None:
    assert parse_edit("delivery: courier, late, delivery, tracking") == (
        "delivery",
        ("courier", "late", "delivery", "tracking"),
    )
    assert parse_edit("  Доставка :  курьер,  трек   номер, , Курьер ") == (
        "Доставка",
        ("курьер", "трек номер"),
    )
    assert parse_edit("a: " + ", ".join(f"w{n}x" for n in range(100)))[1][-1] == "w99x"
    assert parse_edit("k" * 40 + ": " + "w" * 60) == ("k" * 40, ("w" * 60,))


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("delivery courier late", "no colon"),
        ("", "no colon"),
        (" : courier", "empty theme name"),
        ("k" * 41 + ": courier", "longer than 40"),
        ("delivery:", "no words"),
        ("delivery: , ,", "no words"),
        ("delivery: " + ", ".join(f"w{n}x" for n in range(101)), "more than 100"),
        ("delivery: " + "w" * 61, "longer than 60"),
        ("delivery: courier, 42", "no letters"),
    ],
)
def test_parse_edit_rejects_malformed_lines(line: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_edit(line)


def _uncovered_corpus() -> list[tuple[int, str, str | None]]:
    texts = [
        (1, "No parking anywhere near the store", "en"),
        (2, "Parking is a nightmare", "en"),
        (3, "parking", "en"),
        (4, "The parking lot is tiny and always full", "en"),
        (5, "Music in the hall is far too loud", "en"),
        (6, "Loud music, could not hear my friend", "en"),
        (7, "turn the music down please", None),
        (8, "Нет парковки рядом с магазином", "ru"),
        (9, "Парковка платная и маленькая", "ru"),
        (10, "парковки вообще нет, кругом машины", None),
        (11, "The courier was late", "en"),  # covered by delivery: ignored
        (12, "courier parking courier parking", "en"),  # covered: ignored
        (13, "Nothing", "en"),
        (14, "Good", "en"),
    ]
    return list(texts)


def test_suggest_groups_uncovered_comments_by_their_common_stems() -> None:
    found = suggest(_uncovered_corpus(), STARTER)
    assert [s.key for s in found] == ["parking", "music", "парковки"]
    parking = found[0]
    assert parking == Suggestion(terms=("parking",), example_ids=(2, 1), size=4, key="parking")
    assert found[1].terms[:2] == ("music", "loud") and found[1].size == 3
    assert found[1].example_ids == (7, 5)  # shortest readable first
    assert set(found[2].example_ids) <= {8, 9, 10} and found[2].size == 3
    assert all(11 not in s.example_ids and 12 not in s.example_ids for s in found)


def test_suggest_respects_limit_and_min_size() -> None:
    comments = _uncovered_corpus()
    assert [s.key for s in suggest(comments, STARTER, limit=1)] == ["parking"]
    assert suggest(comments, STARTER, min_size=5) == []
    assert [s.key for s in suggest(comments, STARTER, min_size=4)] == ["parking"]
    assert suggest(comments, STARTER, limit=0) == []
    assert suggest([], STARTER) == []


def test_suggest_skips_stop_words_and_what_themes_cover() -> None:
    comments: list[tuple[int, str, str | None]] = [
        (n, f"it was the {word} of all", "en")
        for n, word in enumerate(["best", "worst", "end", "rest"])
    ]
    assert [s.terms for s in suggest(comments, STARTER)] == []
    thanks: list[tuple[int, str, str | None]] = [
        (1, "Thanks!", "en"),
        (2, "Thank you", "en"),
        (3, "thanks a lot", None),
        (4, "Спасибо", "ru"),
        (5, "спасибо большое", "ru"),
        (6, "Спасибо!", None),
        (7, "Mulțumesc!", "ro"),
        (8, "multumesc", "ro"),
        (9, "Mulţumesc frumos", "ro"),
        (10, "Dziękuję", "pl"),
        (11, "dziekuje", "pl"),
        (12, "Dziękuję bardzo", "pl"),
    ]
    assert suggest(thanks, STARTER) == []
    delivered = [(n, f"courier number {n}", "en") for n in range(5)]
    assert suggest(delivered, STARTER) == []  # "number" only in covered comments


def test_suggest_is_deterministic_whatever_the_order() -> None:
    comments = _uncovered_corpus()
    first = suggest(comments, STARTER)
    for seed in range(5):
        shuffled = comments[:]
        random.Random(seed).shuffle(shuffled)
        assert suggest(shuffled, STARTER) == first


def test_suggest_ties_are_broken_by_term() -> None:
    comments: list[tuple[int, str, str | None]] = [
        (n, text, "en")
        for n, text in enumerate(
            [
                "zebra crossing here",
                "zebra crossing there",
                "zebra crossing everywhere",
                "apple trees here",
                "apple trees there",
                "apple trees everywhere",
            ]
        )
    ]
    found = suggest(comments, STARTER)
    assert [s.key for s in found] == ["apple", "crossing"]
    assert found[0].terms == ("apple", "trees")


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Курьер опоздал", "ru"),
        ("Plată refuzată", "ro"),
        ("Płatność odrzucona", "pl"),
        ("Plata cu cardul nu a trecut si nu e ok", "ro"),
        ("Nie moge zaplacic karta, to jest zart", "pl"),
        ("The music is too loud", "en"),
        ("parking", "en"),
        ("", "en"),
    ],
)
def test_guess_language_by_letters_then_by_function_words(text: str, language: str) -> None:
    assert guess_language(text) == language


def test_suggest_stems_comments_of_unknown_language_by_their_guessed_language() -> None:
    """Romanian typed without diacritics still groups "parcare"/"parcarea"/"parcari"."""
    comments: list[tuple[int, str, str | None]] = [
        (1, "Nu e parcare la intrare", None),
        (2, "parcarea e mereu plina si nu e loc", None),
        (3, "Lipsesc locurile de parcare", None),
    ]
    found = suggest(comments, STARTER)
    assert [(s.key, s.size) for s in found] == [("parcare", 3)]


def test_matching_from_several_threads_gives_the_same_themes() -> None:
    """Stemmers are per thread (PyStemmer objects must not be shared); the memo is shared."""
    from concurrent.futures import ThreadPoolExecutor

    rows = _corpus()
    matcher = Matcher(starter_themes())
    alone = Matcher(starter_themes())
    expected = [alone.match(str(r["text"]), str(r["lang"])) for r in rows]

    def run(offset: int) -> list[frozenset[str]]:
        order = rows[offset:] + rows[:offset]
        found = [matcher.match(str(r["text"]), str(r["lang"])) for r in order]
        return found[len(rows) - offset :] + found[: len(rows) - offset]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, [0, 211, 423, 637]))
    assert all(result == expected for result in results)

"""Themes of comments at scale (issue 15): assigning starter themes to 100 000 comments.

Comments are made by recombining the labelled corpus (tests/data/themes_corpus.jsonl): each is
one to three corpus comments of one language joined by a space, drawn with a fixed seed, so
the vocabulary and lengths are realistic and every run sees the same texts.

Per repeat (the median is reported), in this order on the same texts:

* **floor** — only lower-casing and splitting into words (``nps.themes.text.words``), which
  any matcher must do; the rest of the time is stemming and dictionary look-ups;
* **themes, language known** — a fresh ``Matcher(starter_themes())`` (so its per-word memo
  starts empty, and building it is included) and ``match(text, language)`` for every comment;
* **themes, language unknown** — the same with ``language=None``: all four dictionaries tried.

Then **suggestions**: ``suggest`` over 10 000 comments that no starter theme covers (corpus
comments labelled with no theme, recombined the same way with a few everyday complaints the
starter set lacks: parking, music, opening hours), with the groups it proposes.

    .venv/bin/python bench/themes.py --comments 100000 --uncovered 10000 --repeats 3

Target: themes for 100 000 comments in under 10 seconds on the development machine.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from nps.themes import LANGUAGES, Matcher, starter_themes, suggest  # noqa: E402
from nps.themes.text import words  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "themes_corpus.jsonl"
TARGET_SECONDS = 10.0

# Everyday complaints outside the starter themes, so suggestions have something to find.
EXTRA = {
    "en": ["No parking near the entrance", "The music inside is far too loud",
           "Opening hours are too short on Sundays"],
    "ru": ["Негде припарковаться у входа", "Музыка в зале слишком громкая",
           "Часы работы в воскресенье слишком короткие"],
    "ro": ["Nu e parcare lângă intrare", "Muzica din sală e prea tare",
           "Programul de duminică e prea scurt"],
    "pl": ["Brak parkingu przy wejściu", "Muzyka w sali jest za głośna",
           "Godziny otwarcia w niedzielę są za krótkie"],
}  # fmt: skip

Comment = tuple[int, str, str | None]


def _load() -> list[dict[str, object]]:
    with CORPUS.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _recombine(pool: dict[str, list[str]], count: int, seed: int) -> list[Comment]:
    rng = random.Random(seed)
    out: list[Comment] = []
    for n in range(count):
        language = LANGUAGES[n % len(LANGUAGES)]
        parts = rng.sample(pool[language], rng.choice((1, 1, 2, 3)))
        out.append((n, " ".join(parts), language))
    return out


def _timed(run: Callable[[], object], repeats: int) -> tuple[float, object]:
    seconds: list[float] = []
    result: object = None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def _assign(comments: Sequence[Comment], known: bool) -> int:
    matcher = Matcher(starter_themes())
    return sum(bool(matcher.match(text, lang if known else None)) for _, text, lang in comments)


def _floor(comments: Sequence[Comment]) -> int:
    return sum(len(words(text)) for _, text, _ in comments)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--comments", type=int, default=100_000)
    parser.add_argument("--uncovered", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()

    rows = _load()
    every: dict[str, list[str]] = {lang: [] for lang in LANGUAGES}
    plain: dict[str, list[str]] = {lang: [] for lang in LANGUAGES}
    for row in rows:
        every[str(row["lang"])].append(str(row["text"]))
        if not row["themes"]:
            plain[str(row["lang"])].append(str(row["text"]))
    comments = _recombine(every, args.comments, args.seed)
    words_total = _floor(comments)

    floor_s, _ = _timed(lambda: _floor(comments), args.repeats)
    known_s, covered = _timed(lambda: _assign(comments, True), args.repeats)
    unknown_s, _ = _timed(lambda: _assign(comments, False), args.repeats)

    starter = Matcher(starter_themes())
    for lang in LANGUAGES:
        plain[lang] = [t for t in plain[lang] if not starter.covered(t, lang)] + EXTRA[lang]
    drawn = _recombine(plain, args.uncovered * 2, args.seed)
    uncovered = [c for c in drawn if not starter.covered(c[1], c[2])][: args.uncovered]
    suggest_s, found = _timed(lambda: suggest(uncovered, Matcher(starter_themes())), args.repeats)

    n = len(comments)
    print(f"{n} comments, {words_total} words ({words_total / n:.1f} a comment); "
          f"{covered} ({covered / n:.0%}) mention a starter theme. "
          f"Median of {args.repeats}.\n")  # fmt: skip
    print("| run | comments | seconds | comments/s |")
    print("|---|---:|---:|---:|")
    for name, count, seconds in [
        ("floor: lower-case and split into words", n, floor_s),
        ("themes, language known", n, known_s),
        ("themes, language unknown (all four tried)", n, unknown_s),
        ("suggest over uncovered comments", len(uncovered), suggest_s),
    ]:
        print(f"| {name} | {count:,} | {seconds:.2f} | {count / seconds:,.0f} |")
    verdict = "meets" if known_s < TARGET_SECONDS and unknown_s < TARGET_SECONDS else "MISSES"
    print(f"\nTarget < {TARGET_SECONDS:.0f} s for {n:,} comments: {verdict}.\n")
    print("Suggestions (terms, size):")
    for each in found if isinstance(found, list) else []:
        print(f"- {', '.join(each.terms)} ({each.size})")


if __name__ == "__main__":
    main()

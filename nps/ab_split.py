"""A/B broadcasts: the `split A:"text" B:"text" control 10% [none]` words, and who gets
which arm.

Pure (no I/O): the randomness comes from the caller's `random.Random`, so tests can seed it
and the bot uses the operating system's generator.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

# The arm of the people who get no variant message (storage/split_models.CONTROL).
CONTROL: Final = "control"
MAX_VARIANTS: Final = 5
MAX_TEXT: Final = 1000  # characters of one variant message (Telegram takes 4096)
MAX_CONTROL_PCT: Final = 90
NAME: Final = r"[A-Za-z0-9_]{1,16}"

# A variant: a name, a colon and its text in quotes — straight, curly („…“ “…” «…») as
# phone keyboards type them.
_VARIANT = re.compile(
    rf"""\s*({NAME})\s*:\s*(?:"([^"]*)"|“([^”]*)”|„([^“”]*)[“”]|«([^»]*)»)""",
)
# `control 10%`, and `control 10% none` (or `never`): the control group held back. The
# keyword is English in every language, as `split` and `control` are; a variant that
# happens to be called "none" (`none:"…"`) is not taken for it.
_CONTROL = re.compile(
    r"\s*control\s*:?\s*(\d{1,3}(?:[.,]\d+)?)(?:\s*%)?(?:\s+(none|never)\b(?!\s*:))?",
    re.IGNORECASE,
)
_SPLIT_WORD = re.compile(r"(?:^|\s)split(?=\s|$)", re.IGNORECASE)


class SplitError(ValueError):
    """A split that cannot be understood; `key` and `values` name a catalog text."""

    def __init__(self, key: str, **values: str) -> None:
        super().__init__(f"{key}: {values}")
        self.key = key
        self.values = values


@dataclass(frozen=True)
class Variant:
    """One variant: its name ("A") and the message sent before the question."""

    name: str
    text: str


@dataclass(frozen=True)
class Split:
    """The arms of a split broadcast: the variants, the control group's share (0..1) and
    whether it is held back (never messaged by the broadcast) rather than asked the plain
    question at the same time as the others."""

    variants: tuple[Variant, ...]
    control_share: float = 0.0
    held_back: bool = False

    @property
    def arms(self) -> tuple[str, ...]:
        """The arm names in order, the control group last."""
        names = tuple(v.name for v in self.variants)
        return (*names, CONTROL) if self.control_share else names

    def shares(self) -> dict[str, float]:
        """The planned share of each arm (variants share what the control group leaves)."""
        each = (1.0 - self.control_share) / len(self.variants)
        shares = {v.name: each for v in self.variants}
        if self.control_share:
            shares[CONTROL] = self.control_share
        return shares


def split_off(rest: str) -> tuple[str, str | None]:
    """Separates `[segment] split …` into the segment words and the split's (None without)."""
    match = _SPLIT_WORD.search(rest)
    if match is None:
        return rest, None
    return rest[: match.start()].strip(), rest[match.end() :].strip()


def parse_split(text: str) -> Split:
    """Parses `A:"text" B:"text" [control N% [none|never]]`; raises SplitError with a
    catalog key."""
    variants: list[Variant] = []
    control: float | None = None
    held_back = False
    position = 0
    while position < len(text):
        if not text[position:].strip():
            break
        if (found := _CONTROL.match(text, position)) is not None:
            if control is not None:
                raise SplitError("split_twice", name=CONTROL)
            control = _control_share(found.group(1))
            held_back = found.group(2) is not None
            position = found.end()
            continue
        if (found := _VARIANT.match(text, position)) is None:
            term = text[position:].split()[0]
            raise SplitError("split_bad_term", term=term[:40])
        name = found.group(1)
        body = next(g for g in found.groups()[1:] if g is not None).strip()
        if name.lower() == CONTROL:
            raise SplitError("split_reserved_name", name=name)
        if any(v.name.lower() == name.lower() for v in variants):
            raise SplitError("split_twice", name=name)
        if not body or len(body) > MAX_TEXT:
            raise SplitError("split_text_length", name=name, limit=str(MAX_TEXT))
        variants.append(Variant(name, body))
        position = found.end()
    if not variants:
        raise SplitError("split_no_variants")
    if len(variants) > MAX_VARIANTS:
        raise SplitError("split_too_many", limit=str(MAX_VARIANTS))
    share = control or 0.0
    if len(variants) == 1 and not share:
        # One variant alone compares with nothing: a control group is needed.
        raise SplitError("split_one_arm", name=variants[0].name)
    return Split(tuple(variants), share, held_back)


def _control_share(text: str) -> float:
    pct = float(text.replace(",", "."))
    if not 0 < pct <= MAX_CONTROL_PCT:
        raise SplitError("split_bad_control", pct=text, limit=str(MAX_CONTROL_PCT))
    return pct / 100.0


def plan(total: int, split: Split) -> dict[str, int]:
    """How many of `total` recipients each arm gets: the control group its share (rounded
    half up), the variants the rest equally (the first ones one more when it is odd)."""
    control = int(total * split.control_share + 0.5) if split.control_share else 0
    rest = total - control
    k = len(split.variants)
    counts = {v.name: rest // k + (1 if i < rest % k else 0) for i, v in enumerate(split.variants)}
    if split.control_share:
        counts[CONTROL] = control
    return counts


def assign(people: Sequence[int], split: Split, rng: random.Random) -> dict[int, str]:
    """A random arm for each person, in the planned numbers (`plan`): the people are
    shuffled, the first ones form the control group and the others are dealt out to the
    variants in turn, so every person is equally likely to be in any variant."""
    order = list(people)
    rng.shuffle(order)
    counts = plan(len(order), split)
    control = counts.get(CONTROL, 0)
    arms = {person: CONTROL for person in order[:control]}
    names = [v.name for v in split.variants]
    for index, person in enumerate(order[control:]):
        arms[person] = names[index % len(names)]
    return arms

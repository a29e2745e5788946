"""`/nps compare` arguments (nps/compare_args.py) and the split words of an A/B broadcast
(nps/ab_split.py): what is understood, and every mistake named."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime

import pytest

from nps.ab_split import CONTROL, SplitError, assign, parse_split, plan, split_off
from nps.compare_args import parse_compare_args
from nps.periods import Period
from nps.scope import ArgumentError
from storage.repos.surveys import SurveyView

TODAY = date(2026, 11, 20)


def _survey(sid: int, slug: str, kind: str = "nps") -> SurveyView:
    return SurveyView(
        sid,
        slug,
        slug.title(),
        kind,
        sid == 1,
        True,
        None,
        {},
        None,
        datetime(2026, 1, 1, tzinfo=UTC),
    )


SURVEYS = [_survey(1, "nps"), _survey(2, "delivery")]


def parse(text: str):  # type: ignore[no-untyped-def]
    return parse_compare_args(text, SURVEYS, today=TODAY)


def test_two_agents_over_a_survey_and_a_period() -> None:
    args = parse("agent:olga vs agent:ivan delivery 2026-10")
    assert not args.by_period
    assert (args.a.dimension, args.a.value, args.a.label) == ("agent", "olga", "agent:olga")
    assert (args.b.dimension, args.b.value) == ("agent", "ivan")
    assert args.a.scope == args.b.scope
    assert [s.slug for s in args.a.scope.surveys] == ["delivery"]
    assert args.a.scope.period == Period(date(2026, 10, 1), date(2026, 10, 31))


def test_lang_is_the_language_segment_and_variants_keep_their_names() -> None:
    args = parse("lang:ru VS lang:en")
    assert (args.a.dimension, args.a.label, args.b.label) == ("language", "lang:ru", "lang:en")
    assert args.a.scope.default_period and args.a.scope.period.days == 30
    variants = parse("variant:A vs variant:control 7d")
    assert (variants.a.value, variants.b.value) == ("A", "control")
    assert variants.a.scope.period == Period(date(2026, 11, 14), TODAY)


def test_two_periods() -> None:
    args = parse("last month vs this month")
    assert args.by_period
    assert args.a.scope.period == Period(date(2026, 10, 1), date(2026, 10, 31))
    assert args.b.scope.period == Period(date(2026, 11, 1), TODAY)
    assert (args.a.label, args.b.label) == ("last month", "this month")
    months = parse("2026-09 vs 2026-10 delivery")
    assert months.a.scope.period == Period(date(2026, 9, 1), date(2026, 9, 30))
    assert [s.slug for s in months.b.scope.surveys] == ["delivery"]


def test_two_surveys() -> None:
    args = parse("survey:nps vs survey:delivery 30d")
    assert [s.slug for s in args.a.scope.surveys] == ["nps"]
    assert [s.slug for s in args.b.scope.surveys] == ["delivery"]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("agent:olga", "cmp_usage"),  # without vs
        ("agent:olga vs", "cmp_usage"),
        ("vs agent:olga", "cmp_usage"),
        ("", "cmp_usage"),
        ("colour:red vs colour:blue", "cmp_unknown_segment"),
        ("agent: vs agent:ivan", "cmp_usage"),
        ("agent:olga vs agent:OLGA", "cmp_same"),
        ("agent:olga vs source:shop", "cmp_mixed"),
        ("agent:olga vs last month", "cmp_mixed"),
        ("last month vs agent:olga", "cmp_mixed"),
        ("month vs month", "cmp_same"),
        ("30d vs 7d", "cmp_overlap"),
        ("2026-10 vs 2026-10-05..2026-11-02", "cmp_overlap"),
        ("bananas vs apples", "cmp_unknown_side"),
        ("last month vs apples", "cmp_unknown_side"),
        ("agent:olga vs agent:ivan nosuch", "unknown_survey"),
        ("agent:olga vs agent:ivan 2026-13", "bad_period"),
        ("last month vs this month 7d", "bad_arguments"),
        ("survey:nps vs survey:nope", "unknown_survey"),
        ("survey:nps vs survey:delivery delivery", "bad_arguments"),
    ],
)
def test_mistakes_are_named(text: str, key: str) -> None:
    with pytest.raises(ArgumentError) as caught:
        parse(text)
    assert caught.value.key == key


# --- split ---------------------------------------------------------------------------------


def test_split_words_are_separated_from_the_segment() -> None:
    assert split_off('lang:ru split A:"x" control 10%') == ("lang:ru", 'A:"x" control 10%')
    assert split_off("lang:ru") == ("lang:ru", None)
    assert split_off('Split A:"x"') == ("", 'A:"x"')
    # A word containing "split" is not the keyword.
    assert split_off("source:splitshop") == ("source:splitshop", None)


def test_variants_in_any_quotes_and_a_control_share() -> None:
    split = parse_split('A:"10% off your next order" B: “Free delivery” C:«Gift» control 10%')
    assert [(v.name, v.text) for v in split.variants] == [
        ("A", "10% off your next order"),
        ("B", "Free delivery"),
        ("C", "Gift"),
    ]
    assert split.control_share == pytest.approx(0.10)
    assert split.arms == ("A", "B", "C", CONTROL)
    assert sum(split.shares().values()) == pytest.approx(1.0)
    assert parse_split('A:"x" B:"y"').control_share == 0.0
    assert parse_split('A:"x" control: 12,5').control_share == pytest.approx(0.125)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("", "split_no_variants"),
        ("control 10%", "split_no_variants"),
        ('A:"x"', "split_one_arm"),
        ('A:"x" a:"y"', "split_twice"),
        ('A:"x" B:"y" control 10% control 5%', "split_twice"),
        ('A:"x" B:"y" control 10% none control 5% never', "split_twice"),
        ('control:"x" B:"y"', "split_reserved_name"),
        ('A:"" B:"y"', "split_text_length"),
        ('A:"' + "x" * 1001 + '" B:"y"', "split_text_length"),
        ('A:"x" B:"y" control 0%', "split_bad_control"),
        ('A:"x" B:"y" control 95%', "split_bad_control"),
        ('A:"x" B:y', "split_bad_term"),
        ('A:"x" B:"y" banana', "split_bad_term"),
        ('A:"x" B:"unclosed', "split_bad_term"),
        (" ".join(f'V{i}:"t"' for i in range(6)), "split_too_many"),
    ],
)
def test_split_mistakes_are_named(text: str, key: str) -> None:
    with pytest.raises(SplitError) as caught:
        parse_split(text)
    assert caught.value.key == key


@pytest.mark.parametrize(
    "text",
    [
        'A:"x" B:"y" control 10% none',
        'A:"x" B:"y" control 10% never',
        'A:"x" B:"y" Control: 10 % NONE',
        'A:"x" B:"y" control 10 never',
        'control 10% none A:"x" B:"y"',
    ],
)
def test_a_control_group_can_be_held_back_with_none_or_never(text: str) -> None:
    split = parse_split(text)
    assert split.held_back
    assert split.control_share == pytest.approx(0.10)
    assert split.arms == ("A", "B", CONTROL)  # still drawn and recorded as a group


def test_without_the_keyword_the_control_group_is_surveyed_with_the_others() -> None:
    assert not parse_split('A:"x" B:"y" control 10%').held_back
    assert not parse_split('A:"x" B:"y"').held_back
    # A variant that happens to be called "none" is a variant, not the keyword.
    split = parse_split('A:"x" control 10% none:"z"')
    assert not split.held_back
    assert [v.name for v in split.variants] == ["A", "none"]
    # One variant and a held-back control group: the group is the comparison (outside /nps).
    alone = parse_split('A:"x" control 20% never')
    assert alone.held_back and alone.arms == ("A", CONTROL)


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ('A:"x" B:"y" control 10% later', "later"),  # only none / never
        ('A:"x" B:"y" control 10% nonesuch', "nonesuch"),
        ('A:"x" B:"y" none', "none"),  # the keyword belongs to the control share
        ('A:"x" B:"y" control none 10%', "control"),  # the share comes first
        ('A:"x" B:"y" control 10% none never', "never"),  # once
        ('A:"x" B:"y" control 10% aucun', "aucun"),  # English in every language
    ],
)
def test_wrong_words_after_the_control_share_are_named(text: str, term: str) -> None:
    with pytest.raises(SplitError) as caught:
        parse_split(text)
    assert caught.value.key == "split_bad_term"
    assert caught.value.values == {"term": term}


def test_the_plan_gives_the_control_its_share_and_the_variants_the_rest_equally() -> None:
    split = parse_split('A:"x" B:"y" control 10%')
    assert plan(1000, split) == {"A": 450, "B": 450, CONTROL: 100}
    assert plan(7, split) == {"A": 3, "B": 3, CONTROL: 1}
    three = parse_split('A:"x" B:"y" C:"z"')
    assert plan(10, three) == {"A": 4, "B": 3, "C": 3}
    assert plan(0, split) == {"A": 0, "B": 0, CONTROL: 0}


def test_assignment_is_random_in_the_planned_numbers_and_everyone_gets_one_arm() -> None:
    split = parse_split('A:"x" B:"y" control 10%')
    people = list(range(1000, 2000))
    arms = assign(people, split, random.Random(1))
    assert sorted(arms) == people  # everyone, once
    assert Counter(arms.values()) == Counter(plan(len(people), split))
    other = assign(people, split, random.Random(2))
    assert arms != other  # a different draw
    # Over many draws, each person lands in A about 45 % of the time (uniform, no order).
    in_a = Counter()
    for seed in range(400):
        for person, arm in assign(people[:20], split, random.Random(seed)).items():
            in_a[person] += arm == "A"
    assert all(120 <= in_a[p] <= 240 for p in people[:20]), in_a

"""The eNPS anonymity threshold (ENPS_MIN_GROUP) and day precision, without a database."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import Catalogs
from bot.settings import Settings
from nps.anonymity import DEFAULT_MIN_GROUP, anonymous_scope, hidden_rows, too_few
from nps.nps_math import compare
from nps.nps_report import Figures, NpsReport, render_report, render_segments
from nps.periods import Period
from nps.scope import Scope
from storage.repos.anonymity import coarse, new_public_id
from storage.repos.surveys import SurveyView

HIDDEN = "fewer than 5 answers — hidden to keep them anonymous"
PERIOD = Period(date(2026, 11, 1), date(2026, 11, 30))
MOMENT = datetime(2026, 11, 1, tzinfo=UTC)
TEXTS = Catalogs().texts("en")


def scope(kind: str) -> Scope:
    survey = SurveyView(1, "pulse", "Team pulse", kind, False, True, None, {}, None, MOMENT)
    return Scope((survey,), PERIOD, all_surveys=False, default_period=False)


def figures(*scores: int) -> Figures:
    counts = [0] * 12
    for score in scores:
        counts[score + 1] += 1
    return Figures.of(tuple(counts))


def report(kind: str, *scores: int) -> NpsReport:
    now, before = figures(*scores), figures()
    return NpsReport(scope(kind), now, before, PERIOD, compare(now.summary, before.summary))


def test_the_threshold_is_a_setting_of_five_by_default() -> None:
    assert DEFAULT_MIN_GROUP == 5
    settings = Settings(_env_file=None, bot_token="1:x")  # type: ignore[call-arg]
    assert settings.enps_min_group == 5
    assert Settings(_env_file=None, bot_token="1:x", enps_min_group=3).enps_min_group == 3  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("n", "anonymous", "hidden"),
    [(0, True, False), (1, True, True), (4, True, True), (5, True, False), (4, False, False)],
)
def test_too_few_is_one_to_four_anonymous_answers(n: int, anonymous: bool, hidden: bool) -> None:
    assert too_few(n, anonymous, 5) is hidden


def test_only_scopes_with_an_enps_survey_are_anonymous() -> None:
    assert anonymous_scope(scope("enps")) and not anonymous_scope(scope("nps"))


def test_a_small_segment_is_hidden_with_enough_others_that_it_cannot_be_worked_out() -> None:
    # 2 inside 10: hiding it alone would leave it as the total minus the rest.
    assert hidden_rows([8, 2], True, 5) == {0, 1}
    assert hidden_rows([5, 3, 2], True, 5) == {1, 2}
    assert hidden_rows([6, 6, 5], True, 5) == set()
    assert hidden_rows([9, 1, 0], True, 5) == {0, 1}
    assert hidden_rows([8, 2], False, 5) == set()


def test_nps_hides_an_enps_score_of_four_answers_and_shows_five() -> None:
    four = render_report(report("enps", 10, 9, 3, 7), TEXTS)
    assert HIDDEN in four and "NPS <b>" not in four and "Promoters" not in four
    five = render_report(report("enps", 10, 9, 3, 7, 8), TEXTS)
    assert HIDDEN not in five and "NPS <b>+20</b>" in five and "Promoters 2" in five
    # Customers' NPS is never withheld; a setting of 3 shows four eNPS answers.
    assert HIDDEN not in render_report(report("nps", 10), TEXTS)
    assert "NPS <b>" in render_report(report("enps", 10, 9, 3, 7), TEXTS, min_group=3)


def test_nps_by_hides_the_segment_of_two_inside_ten_and_says_why() -> None:
    rows = [("en", figures(10, 10, 9, 9, 8)), ("ru", figures(3, 4, 5)), ("ro", figures(0, 1))]
    table = render_segments(rows, scope("enps"), "language", TEXTS)
    lines = table.splitlines()
    en = next(line for line in lines if line.startswith("en "))
    ru = next(line for line in lines if line.startswith("ru "))
    ro = next(line for line in lines if line.startswith("ro "))
    assert " 5 " in en and "+80" in en
    for line in (ru, ro):
        assert "†" in line and not any(ch.isdigit() for ch in line)
    assert "† hidden to keep answers anonymous: fewer than 5 answers" in table
    assert "†" not in render_segments(rows, scope("nps"), "language", TEXTS)


def test_anonymous_times_keep_the_local_day_only() -> None:
    moment = datetime(2026, 12, 4, 8, 24, 3, 123, tzinfo=UTC)
    assert coarse(moment) == datetime(2026, 12, 4, tzinfo=UTC)
    # The day is the reporting zone's: 01:30 in Chisinau is still 3 Dec in UTC.
    chisinau = ZoneInfo("Europe/Chisinau")
    late = datetime(2026, 12, 3, 23, 30, tzinfo=UTC)  # 4 Dec 01:30 local
    assert coarse(late, chisinau) == datetime(2026, 12, 4, tzinfo=chisinau)


def test_public_ids_are_random_opaque_tokens() -> None:
    ids = {new_public_id() for _ in range(1000)}
    assert len(ids) == 1000
    # Never an integer: no sequence to compare with the row ids of customers' answers.
    assert all(re.fullmatch(r"anon-[0-9a-f]{16}", i) for i in ids)

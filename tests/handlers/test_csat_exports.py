"""`/export` of CSAT and CES surveys: the kind column, groups on the kind's scale, the
Summary with CSAT or CES figures (read back with openpyxl), cells kept safe for Excel."""

from __future__ import annotations

import statistics

import pytest

from bot.emulator import BotApiEmulator
from storage.db import Database
from tests.admin_helpers import make_survey, seed_answers
from tests.conftest import BACKENDS
from tests.handlers.harness import HandlerBot
from tests.handlers.test_admin_export import (
    csv_rows,
    export,
    summary_table,
    summary_values,
    workbook,
)
from tests.scale_helpers import wilson_percent
from tests.scenario import OWNER_ID


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # the group CASE differs per SQL
async def test_csat_export_names_groups_on_its_scale_in_csv_and_xlsx(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await make_survey(check_db, "checkout", "=Checkout", kind="csat")
    scores = [5, 4, 3, 2, 1, 5]
    ids = await seed_answers(
        check_db, scores, survey_slug="checkout", agent="@olga", why="=HYPERLINK(1)"
    )
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    header, *rows = csv_rows(await export(api, owner, "csv checkout"))
    assert header[-1] == "Survey kind"
    by_id = {int(row[0]): dict(zip(header, row, strict=True)) for row in rows}
    expected_groups = {5: "satisfied", 4: "satisfied", 3: "neutral", 2: "dissatisfied"}
    expected_groups[1] = "dissatisfied"
    assert {by_id[i]["Score"] for i in ids} == {str(s) for s in set(scores)}
    for response_id, score in zip(ids, scores, strict=True):
        row = by_id[response_id]
        assert row["Group"] == expected_groups[score] and row["Survey kind"] == "csat"
        # Still neutralised for Excel.
        assert row["Survey name"] == "'=Checkout" and row["Why"] == "'=HYPERLINK(1)"
        assert row["Agent"] == "'@olga"

    book = workbook(await export(api, owner, "checkout"))
    sheet = book["Responses"]
    titles = [cell.value for cell in sheet[1]]
    responses = [
        dict(zip(titles, row, strict=True)) for row in sheet.iter_rows(min_row=2, values_only=True)
    ]
    assert [r["Group"] for r in responses] == [expected_groups[s] for s in scores]
    assert {r["Survey kind"] for r in responses} == {"csat"}
    figures = summary_values(book["Summary"])
    satisfied = sum(s >= 4 for s in scores)
    low, high = wilson_percent(satisfied, len(scores))
    assert figures["CSAT, %"] == round(100 * satisfied / len(scores), 1)
    assert figures["95% interval: from"] == round(low, 1)
    assert figures["95% interval: to"] == round(high, 1)
    assert figures["Margin of error (±, 95%)"] == round((high - low) / 2, 1)
    assert figures["Answers"] == len(scores)
    assert figures["Average rating (1–5)"] == round(statistics.mean(scores), 2)
    assert "NPS" not in figures
    assert summary_table(book["Summary"], "Groups")[1:] == [
        ("Satisfied (4–5)", 3, 50.0),
        ("Neutral (3)", 1, round(100 / 6, 1)),
        ("Dissatisfied (1–2)", 2, round(200 / 6, 1)),
    ]
    distribution = summary_table(book["Summary"], "Answers by score")
    assert distribution[1:] == [
        (5, 2, round(200 / 6, 1)),
        (4, 1, round(100 / 6, 1)),
        (3, 1, round(100 / 6, 1)),
        (2, 1, round(100 / 6, 1)),
        (1, 1, round(100 / 6, 1)),
    ]
    agents = summary_table(book["Summary"], "CSAT by agent")
    assert agents[0][:4] == ("Agent", "Answers", "CSAT, %", "± (95%)")
    assert agents[1][:3] == ("@olga", 6, 50.0)


async def test_ces_export_summary_has_the_mean_and_its_spread(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await make_survey(check_db, "returns", "Returns", kind="ces")
    scores = [7, 7, 6, 5, 4, 3, 1, 6]
    await seed_answers(check_db, scores, survey_slug="returns")
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    message = await export(api, owner, "returns")
    assert "CES · Returns" in message.text
    book = workbook(message)
    figures = summary_values(book["Summary"])
    assert figures["CES (average, 1–7)"] == round(statistics.mean(scores), 2)
    assert figures["Standard deviation"] == round(statistics.stdev(scores), 2)
    groups = summary_table(book["Summary"], "Groups")[1:]
    assert [(name, count) for name, count, _ in groups] == [
        ("Easy (5–7)", 5),
        ("Neutral (4)", 1),
        ("Difficult (1–3)", 2),
    ]
    sheet = book["Responses"]
    titles = [cell.value for cell in sheet[1]]
    groups_by_score = {
        row[titles.index("Score")]: row[titles.index("Group")]
        for row in sheet.iter_rows(min_row=2, values_only=True)
    }
    assert groups_by_score == {
        7: "easy",
        6: "easy",
        5: "easy",
        4: "neutral",
        3: "difficult",
        1: "difficult",
    }


async def test_nps_export_keeps_nps_groups_and_says_its_kind(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await seed_answers(check_db, [10, 7, 3])
    owner = api.user(OWNER_ID, first_name="Olga", language_code="ru")
    header, *rows = csv_rows(await export(api, owner, "csv"))
    assert header[-1] == "Тип опроса"
    assert sorted((row[header.index("Оценка")], row[-1]) for row in rows) == [
        ("10", "nps"),
        ("3", "nps"),
        ("7", "nps"),
    ]
    groups = {row[header.index("Оценка")]: row[header.index("Группа")] for row in rows}
    assert groups == {"10": "promoter", "7": "passive", "3": "detractor"}

"""An answer's invitation attributes as the team sees them: `/nps by campaign`, the line in
`/comments` and in detractor alerts, the export columns (every CSV cell on both backends:
tests/storage/test_csv_export.py)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from bot.emulator import BotApiEmulator
from storage.db import Database
from storage.models import Response, Step
from storage.repos.respondents import Profile
from storage.repos.response_start import AnswerContext
from tests.conftest import BACKENDS
from tests.handlers.harness import HandlerBot
from tests.handlers.test_admin_comments import entries, listing
from tests.handlers.test_admin_export import (
    DANGEROUS,
    csv_rows,
    excel_text,
    export,
    summary_table,
    workbook,
)
from tests.handlers.test_admin_nps import reference_nps
from tests.handlers.test_alerts import started_owner
from tests.scenario import OWNER_ID, QUESTION, person_id


async def _answer_through(api: BotApiEmulator, user_id: int, start: str, score: int) -> None:
    """A respondent opens the survey with `start` and taps a score."""
    user = api.user(user_id, first_name="U", language_code="en")
    user.send(start)
    question = await user.wait_for_message(lambda m: QUESTION in m.text)
    user.press(question, str(score))
    await user.wait_for_message(lambda m: m.message_id > question.message_id)


def _table(text: str, head: str) -> dict[str, list[str]]:
    """The rows of a `/nps by …` table by segment name."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(head))
    rows: dict[str, list[str]] = {}
    for line in lines[start + 1 :]:
        if line.startswith("*"):
            break
        name, *cells = line.rsplit(maxsplit=3)
        rows[name] = cells
    return rows


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # SQL that differs on PostgreSQL
async def test_nps_by_campaign_counts_the_deep_links_campaigns(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    answers = [
        (501, "/start nps__c-dec", 10),
        (502, "/start nps__c-dec__a-olga", 10),
        (503, "/start nps__s-qr__c-dec", 3),
        (504, "/start nps__c-nov", 9),
        (505, "/start nps__c-nov", 0),
        (506, "/start", 8),
    ]
    for user_id, start, score in answers:
        await _answer_through(api, user_id, start, score)
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/nps by campaign")
    message = await owner.wait_for_message(lambda m: m.text.startswith("NPS by campaign"))
    rows = _table(message.text, "campaign")
    assert set(rows) == {"dec", "nov", "(none)"}
    assert rows["dec"][:2] == ["3", f"+{reference_nps([10, 10, 3])[3]}*"]
    assert rows["nov"][:2] == ["2", f"{reference_nps([9, 0])[3]}*"]
    assert rows["(none)"][:2] == ["1", "0*"]


async def test_a_mistyped_segment_names_campaign_among_the_choices(
    api: BotApiEmulator, bot: HandlerBot
) -> None:
    owner = api.user(OWNER_ID, first_name="Olga", language_code="ru")
    owner.send("/nps by campagne")
    message = await owner.wait_for_message(lambda m: "by campaign" in m.text)
    assert message.text.startswith("Используйте /nps by agent, by source, by campaign,")


async def _seed_comment(db: Database, user_id: int, attributes: dict[str, Any] | None) -> None:
    """A detractor's answer with a comment, opened as an invitation with `attributes`."""
    async with db.transaction() as store:
        survey = await store.surveys.ensure_default()
        person = await store.respondents.touch(Profile(user_id, user_id, "U", None, "en"))
        response = await store.responses.start(
            survey_id=survey.id,
            respondent_id=person.id,
            chat_id=user_id,
            language="en",
            context=AnswerContext(channel="invitation"),
            attributes=attributes,
        )
        await store.responses.record_score(response, 3)
        await store.responses.record_why(response, f"Comment of {user_id}")


async def test_comments_show_the_invitations_attributes_on_a_line_of_their_own(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await _seed_comment(check_db, 601, None)
    await _seed_comment(
        check_db,
        602,
        {
            "agent": "olga",
            "source": "call",
            "campaign": "dec",
            "order_id": "A-17",
            "zone": "<b>north</b>",
            "basket": "=SUM(A1)",
        },
    )
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/comments")
    newest, oldest = entries(await listing(owner))
    assert newest[0].endswith("· Main survey · agent olga")
    # Escaped as text (never markup), the custom ones by key after the known ones.
    assert newest[1:] == [
        "🏷 source: call · campaign: dec · order: A-17 · basket: =SUM(A1) · zone: <b>north</b>",
        "Why: Comment of 602",
    ]
    assert oldest[1:] == ["Why: Comment of 601"]  # nothing to show: no line


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # SQL that differs on PostgreSQL
async def test_a_detractor_alert_shows_the_campaign_order_id_and_custom_attributes(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = await started_owner(api)
    anna = api.user(101, first_name="Anna", username="anna", language_code="ru")
    anna.send("/start nps__s-call__a-olga__c-dec")
    question = await anna.wait_for_message(lambda m: "порекомендуете" in m.text)
    # The rest as an invitation stores them on its response (ResponseRepo.start).
    async with check_db.transaction() as store:
        await store.responses._session.execute(
            update(Response)
            .where(
                Response.respondent_id == await person_id(check_db, 101),
                Response.step == Step.SCORE,
            )
            .values(attributes={"order_id": "A-17", "region": "north"})
        )
    anna.press(question, "4")
    alert = await owner.wait_for_message(lambda m: m.text.startswith("🔴 Detractor · 4"))
    lines = alert.text.splitlines()
    assert "Anna (@anna · id 101) · ru · agent: olga · source: call · " in lines[1]
    # Staff texts are in STAFF_LANGUAGE (English here), whoever answered.
    assert lines[2] == "🏷 campaign: dec · order: A-17 · region: north"

    ben = api.user(102, first_name="Ben", language_code="en")
    ben.send("/start")
    ben.press(await ben.wait_for_message(lambda m: QUESTION in m.text), "2")
    plain = await owner.wait_for_message(lambda m: m.text.startswith("🔴 Detractor · 2"))
    assert "🏷" not in plain.text


# As stored: values are trimmed ("\t=1+1" is "=1+1"), and still look like formulas.
STORED = [attack.strip() for attack in DANGEROUS]


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
async def test_exports_give_each_attribute_a_column_and_run_none_of_them(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database, fmt: str
) -> None:
    for offset, attack in enumerate(DANGEROUS):
        await _seed_comment(
            check_db,
            700 + offset,
            {"campaign": "dec", "order_id": attack, "basket": attack, "zone": f"z{offset}"},
        )
    await _seed_comment(check_db, 799, None)
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    message = await export(api, owner, fmt)
    if fmt == "csv":
        header, *rows = csv_rows(message)
    else:
        book = workbook(message)
        sheet = list(book["Responses"].iter_rows())
        header = [c.value for c in sheet[0]]
        rows = [[excel_text(c.value) for c in row] for row in sheet[1:]]
        kinds = {c.data_type for row in sheet[1:] for c in row if c.value in STORED}
        assert kinds == {"s"}  # string cells: Excel never runs them
        assert not [c for ws in book for row in ws.iter_rows() for c in row if c.data_type == "f"]
        campaigns = summary_table(book["Summary"], "NPS by campaign")
        assert {r[0]: r[1] for r in campaigns[1:]} == {"dec": len(DANGEROUS), "(none)": 1}
    # The order id after the campaign; a column per custom key, sorted, at the end.
    assert header[header.index("Campaign") + 1] == "Order ID"
    assert header[-2:] == ["basket", "zone"]
    cells = [dict(zip(header, row, strict=True)) for row in rows]
    # CSV has no cell types: text a spreadsheet would evaluate is prefixed with '.
    expected = STORED if fmt == "xlsx" else ["'" + value for value in STORED]
    with_attributes = [row for row in cells if row["Campaign"] == "dec"]
    assert sorted(row["Order ID"] for row in with_attributes) == sorted(expected)
    assert all(row["basket"] == row["Order ID"] for row in with_attributes)
    [plain] = [row for row in cells if row["Campaign"] != "dec"]
    assert {plain["Order ID"], plain["basket"], plain["zone"]} <= {None, ""}

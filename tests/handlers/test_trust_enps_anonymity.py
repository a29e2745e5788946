"""Issue 9, item 5: eNPS anonymity that holds against a determined viewer.

An eNPS answer shows a random public id (never a row id from the sequence customers'
answers share), keeps no tag, keeps its day only, and no eNPS figure, segment, comment
list, chart, digest line or exported answer is shown for fewer than ENPS_MIN_GROUP (5)
answers.
"""

from __future__ import annotations

import re
from datetime import UTC, timedelta

from sqlalchemy import select

from bot.digest import DigestData, local_midnight, render_digest
from bot.emulator import BotApiEmulator
from bot.i18n import Catalogs
from nps.nps_report import build_report
from nps.periods import Period
from nps.scope import Scope
from storage.db import Database
from storage.models import Response, utcnow
from tests.admin_helpers import make_survey, seed_answers
from tests.dialog_helpers import Talk
from tests.handlers.harness import HandlerBot
from tests.handlers.test_admin_chart import wait_photo
from tests.handlers.test_admin_export import TITLES, csv_rows, export, workbook
from tests.scenario import OWNER_ID

ENPS_QUESTION = "How likely are you to recommend Acme as a place to work"
NPS_QUESTION = "How likely are you to recommend Acme to a friend or colleague?"
HIDDEN = "fewer than 5 answers — hidden to keep them anonymous"
ROWS_HIDDEN = "hidden to keep answers anonymous: fewer than 5 answers"
PUBLIC_ID = re.compile(r"anon-[0-9a-f]{16}")
# CSV columns (tests/handlers/test_admin_export.py TITLES).
ID, ASKED, SCORED, SOURCE, AGENT, CAMPAIGN, ORDER_ID, PAYLOAD, RESPONDENT, USERNAME, FIRST_NAME = (
    TITLES.index(title)
    for title in (
        "ID",
        "Asked (UTC)",
        "Scored (UTC)",
        "Source",
        "Agent",
        "Campaign",
        "Order ID",
        "Start payload",
        "Respondent ID",
        "Username",
        "First name",
    )
)


async def enps_answer(
    api: BotApiEmulator, user_id: int, score: int, *, link: str = "pulse", why: str = ""
) -> None:
    """One employee answers the eNPS survey (and explains, when `why` is given)."""
    person = Talk(api, user_id, first_name=f"Emp{user_id}", username=f"emp{user_id}")
    question = await person.say(f"/start {link}", ENPS_QUESTION)
    await person.tap(question, str(score), "?")  # the follow-up: the score was taken
    if why:
        await person.say(why, "?")


async def nps_answer(api: BotApiEmulator, user_id: int, score: int) -> None:
    customer = Talk(api, user_id, first_name=f"Cust{user_id}", username=f"cust{user_id}")
    question = await customer.say("/start", NPS_QUESTION)
    await customer.tap(question, str(score), "?")


async def test_enps_rows_in_exports_have_random_ids_no_tags_and_days_only(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    survey_id = await make_survey(check_db, "pulse", "Team pulse", kind="enps")
    owner = Talk(api, OWNER_ID)
    await owner.say("/nps", "NPS")  # the owner's chat exists: alerts arrive as they happen
    # Customers' and employees' answers in turn: row ids from one sequence would place
    # each eNPS answer between two timed NPS answers.
    for index in range(5):
        if index < 3:
            await nps_answer(api, 500 + index, 9)
        # A per-person link: every tag (source, agent, campaign) could name the employee.
        await enps_answer(api, 600 + index, 3 + index, link="pulse__s-warehouse__a-ivan__c-spring")
    await bot.idle()  # detractor alerts reach the owner first

    enps_rows = csv_rows(await export(api, owner.user, "csv pulse"))[1:]
    nps_rows = csv_rows(await export(api, owner.user, "csv nps"))[1:]
    assert len(enps_rows) == 5 and len(nps_rows) == 3
    ids = [row[ID] for row in enps_rows]
    assert all(PUBLIC_ID.fullmatch(i) for i in ids), ids
    # Listed by their random ids, not in the order they came; nothing numeric to compare.
    assert ids == sorted(ids)
    assert all(row[ID].isdigit() for row in nps_rows)
    for row in enps_rows:
        for column in (
            SOURCE,
            AGENT,
            CAMPAIGN,
            ORDER_ID,
            PAYLOAD,
            RESPONDENT,
            USERNAME,
            FIRST_NAME,
        ):
            assert row[column] == "", (column, row)
        # The day, never the time (TIMEZONE is UTC here).
        assert row[ASKED].endswith(" 00:00:00") and row[SCORED].endswith(" 00:00:00"), row
    assert any(not row[SCORED].endswith(" 00:00:00") for row in nps_rows)  # NPS keeps it

    sheet = workbook(await export(api, owner.user, "pulse"))["Responses"]
    xlsx_ids = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert sorted(xlsx_ids) == sorted(ids)

    async with check_db.snapshot() as store:
        session = store.responses._session
        stored = (
            await session.scalars(select(Response).where(Response.survey_id == survey_id))
        ).all()
    assert sorted(r.public_id for r in stored) == sorted(ids)  # type: ignore[type-var]
    for row in stored:
        assert (row.source, row.agent, row.campaign, row.start_payload) == (None, None, None, None)
        assert str(row.id) not in ids


async def enps_digest(db: Database) -> str:
    """The digest of today's eNPS answers, as the owner would read it tomorrow (text)."""
    today = utcnow().date()
    async with db.snapshot() as store:
        pulse = await store.surveys.by_slug("pulse")
        assert pulse is not None
        day = Scope((pulse,), Period(today, today), True, False)
        month = Scope((pulse,), Period(today - timedelta(days=29), today), True, True)
        comments, total = await store.digests.detractor_comments(
            [pulse.id],
            local_midnight(today, UTC),
            local_midnight(today + timedelta(days=1), UTC),
            limit=60,
        )
        day_report, month_report = await build_report(store, day), await build_report(store, month)
    tomorrow = today + timedelta(days=1)
    data = DigestData(tomorrow, month, day_report, month_report, comments, total, UTC)
    return re.sub(r"<[^>]+>", "", render_digest(data, Catalogs().texts("en")))


async def test_four_enps_answers_show_nothing_and_say_why_five_show_figures(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await make_survey(check_db, "pulse", "Team pulse", kind="enps")
    owner = Talk(api, OWNER_ID)
    for index, score in enumerate([10, 9, 3, 7]):
        await enps_answer(api, 600 + index, score, why=f"secret reason {index}")

    report = (await owner.say("/nps pulse", "NPS · Team pulse")).text
    assert HIDDEN in report and "Promoters" not in report and "Detractor cases" not in report
    table = (await owner.say("/nps by language pulse", "NPS by language")).text
    [english] = [line for line in table.splitlines() if line.startswith("en ")]
    assert "†" in english and not re.search(r"\d", english) and ROWS_HIDDEN in table
    comments = (await owner.say("/comments pulse", "Comments")).text
    assert HIDDEN in comments and "secret reason" not in comments
    chart = (await owner.say("/chart pulse", HIDDEN)).text
    assert "Team pulse" in chart
    digest = await enps_digest(check_db)
    assert f"Yesterday: 🔒 {HIDDEN}" in digest and "secret reason" not in digest
    assert "NPS" not in digest.split("\n", 1)[1]

    await enps_answer(api, 604, 8, why="secret reason 4")
    report = (await owner.say("/nps pulse", "NPS · Team pulse")).text
    assert HIDDEN not in report and "NPS +20 ± " in report and "Promoters 2" in report
    table = (await owner.say("/nps by language pulse", "NPS by language")).text
    [english] = [line for line in table.splitlines() if line.startswith("en ")]
    assert " 5 " in english and "+20" in english and "†" not in table
    comments = (await owner.say("/comments pulse", "Comments")).text
    assert "secret reason 3" in comments and HIDDEN not in comments
    assert not re.search(r"\d{1,2}:\d{2}", comments)  # the day only, no time of day
    before = owner.user.bot_messages[-1].message_id
    owner.user.send("/chart pulse")
    photo = await wait_photo(owner.user, before)
    assert "NPS +20" in photo.text
    digest = await enps_digest(check_db)
    assert HIDDEN not in digest and "Yesterday: NPS +20" in digest
    assert "secret reason 2" in digest and not re.search(r"\d{1,2}:\d{2}", digest)

    # Inside ten answers, a language of two is hidden, with the one of three that would
    # give it away (total minus the rest); the five English answers are shown.
    await seed_answers(check_db, [9, 9, 6], survey_slug="pulse", language="ru", first_user=700)
    await seed_answers(check_db, [0, 10], survey_slug="pulse", language="ro", first_user=710)
    report = (await owner.say("/nps pulse", "NPS · Team pulse")).text
    assert "10 answers" in report
    table = (await owner.say("/nps by language pulse", "NPS by language")).text
    rows = {
        line.split()[0]: line for line in table.splitlines() if line[:3] in ("en ", "ru ", "ro ")
    }
    assert " 5 " in rows["en"] and "+20" in rows["en"]
    for language in ("ru", "ro"):
        assert "†" in rows[language] and not re.search(r"\d", rows[language])
    assert ROWS_HIDDEN in table

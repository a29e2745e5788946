"""`/nps by …` fits a phone (issue 9, item 21): no table row wider than 32 monospace
characters, and "too few answers" said once under the table, not on every row."""

from __future__ import annotations

import html
import re

import pytest

from bot.emulator import BotApiEmulator
from storage.db import Database
from tests.admin_helpers import seed_answers
from tests.handlers.harness import HandlerBot
from tests.handlers.test_admin_nps import reference_nps
from tests.scenario import OWNER_ID

PHONE = 32
LONG = "Alexandra-Konstantinopolskaya"


def table_rows(message_html: str) -> list[str]:
    found = re.search(r"<pre>(.*?)</pre>", message_html, re.S)
    assert found, message_html
    return html.unescape(found.group(1)).splitlines()


@pytest.mark.parametrize(
    ("language", "title", "note"),
    [
        ("en", "NPS by agent", "* too few answers (under 30) to trust the score"),
        ("ru", "NPS по срезу: агент", "* слишком мало ответов (меньше 30), чтобы доверять оценке"),
    ],
)
async def test_nps_by_agent_fits_a_phone_and_says_too_few_once(
    api: BotApiEmulator,
    bot: HandlerBot,
    check_db: Database,
    language: str,
    title: str,
    note: str,
) -> None:
    big = [10] * 90 + [7] * 30 + [1] * 30
    await seed_answers(check_db, big, agent="olga", first_user=40_000)
    await seed_answers(check_db, [9] * 5 + [4] * 7, agent="sasha", first_user=41_000)
    await seed_answers(check_db, [0, 3], agent=LONG, first_user=42_000)
    await seed_answers(check_db, [10] * 3, agent="ivan", first_user=43_000)
    owner = api.user(OWNER_ID, first_name="Olga", language_code=language)
    owner.send("/nps by agent")
    message = await owner.wait_for_message(lambda m: m.text.startswith(title))
    rows = table_rows(message.html or "")
    assert len(rows) == 5  # the header and four agents
    assert all(len(row) <= PHONE for row in rows), rows
    # Columns line up: every row has the same width, the header's labels included.
    assert len({len(row) for row in rows}) == 1, rows
    agents = rows[1:]
    by_name = {row.split()[0]: row.split()[1:] for row in agents}
    assert by_name["olga"] == ["150", f"+{reference_nps(big)[3]}", by_name["olga"][2]]
    assert by_name["olga"][2].isdigit()  # a trusted score shows its margin
    assert by_name["sasha"] == ["12", f"{reference_nps([9] * 5 + [4] * 7)[3]}*", "—"]
    assert by_name["ivan"] == ["3", "+100*", "—"]
    long_name = next(row for row in agents if row.startswith("Alexandra"))
    assert long_name.split()[0].endswith("…")  # cut, not wrapped
    # The too-few explanation comes once, after the table.
    text = message.text
    assert text.count(note) == 1 and text.endswith(note)
    assert "too few answers" not in "\n".join(rows) and "мало" not in "\n".join(rows)


async def test_a_table_with_only_trusted_rows_has_no_footnote(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await seed_answers(check_db, [10] * 40, agent="olga", first_user=40_000)
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/nps by agent")
    message = await owner.wait_for_message(lambda m: m.text.startswith("NPS by agent"))
    rows = table_rows(message.html or "")
    assert rows[0].split() == ["agent", "n", "NPS", "±"]
    assert rows[1].split()[:3] == ["olga", "40", "+100"]
    assert "*" not in message.text and "too few" not in message.text

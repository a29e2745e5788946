"""`/comments` as the team sees it: newest comments first, filtered, paged with ◀ / ▶."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.emulator import BotApiEmulator
from bot.emulator.models import ChatMessage
from handlers.callbacks import CommentsPage, pack, unpack
from storage.db import Database
from storage.models import Response, utcnow
from tests.admin_helpers import grant, make_survey, seed_answers
from tests.handlers.conftest import make_settings
from tests.handlers.harness import HandlerBot
from tests.scenario import OWNER_ID, start_survey

NOT_PERMITTED = "This command is not available to you. /help lists what you can do here."
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
# Nine hours ahead of UTC: local dates and times differ visibly from the stored UTC ones.
ZONE = "Asia/Tokyo"


@pytest.fixture
async def zoned_bot(api: BotApiEmulator, db_url: str) -> AsyncIterator[HandlerBot]:
    """npsbot reporting in Tokyo time (TIMEZONE), on the test's database."""
    running = HandlerBot(make_settings(api, db_url, timezone=ZONE), api)
    await running.start()
    yield running
    await running.stop()


def local_stamp(moment: datetime, zone: str) -> str:
    """ "22 Nov 14:03" (with the year when not this year), computed apart from the bot."""
    tz = ZoneInfo(zone)
    local = moment.astimezone(tz)
    year = "" if local.year == utcnow().astimezone(tz).year else f" {local.year}"
    return f"{local.day} {MONTHS[local.month - 1]}{year} {local.hour:02d}:{local.minute:02d}"


def entries(message: ChatMessage) -> list[list[str]]:
    """The listing's comments: blocks of lines after the two header lines."""
    blocks = message.text.split("\n\n")
    return [block.splitlines() for block in blocks[1:]]


async def listing(user: object, after: int = 0) -> ChatMessage:
    """The /comments message sent after message `after`."""
    return await user.wait_for_message(  # type: ignore[attr-defined]
        lambda m: m.text.startswith("💬") and m.message_id > after
    )


async def turn(user: object, api: BotApiEmulator, message: ChatMessage, arrow: str) -> ChatMessage:
    """Presses ◀ or ▶ and returns the message once edited (the press answered)."""
    edits = message.edit_count
    query = user.press(message, arrow)  # type: ignore[attr-defined]
    answer = await user.wait_callback_answer(query)  # type: ignore[attr-defined]
    assert not answer.show_alert
    await api.wait_until(lambda: message.edit_count > edits)
    return message


async def test_comments_newest_first_with_score_local_date_survey_and_agent(
    api: BotApiEmulator, zoned_bot: HandlerBot, check_db: Database
) -> None:
    await make_survey(check_db, "delivery", "Доставка")
    now = utcnow()
    oldest, middle, newest = now - timedelta(hours=30), now - timedelta(hours=5), now
    await seed_answers(
        check_db,
        [3],
        survey_slug="delivery",
        agent="olga",
        why="The courier was late twice",
        improve="Send tracking",
        at=oldest,
        first_user=20_000,
    )
    await seed_answers(check_db, [10], why="Fast and friendly", at=middle, first_user=20_100)
    await seed_answers(check_db, [8], improve="Cheaper delivery", at=newest, first_user=20_200)
    await seed_answers(check_db, [9], at=now, first_user=20_300)  # no comment: not listed
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/comments")
    message = await listing(owner)
    lines = message.text.splitlines()
    assert lines[0].startswith("💬 Comments · All surveys · last 30 days (")
    assert lines[1] == "Newest first · 1–3 of 3"
    assert entries(message) == [
        [f"🟡 8 · {local_stamp(newest, ZONE)} · Main survey", "Improve: Cheaper delivery"],
        [f"🟢 10 · {local_stamp(middle, ZONE)} · Main survey", "Why: Fast and friendly"],
        [
            f"🔴 3 · {local_stamp(oldest, ZONE)} · Доставка · agent olga",
            "Why: The courier was late twice",
            "Improve: Send tracking",
        ],
    ]
    assert message.keyboard == []  # everything fits one page
    # The respondent stays out of the listing: no name, no user id.
    assert "User20000" not in message.text and "20000" not in message.text


async def test_comments_filter_by_group_survey_and_period(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await make_survey(check_db, "delivery", "Delivery")
    now = utcnow()
    await seed_answers(check_db, [2], why="recent detractor", at=now, first_user=30_000)
    await seed_answers(
        check_db, [5], why="old detractor", at=now - timedelta(days=40), first_user=30_100
    )
    await seed_answers(check_db, [7], why="recent passive", at=now, first_user=30_200)
    await seed_answers(check_db, [10], why="recent promoter", at=now, first_user=30_300)
    await seed_answers(
        check_db, [0], why="delivery detractor", survey_slug="delivery", at=now, first_user=30_400
    )
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")

    async def comments_for(arguments: str) -> tuple[str, list[str]]:
        before = owner.bot_messages[-1].message_id if owner.bot_messages else 0
        owner.send(f"/comments {arguments}")
        message = await listing(owner, before)
        return message.text.splitlines()[0], [block[-1] for block in entries(message)]

    title, found = await comments_for("detractors")
    assert title.startswith("💬 Comments · Detractors · All surveys · last 30 days")
    assert sorted(found) == ["Why: delivery detractor", "Why: recent detractor"]
    _, found = await comments_for("detractors 90d")
    assert sorted(found) == [
        "Why: delivery detractor",
        "Why: old detractor",
        "Why: recent detractor",
    ]
    _, found = await comments_for("passives")
    assert found == ["Why: recent passive"]
    _, found = await comments_for("promoters nps")
    assert found == ["Why: recent promoter"]
    title, found = await comments_for("delivery")
    assert title.startswith("💬 Comments · Delivery · ") and found == ["Why: delivery detractor"]
    day = (now - timedelta(days=40)).strftime("%Y-%m-%d")
    _, found = await comments_for(f"{day}..{day}")
    assert found == ["Why: old detractor"]
    before = owner.bot_messages[-1].message_id
    owner.send("/comments promoters 2000-01")
    empty = await listing(owner, before)
    assert empty.text.splitlines()[1] == "No comments in this period." and empty.keyboard == []


async def test_comments_page_forward_and_back_in_place(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    now = utcnow()
    for i in range(1, 13):  # comment 12 is the newest
        await seed_answers(
            check_db,
            [i % 11],
            why=f"comment {i:02d}",
            at=now - timedelta(minutes=60 - i),
            first_user=40_000 + i,
        )
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/comments")
    message = await listing(owner)

    def shown() -> list[str]:
        return [block[1] for block in entries(message)]

    assert message.text.splitlines()[1] == "Newest first · 1–5 of 12"
    assert shown() == [f"Why: comment {i:02d}" for i in (12, 11, 10, 9, 8)]
    assert message.button_texts == ["▶"]
    await turn(owner, api, message, "▶")
    assert message.text.splitlines()[1] == "Newest first · 6–10 of 12"
    assert shown() == [f"Why: comment {i:02d}" for i in (7, 6, 5, 4, 3)]
    assert message.button_texts == ["◀", "▶"]
    await turn(owner, api, message, "▶")
    assert message.text.splitlines()[1] == "Newest first · 11–12 of 12"
    assert shown() == ["Why: comment 02", "Why: comment 01"]
    assert message.button_texts == ["◀"]  # the last page has no ▶
    await turn(owner, api, message, "◀")
    assert shown() == [f"Why: comment {i:02d}" for i in (7, 6, 5, 4, 3)]
    # Every page was an edit of the same message: no new messages were sent.
    assert len(owner.bot_messages) == 1 and message.edit_count == 3
    assert len(api.calls_for("editMessageText")) == 3


async def test_comments_are_escaped_and_long_ones_cut_to_fit_telegram(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    now = utcnow()
    await seed_answers(check_db, [4], why="<b>not bold</b> & <i>co</i>", at=now, first_user=50_000)
    long_why = "Слишком долго. " * 400  # 6,000 characters, Cyrillic
    long_improve = "x" * 5_000
    ids = []
    for i in range(5):
        ids += await seed_answers(
            check_db,
            [6],
            why=long_why,
            improve=long_improve,
            at=now - timedelta(minutes=i + 1),
            first_user=50_100 + i,
        )
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/comments")
    message = await listing(owner)
    first = entries(message)[0]
    assert first[1] == "Why: <b>not bold</b> & <i>co</i>"  # shown literally, not as markup
    assert "&lt;b&gt;not bold&lt;/b&gt; &amp; &lt;i&gt;co&lt;/i&gt;" in (message.html or "")
    assert len(message.text) <= 4096
    cut = entries(message)[1]
    assert cut[1].startswith("Why: Слишком долго.") and cut[1].endswith("…")
    assert cut[2].startswith("Improve: xxx") and cut[2].endswith("…")
    await turn(owner, api, message, "▶")
    assert len(message.text) <= 4096 and message.text.splitlines()[1] == "Newest first · 6–6 of 6"
    # The database keeps every comment whole.
    async with check_db.snapshot() as store:
        session = store.responses._session
        rows = (await session.scalars(select(Response).where(Response.id.in_(ids)))).all()
    assert {(r.why, r.improve) for r in rows} == {(long_why, long_improve)}


async def test_old_forged_and_foreign_page_buttons_change_nothing_harmful(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    now = utcnow()
    for i in range(7):
        await seed_answers(
            check_db, [9], why=f"note {i}", at=now - timedelta(minutes=i), first_user=60_000 + i
        )
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/comments")
    message = await listing(owner)
    today = int(now.strftime("%Y%m%d"))
    start = int((now - timedelta(days=29)).strftime("%Y%m%d"))

    # A page past the end (comments were deleted since, or the offset was forged):
    # the last page is shown instead.
    query = owner.press_data(message, pack(CommentsPage("all", 0, start, today, 500, 1)))
    assert not (await owner.wait_callback_answer(query)).show_alert
    await api.wait_until(lambda: message.edit_count == 1)
    assert message.text.splitlines()[1] == "Newest first · 6–7 of 7"
    assert message.button_texts == ["◀"]

    # A survey that no longer exists: an alert, the message stays as it is.
    query = owner.press_data(message, pack(CommentsPage("all", 99_999, start, today, 0, 0)))
    answer = await owner.wait_callback_answer(query)
    assert (
        answer.show_alert and answer.text == "That survey no longer exists — send /comments again."
    )

    # Malformed data (a reversed period, an unknown group): the codec rejects it.
    for data in (f"nps:cm:all:0:{today}:{start}:0:0", f"nps:cm:xyz:0:{start}:{today}:0:0"):
        query = owner.press_data(message, data)
        answer = await owner.wait_callback_answer(query)
        assert answer.show_alert and answer.text == "This button is not valid."
    await bot.idle()
    assert message.edit_count == 1


async def test_page_buttons_check_the_role_on_every_press(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    now = utcnow()
    for i in range(6):
        await seed_answers(
            check_db, [1], why=f"secret {i}", at=now - timedelta(minutes=i), first_user=70_000 + i
        )
    viewer = api.user(7_100, first_name="Vera", language_code="en")
    await grant(check_db, viewer.id, "viewer")
    viewer.send("/comments")
    message = await listing(viewer)
    await turn(viewer, api, message, "▶")
    async with check_db.transaction() as store:
        await store.staff.revoke(viewer.id)
    query = viewer.press(message, "◀")
    answer = await viewer.wait_callback_answer(query)
    assert answer.show_alert and answer.text == NOT_PERMITTED
    await bot.idle()
    assert message.edit_count == 1 and "secret 5" in message.text

    # An outsider forging a page button on a message of their own sees nothing.
    outsider = api.user(7_200, first_name="Otto", language_code="en")
    question = await start_survey(outsider)
    today = int(now.strftime("%Y%m%d"))
    query = outsider.press_data(question, pack(CommentsPage("det", 0, 20000101, today, 0, 0)))
    answer = await outsider.wait_callback_answer(query)
    assert answer.show_alert and answer.text == NOT_PERMITTED
    outsider.send("/comments")
    await outsider.wait_for_message(lambda m: m.text == NOT_PERMITTED)
    await bot.idle()
    assert not any("secret" in m.text for m in outsider.bot_messages)


def test_page_payload_fits_64_bytes_at_its_largest() -> None:
    largest = CommentsPage("det", 2**63 - 1, 99991231, 99991231, 9_999_999, 1)
    data = pack(largest)
    assert len(data.encode()) <= 64
    assert unpack(data) == largest

"""The daily digest: who gets it, what it says, and that it comes once a day, restarts or not."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.app import BotApp, BotIdentity, start_application
from bot.digest import MAX_WAIT, MIN_WAIT, due_day, seconds_until_next_check, send_digests
from bot.emulator import BotApiEmulator
from bot.emulator.actors import EmulatedUser
from bot.emulator.models import ChatMessage
from handlers.port import Action, SendText
from nps.themes import Matcher, starter_themes
from storage.db import Database
from storage.models import DigestDelivery, Response
from storage.repos.respondents import Profile
from tests.admin_helpers import grant, seed_answers
from tests.conftest import BACKENDS, next_loop_turn
from tests.handlers.conftest import make_settings
from tests.handlers.harness import HandlerBot
from tests.scenario import OWNER_ID, wait_db

TZ = ZoneInfo("Europe/Chisinau")  # UTC+2 in winter, +3 in summer: days differ from UTC days
DAY = date(2026, 11, 23)  # the digest's day; it reports on 22 Nov
NOT_PERMITTED = "This command is not available to you. /help lists what you can do here."
VIEWER, LATE_VIEWER, IDLE_VIEWER, OUTSIDER = 7_001, 7_002, 7_003, 7_004


@pytest.fixture
async def check_db(db_url: str) -> AsyncIterator[Database]:
    """Like the shared fixture, but counting answers in local days as the bot does."""
    database = Database(db_url, tz=TZ)
    yield database
    await database.dispose()


def local(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """An aware moment in the digest's time zone."""
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=TZ)


def freeze_clock(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    """Every bot started from now on believes it is `moment`."""
    monkeypatch.setattr(BotApp, "clock", lambda self: moment)


def run_clock_from(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    """Time starts at `moment` now and runs at the real pace."""
    started = time.monotonic()
    monkeypatch.setattr(
        BotApp,
        "clock",
        lambda self: moment + timedelta(seconds=time.monotonic() - started),
    )


async def ask(user: EmulatedUser, text: str, reply: Callable[[str], bool]) -> str:
    """Sends a message and waits for a new reply that matches (earlier ones don't count)."""
    before = len(user.bot_messages)
    user.send(text)
    await user.wait_for_message(lambda m: m in user.bot_messages[before:] and reply(m.text))
    return user.bot_messages[-1].text


def is_digest(message: ChatMessage) -> bool:
    return message.text.startswith("📊")


def digests(user: object) -> list[ChatMessage]:
    return [m for m in user.bot_messages if is_digest(m)]  # type: ignore[attr-defined]


def half_up(x: float) -> int:
    """Rounds as people do on paper (and as the bot formats): 31.5 → 32, -33.5 → -34."""
    return int(Decimal(repr(x)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def signed(x: float) -> str:
    value = half_up(x)
    return f"{value:+d}" if value else "0"


def figures(scores: list[int]) -> tuple[int, int, int, float, float, float]:
    """Promoters, passives, detractors, NPS, the adjusted-Wald margin and the plain SE.

    Written out from NPS.md and the adjusted-Wald method (3/4 of an answer added to
    promoters and to detractors, 3/2 to passives), independently of nps.
    """
    n = len(scores)
    promoters = sum(s >= 9 for s in scores)
    detractors = sum(s <= 6 for s in scores)
    nps = 100 * (promoters - detractors) / n
    n_adj = n + 3
    p, d = (promoters + 0.75) / n_adj, (detractors + 0.75) / n_adj
    margin = 1.96 * 100 * math.sqrt((p + d - (p - d) ** 2) / n_adj)
    p0, d0 = promoters / n, detractors / n
    se = 100 * math.sqrt((p0 + d0 - (p0 - d0) ** 2) / n)
    return promoters, n - promoters - detractors, detractors, nps, margin, se


# Yesterday (22 Nov): seven answers without comments (one a detractor), two detractors with
# comments and a passive with one (not listed). 00:30 local is still 21 Nov in UTC.
YESTERDAY_PLAIN = [10, 10, 9, 9, 8, 7, 3]
LATE = "<b>late</b> & slow"
ON_TIME = "Deliver <i>on time</i>"
RUDE = "Rude courier"
# Elsewhere in the last 30 days (24 Oct – 22 Nov), and in the 30 days before.
EARLIER_IN_MONTH = [10] * 6 + [2] * 2 + [9]
PREVIOUS_MONTH = [1] + [3] * 5 + [9] * 3


async def seed_month(db: Database) -> None:
    """Answers around the digest's day, with comments that must and must not be listed."""
    yesterday = DAY - timedelta(days=1)
    await seed_answers(db, YESTERDAY_PLAIN, at=local(yesterday, 12), first_user=10_000)
    early = local(yesterday, 0, 30)
    await seed_answers(
        db, [6], at=early, why=LATE, improve=ON_TIME, agent="olga", first_user=11_000
    )
    await seed_answers(db, [0], at=local(yesterday, 23, 50), why=RUDE, first_user=12_000)
    await seed_answers(db, [8], at=local(yesterday, 16), why="fine, mostly", first_user=13_000)
    # Today before the digest: counted tomorrow, not now.
    await seed_answers(db, [0], at=local(DAY, 8), why="today's complaint", first_user=14_000)
    await seed_answers(db, [10] * 6, at=local(DAY - timedelta(days=11), 10), first_user=15_000)
    await seed_answers(
        db, [2] * 2, at=local(DAY - timedelta(days=11), 11), why="old complaint", first_user=16_000
    )
    await seed_answers(db, [9], at=local(date(2026, 10, 24), 0, 10), first_user=17_000)
    await seed_answers(db, [1], at=local(date(2026, 10, 23), 23, 50), first_user=18_000)
    await seed_answers(db, [3] * 5 + [9] * 3, at=local(date(2026, 10, 1), 12), first_user=19_000)


def expected_themes_line() -> list[str]:
    """The week's detractor themes (issue 15), as the shipped starter themes read the
    seeded comments: this week (16–22 Nov) against the week before (9–15 Nov)."""
    matcher = Matcher(starter_themes())
    labels = {"delivery": "Delivery", "staff": "Staff politeness", "waiting": "Waiting time"}
    labels |= {"price": "Price", "quality": "Quality", "app": "App / website"}
    labels |= {"support": "Support", "payment": "Payment"}
    week = Counter(k for t in (f"{LATE}\n{ON_TIME}", RUDE) for k in matcher.match(t, "en"))
    before = Counter(k for t in ["old complaint"] * 2 for k in matcher.match(t, "en"))
    parts = []
    for key in sorted(week, key=lambda k: (-week[k], k))[:3]:
        change = week[key] - before[key]
        arrow = f"▲{change}" if change > 0 else f"▼{-change}" if change < 0 else "="
        parts.append(f"{labels[key]} ×{week[key]} {arrow}")
    return [f"🏷 Detractors this week: {' · '.join(parts)}"] if parts else []


def expected_owner_digest() -> list[str]:
    """The owner's digest, line by line, from the seeded scores."""
    day_scores = [*YESTERDAY_PLAIN, 6, 0, 8]
    month_scores = day_scores + EARLIER_IN_MONTH
    p, pa, d, nps, margin, _ = figures(day_scores)
    _, _, _, m_nps, m_margin, m_se = figures(month_scores)
    _, _, _, b_nps, _, b_se = figures(PREVIOUS_MONTH)
    delta = m_nps - b_nps
    verdict = (
        "significant at 95%" if abs(delta) > 1.96 * math.hypot(m_se, b_se) else "not significant"
    )
    assert (len(day_scores), half_up(nps), len(month_scores)) == (10, 10, 19)
    return [
        "📊 Daily NPS digest · 22 Nov 2026",
        "Main survey",
        "",
        f"Yesterday: NPS {signed(nps)} ± {half_up(margin)} · 10 answers · ⚠️ too few to trust",
        f"Promoters {p} · Passives {pa} · Detractors {d}",
        f"Last 30 days (24 Oct – 22 Nov 2026): NPS {signed(m_nps)} ± {half_up(m_margin)} · "
        "19 answers · ⚠️ too few to trust",
        f"Previous 30 days: {signed(b_nps)} → now {signed(m_nps)}  ▲ {half_up(delta)} — {verdict}",
        *expected_themes_line(),
        "",
        "New detractor comments: 2",
        "",
        "🔴 6 · agent olga · 00:30",
        f"Why: {LATE}",
        f"Improve: {ON_TIME}",
        "",
        "🔴 0 · 23:50",
        f"Why: {RUDE}",
    ]


async def delivered(db: Database, day: date = DAY) -> set[int]:
    async with db.snapshot() as store:
        return await store.digests.delivered(day)


def digest_bot(api: BotApiEmulator, db_url: str, **values: object):
    """A bot with the digest at 09:00 Chisinau time (owners: OWNER_ID unless overridden)."""
    settings = make_settings(api, db_url, digest_time="09:00", timezone=TZ.key, **values)
    return HandlerBot(settings, api)


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # SQL that differs on PostgreSQL
async def test_owner_and_opted_in_viewer_get_one_digest_with_the_right_figures(
    api: BotApiEmulator,
    db_url: str,
    check_db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await seed_month(check_db)
    for viewer in (VIEWER, LATE_VIEWER, IDLE_VIEWER):
        await grant(check_db, viewer, "viewer")
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    ivan = api.user(VIEWER, first_name="Ivan", language_code="ru")
    late = api.user(LATE_VIEWER, first_name="Lena", language_code="en")
    idle = api.user(IDLE_VIEWER, first_name="Igor", language_code="en")
    outsider = api.user(OUTSIDER, first_name="Otto", language_code="en")
    bot = digest_bot(api, db_url)

    # Before 09:00 nothing is sent; team members choose with /digest.
    freeze_clock(monkeypatch, local(DAY, 8))
    await bot.start()
    await ask(outsider, "/digest on", lambda t: t == NOT_PERMITTED)
    await ask(ivan, "/digest on", lambda t: t.startswith("✅ Ежедневная сводка включена"))
    await ask(ivan, "/digest", lambda t: t.startswith("✅ Вы получаете"))
    await ask(ivan, "/digest weekly", lambda t: t.startswith("Используйте /digest on"))
    await ask(idle, "/digest", lambda t: t.startswith("You don't get the daily digest"))
    await ask(owner, "/digest off", lambda t: t == "✅ Daily digest off.")
    await ask(owner, "/digest on", lambda t: t.startswith("✅ Daily digest on"))
    await ask(late, "/digest on", lambda t: t.startswith("✅ Daily digest on"))
    await ask(late, "/digest off", lambda t: t == "✅ Daily digest off.")
    async with check_db.snapshot() as store:
        assert await store.staff.digest_subscribers() == [VIEWER]
    await bot.idle()
    assert not await delivered(check_db) and not digests(owner) and not digests(ivan)
    await bot.stop()

    # Started after 09:00 with nothing sent today: the digest goes out at once.
    freeze_clock(monkeypatch, local(DAY, 9, 0, 5))
    await bot.start()
    text = (await owner.wait_for_message(is_digest)).text
    assert text.splitlines() == expected_owner_digest()
    html = digests(owner)[0].html or ""
    assert "&lt;b&gt;late&lt;/b&gt; &amp; slow" in html  # comments are escaped, not markup
    for absent in ("today's complaint", "old complaint", "fine, mostly"):
        assert absent not in text
    russian = (await ivan.wait_for_message(is_digest)).text
    assert russian.startswith("📊 Ежедневная сводка NPS · 22 ноя 2026")
    assert "Вчера: NPS +10 ± " in russian and f"Почему: {LATE}" in russian
    await wait_db(check_db, lambda db: _has(db, {OWNER_ID, VIEWER}))
    await bot.idle()
    assert not digests(idle) and not digests(outsider) and not digests(late)

    # A restart the same day sends nobody a second digest. Lena opts in meanwhile: her
    # digest comes last in the same run, so once she has it the run is over.
    await ask(late, "/digest on", lambda t: t.startswith("✅ Daily digest on"))
    await bot.restart()
    await late.wait_for_message(is_digest)
    await bot.idle()
    assert (len(digests(owner)), len(digests(ivan)), len(digests(late))) == (1, 1, 1)
    assert await delivered(check_db) == {OWNER_ID, VIEWER, LATE_VIEWER}
    await bot.stop()


async def _has(db: Database, users: set[int]) -> bool:
    return await delivered(db) == users


async def test_digest_waits_for_its_time_then_wakes_without_polling(
    api: BotApiEmulator, db_url: str, check_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_answers(check_db, [10, 9, 3], at=local(DAY - timedelta(days=1), 12))
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/help")  # an owner who has talked to the bot can be written to
    run_clock_from(monkeypatch, local(DAY, 8, 59, 59))
    bot = digest_bot(api, db_url)
    await bot.start()
    message = await owner.wait_for_message(is_digest, timeout=10)
    assert "Yesterday: NPS +33 ± " in message.text and "3 answers" in message.text
    async with check_db.snapshot() as store:
        row = await store.digests._session.get(DigestDelivery, (DAY, OWNER_ID))
    assert row is not None
    # Claimed at 09:00 by the bot's clock, not before and not a polling interval later.
    sent = row.sent_at.astimezone(TZ)
    assert local(DAY, 9) <= sent < local(DAY, 9) + timedelta(seconds=3)
    await bot.stop()


async def test_a_blocked_recipient_does_not_stop_the_next(
    api: BotApiEmulator,
    db_url: str,
    check_db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await seed_answers(check_db, [10, 9, 3], at=local(DAY - timedelta(days=1), 12))
    gone, present = 901, 902
    async with check_db.transaction() as store:
        # Both talked to the bot once; the first has since blocked it (unknown to the bot).
        for user_id in (gone, present):
            await store.respondents.touch(Profile(user_id, user_id, "Owner", None, "en"))
    api.user(gone, first_name="Gone", language_code="en")  # never started: 403
    kept = api.user(present, first_name="Kept", language_code="en")
    kept.send("/help")
    freeze_clock(monkeypatch, local(DAY, 10))
    bot = digest_bot(api, db_url, admin_ids=[gone, present])
    await bot.start()
    await kept.wait_for_message(is_digest)
    await bot.idle()
    refused = [c for c in api.calls_for("sendMessage") if c.status == 403]
    assert len(refused) == 1 and int(refused[0].params["chat_id"]) == gone
    assert await delivered(check_db) == {gone, present}  # a 403 is not retried
    async with check_db.snapshot() as store:
        assert (await store.respondents.by_telegram(gone)).unreachable  # type: ignore[union-attr]
        assert not (await store.respondents.by_telegram(present)).unreachable  # type: ignore[union-attr]
    await bot.stop()


async def test_a_long_day_of_complaints_is_cut_to_fit_one_message(
    api: BotApiEmulator, db_url: str, check_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    complaint = "<b>Bad</b> & " + "very slow delivery, " * 20
    await seed_answers(
        check_db, [4] * 70, at=local(DAY - timedelta(days=1), 12), why=complaint, improve="x" * 400
    )
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/help")
    freeze_clock(monkeypatch, local(DAY, 9, 30))
    bot = digest_bot(api, db_url)
    await bot.start()
    message = await owner.wait_for_message(is_digest)
    text = message.text
    shown = text.count("🔴 4")
    assert 3 < shown < 70 and "New detractor comments: 70" in text
    assert text.endswith(f"…and {70 - shown} more")
    assert len(text.encode("utf-16-le")) // 2 <= 4096
    assert "Why: <b>Bad</b> & very slow delivery" in text and "…\nImprove: xxx" in text
    await bot.stop()


class RecordingPort:
    """A ChatPort that only records what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[int] = []

    async def perform(self, action: Action) -> int | None:
        assert isinstance(action, SendText)
        await next_loop_turn()  # let the other replica run in between
        self.sent.append(action.chat_id)
        return len(self.sent)


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # SQL that differs on PostgreSQL
async def test_two_replicas_at_the_same_moment_send_each_digest_once(
    api: BotApiEmulator, db_url: str, check_db: Database
) -> None:
    await seed_answers(check_db, [10, 9, 3], at=local(DAY - timedelta(days=1), 12))
    owners = list(range(1_001, 1_011))
    settings = make_settings(api, db_url, digest_time="09:00", timezone=TZ.key, admin_ids=owners)
    me = BotIdentity(1, "acme_nps_bot", "Acme")
    apps = [await start_application(settings, me) for _ in range(2)]
    ports = [RecordingPort(), RecordingPort()]
    try:
        runs = (send_digests(app, port, DAY) for app, port in zip(apps, ports, strict=True))
        done = await asyncio.gather(*runs)
    finally:
        for app in apps:
            await app.close()
    assert done == [True, True]
    assert sorted(ports[0].sent + ports[1].sent) == owners
    async with check_db.snapshot() as store:
        rows = await store.digests._session.scalars(select(DigestDelivery.user_id))
        assert sorted(rows.all()) == owners


@pytest.mark.parametrize(
    ("moment", "at", "due"),
    [
        (local(DAY, 8, 59, 59), (9, 0), None),
        (local(DAY, 9), (9, 0), DAY),
        (local(DAY, 23, 59), (9, 0), DAY),
        # 29 Mar 2026 in Chisinau: clocks jump from 02:00 to 03:00, so 02:30 never happens
        # and the digest goes out at 03:00.
        (datetime(2026, 3, 29, 0, 0, 30, tzinfo=ZoneInfo("UTC")), (2, 30), date(2026, 3, 29)),
    ],
)
def test_due_day_compares_local_wall_clock_time(
    moment: datetime, at: tuple[int, int], due: date | None
) -> None:
    from datetime import time as clock_time

    assert due_day(moment, clock_time(*at), TZ) == due


def test_the_job_sleeps_until_the_digest_time_but_never_more_than_a_minute() -> None:
    from datetime import time as clock_time

    nine = clock_time(9, 0)
    wait: Callable[[datetime, date | None], float] = lambda now, done: (  # noqa: E731
        seconds_until_next_check(now, nine, TZ, done)
    )
    assert wait(local(DAY, 8, 59, 50), None) == pytest.approx(10)
    assert wait(local(DAY, 3), None) == MAX_WAIT
    assert wait(local(DAY, 9, 0, 1), DAY) == MAX_WAIT  # done today: tomorrow, capped
    almost = local(DAY, 8, 59, 59) + timedelta(milliseconds=990)
    assert wait(almost, None) == MIN_WAIT  # a few ms early: a short nap, never a busy loop


async def test_the_digest_counts_open_and_resolved_detractor_cases(
    api: BotApiEmulator,
    db_url: str,
    check_db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await seed_month(check_db)
    async with check_db.transaction() as store:
        survey = await store.surveys.ensure_default()
        detractors = [
            r
            for r in await store.responses._session.scalars(
                select(Response).where(Response.score <= 6).order_by(Response.id)
            )
        ]
        first = await store.cases.open(detractors[0].id, survey.id, detractors[0].respondent_id)
        second = await store.cases.open(detractors[1].id, survey.id, detractors[1].respondent_id)
        for case in (first, second):  # opened within the digest's 30 days
            case.opened_at = local(DAY - timedelta(days=2), 12)
        await store.responses._session.flush()
        await store.cases.resolve(first.id, by=OWNER_ID)
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    bot = digest_bot(api, db_url)
    freeze_clock(monkeypatch, local(DAY, 8))  # before the digest: the owner starts the bot
    await bot.start()
    await ask(owner, "/help", lambda t: "Owner commands" in t)
    await bot.stop()
    freeze_clock(monkeypatch, local(DAY, 9, 0, 5))
    await bot.start()
    text = (await owner.wait_for_message(is_digest)).text
    assert "Detractor cases: 1 open · 1 resolved" in text
    await bot.stop()

"""CSAT and CES outside their own reports: `/comments` groups on each survey's own scale and
scores written with it ("2 of 5 ⭐"), the daily digest's CSAT/CES lines and low comments,
and `npsbot stats` printing a CSAT or CES survey's own figure. Expected figures are
computed here from the definitions (Wilson interval, Student t), apart from nps/."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from bot.digest import ScaleFigure, render_comment, scale_line
from bot.emulator import BotApiEmulator
from bot.i18n import Catalogs
from handlers.callbacks import CommentsPage, pack
from nps.csat_math import summarize_ces, summarize_csat
from nps.scale_text import score_text
from storage.db import Database
from storage.models import utcnow
from storage.repos.digests import DetractorComment
from tests.admin_helpers import grant, make_survey, seed_answers
from tests.conftest import BACKENDS
from tests.e2e.test_cli_export import _env, npsbot
from tests.handlers.harness import HandlerBot
from tests.handlers.test_admin_comments import NOT_PERMITTED, entries, listing
from tests.handlers.test_digest import DAY, TZ, digest_bot, freeze_clock, is_digest, local
from tests.scenario import OWNER_ID

# The groups as CSAT.md-style definitions give them, written out apart from nps/scales.py.
LOW = {"nps": range(0, 7), "csat": range(1, 3), "ces": range(1, 4)}
MIDDLE = {"nps": range(7, 9), "csat": range(3, 4), "ces": range(4, 5)}
HIGH = {"nps": range(9, 11), "csat": range(4, 6), "ces": range(5, 8)}
GROUP_RANGES = {"detractor": LOW, "passive": MIDDLE, "promoter": HIGH}
# Published two-sided 95 % Student t quantiles (any statistics table).
T_975 = {6: 2.4469, 7: 2.3646, 9: 2.2622}
Z = 1.96


def half_up(x: float, places: int = 0) -> Decimal:
    """Rounds as people do on paper (and as the bot formats)."""
    return Decimal(repr(x)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def wilson(successes: int, n: int) -> tuple[float, float]:
    """The Wilson score 95 % interval of a proportion, in percent."""
    p = successes / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z / (1 + Z * Z / n) * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return 100 * (centre - half), 100 * (centre + half)


def csat_expected(scores: list[int]) -> tuple[str, str]:
    """("71%", "29"): the share of 4–5 and half the Wilson interval's width."""
    satisfied = sum(s >= 4 for s in scores)
    low, high = wilson(satisfied, len(scores))
    return f"{half_up(100 * satisfied / len(scores))}%", str(half_up((high - low) / 2))


def ces_expected(scores: list[int]) -> tuple[str, str, str]:
    """("4.6", "3.2", "6.0"): the mean and its Student t 95 % interval, one decimal."""
    n = len(scores)
    mean = sum(scores) / n
    sd = math.sqrt(sum((s - mean) ** 2 for s in scores) / (n - 1))
    margin = T_975[n - 1] * sd / math.sqrt(n)
    low, high = max(1.0, mean - margin), min(7.0, mean + margin)
    return str(half_up(mean, 1)), str(half_up(low, 1)), str(half_up(high, 1))


async def seed_three_kinds(db: Database) -> dict[str, list[int]]:
    """A comment for each score below, in the NPS, CSAT ("checkout") and CES ("support")
    surveys, each "<kind> <score>"; returns the scores per kind."""
    await make_survey(db, "checkout", "Checkout", kind="csat")
    await make_survey(db, "support", "Support", kind="ces")
    scores = {"nps": [3, 5, 8, 10], "csat": [2, 3, 5], "ces": [3, 4, 6]}
    now = utcnow()
    user = 30_000
    for kind, slug in (("nps", "nps"), ("csat", "checkout"), ("ces", "support")):
        for score in scores[kind]:
            user += 1
            await seed_answers(
                db,
                [score],
                survey_slug=slug,
                why=f"{kind} {score}",
                at=now - timedelta(minutes=user % 100),
                first_user=user,
            )
    return scores


def expected_whys(scores: dict[str, list[int]], group: str) -> list[str]:
    ranges = GROUP_RANGES[group]
    return sorted(
        f"Why: {k} {s}" for k, values in scores.items() for s in values if s in ranges[k]
    )


# ------------------------------------------------------------------ storage: per-survey groups


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # the CASE on the survey's kind
async def test_the_comment_groups_follow_each_survey_s_scale(check_db: Database) -> None:
    scores = await seed_three_kinds(check_db)
    async with check_db.snapshot() as store:
        ids = [s.id for s in await store.surveys.all()]
        start, end = utcnow() - timedelta(days=1), utcnow() + timedelta(minutes=1)
        found = {}
        for group in GROUP_RANGES:
            page = await store.comments.latest(ids, start, end, group=group, limit=50)
            found[group] = (sorted(f"Why: {c.why}" for c in page.comments), page.total)
            kinds = {c.why.split()[0]: c.kind for c in page.comments if c.why}
            assert all(kind == name for name, kind in kinds.items())
        everything = await store.comments.latest(ids, start, end, limit=50)
    for group in GROUP_RANGES:
        expected = expected_whys(scores, group)
        assert found[group] == (expected, len(expected))
    # The three groups split every answer: none twice, none left out.
    assert sum(total for _, total in found.values()) == everything.total == 10
    # The old NPS-only rule would have listed the CSAT 3 and the CES 4 and 6 as detractors.
    assert "Why: ces 6" not in found["detractor"][0]


# ------------------------------------------------------------------ /comments in the chat


async def test_comments_groups_and_scores_read_each_survey_s_own_scale(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    scores = await seed_three_kinds(check_db)
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")

    async def comments_for(arguments: str) -> tuple[str, list[list[str]]]:
        before = owner.bot_messages[-1].message_id if owner.bot_messages else 0
        owner.send(f"/comments {arguments}")
        message = await listing(owner, before)
        return message.text.splitlines()[0], entries(message)

    # No survey named: the NPS survey and the CSAT and CES ones, each on its own scale.
    for words, group in (
        ("detractors", "detractor"),
        ("passives", "passive"),
        ("promoters", "promoter"),
        ("neutral", "passive"),
        ("dissatisfied", "detractor"),
        ("difficult", "detractor"),
        ("easy", "promoter"),
        ("satisfied", "promoter"),
    ):
        title, found = await comments_for(words)
        assert sorted(block[-1] for block in found) == expected_whys(scores, group), words
        assert title.startswith("💬 Comments · ")
    title, found = await comments_for("checkout dissatisfied")
    assert title.startswith("💬 Comments · Dissatisfied (1–2) · Checkout · last 30 days")
    assert [block[0].split(" · ")[0] for block in found] == ["🔴 2 of 5 ⭐"]
    title, found = await comments_for("support promoters")
    assert title.startswith("💬 Comments · Easy (5–7) · Support · ")
    assert [block[0].split(" · ")[0] for block in found] == ["🟢 6 of 7"]
    _, found = await comments_for("support neutral")
    assert [block[0].split(" · ")[0] for block in found] == ["🟡 4 of 7"]
    # NPS keeps its bare number.
    title, found = await comments_for("nps detractors")
    assert title.startswith("💬 Comments · Detractors · Main survey")
    assert sorted(block[0].split(" · ")[0] for block in found) == ["🔴 3", "🔴 5"]
    # /themes names the groups as /comments does.
    before = max((m.message_id for m in owner.messages), default=0)
    owner.send("/themes detractors checkout")
    themes = await owner.wait_for_message(
        lambda m: m.message_id > before and m.text.startswith("🏷"), timeout=15
    )
    assert themes.text.startswith("🏷 Themes · Dissatisfied (1–2) · Checkout · ")


async def test_comments_page_buttons_keep_each_survey_s_scale(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await make_survey(check_db, "checkout", "Checkout", kind="csat")
    now = utcnow()
    csat = [1, 2, 1, 2, 1, 2, 3, 4]  # six dissatisfied: two pages
    for i, score in enumerate(csat):
        await seed_answers(
            check_db,
            [score],
            survey_slug="checkout",
            why=f"csat {i}",
            at=now - timedelta(minutes=i + 1),
            first_user=41_000 + i,
        )
    await seed_answers(check_db, [6], why="nps six", at=now, first_user=42_000)
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/comments dissatisfied")
    message = await listing(owner)
    assert message.text.splitlines()[1] == "Newest first · 1–5 of 7"
    first = [block[-1] for block in entries(message)]
    owner.press(message, "▶")
    await api.wait_until(lambda: message.edit_count == 1)
    assert message.text.splitlines()[1] == "Newest first · 6–7 of 7"
    rest = [block[-1] for block in entries(message)]
    low = [f"Why: csat {i}" for i, s in enumerate(csat) if s <= 2]
    assert sorted(first + rest) == sorted([*low, "Why: nps six"])
    # A forged button with an unknown group is refused, nothing is edited.
    forged = pack(CommentsPage("pro", 0, 20000101, 20991231, 0, 0)).replace(":pro:", ":sat:")
    query = owner.press_data(message, forged)
    assert (await owner.wait_callback_answer(query)).show_alert
    assert message.edit_count == 1


async def test_comments_words_are_refused_to_outsiders_and_misspellings_are_explained(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await seed_three_kinds(check_db)
    outsider = api.user(9_999, first_name="Otto", language_code="en")
    outsider.send("/comments dissatisfied")
    await outsider.wait_for_message(lambda m: m.text == NOT_PERMITTED)
    await grant(check_db, 7_001, "viewer")
    viewer = api.user(7_001, first_name="Vera", language_code="en")
    viewer.send("/comments dissatisfiedd")
    reply = await viewer.wait_for_message(lambda m: True)
    assert not reply.text.startswith("💬") and "dissatisfiedd" in reply.text
    viewer.send("/comments difficult")
    listed = await listing(viewer)
    assert {block[-1] for block in entries(listed)} == {
        "Why: nps 3",
        "Why: nps 5",
        "Why: csat 2",
    } | {"Why: ces 3"}


def test_scores_are_written_with_their_scale_in_every_language() -> None:
    catalogs = Catalogs()
    expected = {
        "en": ("<b>2</b> of 5 ⭐", "<b>3</b> of 7"),
        "ru": ("<b>2</b> из 5 ⭐", "<b>3</b> из 7"),
        "ro": ("<b>2</b> din 5 ⭐", "<b>3</b> din 7"),
        "pl": ("<b>2</b> z 5 ⭐", "<b>3</b> z 7"),
    }
    for language, (csat, ces) in expected.items():
        texts = catalogs.texts(language)
        assert (score_text("csat", 2, texts), score_text("ces", 3, texts)) == (csat, ces)
        assert score_text("nps", 3, texts) == "<b>3</b>"
        assert score_text("enps", 10, texts) == "<b>10</b>"


# ------------------------------------------------------------------ the daily digest


@pytest.fixture
async def zoned_db(db_url: str) -> AsyncIterator[Database]:
    """The digest's local days (Europe/Chisinau), as the bot counts them."""
    database = Database(db_url, tz=TZ)
    yield database
    await database.dispose()


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_the_digest_gives_each_csat_and_ces_survey_its_line_and_scaled_comments(
    api: BotApiEmulator, db_url: str, zoned_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_survey(zoned_db, "checkout", "Checkout", kind="csat")
    await make_survey(zoned_db, "support", "Support", kind="ces")
    await make_survey(zoned_db, "quiet", "Quiet CES", kind="ces")  # no answers: no line
    yesterday = DAY - timedelta(days=1)
    # In the 30 days (24 Oct – 22 Nov): CSAT and CES answers; some outside it too.
    csat = [5, 4, 4, 5, 3, 1, 4]
    ces = [7, 6, 5, 6, 2, 6, 4, 5]
    await seed_answers(
        zoned_db, csat[:-2], survey_slug="checkout", at=local(DAY - timedelta(days=9), 10)
    )
    await seed_answers(
        zoned_db,
        [2],
        survey_slug="checkout",
        at=local(yesterday, 10),
        why="Card declined",
        first_user=20_000,
    )
    await seed_answers(
        zoned_db,
        [3],
        survey_slug="checkout",
        at=local(yesterday, 10, 30),
        why="So-so",
        first_user=20_001,
    )
    await seed_answers(
        zoned_db,
        ces[:-1],
        survey_slug="support",
        at=local(DAY - timedelta(days=3), 9),
        first_user=21_000,
    )
    await seed_answers(
        zoned_db,
        [3],
        survey_slug="support",
        at=local(yesterday, 11),
        why="Too many forms",
        first_user=22_000,
    )
    await seed_answers(zoned_db, [1], survey_slug="support", at=local(DAY, 8), first_user=23_000)
    await seed_answers(
        zoned_db,
        [1],
        survey_slug="checkout",
        at=local(DAY - timedelta(days=40), 8),
        first_user=24_000,
    )
    await seed_answers(zoned_db, [9, 5], at=local(yesterday, 12), why="slow", first_user=25_000)
    csat_month = [*csat[:-2], 2, 3]
    ces_month = [*ces[:-1], 3]
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/help")  # an owner who has talked to the bot can be written to
    freeze_clock(monkeypatch, local(DAY, 9, 0, 5))
    bot = digest_bot(api, db_url)
    await bot.start()
    try:
        text = (await owner.wait_for_message(is_digest)).text
    finally:
        await bot.stop()
    lines = text.splitlines()
    figure, margin = csat_expected(csat_month)
    mean, low, high = ces_expected(ces_month)
    too_few = " · ⚠️ too few to trust"
    title = "CSAT and CES · last 30 days (24 Oct – 22 Nov 2026):"
    at = lines.index(title)
    assert lines[at + 1 : at + 3] == [
        f"CSAT · Checkout: {figure} (±{margin}) · {len(csat_month)} answers{too_few}",
        f"CES · Support: {mean} ({low}–{high}) · {len(ces_month)} answers{too_few}",
    ]
    # The NPS figure stays the NPS survey's alone (a 9 and a 5: 0 ± …, 2 answers).
    assert any(line.startswith("Yesterday: NPS 0 ± ") and "2 answers" in line for line in lines)
    # Yesterday's low comments of every kind, oldest first, each score on its own scale;
    # the CSAT 3 is neutral, not a detractor.
    heads = [line for line in lines if line.startswith("🔴")]
    assert heads == [
        "🔴 2 of 5 ⭐ · Checkout · 10:00",
        "🔴 3 of 7 · Support · 11:00",
        "🔴 5 · Main survey · 12:00",
    ]
    assert "New detractor comments: 3" in lines and "So-so" not in text


def test_digest_scale_lines_in_every_language_and_the_one_answer_ces() -> None:
    catalogs = Catalogs()
    csat = ScaleFigure("csat", "Checkout <1>", summarize_csat([0, 1, 0, 0, 2, 1] + [0] * 5))
    one = ScaleFigure("ces", "Support", summarize_ces([0, 0, 0, 0, 0, 1] + [0] * 5))
    ces = ScaleFigure("ces", "Support", summarize_ces([0, 0, 0, 0, 3, 5, 0, 2] + [0] * 3))
    figure, margin = csat_expected([1, 4, 4, 5])
    mean, low, high = ces_expected([4, 4, 4, 5, 5, 5, 5, 5, 7, 7])
    en = catalogs.texts("en")
    assert scale_line(csat, en) == (
        f"CSAT · Checkout &lt;1&gt;: <b>{figure}</b> (±{margin}) · 4 answers · ⚠️ too few to trust"
    )
    assert scale_line(one, en) == "CES · Support: <b>5.0</b> · 1 answer · ⚠️ too few to trust"
    assert scale_line(ces, en).startswith(f"CES · Support: <b>{mean}</b> ({low}–{high}) · 10 ")
    assert scale_line(ces, catalogs.texts("ru")).startswith(
        f"CES · Support: <b>{mean}</b> ({low}–{high}) · ответов: 10"
    )
    assert "răspunsuri: 4" in scale_line(csat, catalogs.texts("ro"))
    assert "odpowiedzi: 1" in scale_line(one, catalogs.texts("pl"))
    comment = DetractorComment(
        score=2,
        survey="Checkout",
        agent=None,
        source=None,
        why="Card declined",
        improve=None,
        scored_at=local(DAY, 10),
        kind="csat",
    )
    assert render_comment(comment, catalogs.texts("ru"), TZ).startswith(
        "🔴 <b>2</b> из 5 ⭐ · Checkout · 10:00"
    )


# ------------------------------------------------------------------ npsbot stats


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_stats_prints_a_csat_or_ces_survey_s_own_figure(
    db_url: str, check_db: Database, tmp_path: Path
) -> None:
    await make_survey(check_db, "checkout", "Checkout", kind="csat")
    await make_survey(check_db, "support", "Support", kind="ces")
    csat = [5, 5, 4, 3, 2, 4, 1, 5, 4, 4]
    ces = [6, 7, 5, 3, 6, 6, 4]
    await seed_answers(check_db, csat[:6], survey_slug="checkout", agent="olga")
    await seed_answers(check_db, csat[6:], survey_slug="checkout", agent="ivan", first_user=11_000)
    await seed_answers(check_db, ces, survey_slug="support", first_user=12_000)
    await seed_answers(check_db, [10, 0], first_user=13_000)
    env = _env(db_url)

    code, stdout, stderr = await npsbot(tmp_path, env, "stats", "--survey", "checkout")
    assert code == 0, stderr
    lines = stdout.splitlines()
    figure, margin = csat_expected(csat)
    assert lines[0].startswith("CSAT · Checkout · last 30 days (")
    assert lines[1].startswith(f"CSAT {figure} ± {margin} (10 answers)")
    assert "NPS" not in stdout and "<" not in stdout and "&" not in stdout

    code, stdout, stderr = await npsbot(
        tmp_path, env, "stats", "--survey", "support", "--period", "7d"
    )
    assert code == 0, stderr
    mean, _, _ = ces_expected(ces)
    lines = stdout.splitlines()
    assert lines[0].startswith("CES · Support · ")
    assert lines[1].startswith(f"CES {mean} of 7 ± ") and "(7 answers)" in lines[1]

    code, stdout, stderr = await npsbot(
        tmp_path, env, "stats", "--survey", "checkout", "--by", "agent"
    )
    assert code == 0, stderr
    assert stdout.splitlines()[0].startswith("CSAT") and "olga" in stdout and "ivan" in stdout
    # Without a survey named, the NPS figure of the NPS survey, as before.
    code, stdout, stderr = await npsbot(tmp_path, env, "stats")
    assert code == 0, stderr
    assert stdout.startswith("NPS · Main survey") and "(2 answers)" in stdout

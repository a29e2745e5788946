"""`/themes` as the team sees it: figures per theme recomputed here from the answers, the
dictionary's list / edit / remove, suggested themes accepted or dismissed with role checks
and stale presses, anonymity of eNPS, and re-assignment after an edit."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest

from bot.emulator import BotApiEmulator, EmulatedUser
from bot.emulator.models import ChatMessage
from handlers.callbacks import MalformedCallback, ThemeCommentsPage, pack, unpack
from handlers.themes import ThemeDecision
from nps.nps_math import format_nps, format_pct
from nps.themes import starter_themes
from storage.db import Database
from storage.models import utcnow
from tests.admin_helpers import grant, make_survey, seed_answers
from tests.conftest import BACKENDS
from tests.handlers.harness import HandlerBot
from tests.handlers.test_admin_export import csv_rows, export, summary_table, workbook
from tests.scenario import OWNER_ID

NOT_PERMITTED = "This command is not available to you. /help lists what you can do here."
BUTTON_FOR_ADMINS = "This button is for admins and owners; you are a viewer."
# The test's own dictionary: words no starter theme has, so membership is known here.
PARKING, SOUP = "parking", "soup"


@dataclass(frozen=True)
class Seeded:
    score: int
    why: str | None
    days_ago: int = 0


# Scored answers of the last 30 days (and two of the 30 before), with and without comments.
ANSWERS = [
    Seeded(0, "No parking anywhere, and the soup was cold"),
    Seeded(2, "Parking is a nightmare"),
    Seeded(3, "Soup too salty"),
    Seeded(6, "The parking lot was full"),
    Seeded(8, "Fine soup"),
    Seeded(9, "Lovely soup and quick parking"),
    Seeded(10, "Everything wonderful"),
    Seeded(10, None),
    Seeded(7, None),
    Seeded(9, None),
    Seeded(4, "Parking again", days_ago=40),
    Seeded(9, "Great soup", days_ago=45),
]


def mentions(text: str | None, word: str) -> bool:
    return text is not None and word in text.lower()


def nps(scores: list[int]) -> float | None:
    if not scores:
        return None
    return 100.0 * (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)) / len(scores)


def expected_block(word: str, position: int) -> list[str]:
    """The theme's first two lines, computed from ANSWERS alone."""
    recent = [a for a in ANSWERS if a.days_ago < 30]
    earlier = [a for a in ANSWERS if 30 <= a.days_ago < 60]
    commented = [a for a in recent if a.why]
    with_it = [a.score for a in recent if mentions(a.why, word)]
    without = [a.score for a in recent if not mentions(a.why, word)]
    before = sum(mentions(a.why, word) for a in earlier)
    change = len(with_it) - before
    arrow = f"▲{change}" if change > 0 else f"▼{-change}" if change < 0 else "="
    impact = nps(with_it)
    rest = nps(without)
    assert impact is not None and rest is not None
    return [
        f"{position}. {word} — {len(with_it)} · "
        f"{format_pct(100.0 * len(with_it) / len(commented))} {arrow}",
        f"NPS {format_nps(impact)} vs {format_nps(rest)} · impact {format_nps(impact - rest)}",
    ]


async def seed(db: Database, answers: list[Seeded], *, first_user: int = 40_000) -> None:
    now = utcnow()
    for i, answer in enumerate(answers):
        await seed_answers(
            db,
            [answer.score],
            why=answer.why,
            at=now - timedelta(days=answer.days_ago, minutes=i),
            first_user=first_user + i,
        )


async def reply(user: object, after: int, start: str) -> ChatMessage:
    return await user.wait_for_message(  # type: ignore[attr-defined]
        lambda m: m.message_id > after and m.text.startswith(start)
    )


def last_id(user: object) -> int:
    messages = user.bot_messages  # type: ignore[attr-defined]
    return messages[-1].message_id if messages else 0


async def command(user: object, text: str, start: str) -> ChatMessage:
    before = last_id(user)
    user.send(text)  # type: ignore[attr-defined]
    return await reply(user, before, start)


async def own_dictionary(owner: object) -> None:
    """Removes the starter themes and adds the test's two."""
    for spec in starter_themes():
        await command(owner, f"/themes remove {spec.key}", "Theme ")
    done = await command(owner, f"/themes edit {PARKING}: parking\n{SOUP}: soup", "✅")
    assert done.text.splitlines()[:2] == [f"✅ {PARKING} (en): parking", f"✅ {SOUP} (en): soup"]


async def owner_with_own_dictionary(
    api: BotApiEmulator, db: Database, answers: list[Seeded] | None = None
) -> EmulatedUser:
    """Seeds the answers, then the owner replaces the starter themes with the test's two."""
    await seed(db, answers or [])
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    await own_dictionary(owner)
    return owner


def block_of(message: ChatMessage, position: int) -> list[str]:
    """The lines of the theme at this position in the table."""
    for block in message.text.split("\n\n"):
        if block.startswith(f"{position}. "):
            return block.splitlines()
    raise AssertionError(f"no theme #{position} in:\n{message.text}")


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_figures_per_theme_match_a_count_from_scratch(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = await owner_with_own_dictionary(api, check_db, ANSWERS)
    message = await command(owner, "/themes", "🏷 Themes")
    lines = message.text.splitlines()
    assert lines[0].startswith("🏷 Themes · Main survey · last 30 days (")
    recent = [a for a in ANSWERS if a.days_ago < 30]
    commented = [a for a in recent if a.why]
    themed = [a for a in commented if mentions(a.why, PARKING) or mentions(a.why, SOUP)]
    assert lines[1] == (
        f"Answers: {len(recent)} · with a comment: {len(commented)} · "
        f"mentioning a theme: {len(themed)}"
    )
    # Both themes have four mentions: the order among equals is by the previous period.
    parking_first = sum(mentions(a.why, PARKING) for a in ANSWERS if a.days_ago >= 30) >= sum(
        mentions(a.why, SOUP) for a in ANSWERS if a.days_ago >= 30
    )
    order = [PARKING, SOUP] if parking_first else [SOUP, PARKING]
    for position, word in enumerate(order, 1):
        block = block_of(message, position)
        assert block[:2] == expected_block(word, position)
        examples = [line.strip() for line in block[2:]]
        assert len(examples) == 2
        assert all(line.startswith("› ") and word in line.lower() for line in examples)
    # Every commented answer mentions a theme here: nothing to suggest.
    assert "Suggested themes" not in message.text
    assert message.keyboard == []


async def test_a_group_filter_counts_its_group_only_without_impact(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = await owner_with_own_dictionary(api, check_db, ANSWERS)
    message = await command(owner, "/themes detractors", "🏷 Themes")
    assert message.text.splitlines()[0].startswith("🏷 Themes · Detractors · Main survey")
    detractors = [a for a in ANSWERS if a.days_ago < 30 and a.score <= 6]
    parking = sum(mentions(a.why, PARKING) for a in detractors)
    soup = sum(mentions(a.why, SOUP) for a in detractors)
    first = block_of(message, 1)
    assert first[0].startswith(f"1. {PARKING} — {parking} · ")
    assert block_of(message, 2)[0].startswith(f"2. {SOUP} — {soup} · ")
    assert "NPS" not in message.text.split("\n\n", 1)[1].replace("NPS of those", "")


async def test_an_edit_reassigns_answers_read_before(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = await owner_with_own_dictionary(
        api, check_db, [Seeded(2, "The garage was closed"), Seeded(9, "Nice garage")]
    )
    message = await command(owner, "/themes", "🏷 Themes")
    assert "mentioning a theme: 0" in message.text
    await command(owner, f"/themes edit {PARKING}: parking, garage", "✅")
    message = await command(owner, "/themes", "🏷 Themes")
    assert "mentioning a theme: 2" in message.text
    assert block_of(message, 1)[0].startswith(f"1. {PARKING} — 2 · 100%")
    await command(owner, f"/themes remove {PARKING}", "Theme ")
    message = await command(owner, "/themes", "🏷 Themes")
    assert "mentioning a theme: 0" in message.text


async def test_list_edit_in_another_language_and_remove(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    listing = await command(owner, "/themes list", "🏷 Theme dictionary")
    lines = listing.text.splitlines()
    assert lines[0] == "🏷 Theme dictionary · words in en"
    delivery = next(s for s in starter_themes() if s.key == "delivery")
    assert f"• Delivery (delivery): {', '.join(delivery.words['en'])}" in lines
    done = await command(owner, "/themes edit ru доставка: курьер, посылка", "✅")
    assert done.text.splitlines()[0] == "✅ доставка (ru): курьер, посылка"
    ru = await command(owner, "/themes list ru", "🏷 Theme dictionary")
    assert "• доставка (доставка): курьер, посылка" in ru.text.splitlines()
    en = await command(owner, "/themes list", "🏷 Theme dictionary")
    assert "• доставка (доставка): no words in this language" in en.text.splitlines()
    await command(owner, "/themes remove Доставка", "Theme доставка removed")
    en = await command(owner, "/themes list", "🏷 Theme dictionary")
    assert "доставка (" not in en.text and "Removed: доставка" in en.text
    gone = await command(owner, "/themes remove nosuch", "There is no theme")
    assert "“nosuch”" in gone.text and "delivery" in gone.text
    bad = await command(owner, "/themes list xx", "Use /themes list")
    assert "en, ru, ro, pl" in bad.text


async def test_two_lines_about_one_theme_in_one_edit_keep_both_languages(
    api: BotApiEmulator, bot: HandlerBot
) -> None:
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    edit = f"/themes edit {PARKING}: parking, garage\nru {PARKING.upper()}: парковка"
    await command(owner, edit, "✅")
    en = await command(owner, "/themes list", "🏷 Theme dictionary")
    assert f"• {PARKING} ({PARKING}): parking, garage" in en.text.splitlines()
    ru = await command(owner, "/themes list ru", "🏷 Theme dictionary")
    assert f"• {PARKING} ({PARKING}): парковка" in ru.text.splitlines()


@pytest.mark.parametrize(
    "line",
    ["delivery courier late", ": courier", "delivery:", "x" * 41 + ": word"],
)
async def test_a_bad_edit_line_is_explained_and_nothing_changes(
    api: BotApiEmulator, bot: HandlerBot, line: str
) -> None:
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    before = await command(owner, "/themes list", "🏷 Theme dictionary")
    answer = await command(owner, f"/themes edit parking: parking\n{line}", "Line 2 is not")
    assert "Nothing was changed." in answer.text and "/themes edit delivery:" in answer.text
    after = await command(owner, "/themes list", "🏷 Theme dictionary")
    assert after.text == before.text
    usage = await command(owner, "/themes edit", "Use /themes edit")
    assert "in en" in usage.text


async def test_a_viewer_reads_but_cannot_change_the_dictionary(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    viewer = api.user(7_100, first_name="Vera", language_code="en")
    await grant(check_db, viewer.id, "viewer")
    refused = await command(viewer, "/themes edit parking: parking", "/themes edit is for")
    assert refused.text == "/themes edit is for admins and owners; you are a viewer."
    await command(viewer, "/themes remove delivery", "/themes remove is for admins")
    listing = await command(viewer, "/themes list", "🏷 Theme dictionary")
    assert "parking" not in listing.text and "Delivery (delivery)" in listing.text
    await command(viewer, "/themes", "🏷 Themes")
    help_text = (await command(viewer, "/help", "")).text
    assert "/themes [promoters|passives|detractors] [survey] [period]" in help_text
    outsider = api.user(7_200, first_name="Otto", language_code="en")
    await command(outsider, "/themes list", NOT_PERMITTED)
    assert "/themes" not in (await command(outsider, "/help", "")).text


SUGGESTIBLE = [
    Seeded(3, "Wifi kept dropping"),
    Seeded(4, "The wifi password did not work"),
    Seeded(5, "No wifi in the hall"),
    Seeded(6, "Slow wifi"),
    Seeded(2, "Parking is a nightmare"),
]


async def suggestion_message(user: object) -> ChatMessage:
    return await command(user, "/themes", "🏷 Themes")


async def test_a_suggestion_is_accepted_once_and_becomes_a_theme(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = await owner_with_own_dictionary(api, check_db, SUGGESTIBLE)
    message = await suggestion_message(owner)
    assert "💡 Suggested themes" in message.text
    section = message.text.split("💡 Suggested themes", 1)[1]
    assert re.search(r"^wifi — comments: 4 · wifi", section, re.M), section
    buttons = [button.text for row in message.keyboard for button in row]
    assert "✅ Add “wifi”" in buttons and "✖ Dismiss" in buttons
    # A viewer sees the suggestions but no buttons, and cannot press a forged one.
    viewer = api.user(7_100, first_name="Vera", language_code="en")
    await grant(check_db, viewer.id, "viewer")
    seen = await suggestion_message(viewer)
    assert "An admin can accept or dismiss them." in seen.text and seen.keyboard == []
    query = viewer.press_data(
        seen,
        next(
            b.callback_data for row in message.keyboard for b in row if b.text == "✅ Add “wifi”"
        ),
    )
    answer = await viewer.wait_callback_answer(query)
    assert answer.show_alert and answer.text == BUTTON_FOR_ADMINS
    # The owner accepts; a second press is told it was done already.
    before = last_id(owner)
    answer = await owner.wait_callback_answer(owner.press(message, "✅ Add “wifi”"))
    assert not answer.show_alert
    added = await reply(owner, before, "✅ Theme wifi added")
    assert "(en)" in added.text
    again = await owner.wait_callback_answer(owner.press(message, "✅ Add “wifi”"))
    assert again.show_alert and again.text == "“wifi” was accepted already."
    report = await suggestion_message(owner)
    assert block_of(report, 1)[0].startswith("1. wifi — 4 · ")
    assert "Suggested themes" not in report.text


async def test_a_dismissed_suggestion_does_not_come_back(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = await owner_with_own_dictionary(api, check_db, SUGGESTIBLE)
    message = await suggestion_message(owner)
    before = last_id(owner)
    answer = await owner.wait_callback_answer(owner.press(message, "✖ Dismiss"))
    assert not answer.show_alert
    await reply(owner, before, "✖ Suggestion wifi dismissed")
    again = await owner.wait_callback_answer(owner.press(message, "✖ Dismiss"))
    assert again.show_alert and again.text == "“wifi” was dismissed already."
    report = await suggestion_message(owner)
    assert "wifi —" not in report.text
    # A button naming no suggestion (forged, or from another database) is answered.
    query = owner.press_data(report, pack(ThemeDecision(999_999, "a")))
    answer = await owner.wait_callback_answer(query)
    assert (
        answer.show_alert
        and answer.text == "This suggestion no longer exists — send /themes again."
    )
    query = owner.press_data(report, "nps:tha:1:x")
    answer = await owner.wait_callback_answer(query)
    assert answer.show_alert


async def test_enps_themes_are_hidden_below_the_minimum_group(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await make_survey(check_db, "team", "Team", kind="enps")
    now = utcnow()
    for i, why in enumerate(["parking again", "parking full", "soup"]):
        await seed_answers(check_db, [3], why=why, survey_slug="team", at=now, first_user=60 + i)
    owner = await owner_with_own_dictionary(api, check_db)
    message = await command(owner, "/themes team", "🏷 Themes")
    assert "🔒 fewer than 5 answers" in message.text
    assert "parking" not in message.text
    for i in range(3):
        await seed_answers(
            check_db, [9], why="soup fine", survey_slug="team", at=now, first_user=70 + i
        )
    message = await command(owner, "/themes team", "🏷 Themes")
    # Six answers: the themes show, but no NPS of a side with fewer than five.
    assert block_of(message, 1)[0].startswith(f"1. {SOUP} — 4 · ")
    assert "🔒 NPS not shown: fewer than 5 answers on one side" in message.text
    assert "impact" not in message.text


async def test_comments_of_one_theme_page_by_page(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    parking = [Seeded(i % 7, f"parking trouble {i}") for i in range(7)]
    owner = await owner_with_own_dictionary(
        api, check_db, [*parking, Seeded(1, "soup cold"), Seeded(2, "rude")]
    )
    first = await command(owner, f"/comments {PARKING}", "💬 Comments")
    lines = first.text.splitlines()
    assert lines[0].startswith(f"💬 Comments · {PARKING} · Main survey · last 30 days")
    assert lines[1] == "Newest first · 1–5 of 7"
    assert "soup" not in first.text and "rude" not in first.text
    edits = first.edit_count
    answer = await owner.wait_callback_answer(owner.press(first, "▶"))
    assert not answer.show_alert
    await api.wait_until(lambda: first.edit_count > edits)
    assert first.text.splitlines()[1] == "Newest first · 6–7 of 7"
    assert first.text.count("parking trouble") == 2
    # With a group, and with the explicit form.
    group = await command(owner, f"/comments detractors theme:{SOUP}", "💬 Comments")
    assert group.text.splitlines()[0].startswith(
        f"💬 Comments · Detractors · {SOUP} · Main survey"
    )
    assert "soup cold" in group.text and "parking" not in group.text
    unknown = await command(owner, "/comments theme:nosuch", "There is no theme")
    assert f"Themes: {PARKING}, {SOUP}." in unknown.text
    # A removed theme's old buttons say so.
    await command(owner, f"/themes remove {PARKING}", "Theme ")
    answer = await owner.wait_callback_answer(owner.press(first, "◀"))
    await api.wait_until(lambda: "no longer in use" in first.text)


async def test_a_survey_named_like_a_theme_wins_over_it(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await make_survey(check_db, PARKING, "Parking lot")
    await seed_answers(check_db, [3], why="cold soup", survey_slug=PARKING)
    owner = await owner_with_own_dictionary(api, check_db, [Seeded(2, "parking trouble")])
    survey = await command(owner, f"/comments {PARKING}", "💬 Comments")
    assert survey.text.splitlines()[0].startswith("💬 Comments · Parking lot ·")
    assert "cold soup" in survey.text and "parking trouble" not in survey.text
    theme = await command(owner, f"/comments theme:{PARKING}", "💬 Comments")
    assert theme.text.splitlines()[0].startswith(f"💬 Comments · {PARKING} · All surveys")
    assert "parking trouble" in theme.text and "cold soup" not in theme.text


def test_theme_page_payloads_round_trip_and_reject_a_missing_theme() -> None:
    page = ThemeCommentsPage("det", 123_456, 20261101, 20261130, 25, 1, theme_id=42)
    assert unpack(pack(page)) == page
    with pytest.raises(MalformedCallback):
        unpack(pack(page).rsplit(":", 1)[0] + ":0")


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # the themes cell's SQL differs
async def test_the_export_has_a_themes_column_and_table(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = await owner_with_own_dictionary(api, check_db, ANSWERS)
    book = workbook(await export(api, owner))
    rows = list(book["Responses"].iter_rows(values_only=True))
    header = list(rows[0])
    assert header[header.index("Improve") + 1] == "Themes"
    found = {
        row[header.index("Why")]: set((row[header.index("Themes")] or "").split(", ")) - {""}
        for row in rows[1:]
    }
    recent = [a for a in ANSWERS if a.days_ago < 30]
    assert found == {a.why: {w for w in (PARKING, SOUP) if mentions(a.why, w)} for a in recent}
    assert book.sheetnames == ["Summary", "Themes", "Responses"]  # a sheet of their own
    on_summary = [row[0] for row in book["Summary"].iter_rows(values_only=True)]
    assert "Themes of comments" not in on_summary
    table = summary_table(book["Themes"], "Themes of comments")
    assert table[0][:4] == ("Theme", "Key", "Mentions", "Share of commented answers, %")
    counted = {row[1]: row[2] for row in table[1:]}
    assert counted == {w: sum(mentions(a.why, w) for a in recent) for w in (PARKING, SOUP)}
    csv = csv_rows(await export(api, owner, "csv"))
    why, column = csv[0].index("Why"), csv[0].index("Themes")
    assert {row[why]: set(row[column].split(", ")) - {""} for row in csv[1:]} == {
        a.why or "": {w for w in (PARKING, SOUP) if mentions(a.why, w)} for a in recent
    }

"""`/autopilot`: switching a relationship survey on, listing, changing, stopping, refusing."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from bot.emulator import BotApiEmulator
from handlers.roles import Role
from handlers.routing import create_router
from storage.autopilot_models import Autopilot, AutopilotRun
from storage.broadcast_models import BroadcastRecipient
from storage.db import Database
from storage.models import utcnow
from tests.admin_helpers import grant, make_survey
from tests.broadcast_helpers import admin, reply_to, seed_audience
from tests.conftest import BACKENDS
from tests.handlers.harness import HandlerBot
from tests.scenario import OWNER_ID


async def _schedules(db: Database) -> list[tuple[str, int, str, str, bool, int]]:
    """Every autopilot row: (survey slug, every, unit, segment, active, created_by)."""
    async with db.snapshot() as store:
        rows = (await store.responses._session.scalars(select(Autopilot))).all()
        found = []
        for row in rows:
            survey = await store.surveys.get(row.survey_id)
            assert survey is not None
            found.append(
                (survey.slug, row.every, row.unit, row.segment, row.active, row.created_by)
            )
        return found


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_an_admin_switches_on_lists_changes_and_stops_a_schedule(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await seed_audience(check_db, api, [101, 102, 103])
    await seed_audience(check_db, api, [104], language="ru")
    owner = admin(api)
    none = await reply_to(owner, "/autopilot", "autopilot")
    assert "No survey is on autopilot. Example: /autopilot nps every 3 months" in none.text

    on = await reply_to(owner, "/autopilot nps every 3 months", "Autopilot")
    lines = on.text.splitlines()
    assert lines[0] == "✅ Autopilot on: Main survey (nps) to everyone, every 3 months."
    assert "on weekday mornings 09:00–12:00 (UTC), about 1 a day" in lines[1]
    assert lines[2].startswith("Due now: 4 of 4. Next run: ")  # customers; not the owner
    assert await _schedules(check_db) == [("nps", 3, "months", "", True, owner.id)]

    listed = await reply_to(owner, "/autopilot", "Autopilot")
    assert listed.text.splitlines()[:2] == [
        "Autopilot · weekday mornings 09:00–12:00 (UTC)",
        "• nps every 3 months, to everyone",
    ]
    assert "next run " in listed.text and "not run yet" in listed.text

    # Same survey again: the schedule changes (one per survey); a shorter interval than
    # SURVEY_COOLDOWN_DAYS gets a warning, since the fatigue rule wins.
    changed = await reply_to(owner, "/autopilot nps every 30 days lang:ru", "Autopilot")
    assert changed.text.startswith("✅ Autopilot changed: Main survey (nps) to lang:ru, every 30")
    assert "Due now: 1 of 1." in changed.text
    assert "SURVEY_COOLDOWN_DAYS is 90: nobody gets the same survey again within 90 days" in (
        changed.text
    )
    assert await _schedules(check_db) == [("nps", 30, "days", "lang:ru", True, owner.id)]

    off = await reply_to(owner, "/autopilot off nps", "Autopilot")
    assert off.text.startswith("⏹ Autopilot off for Main survey (nps): no more runs")
    assert await _schedules(check_db) == [("nps", 30, "days", "lang:ru", False, owner.id)]
    again = await reply_to(owner, "/autopilot off nps", "autopilot")
    assert again.text == "“nps” is not on autopilot. /autopilot lists the schedules."
    empty = await reply_to(owner, "/autopilot", "autopilot")
    assert empty.text.startswith("No survey is on autopilot.")


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/autopilot nps", "Usage: /autopilot <survey> every <N> days|months [segment]"),
        ("/autopilot nps every", "Usage: /autopilot <survey> every <N> days|months"),
        ("/autopilot nps each 3 months", "Usage: /autopilot <survey> every <N>"),
        ("/autopilot off", "Usage: /autopilot <survey> every <N>"),
        ("/autopilot off nps delivery", "Usage: /autopilot <survey> every <N>"),
        (
            "/autopilot nope every 3 months",
            "There is no active survey “nope”. Example: /autopilot nps every 3 months",
        ),
        (
            "/autopilot nps every 0 days",
            "“0” is not an interval: write a whole number from 1 to 730 days or from 1 to 24"
            " months, e.g. /autopilot nps every 3 months.",
        ),
        ("/autopilot nps every 25 months", "“25” is not an interval"),
        ("/autopilot nps every three months", "“three” is not an interval"),
        ("/autopilot nps every -3 days", "“-3” is not an interval"),
        (
            "/autopilot nps every 5 weeks",
            "“weeks” is not an interval I know: write days or months, e.g. /autopilot nps"
            " every 3 months or /autopilot nps every 35 days.",
        ),
        (
            "/autopilot nps every 3 months vips",
            "I don't understand the segment “vips”. Example: /autopilot nps every 3 months"
            " lang:ru",
        ),
        (
            "/autopilot staff every 3 months",
            "“staff” is an eNPS survey: its answers are anonymous",
        ),
        ("/autopilot off nope", "“nope” is not on autopilot."),
    ],
)
async def test_bad_input_gets_one_line_saying_what_is_wrong_and_saves_nothing(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database, command: str, expected: str
) -> None:
    await make_survey(check_db, "staff", "Staff", kind="enps")
    owner = admin(api)
    before = max((m.message_id for m in owner.messages), default=0)
    owner.send(command)
    reply = await owner.wait_for_message(lambda m: m.message_id > before)
    assert expected in reply.text
    await bot.idle()
    assert len([m for m in owner.bot_messages if m.message_id > before]) == 1
    assert await _schedules(check_db) == []


async def test_viewers_and_strangers_are_refused_on_every_call(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    viewer = api.user(501, first_name="Vera")
    viewer.started = True
    await grant(check_db, 501, "viewer")
    refused = await reply_to(viewer, "/autopilot nps every 3 months", "autopilot")
    assert refused.text == "/autopilot is for admins and owners; you are a viewer."
    stranger = api.user(502, first_name="Sam")
    neutral = await reply_to(stranger, "/autopilot", "not available")
    assert neutral.text.startswith("This command is not available to you.")
    # Given the admin role, it works; revoked, it stops at the next call.
    await grant(check_db, 501, "admin")
    await reply_to(viewer, "/autopilot nps every 3 months", "Autopilot on")
    async with check_db.transaction() as store:
        await store.staff.revoke(501)
    refused = await reply_to(viewer, "/autopilot off nps", "not available")
    assert (
        refused.text == "This command is not available to you. /help lists what you can do here."
    )
    assert await _schedules(check_db) == [("nps", 3, "months", "", True, 501)]


async def test_the_command_is_in_the_admins_menu_and_help() -> None:
    router = create_router()
    assert "autopilot" in router.hooks.menu(Role.ADMIN)
    assert "autopilot" not in router.hooks.menu(Role.VIEWER)
    assert (Role.ADMIN, "ap_help") in router.hooks.help_sections


async def test_help_shows_autopilot_to_admins_only(api: BotApiEmulator, bot: HandlerBot) -> None:
    owner = admin(api)
    shown = await reply_to(owner, "/help", "Broadcasts")
    assert "/autopilot &lt;survey&gt;" not in shown.text  # rendered, not escaped
    assert "/autopilot <survey> every <N> days|months [segment]" in shown.text
    assert "weekday mornings 09:00–12:00" in shown.text
    someone = api.user(503, first_name="Ann")
    plain = await reply_to(someone, "/help", "/language")
    assert "/autopilot" not in plain.text


async def test_the_list_shows_a_run_still_sending_and_an_inactive_survey(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await seed_audience(check_db, api, [601, 602])
    delivery = await make_survey(check_db, "delivery", "Delivery")
    owner = admin(api)
    await reply_to(owner, "/autopilot nps every 2 months detractors", "Autopilot on")
    await reply_to(owner, "/autopilot delivery every 14 days", "Autopilot on")
    day = date(2026, 12, 9)
    async with check_db.transaction() as store:
        session = store.responses._session
        nps = await store.surveys.by_slug("nps")
        assert nps is not None
        schedule = await store.autopilot.of_survey(nps.id)
        assert schedule is not None
        # A run whose two messages wait in the queue (a draft: no worker takes it here).
        draft = await store.broadcasts.create_draft(
            survey_id=nps.id,
            segment="",
            created_by=OWNER_ID,
            chat_id=OWNER_ID,
            language="en",
            now=utcnow(),
        )
        for person in (
            await store.respondents.person_of(601),
            await store.respondents.person_of(602),
        ):
            assert person is not None
            session.add(
                BroadcastRecipient(
                    broadcast_id=draft.id,
                    respondent_id=person,
                    chat_id=person,
                    status="pending",
                    attempts=0,
                )
            )
        session.add(
            AutopilotRun(
                autopilot_id=schedule.id,
                day=day,
                due=5,
                enrolled=2,
                broadcast_id=draft.id,
                created_at=utcnow(),
            )
        )
        await store.surveys.update(delivery, active=False)
    listed = await reply_to(owner, "/autopilot", "Autopilot ·")
    _, nps_line, nps_runs, delivery_line, inactive = listed.text.splitlines()
    assert nps_line == "• nps every 2 months, to detractors"
    assert nps_runs.startswith("   next run ")
    assert nps_runs.endswith(" · last run 2026-12-09: 0 sent, 2 still to send")
    assert delivery_line == "• delivery every 14 days, to everyone"
    assert inactive == "   the survey is inactive: nothing is sent until it is active again"

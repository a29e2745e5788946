"""/start's look-up stays per person: it reads the person's own rows, not every answer to
the survey, and the role it reads serves the command-menu refresh (no second query)."""

from __future__ import annotations

from sqlalchemy import text

from storage.db import Database
from storage.models import utcnow
from storage.repos.response_start import _BEFORE_START, Door
from storage.statements import same
from tests.admin_helpers import seed_invitations


async def test_the_start_look_up_searches_the_persons_rows(db: Database) -> None:
    await seed_invitations(db, 3, first_user=9100)
    async with db.transaction() as store:
        await store.staff.grant(9101, "viewer", 1)
        driver = store.driver
        if driver.sqlite:
            # SQLite's compiled text of the statement, its arguments in that text's order.
            compiled = _BEFORE_START.sqlite
            # Plain text around it: its `?` parameters are the compiled ones, as they are.
            plan = await driver.fetch(
                same(text("EXPLAIN QUERY PLAN " + compiled.text)),
                *compiled.args((9101, 1, "start", "", "", "", driver.stamp(utcnow()), 9101)),
            )
            steps = " | ".join(str(row[-1]) for row in plan)
            # Found through the respondent's index, never by walking the survey's answers.
            assert "responses USING INDEX ix_responses_respondent" in steps, steps
            assert "ix_responses_survey_scored" not in steps, steps
        survey = await store.surveys.ensure_default()
        door = Door("start", "", "", "")
        # The role is the Telegram user's (the team are Telegram accounts), the answers the
        # person's (an internal id that differs from the Telegram id).
        viewer = await store.responses.before_start(2, survey.id, door, None, 9101)
        nobody = await store.responses.before_start(3, survey.id, door, None, 9102)
        assert (viewer.role, viewer.team_member) == ("viewer", True)
        assert (nobody.role, nobody.team_member) == (None, False)

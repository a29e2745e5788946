"""/start's look-up stays per person: it reads the person's own rows, not every answer to
the survey, and the role it reads serves the command-menu refresh (no second query)."""

from __future__ import annotations

from storage.db import Database
from storage.models import utcnow
from storage.repos.responses import _BEFORE_START, Door
from tests.e2e.admin_helpers import seed_invitations


async def test_the_start_look_up_searches_the_persons_rows(db: Database) -> None:
    await seed_invitations(db, 3, first_user=9100)
    async with db.transaction() as store:
        await store.staff.grant(9101, "viewer", 1)
        driver = store.driver
        if driver.sqlite:
            plan = await driver.fetch(
                "EXPLAIN QUERY PLAN " + _BEFORE_START,
                9101,
                1,
                "start",
                "",
                "",
                "",
                driver.stamp(utcnow()),
            )
            steps = " | ".join(str(row[-1]) for row in plan)
            # Found through the respondent's index, never by walking the survey's answers.
            assert "responses USING INDEX ix_responses_respondent" in steps, steps
            assert "ix_responses_survey_scored" not in steps, steps
        survey = await store.surveys.ensure_default()
        door = Door("start", "", "", "")
        viewer = await store.responses.before_start(9101, survey.id, door, None)
        nobody = await store.responses.before_start(9102, survey.id, door, None)
        assert (viewer.role, viewer.team_member) == ("viewer", True)
        assert (nobody.role, nobody.team_member) == (None, False)

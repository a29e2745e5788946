"""Storage on both backends: migrations, steps that only move forward, update dedupe."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from storage.db import Database
from storage.models import Response, Step
from storage.repos.respondents import Profile
from storage.repos.response_start import AnswerContext


async def _respondent_and_response(db: Database, user_id: int = 42) -> int:
    async with db.transaction() as store:
        survey = await store.surveys.ensure_default()
        await store.respondents.touch(Profile(user_id, user_id, "Anna", "anna", "en"))
        response = await store.responses.start(
            survey_id=survey.id,
            respondent_id=user_id,
            chat_id=user_id,
            language="en",
            context=AnswerContext(
                source="call", agent="olga", start_payload="nps__s-call__a-olga"
            ),
        )
        return response.id


async def test_default_survey_is_created_once(db: Database) -> None:
    async with db.transaction() as store:
        first = await store.surveys.ensure_default()
    async with db.transaction() as store:
        second = await store.surveys.ensure_default()
        assert [s.id for s in await store.surveys.all()] == [first.id]
    assert second.id == first.id and second.kind == "nps" and second.is_default


async def test_response_moves_forward_once_per_step(db: Database) -> None:
    response_id = await _respondent_and_response(db)
    async with db.transaction() as store:
        assert await store.responses.record_score(response_id, 6)
        assert not await store.responses.record_score(response_id, 9)  # second score loses
        assert await store.responses.record_why(response_id, "late courier")
        assert not await store.responses.record_why(response_id, "overwrite attempt")
        assert await store.responses.record_improve(response_id, None)
    async with db.snapshot() as store:
        response = await store.responses.get(response_id)
        assert response is not None
        assert (response.score, response.why, response.improve) == (6, "late courier", None)
        assert response.step == Step.DONE
        assert (response.source, response.agent) == ("call", "olga")
        assert response.scored_at <= response.why_at <= response.completed_at  # type: ignore[operator]
        assert response.scored_at.tzinfo is not None  # type: ignore[union-attr]


async def test_concurrent_scores_first_wins(db: Database) -> None:
    response_id = await _respondent_and_response(db)

    async def press(score: int) -> bool:
        async with db.transaction() as store:
            return await store.responses.record_score(response_id, score)

    results = await asyncio.gather(*(press(s) for s in (3, 7, 10, 0)))
    assert sorted(results) == [False, False, False, True]
    async with db.snapshot() as store:
        response = await store.responses.get(response_id)
        assert response is not None
        assert response.score == (3, 7, 10, 0)[results.index(True)]


async def test_update_ids_are_claimed_once(db: Database) -> None:
    async with db.transaction() as store:
        assert await store.updates.claim(1001)
    async with db.transaction() as store:
        assert not await store.updates.claim(1001)
        assert await store.updates.claim(1002)


async def test_new_survey_closes_unfinished_one(db: Database) -> None:
    first = await _respondent_and_response(db)
    second = await _respondent_and_response(db)
    async with db.snapshot() as store:
        rows = (
            await store.responses._session.scalars(select(Response).order_by(Response.id))
        ).all()
        assert [(r.id, r.step) for r in rows] == [(first, Step.CLOSED), (second, Step.SCORE)]
        open_response = await store.responses.open_for(42)
        assert open_response is not None and open_response.id == second


async def test_long_comment_is_stored_whole(db: Database) -> None:
    response_id = await _respondent_and_response(db)
    comment = "Ж" * 4096
    async with db.transaction() as store:
        await store.responses.record_score(response_id, 2)
        await store.responses.record_why(response_id, comment)
    async with db.snapshot() as store:
        response = await store.responses.get(response_id)
        assert response is not None and response.why == comment


def test_migrate_command_works_from_any_directory(tmp_path: Path) -> None:
    target = tmp_path / "data" / "sub" / "bot.db"
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "bot", "migrate"],
        cwd=elsewhere,
        env={"DATABASE_URL": f"sqlite+aiosqlite:///{target}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert target.exists()
    assert not list(elsewhere.iterdir())  # nothing written to the working directory

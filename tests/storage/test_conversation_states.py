"""The respondent's conversation table (handlers/states.py) and the storage statements that
move a response on agree: storage spells the steps itself, so this is where they meet."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from handlers.states import FINAL_STEPS, INTERRUPTED, NEXT_STEP, OPEN_STEPS, TEXT_STEPS, Step
from storage.db import Database
from storage.repos.respondents import Profile
from storage.repos.response_rows import ResponseRow
from storage.repos.response_start import AnswerContext
from storage.repos.responses import ResponseRepo

USER = 42
Answer = Callable[[ResponseRepo, ResponseRow], Awaitable[bool]]

# How a respondent answers each waiting step, through the storage calls the handlers use.
ANSWERS: dict[Step, Answer] = {
    Step.SCORE: lambda repo, row: repo.record_score(row, 6),
    Step.WHY: lambda repo, row: repo.record_why(row, "late courier"),
    Step.IMPROVE: lambda repo, row: repo.record_improve(row, None),
}


async def _start(db: Database) -> int:
    async with db.transaction() as store:
        survey = await store.surveys.ensure_default()
        await store.respondents.touch(Profile(USER, USER, "Anna", "anna", "en"))
        response = await store.responses.start(
            survey_id=survey.id,
            respondent_id=USER,
            chat_id=USER,
            language="en",
            context=AnswerContext(),
        )
        return response.id


async def _step_in_database(db: Database, response_id: int) -> str:
    async with db.snapshot() as store:
        row = await store.responses.get(response_id)
        assert row is not None
        return row.step


def test_the_table_covers_every_step_once() -> None:
    assert tuple(NEXT_STEP) == OPEN_STEPS  # storage's "still waiting" steps
    assert set(NEXT_STEP) | set(FINAL_STEPS) == set(Step)
    assert not set(NEXT_STEP) & set(FINAL_STEPS)
    assert set(TEXT_STEPS) <= set(NEXT_STEP) and INTERRUPTED in FINAL_STEPS
    assert set(ANSWERS) == set(NEXT_STEP)


async def test_each_answer_moves_the_row_where_the_table_says_and_nowhere_else(
    db: Database,
) -> None:
    response_id = await _start(db)
    step = Step.SCORE
    while step in NEXT_STEP:
        async with db.transaction() as store:
            row = await store.responses.get(response_id)
            assert row is not None and row.step == step
            # The answers of the other steps are refused here and leave the row where it is.
            for other, answer in ANSWERS.items():
                if other != step:
                    assert not await answer(store.responses, row), (step, other)
            assert row.step == step
            assert await ANSWERS[step](store.responses, row)
            # The loaded row is kept current in Python; the database row is updated in SQL.
            assert row.step == NEXT_STEP[step]
        assert await _step_in_database(db, response_id) == NEXT_STEP[step]
        step = NEXT_STEP[step]
    assert step in FINAL_STEPS


@pytest.mark.parametrize("waiting", list(NEXT_STEP), ids=str)
async def test_a_newer_survey_interrupts_a_conversation_at_any_waiting_step(
    db: Database, waiting: Step
) -> None:
    first = await _start(db)
    step = Step.SCORE
    while step != waiting:
        async with db.transaction() as store:
            assert await ANSWERS[step](store.responses, first)  # by id: SQL alone moves it
        step = NEXT_STEP[step]
    assert await _step_in_database(db, first) == waiting
    second = await _start(db)
    assert await _step_in_database(db, first) == INTERRUPTED
    assert await _step_in_database(db, second) == Step.SCORE

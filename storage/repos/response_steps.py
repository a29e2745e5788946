"""Moving a response through its steps (score, why, improve), each step taken once (the
first writer wins), and the replaced answer superseded once the new one is scored."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, update

from storage.models import Step, utcnow
from storage.repos.response_rows import (
    RESPONSES,
    ResponseReader,
    ResponseRow,
    constant,
    param,
    split,
)
from storage.repos.stats import segments_of
from storage.statements import Statement, same

_R = RESPONSES
_SET_PROMPT = same(
    update(_R)
    .where(_R.c.id == bindparam("response_id"))
    .values(prompt_message_id=bindparam("message_id")),
    "response_id",
    "message_id",
)
_SCORE = same(
    update(_R)
    .where(_R.c.id == bindparam("response_id"), _R.c.step == constant(Step.SCORE.value))
    .values(
        score=bindparam("score"),
        scored_at=bindparam("scored_at"),
        step=constant(Step.WHY.value),
    )
    .returning(
        _R.c.survey_id,
        _R.c.agent,
        _R.c.source,
        _R.c.language,
        _R.c.campaign,
        _R.c.messenger,
        _R.c.asked_at,
        _R.c.invite_pending,
    ),
    "response_id",
    "score",
    "scored_at",
)
# The replaced answer stops counting once the new one is scored (first writer wins).
_SUPERSEDE = same(
    update(_R)
    .where(
        _R.c.id == bindparam("replaced_id"),
        _R.c.respondent_id == bindparam("respondent_id"),
        _R.c.superseded_by.is_(None),
        _R.c.scored_at.is_not(None),
    )
    .values(superseded_by=bindparam("response_id"))
    .returning(
        _R.c.survey_id,
        _R.c.asked_at,
        _R.c.scored_at,
        _R.c.score,
        _R.c.agent,
        _R.c.source,
        _R.c.language,
        _R.c.campaign,
        _R.c.messenger,
    ),
    "response_id",
    "replaced_id",
    "respondent_id",
)

# A question asked in one messaging channel and answered in another (a Telegram invitation
# answered through its web link) counts as given where it was answered.
_MOVE = same(
    update(_R)
    .where(
        _R.c.id == bindparam("response_id"),
        _R.c.step == constant(Step.SCORE.value),
        _R.c.messenger == bindparam("old"),
    )
    .values(messenger=bindparam("new_messenger"))
    .returning(_R.c.survey_id, _R.c.asked_at, _R.c.invite_pending),
    "response_id",
    "old",
    "new_messenger",
)


@functools.cache
def _advance_statement(columns: tuple[str, ...]) -> Statement:
    """`UPDATE … SET <columns> WHERE id = … AND step = …`, built once per column set."""
    # Parameter names differ from the columns: SQLAlchemy keeps those for SET values.
    return same(
        update(_R)
        .where(_R.c.id == bindparam("response_id"), _R.c.step == bindparam("expected"))
        .values({name: bindparam(f"new_{name}") for name in columns}),
        "response_id",
        "expected",
        *(f"new_{name}" for name in columns),
    )


@dataclass(frozen=True)
class Replaced:
    """An answer that stopped counting because a newer one replaced it."""

    id: int
    score: int


class ResponseSteps(ResponseReader):
    """Moves responses through their steps atomically (part of `ResponseRepo`)."""

    async def _advance(
        self, response: ResponseRow | int, expected: Step, **values: object
    ) -> bool:
        """Moves a response on only if it is still at `expected` (the first writer wins);
        a loaded row passed in shows the new values."""
        response_id, loaded = split(response)
        driver = self._driver
        params = [param(driver, value) for value in values.values()]
        changed = await driver.execute(
            _advance_statement(tuple(values)), response_id, expected.value, *params
        )
        done = bool(changed)
        if done and loaded is not None:
            for name, value in values.items():
                setattr(loaded, name, value)
        return done

    async def record_score(
        self, response: ResponseRow | int, score: int, *, at: datetime | None = None
    ) -> bool:
        """Stores and counts the score (valid on its own); False if already scored.

        An anonymous survey takes one score per person: the thread's salted hash is
        checked, and marked once the score is stored. Pass the loaded row (rather than its
        id) to have it updated in place.
        """
        response_id, loaded = split(response)
        now = at or utcnow()
        thread = None
        # A row with a respondent is never anonymous: no thread to look for.
        if loaded is None or loaded.respondent_id is None:
            thread = await self._anonymity.thread_for_response(response_id)
        if thread is not None and not await self._anonymity.may_score(thread):
            return False
        # An anonymous answer's time is stored at the day at once (counted on its day).
        stored = now if thread is None else self._anonymity.day_of(now)
        row = await self._driver.fetchrow(_SCORE, response_id, score, self._driver.stamp(stored))
        if row is None:
            return False
        survey_id, agent, source, language, campaign, messenger, asked_at, invite_pending = row
        if thread is not None:
            await self._anonymity.mark_answered(thread)
        segments = segments_of(agent, source, language, campaign, messenger)
        await self._stats.count_score(survey_id, now, segments, score)
        if invite_pending:
            # Counted with the answer, in the same segments (the response rate stays <= 1).
            moment = self._driver.moment(asked_at)
            assert moment is not None  # asked_at is never NULL
            await self._stats.count_invited(survey_id, moment, segments)
        if loaded is not None:
            for name, value in (("score", score), ("scored_at", stored), ("step", Step.WHY)):
                setattr(loaded, name, value)
        return True

    async def supersede_replaced(self, response: ResponseRow) -> Replaced | None:
        """Once `response` is scored, the answer it replaces stops counting: kept, marked
        superseded, and taken out of its day's histogram with its invitation (the new
        answer counted both). None when it replaces nothing (or another answer did)."""
        if response.replaces_id is None or response.respondent_id is None:
            return None
        driver = self._driver
        row = await driver.fetchrow(
            _SUPERSEDE, response.id, response.replaces_id, response.respondent_id
        )
        if row is None:
            return None
        survey_id, asked_at, scored_at, score, agent, source, language, campaign, messenger = row
        segments = segments_of(agent, source, language, campaign, messenger)
        asked, scored = driver.moment(asked_at), driver.moment(scored_at)
        assert asked is not None and scored is not None  # a scored row
        await self._stats.count_invited(survey_id, asked, segments, -1)
        await self._stats.count_score(survey_id, scored, segments, score, -1)
        return Replaced(response.replaces_id, score)

    async def move_to_messenger(self, response: ResponseRow, messenger: str) -> bool:
        """Before its score: the answer is being given through `messenger`, not the channel
        it was asked in; its invitation moves to that channel's histogram row (the other
        segments stay). False when it is no longer waiting for a score (or already there)."""
        old = response.messenger
        if old == messenger:
            return False
        driver = self._driver
        row = await driver.fetchrow(_MOVE, response.id, old, messenger)
        if row is None:
            return False
        survey_id, asked_at, invite_pending = row
        response.messenger = messenger
        if not invite_pending:  # else the invitation is counted with the score, there
            asked = driver.moment(asked_at)
            assert asked is not None  # asked_at is never NULL
            await self._stats.count_invited(survey_id, asked, [("channel", old)], -1)
            await self._stats.count_invited(survey_id, asked, [("channel", messenger)])
        return True

    async def record_why(
        self, response: ResponseRow | int, text: str | None, *, at: datetime | None = None
    ) -> bool:
        """Stores the reason for the score (None when skipped); `at`: when (now)."""
        return await self._advance(
            response, Step.WHY, why=text, why_at=at or utcnow(), step=Step.IMPROVE
        )

    async def record_improve(
        self, response: ResponseRow | int, text: str | None, *, at: datetime | None = None
    ) -> bool:
        """Stores what to improve (None when skipped) and completes the response; `at`:
        when (now)."""
        now = at or utcnow()
        done = await self._advance(
            response, Step.IMPROVE, improve=text, improve_at=now, completed_at=now, step=Step.DONE
        )
        response_id, loaded = split(response)
        if done and (loaded is None or loaded.respondent_id is None):
            # A finished anonymous answer is unlinked at once: its pointer dropped, its
            # times coarsened (no-op for other answers).
            await self._anonymity.release(response_id)
            if loaded is not None:
                await self.refresh(loaded)
        return done

    async def set_prompt_message(self, response_id: int, message_id: int) -> None:
        """Remembers which message carries the score keyboard, to edit it later."""
        await self._driver.execute(_SET_PROMPT, response_id, message_id)

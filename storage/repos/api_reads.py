"""The trigger API's feed of scored answers (`GET /api/v1/responses`), a page at a time.

A CRM pages through the answers with a cursor and later polls with the last one it got,
so the order must never let an answer slip in behind a position already passed:

* a named answer is listed at its `scored_at` (the moment the score was stored), after
  `upto`, a few seconds back from now, so a transaction still committing a score taken a
  moment earlier cannot land behind a page already read;
* an anonymous (eNPS) answer keeps only its local day (storage/repos/anonymity.py): it is
  listed at `anonymous_delay` after its day's start (past the end of any day, DST
  included), so all of a day's answers show up at once, after the day, by their random
  public ids; a live feed would tell who answered when. A day (per survey) holding fewer
  than `min_group` answers is never listed (ENPS_MIN_GROUP: they could be told apart).

Positions are (listed_at, anonymous, key): at one moment named answers come before
anonymous ones; among them named ones go by row id, anonymous ones by public id.
Answers replaced by a newer one (`superseded_by`) are left out, as every report does.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Address, Channel, Response, Survey


@dataclass(frozen=True)
class FeedPosition:
    """Where an answer sits in the feed; `key` is its row id (as text) or its public id."""

    listed_at: datetime
    anonymous: bool
    key: str


@dataclass(frozen=True)
class FeedAnswer:
    """One scored answer as the API lists it; no identity at all for an anonymous one."""

    position: FeedPosition
    id: str  # the row id, or the public id of an anonymous answer
    survey: str  # the survey's slug
    anonymous: bool
    score: int
    why: str | None
    improve: str | None
    language: str
    source: str | None
    agent: str | None
    campaign: str | None
    attributes: dict[str, str] | None
    channel: str  # the door: start, broadcast, invitation
    messenger: str  # the messaging channel: telegram, whatsapp, web
    scored_at: datetime
    completed_at: datetime | None
    respondent_id: int | None
    telegram_user_id: int | None
    phone: str | None
    kind: str = "nps"  # the survey's kind: its scale decides the answer's group


def _address(channel: Channel) -> Any:
    """The answer's person's address on a channel (one per person and channel, or none)."""
    return (
        select(func.min(Address.address))
        .where(Address.respondent_id == Response.respondent_id, Address.channel == channel.value)
        .scalar_subquery()
    )


_COLUMNS = (
    Response.id,
    Response.public_id,
    Survey.slug,
    Response.score,
    Response.why,
    Response.improve,
    Response.language,
    Response.source,
    Response.agent,
    Response.campaign,
    Response.attributes,
    Response.channel,
    Response.messenger,
    Response.scored_at,
    Response.completed_at,
    Response.respondent_id,
    _address(Channel.TELEGRAM).label("telegram"),
    _address(Channel.PHONE).label("phone"),
    Survey.kind,
)


def _counted(survey_ids: Sequence[int]) -> tuple[ColumnElement[bool], ...]:
    """Scored answers of these surveys that still count (not replaced by a newer one)."""
    return (
        Response.survey_id.in_(list(survey_ids)),
        Response.scored_at.is_not(None),
        Response.superseded_by.is_(None),
    )


class ApiReadRepo:
    """Reads for the HTTP API that no chat command needs."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def scored_feed(
        self,
        survey_ids: Sequence[int],
        *,
        after: FeedPosition | None,
        since: datetime | None,
        upto: datetime,
        anonymous_delay: timedelta,
        min_group: int,
        limit: int,
    ) -> list[FeedAnswer]:
        """Up to `limit` answers listed after `after` (and at or after `since`), in order."""
        if not survey_ids or limit < 1:
            return []
        named = await self._named(survey_ids, after, since, upto, limit)
        anonymous = await self._anonymous(
            survey_ids, after, since, upto, anonymous_delay, min_group, limit
        )
        # Each list is in the database's order already; merged by moment (a named answer
        # first on a tie), the keys are only ever compared by the database.
        merged = heapq.merge(named, anonymous, key=_moment)
        return list(itertools.islice(merged, limit))

    async def _named(
        self,
        survey_ids: Sequence[int],
        after: FeedPosition | None,
        since: datetime | None,
        upto: datetime,
        limit: int,
    ) -> list[FeedAnswer]:
        conditions = [*_counted(survey_ids), Response.public_id.is_(None)]
        conditions.append(Response.scored_at <= upto)
        if since is not None:
            conditions.append(Response.scored_at >= since)
        if after is not None:
            if after.anonymous:  # named answers of that moment came before it
                conditions.append(Response.scored_at > after.listed_at)
            else:
                conditions.append(
                    or_(
                        Response.scored_at > after.listed_at,
                        and_(
                            Response.scored_at == after.listed_at,
                            Response.id > int(after.key),
                        ),
                    )
                )
        query = (
            select(*_COLUMNS)
            .join(Survey, Survey.id == Response.survey_id)
            .where(*conditions)
            .order_by(Response.scored_at, Response.id)
            .limit(limit)
        )
        rows = (await self._session.execute(query)).all()
        return [_answer(row, timedelta(0)) for row in rows]

    async def _anonymous(
        self,
        survey_ids: Sequence[int],
        after: FeedPosition | None,
        since: datetime | None,
        upto: datetime,
        delay: timedelta,
        min_group: int,
        limit: int,
    ) -> list[FeedAnswer]:
        # Anonymous answers are stored at their day's start, listed `delay` later: every
        # bound on the listing moment becomes a bound on scored_at, `delay` earlier.
        conditions = [*_counted(survey_ids), Response.public_id.is_not(None)]
        conditions.append(Response.scored_at <= upto - delay)
        if since is not None:
            conditions.append(Response.scored_at >= since - delay)
        if after is not None:
            day = after.listed_at - delay
            if after.anonymous:
                conditions.append(
                    or_(
                        Response.scored_at > day,
                        and_(Response.scored_at == day, Response.public_id > after.key),
                    )
                )
            else:  # anonymous answers of that moment come after every named one
                conditions.append(Response.scored_at >= day)
        # Days (per survey) with enough anonymous answers to be listed at all.
        days = (
            select(Response.survey_id, Response.scored_at)
            .where(*_counted(survey_ids), Response.public_id.is_not(None))
            .group_by(Response.survey_id, Response.scored_at)
            .having(func.count() >= min_group)
            .subquery()
        )
        query = (
            select(*_COLUMNS)
            .join(Survey, Survey.id == Response.survey_id)
            .join(
                days,
                and_(
                    days.c.survey_id == Response.survey_id,
                    days.c.scored_at == Response.scored_at,
                ),
            )
            .where(*conditions)
            .order_by(Response.scored_at, Response.public_id)
            .limit(limit)
        )
        rows = (await self._session.execute(query)).all()
        return [_answer(row, delay) for row in rows]


def _moment(answer: FeedAnswer) -> tuple[datetime, bool]:
    return answer.position.listed_at, answer.position.anonymous


def _answer(row: Any, delay: timedelta) -> FeedAnswer:
    """A feed answer from a row of _COLUMNS; anonymous rows carry no person at all."""
    (
        row_id,
        public_id,
        slug,
        score,
        why,
        improve,
        language,
        source,
        agent,
        campaign,
        attributes,
        channel,
        messenger,
        scored_at,
        completed_at,
        respondent_id,
        telegram,
        phone,
        kind,
    ) = row
    anonymous = public_id is not None
    key = public_id if anonymous else str(row_id)
    return FeedAnswer(
        position=FeedPosition(scored_at + delay, anonymous, key),
        id=key,
        survey=slug,
        anonymous=anonymous,
        score=score,
        why=why,
        improve=improve,
        language=language,
        source=None if anonymous else source,
        agent=None if anonymous else agent,
        campaign=None if anonymous else campaign,
        attributes=None if anonymous else attributes,
        channel=channel,
        messenger=messenger,
        scored_at=scored_at,
        completed_at=completed_at,
        respondent_id=None if anonymous else respondent_id,
        telegram_user_id=None if anonymous or telegram is None else int(telegram),
        phone=None if anonymous else phone,
        kind=kind,
    )

"""`GET /api/v1/responses`: the scored answers, oldest first, a page at a time.

The order and what is listed when are storage/repos/api_reads.py's (its docstring says why
the pages stay stable while answers arrive); here: the query, the opaque cursor, the JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from bot.web.api import ApiCall, ApiError, Endpoint, Reply
from nps.scales import scale_of
from storage.repos.api_reads import FeedAnswer, FeedPosition

# A score is listed once this old: a transaction still committing an earlier score cannot
# then land behind a page already read (storage/repos/api_reads.py).
SETTLE = timedelta(seconds=5)
# An eNPS answer keeps only its local day; it is listed this long after the day's start,
# past the end of any day (25 hours when clocks go back).
ANONYMOUS_DELAY = timedelta(hours=26)
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# Moments a client may name: wide, and far enough from datetime's ends that shifting them
# by a time zone or ANONYMOUS_DELAY stays in range.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _in_range(moment: datetime) -> datetime:
    """A moment the feed can shift by time zones and ANONYMOUS_DELAY without overflowing."""
    if not EARLIEST <= moment <= LATEST:
        raise ValueError("use a moment between 1970 and 9000")
    return moment


class ResponsesQuery(BaseModel):
    """A page of the answer feed."""

    model_config = ConfigDict(extra="forbid")

    since: Annotated[AwareDatetime, AfterValidator(_in_range)] | None = Field(
        default=None,
        description="Only answers listed at or after this moment (ISO 8601 with a zone).",
    )
    cursor: str | None = Field(
        default=None,
        max_length=400,
        description="`next_cursor` of the previous page: the answers after it.",
    )
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


class Answer(BaseModel):
    """A scored answer. An eNPS answer (`anonymous`) carries no identity: a random id, its
    local day for a time, no person, no tags."""

    id: str = Field(description="The answer's id; for eNPS a random public id.")
    survey: str = Field(description="The survey's slug.")
    anonymous: bool
    score: int = Field(ge=0, le=10)
    group: Literal["promoter", "passive", "detractor"] = Field(
        description="The score's group on its survey's scale: NPS 9–10 / 7–8 / 0–6; "
        "CSAT 4–5 / 3 / 1–2; CES 5–7 / 4 / 1–3."
    )
    why: str | None = Field(description="The reason for the score (null: not given yet).")
    improve: str | None = Field(description="What to improve (null: not given yet).")
    language: str
    source: str | None
    agent: str | None
    campaign: str | None
    attributes: dict[str, str] | None = Field(description="An invitation's order id and more.")
    channel: str = Field(
        description="How the question came: `start` (a link or /start), `broadcast`, `invitation`."
    )
    messenger: str = Field(
        description="The messaging channel the answer was given through: `telegram`, "
        "`whatsapp` or `web`."
    )
    scored_at: datetime = Field(description="When scored (eNPS: the start of the local day).")
    completed_at: datetime | None = Field(description="When the last question was answered.")
    respondent_id: int | None = Field(description="The person (null for eNPS or forgotten).")
    telegram_user_id: int | None
    phone: str | None


class AnswerPage(BaseModel):
    """A page of answers in a stable order; new answers always come after it."""

    items: list[Answer]
    next_cursor: str | None = Field(
        description="Pass it as `cursor` for the answers after this page (now or later, "
        "when polling for new ones); null only while nothing was listed yet."
    )
    has_more: bool = Field(description="More answers are ready now.")


def encode_cursor(position: FeedPosition) -> str:
    """An opaque cursor for a feed position."""
    raw = json.dumps(
        {"t": position.listed_at.isoformat(), "a": int(position.anonymous), "k": position.key},
        separators=(",", ":"),
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> FeedPosition:
    """The position a cursor stands for; a 422 naming `cursor` for anything else."""
    bad = ApiError(422, "invalid", "This cursor was not given by this API.", field="cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        moment = _in_range(datetime.fromisoformat(data["t"]))
        anonymous, key = data["a"], data["k"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise bad from None
    if moment.tzinfo is None or anonymous not in (0, 1):
        raise bad
    if not isinstance(key, str) or not key or len(key) > 64:
        raise bad
    if not anonymous and not (key.isascii() and key.isdigit() and int(key) < 2**63):
        raise bad
    return FeedPosition(moment, bool(anonymous), key)


def _item(answer: FeedAnswer) -> Answer:
    return Answer(
        id=answer.id,
        survey=answer.survey,
        anonymous=answer.anonymous,
        score=answer.score,
        group=scale_of(answer.kind).group(answer.score).value,
        why=answer.why,
        improve=answer.improve,
        language=answer.language,
        source=answer.source,
        agent=answer.agent,
        campaign=answer.campaign,
        attributes=answer.attributes,
        channel=answer.channel,
        messenger=answer.messenger,
        scored_at=answer.scored_at,
        completed_at=answer.completed_at,
        respondent_id=answer.respondent_id,
        telegram_user_id=answer.telegram_user_id,
        phone=answer.phone,
    )


async def list_responses(call: ApiCall) -> Reply:
    """The scored answers, oldest first, a page at a time."""
    query = call.query
    assert isinstance(query, ResponsesQuery)
    after = decode_cursor(query.cursor) if query.cursor else None
    async with call.app.db.snapshot() as store:
        survey_ids = [s.id for s in await store.surveys.all()]
        answers = await store.api_reads.scored_feed(
            survey_ids,
            after=after,
            since=query.since,
            upto=call.app.clock() - SETTLE,
            anonymous_delay=ANONYMOUS_DELAY,
            min_group=call.app.settings.enps_min_group,
            limit=query.limit + 1,  # one more says whether there is more
        )
    page = answers[: query.limit]
    last = page[-1].position if page else after
    body = AnswerPage(
        items=[_item(answer) for answer in page],
        next_cursor=encode_cursor(last) if last is not None else None,
        has_more=len(answers) > query.limit,
    )
    return Reply(200, body)


ENDPOINTS: list[Endpoint] = [
    Endpoint(
        method="GET",
        path="/api/v1/responses",
        summary="The scored answers, oldest first, cursor-paginated and stable while "
        "answers arrive (eNPS answers: after their day, anonymous).",
        handler=list_responses,
        responses={200: AnswerPage},
        query=ResponsesQuery,
    ),
]

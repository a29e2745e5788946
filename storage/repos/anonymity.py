"""Anonymous (eNPS) answers: what is kept of them, and what links them to a person.

eNPS answers must not be traceable to the employee, yet the conversation has to know
which response a user's next text belongs to and a second answer must be refused. So:

* the response row never gets respondent_id, chat_id, a tag (source, agent, campaign) or
  the start payload, and it is shown by a random `public_id`, never by its row id (ids
  come from the sequence every answer shares: the neighbours' times would date it);
* while the conversation is open, `anonymous_threads` maps HMAC(salt, user) to the
  response; the row is deleted when the response is finished, superseded or abandoned,
  and the response's times are then coarsened to the start of the local day (exact
  times could be matched against `respondents.last_seen_at`);
* `anonymous_answers` keeps HMAC(salt, survey, user) with no time and no response id:
  it says that someone answered, never what.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.admin_models import (
    ANONYMOUS_KINDS,
    AnonymousAnswer,
    AnonymousThread,
    AppSecret,
)
from storage.driver import DriverSQL
from storage.models import OPEN_STEPS, Response, Step, Survey, utcnow
from storage.repos import upsert_insert
from storage.statements import same
from storage.tables import table_of

SALT_NAME = "anonymity_salt"
# An eNPS conversation left unfinished this long is closed and unlinked.
ABANDONED_AFTER = timedelta(days=1)


def coarse(moment: datetime | None, tz: tzinfo = UTC) -> datetime | None:
    """The start of the moment's local day (in UTC): enough for reports, which count by
    local day, and too coarse to match a person."""
    if moment is None:
        return None
    local = moment.astimezone(tz)
    day = datetime(local.year, local.month, local.day, tzinfo=tz)
    return day.astimezone(UTC)


def new_public_id() -> str:
    """A random, opaque id for an anonymous answer: it tells nothing of when or of whom."""
    return "anon-" + secrets.token_hex(8)


# Driver SQL (storage/driver.py), built once from Core (storage/statements.py): they run
# with every /start.
_THREADS = table_of(AnonymousThread)
_SURVEYS = table_of(Survey)
_ABANDONED = same(
    select(_THREADS.c.response_id).where(_THREADS.c.created_at < bindparam("cutoff")), "cutoff"
)
_KIND = same(select(_SURVEYS.c.kind).where(_SURVEYS.c.id == bindparam("survey_id")), "survey_id")
_THREAD_RESPONSE = same(
    select(_THREADS.c.response_id).where(_THREADS.c.user_key == bindparam("user_key")),
    "user_key",
)


@dataclass
class SaltMemo:
    """The stored salt once read from a committed row (it never changes after that), so
    each transaction does not read it again; one per Database."""

    value: str | None = None


class AnonymityRepo:
    """Salted keys, open-conversation pointers and "already answered" marks for eNPS."""

    def __init__(
        self,
        session: AsyncSession,
        driver: DriverSQL,
        salt: str = "",
        memo: SaltMemo | None = None,
        tz: tzinfo = UTC,
    ) -> None:
        self._session = session
        self._driver = driver
        self._tz = tz  # the reporting zone (TIMEZONE): times are coarsened to its days
        self._configured = salt
        self._memo = memo if memo is not None else SaltMemo()
        self._salt: bytes | None = None

    def day_of(self, moment: datetime) -> datetime:
        """The start of the moment's local day: all an anonymous answer keeps of a time."""
        day = coarse(moment, self._tz)
        assert day is not None
        return day

    async def _key(self) -> bytes:
        """ANONYMITY_SALT when set, else a random salt generated once and kept in the database."""
        if self._salt is None:
            self._salt = (self._configured or await self._stored_salt()).encode()
        return self._salt

    async def _stored_salt(self) -> str:
        if self._memo.value:
            return self._memo.value
        query = select(AppSecret.value).where(AppSecret.name == SALT_NAME)
        value = await self._session.scalar(query)
        if value:
            # Remembered only when read as already stored: one this transaction inserts
            # would be wrong everywhere if the transaction rolled back.
            self._memo.value = value
            return value
        insert = upsert_insert(self._driver.dialect)
        # Two replicas may generate one at once: the first insert wins, both read it back.
        await self._session.execute(
            insert(AppSecret)
            .values(name=SALT_NAME, value=secrets.token_hex(32))
            .on_conflict_do_nothing(index_elements=["name"])
        )
        value = await self._session.scalar(query)
        assert value is not None  # just inserted
        return value

    async def _hmac(self, message: str) -> str:
        return hmac.new(await self._key(), message.encode(), hashlib.sha256).hexdigest()

    async def user_key(self, user_id: int) -> str:
        """The salted hash that stands for a user in the anonymity tables."""
        return await self._hmac(f"user:{user_id}")

    async def _answer_key(self, survey_id: int, user_key: str) -> str:
        return await self._hmac(f"answered:{survey_id}:{user_key}")

    async def is_anonymous(self, survey_id: int) -> bool:
        """True for surveys whose answers carry no identity (eNPS)."""
        row = await self._driver.fetchrow(_KIND, survey_id)
        return row is not None and row[0] in ANONYMOUS_KINDS

    async def thread_of(self, user_id: int) -> AnonymousThread | None:
        """The user's open anonymous conversation, if any."""
        return await self._session.get(AnonymousThread, await self.user_key(user_id))

    async def thread_for_response(self, response_id: int) -> AnonymousThread | None:
        """The pointer to an open anonymous response (None once it was unlinked)."""
        return await self._session.scalar(
            select(AnonymousThread).where(AnonymousThread.response_id == response_id)
        )

    async def open_thread(self, user_id: int, response_id: int, survey_id: int) -> None:
        """Points the user's next texts at a new anonymous response."""
        key = await self.user_key(user_id)
        await self._session.execute(delete(AnonymousThread).where(AnonymousThread.user_key == key))
        self._session.add(
            AnonymousThread(
                user_key=key, response_id=response_id, survey_id=survey_id, created_at=utcnow()
            )
        )
        await self._session.flush()

    async def thread_response(self, user_id: int) -> int | None:
        """The response of the user's open anonymous conversation, if any."""
        row = await self._driver.fetchrow(_THREAD_RESPONSE, await self.user_key(user_id))
        return row[0] if row is not None else None

    async def owns(self, user_id: int, response_id: int) -> bool:
        """True when the user's open anonymous conversation is this response."""
        return await self.thread_response(user_id) == response_id

    async def has_answered(self, survey_id: int, user_id: int) -> bool:
        """True when this user already gave a score in this anonymous survey."""
        return await self._answered(survey_id, await self.user_key(user_id))

    async def _answered(self, survey_id: int, user_key: str) -> bool:
        answer_key = await self._answer_key(survey_id, user_key)
        found = await self._session.get(AnonymousAnswer, (survey_id, answer_key))
        return found is not None

    async def may_score(self, thread: AnonymousThread) -> bool:
        """False when the thread's person already answered its survey (one answer each)."""
        return not await self._answered(thread.survey_id, thread.user_key)

    async def mark_answered(self, thread: AnonymousThread) -> None:
        """Records that the thread's person answered its survey (not what they answered)."""
        insert = upsert_insert(self._driver.dialect)
        answer_key = await self._answer_key(thread.survey_id, thread.user_key)
        await self._session.execute(
            insert(AnonymousAnswer)
            .values(survey_id=thread.survey_id, answer_key=answer_key)
            .on_conflict_do_nothing(index_elements=["survey_id", "answer_key"])
        )

    async def release(self, response_id: int) -> bool:
        """Unlinks an anonymous response for good: drops its pointer, coarsens its times
        to the day."""
        result = await self._session.execute(
            delete(AnonymousThread).where(AnonymousThread.response_id == response_id)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return False
        # populate_existing: conditional updates ran without synchronising loaded objects.
        response = await self._session.get(Response, response_id, populate_existing=True)
        if response is not None:
            response.asked_at = coarse(response.asked_at, self._tz)  # type: ignore[assignment]
            response.scored_at = coarse(response.scored_at, self._tz)
            response.why_at = coarse(response.why_at, self._tz)
            response.improve_at = coarse(response.improve_at, self._tz)
            response.completed_at = coarse(response.completed_at, self._tz)
            # A message id within the user's chat is one more thing to match on.
            response.prompt_message_id = None
            await self._session.flush()
        return True

    async def close(self, response_id: int) -> None:
        """Closes an unfinished anonymous response and unlinks it."""
        await self._session.execute(
            update(Response)
            .where(Response.id == response_id, Response.step.in_(OPEN_STEPS))
            .values(step=Step.CLOSED)
        )
        await self.release(response_id)

    async def close_for_user(self, user_id: int) -> bool:
        """Closes the user's open anonymous conversation (a newer survey, or /forgetme)."""
        response_id = await self.thread_response(user_id)
        if response_id is None:
            return False
        await self.close(response_id)
        return True

    async def expire_abandoned(self, now: datetime | None = None) -> int:
        """Closes and unlinks anonymous conversations left unfinished for a day."""
        cutoff = (now or utcnow()) - ABANDONED_AFTER
        ids = [row[0] for row in await self._driver.fetch(_ABANDONED, self._driver.stamp(cutoff))]
        for response_id in ids:
            await self.close(response_id)
        return len(ids)

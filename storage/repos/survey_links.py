"""What a survey link (`{PUBLIC_URL}/s/<token>`, handlers/web_survey.py) reads and
changes: its invitation, taking that invitation for the web, and a person for a phone
number nobody has yet.

An invitation is answered once, whichever way comes first: the bot's Telegram message
(storage/repos/invitation_queue.py claims only `scheduled` rows) or the link, which takes
a row that has no response yet (scheduled, unreachable or failed) by a conditional update,
so two of them never both succeed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.invitation_models import InvitationStatus
from storage.models import Channel
from storage.repos import upsert_insert
from storage.repos.invitations import ADDRESSES, INV, R
from storage.tables import rows_changed

# The rows a link may take: nothing was shown to the person through the bot yet.
TAKEABLE = (InvitationStatus.SCHEDULED, InvitationStatus.UNREACHABLE, InvitationStatus.FAILED)


@dataclass(frozen=True)
class LinkInvitation:
    """An invitation as its link needs it."""

    row_id: int
    public_id: str
    survey_id: int
    status: str  # an InvitationStatus value
    reason: str | None
    respondent_id: int | None
    key_channel: str  # "telegram" or "phone"
    key_address: str
    response_id: int | None
    attributes: dict[str, str] = field(default_factory=dict)
    language: str | None = None  # the invitation's own (the API's `language`)


class SurveyLinkRepo:
    """Reads and takes invitations for their links; never commits (the caller does)."""

    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self._session = session
        self._dialect = dialect

    async def invitation(self, public_id: str) -> LinkInvitation | None:
        """The invitation with this public id."""
        row = (
            await self._session.execute(
                select(
                    INV.c.id,
                    INV.c.public_id,
                    INV.c.survey_id,
                    INV.c.status,
                    INV.c.reason,
                    INV.c.respondent_id,
                    INV.c.key_channel,
                    INV.c.key_address,
                    INV.c.response_id,
                    INV.c.attributes,
                    INV.c.language,
                ).where(INV.c.public_id == public_id)
            )
        ).first()
        if row is None:
            return None
        return LinkInvitation(
            row_id=row.id,
            public_id=row.public_id,
            survey_id=row.survey_id,
            status=row.status,
            reason=row.reason,
            respondent_id=row.respondent_id,
            key_channel=row.key_channel,
            key_address=row.key_address,
            response_id=row.response_id,
            attributes=dict(row.attributes or {}),
            language=row.language,
        )

    async def take(self, row_id: int, status: str) -> bool:
        """Takes the invitation for the web if it is still in `status` with no response:
        it reads as sent (then answered) and the bot's sender leaves it alone. False when
        someone else took it first (PostgreSQL waits for them, then finds it changed)."""
        result = await self._session.execute(
            update(INV)
            .where(
                INV.c.id == row_id,
                INV.c.status == status,
                INV.c.status.in_(TAKEABLE),
                INV.c.response_id.is_(None),
            )
            .values(
                status=InvitationStatus.SENT,
                reason=None,
                error=None,
                channel=Channel.WEB.value,
                chat=None,
                worker=None,
            )
        )
        return rows_changed(result) == 1

    async def attach(self, row_id: int, response_id: int, person_id: int) -> None:
        """Names the response the link's answer is stored in, and whose it is."""
        await self._session.execute(
            update(INV)
            .where(INV.c.id == row_id)
            .values(response_id=response_id, respondent_id=person_id)
        )

    async def person_for_phone(self, phone: str, now: datetime) -> int:
        """The person with this number, made now if nobody has it: someone known by their
        number alone, as a phone-only line of /import makes them."""
        owner = await self._owner(phone)
        if owner is not None:
            return owner
        person = await self._session.scalar(
            insert(R)
            .values(
                subscribed=True,
                unreachable=False,
                enps_link=False,
                started_at=now,
                last_seen_at=now,
            )
            .returning(R.c.id)
        )
        assert person is not None
        stored = await self._session.execute(
            upsert_insert(self._dialect)(ADDRESSES)
            .values(
                respondent_id=person,
                channel=Channel.PHONE.value,
                address=phone,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["channel", "address"])
        )
        if rows_changed(stored) == 1:
            return person
        # Someone took the number meanwhile (PostgreSQL waited for them): theirs it is.
        await self._session.execute(delete(R).where(R.c.id == person))
        owner = await self._owner(phone)
        assert owner is not None
        return owner

    async def _owner(self, phone: str) -> int | None:
        return await self._session.scalar(
            select(ADDRESSES.c.respondent_id).where(
                ADDRESSES.c.channel == Channel.PHONE.value, ADDRESSES.c.address == phone
            )
        )

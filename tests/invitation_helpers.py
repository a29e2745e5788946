"""Helpers for the invitation tests of every tier: people to invite, and reading rows back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from storage.db import Database
from storage.invitation_models import Invitation, InvitationStatus
from storage.models import Address, Channel, Response, utcnow
from storage.repos.audience import Fatigue
from storage.repos.invitations import NewInvitation, Stored, Verdict

FATIGUE = Fatigue(90, 7)


def resolve(chosen: str | None, telegram: str | None) -> str:
    """The language resolver the sender passes (the catalogs' one, simplified)."""
    return chosen or telegram or "en"


async def add_people(
    db: Database,
    telegram_ids: list[int],
    *,
    subscribed: bool = True,
    unreachable: bool = False,
    language: str = "en",
) -> list[int]:
    """People who pressed Start; their internal ids."""
    now = utcnow()
    async with db.transaction() as store:
        return await store.respondents.add_people(
            [
                {
                    "telegram_id": uid,
                    "first_name": f"User{uid}",
                    "telegram_language": language,
                    "subscribed": subscribed,
                    "unreachable": unreachable,
                    "started_at": now,
                    "last_seen_at": now,
                }
                for uid in telegram_ids
            ]
        )


async def add_phone(db: Database, person_id: int, phone: str) -> None:
    """Gives a person a phone address (as /phone or an import does)."""
    async with db.transaction() as store:
        await store.invitations._session.execute(
            insert(Address).values(
                respondent_id=person_id,
                channel=Channel.PHONE.value,
                address=phone,
                created_at=utcnow(),
            )
        )


async def schedule(
    db: Database,
    survey_id: int,
    telegram_id: int,
    send_at: datetime,
    *,
    attributes: dict[str, str] | None = None,
    public_id: str | None = None,
    checked: bool = True,
    language: str | None = None,
) -> str:
    """Stores an invitation for a Telegram user, its verdict as the API would compute it
    (or, `checked=False`, scheduled whatever the rules say); its public id."""
    public_id = public_id or f"inv_t{telegram_id}_{send_at.timestamp():.0f}_{survey_id}"
    async with db.transaction() as store:
        if checked:
            verdict: Verdict = await store.invitations.verdict(
                Channel.TELEGRAM.value, str(telegram_id), survey_id, FATIGUE, send_at
            )
        else:
            person = await store.invitations.person(Channel.TELEGRAM.value, str(telegram_id))
            verdict = Verdict(InvitationStatus.SCHEDULED, None, person)
        new = NewInvitation(
            survey_id=survey_id,
            key_channel=Channel.TELEGRAM.value,
            key_address=str(telegram_id),
            attributes=attributes or {},
            send_at=send_at,
            language=language,
        )
        assert await store.invitations.add(Stored(new, verdict, public_id), utcnow())
    return public_id


async def rows(db: Database) -> list[Invitation]:
    """Every invitation row, in id order."""
    async with db.snapshot() as store:
        session = store.invitations._session
        found = await session.scalars(select(Invitation).order_by(Invitation.id))
        return list(found.all())


async def response(db: Database, response_id: int) -> Response | None:
    """A response row as stored."""
    async with db.snapshot() as store:
        found: Any = await store.invitations._session.get(Response, response_id)
        return found

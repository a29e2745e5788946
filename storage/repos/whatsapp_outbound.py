"""WhatsApp's outbound half: the 24-hour window (each address's last inbound message),
what a survey question needs to go out as a template, Meta's delivery statuses, and
the WhatsApp address an invitation by phone reaches.

Precedence: a person with a Telegram chat is reached on Telegram (free, no template, the
0–10 keyboard in one tap); WhatsApp reaches the people who have no Telegram chat.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.invitation_models import Invitation, InvitationStatus, WhatsAppStatus
from storage.models import Address, Channel, Respondent, Response, Step, Survey, utcnow
from storage.repos import upsert_insert
from storage.repos.invitation_queue import Ended
from storage.repos.whatsapp import WHATSAPP, WHATSAPP_CHAT_BASE, WhatsAppRepo

# Later statuses win; a status arriving out of order (Meta keeps no order) changes nothing.
STATUS_RANK = {"sent": 1, "delivered": 2, "read": 3, "failed": 4}
NO_CHANNEL = "no_channel"  # storage/repos/invitations.py: the number is not on WhatsApp
NOT_ON_WHATSAPP = "131026: the number cannot receive WhatsApp messages"  # the event's error
CANNOT_RECEIVE = (131026,)  # Meta's "message undeliverable" (bot/whatsapp/client.py)


@dataclass(frozen=True)
class QuestionTarget:
    """What a score question to a WhatsApp chat needs: the address, the language, the
    window, and the survey's template and subject."""

    wa_id: str
    language_override: str | None
    guessed_language: str | None
    last_inbound_at: datetime | None
    template: str | None  # the survey's own (None: WHATSAPP_TEMPLATE)
    subject: str | None
    kind: str = "nps"  # the survey's kind: its scale (CSAT 1–5, CES 1–7) asks the question


class WhatsAppOutboundRepo:
    """Window, statuses and phone addresses for WhatsApp's outbound messages."""

    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self._session = session
        self._dialect = dialect

    async def heard(self, chat_id: int, at: datetime) -> None:
        """The person wrote at `at`: their window is open for 24 hours from then."""
        await self._session.execute(
            update(Address)
            .where(
                Address.channel == WHATSAPP,
                Address.chat == str(chat_id),
                (Address.last_inbound_at.is_(None)) | (Address.last_inbound_at < at),
            )
            .values(last_inbound_at=at)
        )

    async def target(self, chat_id: int, response_id: int | None) -> QuestionTarget | None:
        """The chat's address and window, with the survey of `response_id` (None: no such
        WhatsApp chat)."""
        row = (
            await self._session.execute(
                select(
                    Address.address,
                    Respondent.language_override,
                    Respondent.telegram_language,
                    Address.last_inbound_at,
                )
                .join(Respondent, Respondent.id == Address.respondent_id)
                .where(Address.channel == WHATSAPP, Address.chat == str(chat_id))
            )
        ).first()
        if row is None:
            return None
        survey = None
        if response_id is not None:
            survey = (
                await self._session.execute(
                    select(Survey.whatsapp_template, Survey.subject, Survey.kind)
                    .join(Response, Response.survey_id == Survey.id)
                    .where(Response.id == response_id)
                )
            ).first()
        return QuestionTarget(
            row[0],
            row[1],
            row[2],
            row[3],
            survey[0] if survey is not None else None,
            survey[1] if survey is not None else None,
            survey[2] if survey is not None else "nps",
        )

    async def record_status(
        self, message_id: int, status: str, at: datetime, error_code: int | None
    ) -> bool:
        """Keeps a message's latest status; False when it is not newer than the one kept."""
        rank = STATUS_RANK.get(status)
        if rank is None:
            return False
        kept = await self._session.scalar(
            select(WhatsAppStatus.status).where(WhatsAppStatus.message_id == message_id)
        )
        if kept is not None and STATUS_RANK.get(kept, 0) >= rank:
            return False
        values = {"status": status, "status_at": at, "error_code": error_code}
        insert = upsert_insert(self._dialect)(WhatsAppStatus.__table__)
        await self._session.execute(
            insert.values(message_id=message_id, **values).on_conflict_do_update(
                index_elements=["message_id"], set_=values
            )
        )
        return True

    async def unreachable_invitation(self, message_id: int) -> list[Ended]:
        """The invitation sent as this message reached no WhatsApp account (131026): now
        unreachable; what `invitation.failed` tells the CRM (nothing when it was not one)."""
        rows = (
            await self._session.execute(
                select(
                    Invitation.id,
                    Invitation.public_id,
                    Invitation.respondent_id,
                    Invitation.key_channel,
                    Invitation.key_address,
                    Invitation.attributes,
                    Survey.slug,
                )
                .join(Survey, Survey.id == Invitation.survey_id)
                .where(
                    Invitation.channel == WHATSAPP,
                    Invitation.message_id == message_id,
                    Invitation.status == InvitationStatus.SENT,
                )
            )
        ).all()
        if not rows:
            return []
        await self._session.execute(
            update(Invitation)
            .where(Invitation.id.in_([row.id for row in rows]))
            .values(status=InvitationStatus.UNREACHABLE, reason=NO_CHANNEL)
        )
        return [
            Ended(
                row.public_id,
                row.slug,
                row.respondent_id,
                row.key_channel,
                row.key_address,
                InvitationStatus.UNREACHABLE,
                NO_CHANNEL,
                NOT_ON_WHATSAPP,
                dict(row.attributes or {}),
            )
            for row in rows
        ]

    async def settle_unreachable(self, message_ids: list[int]) -> list[Ended]:
        """Invitations just recorded sent whose message Meta already reported failed for
        a number not on WhatsApp (the status can come before the sender's record)."""
        if not message_ids:
            return []
        failed = await self._session.scalars(
            select(WhatsAppStatus.message_id).where(
                WhatsAppStatus.message_id.in_(message_ids),
                WhatsAppStatus.status == "failed",
                WhatsAppStatus.error_code.in_(CANNOT_RECEIVE),
            )
        )
        ended: list[Ended] = []
        for message_id in failed.all():
            ended += await self.unreachable_invitation(message_id)
        return ended

    async def refused_question(self, chat_id: int, message_id: int) -> int | None:
        """The unanswered response whose question is this message (refused for the window),
        so the template can ask it instead."""
        return await self._session.scalar(
            select(Response.id).where(
                Response.chat_id == chat_id,
                Response.prompt_message_id == message_id,
                Response.step == Step.SCORE,
            )
        )

    async def asked_again(self, response_id: int, old: int, new: int) -> None:
        """The template replaced a refused question: the response and its invitation follow
        the new message (its statuses, a press on it)."""
        await self._session.execute(
            update(Response)
            .where(Response.id == response_id, Response.prompt_message_id == old)
            .values(prompt_message_id=new)
        )
        await self._session.execute(
            update(Invitation)
            .where(
                Invitation.channel == WHATSAPP,
                Invitation.response_id == response_id,
                Invitation.message_id == old,
            )
            .values(message_id=new)
        )

    async def reach_phones(
        self, found: Mapping[str, int | None], language_of: Callable[[str], str | None]
    ) -> dict[str, int]:
        """The person an invitation by phone reaches, for each E.164 number: whoever has it
        (`found`, from the phone addresses) when they have a Telegram chat; else the person
        with its WhatsApp address (wa_id: the number's digits), created for a number nobody
        has — Meta tells later (131026) when it is not on WhatsApp."""
        reached: dict[str, int] = {}
        whatsapp = WhatsAppRepo(self._session)
        for phone, person in found.items():
            wa_id = phone.lstrip("+")
            if person is not None and await self._has_chat(person):
                reached[phone] = person
                continue
            chat = await whatsapp.chat_of(wa_id)
            if chat is None and person is not None:
                await self._add_address(person, wa_id)
                reached[phone] = person  # the address just added is theirs
                continue
            if chat is None:
                chat, _ = await whatsapp.contact(wa_id, None, language_of(phone))
            owner = await whatsapp.person_of(chat)
            if owner is not None:
                reached[phone] = owner
        return reached

    async def _has_chat(self, person: int) -> bool:
        """True when the person has a Telegram chat or a WhatsApp address."""
        found = await self._session.scalar(
            select(
                exists().where(
                    and_(
                        Address.respondent_id == person,
                        Address.channel.in_([Channel.TELEGRAM.value, WHATSAPP]),
                        Address.chat.is_not(None),
                    )
                )
            )
        )
        return bool(found)

    async def _add_address(self, person: int, wa_id: str) -> None:
        """Gives a person known by their phone alone the WhatsApp address of that number."""
        async with self._session.begin_nested():
            address = Address(
                respondent_id=person, channel=WHATSAPP, address=wa_id, created_at=utcnow()
            )
            self._session.add(address)
            await self._session.flush()
            address.chat = str(WHATSAPP_CHAT_BASE + address.id)
            await self._session.flush()

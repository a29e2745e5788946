"""WhatsApp addresses: a customer's wa_id and the synthetic int chat id the pipeline, the
outbox and the handlers know them by."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from hashlib import sha256

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.language_codes import normalize_language_code
from storage.models import Address, Channel, Respondent, utcnow

# Telegram's user and private chat ids stay below 2**52 and its groups are negative: a
# WhatsApp chat is 2**53 + its address row's id, so one int says which channel it is.
WHATSAPP_CHAT_BASE = 2**53
WHATSAPP = Channel.WHATSAPP.value
# WhatsApp's customer-service window: free-form messages only this long after the
# customer's last message (`addresses.last_inbound_at`); templates any time.
WINDOW = timedelta(hours=24)
# Near its end the window is taken as closed for what the bot sends on its own (a question,
# a broadcast's variant): the template then, not a refusal and a resend.
WINDOW_MARGIN = timedelta(minutes=5)


def window_open(last_inbound_at: datetime | None, now: datetime) -> bool:
    """True while a free-form message may be sent (WINDOW less WINDOW_MARGIN)."""
    return last_inbound_at is not None and now - last_inbound_at < WINDOW - WINDOW_MARGIN


def is_whatsapp_chat(chat_id: int) -> bool:
    """True for the synthetic chat id of a WhatsApp address."""
    return chat_id >= WHATSAPP_CHAT_BASE


def channel_of_chat(chat_id: int) -> str:
    """The channel of a chat id: WhatsApp's synthetic ones, else Telegram."""
    return Channel.WHATSAPP.value if is_whatsapp_chat(chat_id) else Channel.TELEGRAM.value


def wamid_update_id(wamid: str) -> int:
    """A WhatsApp message id as a negative int64 update id (Telegram's are positive), so
    the processed-updates claim dedupes Meta's redeliveries. 63 bits of SHA-256: two
    distinct message ids collide with odds 2**-63; among a billion messages about 5 %
    that any pair ever does (birthday bound n**2 / 2**64), costing one skipped message."""
    return -(int.from_bytes(sha256(wamid.encode()).digest()[:8], "big") >> 1) - 1


def wamid_message_id(wamid: str) -> int:
    """A message the bot sent, as the positive int message id handlers store and get back
    in a button press's `message_id` (a reply's context.id maps to the same number)."""
    return (int.from_bytes(sha256(wamid.encode()).digest()[:8], "big") >> 1) + 1


class WhatsAppRepo:
    """Finds or creates the person behind a wa_id; maps wa_id ↔ chat id."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def contact(
        self, wa_id: str, name: str | None, language: str | None
    ) -> tuple[int, bool]:
        """The chat id of `wa_id`, and True when the person was seen for the first time
        (created then, with the profile name and a language guessed from the number)."""
        chat = await self.chat_of(wa_id)
        if chat is not None:
            return chat, False
        now = utcnow()
        person = Respondent(
            first_name=name,
            telegram_language=normalize_language_code(language),
            started_at=now,
            last_seen_at=now,
            subscribed=True,
            unreachable=False,
        )
        try:
            async with self._session.begin_nested():
                self._session.add(person)
                await self._session.flush()
                address = Address(
                    respondent_id=person.id, channel=WHATSAPP, address=wa_id, created_at=now
                )
                self._session.add(address)
                await self._session.flush()
                address.chat = str(WHATSAPP_CHAT_BASE + address.id)
                await self._session.flush()
        except IntegrityError:  # a concurrent first message created them: theirs wins
            chat = await self.chat_of(wa_id)
            assert chat is not None
            return chat, False
        return WHATSAPP_CHAT_BASE + address.id, True

    async def chat_of(self, wa_id: str) -> int | None:
        """The chat id of a known wa_id."""
        chat = await self._session.scalar(
            select(Address.chat).where(Address.channel == WHATSAPP, Address.address == wa_id)
        )
        return int(chat) if chat is not None else None

    async def last_inbound(self, chat_ids: Collection[int]) -> dict[int, datetime | None]:
        """When each WhatsApp chat last wrote (None: never), in one query."""
        if not chat_ids:
            return {}
        rows = await self._session.execute(
            select(Address.chat, Address.last_inbound_at).where(
                Address.channel == WHATSAPP, Address.chat.in_([str(c) for c in chat_ids])
            )
        )
        return {int(chat): seen for chat, seen in rows if chat is not None}

    async def person_of(self, chat_id: int) -> int | None:
        """The person id behind a synthetic chat id."""
        return await self._session.scalar(
            select(Address.respondent_id).where(
                Address.channel == WHATSAPP, Address.chat == str(chat_id)
            )
        )

    async def touch(self, chat_id: int, name: str | None, now: datetime) -> int | None:
        """Refreshes the profile name and last-seen time; the person id (None: unknown)."""
        person_id = await self.person_of(chat_id)
        if person_id is None:
            return None
        values: dict[str, object] = {"last_seen_at": now}
        if name:
            values["first_name"] = name
        await self._session.execute(
            update(Respondent).where(Respondent.id == person_id).values(**values)
        )
        return person_id

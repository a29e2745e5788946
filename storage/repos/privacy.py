"""Personal data: everything stored about a person (/mydata), and erasing it (/forgetme,
/forget). What anonymous (eNPS) answers keep is storage/repos/anonymity.py's."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.admin_models import ANONYMOUS_KINDS, StaffDialog
from storage.models import OPEN_STEPS, Respondent, Response, Step, Survey
from storage.personal import Erase, Shown, Who, personal_tables
from storage.repos.anonymity import AnonymityRepo
from storage.repos.respondents import Person, RespondentRepo
from storage.theme_models import ResponseTheme, ThemeMark


def _plain(value: Any) -> Any:
    """A stored value as JSON holds it."""
    return value.isoformat() if isinstance(value, date) else value


@dataclass(frozen=True)
class AnswerRecord:
    """One answer as /mydata shows it."""

    response: Response
    survey: Survey


@dataclass(frozen=True)
class PersonalData:
    """Everything stored about one person: found by the id an event came from (a Telegram
    user, a WhatsApp chat), or by their internal id (staff naming a phone number)."""

    user_id: int | None
    respondent: Person | None
    answers: list[AnswerRecord] = field(default_factory=list)
    # How the person is reached, as (channel, address, chat).
    addresses: list[tuple[str, str, str | None]] = field(default_factory=list)
    # Anonymous surveys the user took part in (only the fact is kept, not the answer).
    anonymous_surveys: list[Survey] = field(default_factory=list)
    anonymous_open: bool = False
    in_dialog: bool = False
    # Rows of the other personal tables (storage/personal.py), by table, as stored.
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def contact(self) -> dict[str, Any] | None:
        """The row of an imported contact list about the user, if any."""
        rows = self.records.get("contacts")
        return rows[0] if rows else None

    @property
    def empty(self) -> bool:
        """True when nothing at all is stored about the user."""
        return (
            self.respondent is None
            and not self.answers
            and not self.anonymous_open
            and not self.in_dialog
            and not self.records
        )


@dataclass(frozen=True)
class Erased:
    """What /forgetme (or /forget) removed."""

    profile: bool
    answers: int


class PrivacyRepo:
    """Collects a person's data (/mydata) and erases it (/forgetme, /forget).

    `collect` and `forget` take the sender id of the request (a Telegram user id, or a
    WhatsApp chat's synthetic id: RespondentRepo.by_sender), `*_person` the internal id
    (a phone-only person has no other): what is stored about the person uses their
    internal id, what is stored about a team member or a chat uses the Telegram id
    (storage/personal.py `Key`), or the WhatsApp chat for a person without Telegram.
    """

    def __init__(
        self, session: AsyncSession, anonymity: AnonymityRepo, respondents: RespondentRepo
    ) -> None:
        self._session = session
        self._anonymity = anonymity
        self._respondents = respondents

    async def _who(self, user_id: int) -> tuple[Person | None, Who]:
        """The person behind a sender id and the ids they are known by."""
        found = await self._respondents.by_sender(user_id)
        person = await self._respondents.get(found.id) if found is not None else None
        if person is None:
            return None, Who(None, user_id)
        return person, Who(person.id, person.telegram_id or user_id)

    async def collect(self, user_id: int) -> PersonalData:
        """The sender's profile, answers (oldest first) and anonymous participation."""
        person, who = await self._who(user_id)
        return await self._collect(person, who)

    async def collect_person(self, person_id: int) -> PersonalData:
        """Everything about the person with this internal id (empty when none)."""
        person = await self._respondents.get(person_id)
        if person is None:
            return PersonalData(user_id=None, respondent=None)
        return await self._collect(person, Who(person.id, person.telegram_id))

    async def _collect(self, person: Person | None, who: Who) -> PersonalData:
        user_id = who.telegram_id
        answers: list[AnswerRecord] = []
        taken: list[Survey] = []
        anonymous_open = False
        if person is not None:
            rows = await self._session.execute(
                select(Response, Survey)
                .join(Survey, Survey.id == Response.survey_id)
                .where(Response.respondent_id == person.id)
                .order_by(Response.id)
            )
            answers = [AnswerRecord(response, survey) for response, survey in rows.all()]
            anonymous = await self._session.scalars(
                select(Survey).where(Survey.kind.in_(ANONYMOUS_KINDS)).order_by(Survey.id)
            )
            taken = [
                s for s in anonymous.all() if await self._anonymity.has_answered(s.id, person.id)
            ]
            anonymous_open = await self._anonymity.thread_of(person.id) is not None
        dialog = (
            await self._session.scalar(
                select(func.count()).select_from(StaffDialog).where(StaffDialog.user_id == user_id)
            )
            if user_id is not None
            else 0
        )
        return PersonalData(
            user_id=person.telegram_id if person is not None else user_id,
            respondent=person,
            answers=answers,
            addresses=await self._respondents.addresses(person.id) if person else [],
            anonymous_surveys=taken,
            anonymous_open=anonymous_open,
            in_dialog=bool(dialog),
            records=await self._records(who),
        )

    async def _records(self, who: Who) -> dict[str, list[dict[str, Any]]]:
        """The rows of every personal table /mydata shows as stored (storage/personal.py)."""
        records: dict[str, list[dict[str, Any]]] = {}
        for table, entry in personal_tables():
            if entry.shown != Shown.RECORDS:
                continue
            rows = await self._session.execute(select(table).where(entry.about(table, who)))
            found = [{key: _plain(value) for key, value in row._mapping.items()} for row in rows]
            if found:
                records[table.name] = found
        return records

    async def forget(self, user_id: int) -> Erased:
        """Erases the sender's personal data (forget_who)."""
        _, who = await self._who(user_id)
        return await self.forget_who(who)

    async def forget_person(self, person_id: int) -> Erased:
        """Erases the data of the person with this internal id (a phone-only person)."""
        person = await self._respondents.get(person_id)
        if person is None:
            return Erased(profile=False, answers=0)
        return await self.forget_who(Who(person.id, person.telegram_id))

    async def forget_who(self, who: Who) -> Erased:
        """Erases a person's personal data; scores stay, detached, so every count holds.

        The histograms (score_counts) are not touched: the answers still happened. Rows
        keep score, language, survey, times and context tags (source, agent, campaign:
        they describe the interaction, not the person); comments are erased because free
        text may name the person, and so are an invitation's order id and custom
        attributes (a CRM's fields: an order, a phone, a name); unfinished conversations
        are closed. Every other table
        is erased as storage/personal.py declares it (the imported contact row, broadcast
        recipient rows, reply threads, digest records…).
        """
        person_id = who.person_id
        if person_id is None:
            return await self._forget_account(who)
        await self._anonymity.close_for_user(person_id)
        # Themes are read from the comments erased below: they go with them.
        theirs = select(Response.id).where(Response.respondent_id == person_id)
        for table in (ResponseTheme, ThemeMark):
            await self._session.execute(delete(table).where(table.response_id.in_(theirs)))
        detached = await self._session.execute(
            update(Response)
            .where(Response.respondent_id == person_id)
            .values(
                respondent_id=None,
                chat_id=None,
                start_payload=None,
                prompt_message_id=None,
                why=None,
                improve=None,
                attributes=None,
                step=case((Response.step.in_(OPEN_STEPS), Step.CLOSED), else_=Response.step),
            )
            # "fetch": objects loaded earlier in this transaction see the erased values.
            .execution_options(synchronize_session="fetch")
        )
        profile = await self._session.execute(delete(Respondent).where(Respondent.id == person_id))
        await self._forget_account(who)
        return Erased(
            profile=bool(profile.rowcount),  # type: ignore[attr-defined]
            answers=int(detached.rowcount),  # type: ignore[attr-defined]
        )

    async def _forget_account(self, who: Who) -> Erased:
        """Every other table that holds something about the person, as storage/personal.py
        declares it (the ones above are declared there too; running them again is a no-op)."""
        for table, entry in personal_tables():
            if entry.erase == Erase.DELETE:
                await self._session.execute(delete(table).where(entry.about(table, who)))
            elif entry.erase == Erase.DETACH:
                cleared = dict.fromkeys((*entry.person, *entry.clear))
                await self._session.execute(
                    update(table).where(entry.about(table, who)).values(cleared)
                )
        return Erased(profile=False, answers=0)

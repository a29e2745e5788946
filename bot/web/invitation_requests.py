"""Turning invitation requests into stored invitations: the checks, quiet hours, fatigue,
idempotency. One request or a batch's hundred go the same way, in a few statements:
the keys seen before, the people, their standing and their open invitations are read for
all of them at once, then each is judged in order (so two of one batch for one person are
one invitation and one suppressed), then all are stored in one statement.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.web.api import ApiError
from bot.web.invitation_types import InvitationAccepted, InvitationIn
from handlers.kinds import is_anonymous
from nps.phones import NO_COUNTRY, PhoneError, normalize_phone, phone_language
from nps.quiet_hours import outside_quiet_hours
from storage.attributes import InvalidAttributes, parse_attributes
from storage.invitation_models import InvitationStatus
from storage.models import Channel
from storage.repos.audience import Eligibility, Fatigue
from storage.repos.invitations import InvitationView, NewInvitation, Pending, Stored, judge
from storage.repos.surveys import SurveyView

if TYPE_CHECKING:
    from bot.settings import Settings
    from storage.store import Store

MAX_AHEAD = timedelta(days=30)
PHONE = Channel.PHONE.value
# One request: the body as validated, and its idempotency key.
Entry = tuple[InvitationIn, str | None]
Result = InvitationAccepted | ApiError


def new_public_id() -> str:
    """A random, URL-safe id for the API (row ids would tell volumes and order)."""
    return "inv_" + secrets.token_urlsafe(16)


def request_hash(item: InvitationIn) -> str:
    """The request as a fingerprint: equal for equal bodies, whatever their key order or
    spacing (and an omitted default equals the default written out)."""
    fields = item.model_dump(mode="json", exclude={"idempotency_key"})
    if fields.get("language") is None:  # the fingerprints made before `language` existed
        fields.pop("language", None)
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class _Checked:
    """A request that passed the checks, ready to be judged."""

    index: int
    key: str | None
    digest: str
    survey: SurveyView
    new: NewInvitation


@dataclass
class Requests:
    """Schedules invitations in one transaction of `store`."""

    store: Store
    settings: Settings
    now: datetime
    # The catalogs' language codes (an invitation's `language` must be one of them).
    languages: Collection[str] = ()
    _surveys: dict[str, SurveyView | None] = field(default_factory=dict)  # by slug

    @property
    def fatigue(self) -> Fatigue:
        """The fatigue rules from the settings (the broadcasts' ones)."""
        return Fatigue(
            self.settings.survey_cooldown_days,
            self.settings.any_survey_cooldown_days,
            whatsapp=self.settings.whatsapp_enabled,
        )

    async def invite(self, item: InvitationIn, key: str | None) -> InvitationAccepted:
        """Schedules one invitation (or answers why not); raises ApiError when refused."""
        [result] = await self.invite_many([(item, key)])
        if isinstance(result, ApiError):
            raise result
        return result

    async def invite_many(self, entries: Sequence[Entry]) -> list[Result]:
        """Each request's answer, in order: accepted (scheduled, suppressed, unreachable)
        or the ApiError the single call raises.

        A key seen before answers its first result again if the request is the same (nothing
        new is stored), 409 if not; the same within these entries.
        """
        results: list[Result | None] = [None] * len(entries)
        digests = [request_hash(item) for item, _ in entries]
        keys = {key for _, key in entries if key is not None}
        earlier = await self.store.invitations.by_keys(keys) if keys else {}
        first_with: dict[str, int] = {}  # a key's first entry here
        repeats: list[int] = []
        checked: list[_Checked] = []
        for index, (item, key) in enumerate(entries):
            if key is not None and key in earlier:
                results[index] = _replayed(earlier[key], digests[index])
            elif key is not None and key in first_with:
                repeats.append(index)
            else:
                if key is not None:
                    first_with[key] = index
                try:
                    checked.append(await self._check(index, item, key, digests[index]))
                except ApiError as refused:
                    results[index] = refused
        stored = await self._judge_and_store(checked, results)
        lost = [c for c in checked if c.key is not None and c.index not in stored]
        if lost:  # a concurrent request with the same key committed first
            winners = await self.store.invitations.by_keys([c.key for c in lost if c.key])
            for c in lost:
                assert c.key is not None
                results[c.index] = _replayed(winners[c.key], c.digest)
        for index in repeats:
            key = entries[index][1]
            assert key is not None
            first = first_with[key]
            same = digests[first] == digests[index]
            results[index] = results[first] if same else _conflict()
        assert all(result is not None for result in results)
        return [result for result in results if result is not None]

    async def _judge_and_store(
        self, checked: Sequence[_Checked], results: list[Result | None]
    ) -> set[int]:
        """Judges the checked requests in order and stores them; the indexes stored."""
        if not checked:
            return set()
        invitations = self.store.invitations
        fatigue = self.fatigue
        people: dict[tuple[str, str], int] = {}
        for channel in {c.new.key_channel for c in checked}:
            addresses = [c.new.key_address for c in checked if c.new.key_channel == channel]
            known = await invitations.people(channel, addresses)
            people.update({(channel, address): pid for address, pid in known.items()})
        if self.settings.whatsapp_enabled:  # a phone without Telegram: WhatsApp reaches it
            phones = {c.new.key_address for c in checked if c.new.key_channel == PHONE}
            reached = await self.store.whatsapp_outbound.reach_phones(
                {phone: people.get((PHONE, phone)) for phone in sorted(phones)}, phone_language
            )
            people.update({(PHONE, phone): pid for phone, pid in reached.items()})
        standing: dict[tuple[int, datetime], dict[int, Eligibility]] = {}
        groups = {(c.survey.id, c.new.send_at) for c in checked}
        for survey_id, at in groups:
            ids = [
                people[key]
                for c in checked
                if (c.survey.id, c.new.send_at) == (survey_id, at)
                and (key := (c.new.key_channel, c.new.key_address)) in people
            ]
            if ids:
                standing[(survey_id, at)] = await invitations.standing(ids, survey_id, fatigue, at)
        days = timedelta(days=max(fatigue.survey_days, fatigue.any_days))
        moments = [c.new.send_at for c in checked]
        pending = await invitations.pending(
            set(people.values()), min(moments) - days, max(moments) + days
        )
        to_store: list[Stored] = []
        for c in checked:
            person = people.get((c.new.key_channel, c.new.key_address))
            found = standing.get((c.survey.id, c.new.send_at), {})
            verdict = judge(
                c.new.key_channel,
                person,
                found.get(person) if person is not None else None,
                pending.get(person, []) if person is not None else [],
                c.survey.id,
                fatigue,
                c.new.send_at,
            )
            if verdict.status == InvitationStatus.SCHEDULED and person is not None:
                pending.setdefault(person, []).append(Pending(person, c.survey.id, c.new.send_at))
            accepted = InvitationAccepted(
                id=new_public_id(),
                status=verdict.status.value,  # scheduled, suppressed or unreachable
                reason=verdict.reason,
                send_at=c.new.send_at,
            )
            results[c.index] = accepted
            to_store.append(Stored(c.new, verdict, accepted.id, accepted.model_dump(mode="json")))
        inserted = await invitations.add_many(to_store, self.now)
        return {c.index for c, s in zip(checked, to_store, strict=True) if s.public_id in inserted}

    async def _check(
        self, index: int, item: InvitationIn, key: str | None, digest: str
    ) -> _Checked:
        """The request checked and normalised; ApiError names what is wrong."""
        survey = await self._survey(item.survey)
        key_channel, key_address = _person_key(item)
        new = NewInvitation(
            survey_id=survey.id,
            key_channel=key_channel,
            key_address=key_address,
            attributes=_attributes(item.attributes),
            send_at=outside_quiet_hours(
                self._moment(item), self.settings.quiet_window, self.settings.tz
            ),
            idempotency_key=key,
            request_hash=digest,
            language=self._language(item.language),
        )
        return _Checked(index, key, digest, survey, new)

    def _language(self, code: str | None) -> str | None:
        """The invitation's language, lowercased; ApiError when no catalog has it."""
        if code is None:
            return None
        wanted = code.strip().lower().replace("_", "-")
        if wanted not in self.languages:
            known = ", ".join(self.languages)
            why = f"No catalog for language {code!r}: use one of {known}."
            raise ApiError(422, "invalid", why, "language")
        return wanted

    async def _survey(self, slug: str) -> SurveyView:
        if slug not in self._surveys:
            self._surveys[slug] = await self.store.surveys.by_slug(slug)
        survey = self._surveys[slug]
        if survey is None or not survey.active:
            raise ApiError(404, "not_found", f"No active survey has the slug {slug!r}.", "survey")
        if is_anonymous(survey.kind):
            raise ApiError(
                422,
                "invalid",
                f"Survey {slug!r} is an eNPS survey: its answers are anonymous, and an "
                "invitation names the person.",
                "survey",
            )
        return survey

    def _moment(self, item: InvitationIn) -> datetime:
        """When the request asks to send (before quiet hours): now, a delay or send_at."""
        if item.send_at is not None and item.delay_seconds is not None:
            raise ApiError(422, "invalid", "Give delay_seconds or send_at, not both.", "send_at")
        if item.send_at is None:
            return self.now + timedelta(seconds=item.delay_seconds or 0)
        if item.send_at > self.now + MAX_AHEAD:
            raise ApiError(422, "invalid", "send_at is more than 30 days ahead.", "send_at")
        return max(item.send_at, self.now)


def _person_key(item: InvitationIn) -> tuple[str, str]:
    """The channel and address naming the person (the phone in E.164)."""
    if (item.telegram_user_id is None) == (item.phone is None):
        raise ApiError(
            422, "invalid", "Give exactly one of telegram_user_id and phone.", "telegram_user_id"
        )
    if item.telegram_user_id is not None:
        return Channel.TELEGRAM.value, str(item.telegram_user_id)
    assert item.phone is not None
    try:
        return Channel.PHONE.value, normalize_phone(item.phone)
    except PhoneError as error:
        why = (
            "needs the country code, e.g. +37369123456"
            if error.reason == NO_COUNTRY
            else "is not a valid phone number"
        )
        raise ApiError(422, "invalid", f"phone {why}.", "phone") from None


def _attributes(raw: dict[str, str]) -> dict[str, str]:
    """The attributes checked (storage/attributes.py's rules) and tidied: spaces trimmed,
    empty ones dropped."""
    try:
        parsed = parse_attributes(raw)
    except InvalidAttributes as error:
        raise ApiError(422, "invalid", f"{error.field} {error.reason}.", error.field) from None
    tags = {"agent": parsed.agent, "source": parsed.source, "campaign": parsed.campaign}
    tidy = {key: value for key, value in tags.items() if value is not None}
    return {**tidy, **(parsed.stored() or {})}


def _conflict() -> ApiError:
    return ApiError(
        409,
        "conflict",
        "This Idempotency-Key was used with another request body.",
        "Idempotency-Key",
    )


def _replayed(first: InvitationView, digest: str) -> Result:
    """The first answer to a key, if this request is the one it was given to."""
    if first.request_hash != digest or first.reply is None:
        return _conflict()
    return InvitationAccepted.model_validate(first.reply)


def view_fields(view: InvitationView) -> dict[str, Any]:
    """An invitation as InvitationOut's fields (the internal claimed / sending states read
    as scheduled: nothing reached the person yet)."""
    status = "scheduled" if view.status in ("claimed", "sending") else view.status
    telegram = view.key_channel == Channel.TELEGRAM.value
    return {
        "id": view.public_id,
        "status": status,
        "reason": view.reason,
        "error": view.error,
        "survey": view.survey,
        "telegram_user_id": int(view.key_address) if telegram else None,
        "phone": None if telegram else view.key_address,
        "attributes": view.attributes,
        "send_at": view.send_at,
        "sent_at": view.sent_at,
        "response_id": view.response_id,
        "score": view.score,
        "created_at": view.created_at,
        "delivery": (
            dict(zip(("status", "at", "error_code"), view.delivery, strict=True))
            if view.delivery is not None
            else None
        ),
    }

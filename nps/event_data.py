"""What each event for the CRM says (`data` of `{"id", "type", "created_at", "data"}`).

Pure functions from stored values to JSON-ready dicts, used where the events are emitted
(handlers/crm_events.py, and the invitation sender for `invitation.failed`).

eNPS answers are anonymous, and so are their events: no person (no Telegram id, no phone),
no attributes (a per-employee tag would name the employee), no row id (ids come from the
sequence customers' answers share: the random `public_id` stands in), no case id, no times
of their own — the envelope's `created_at` is when the event was written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from nps.scales import scale_of
from storage.admin_models import ANONYMOUS_KINDS
from storage.attributes import ORDER_ID
from storage.case_models import DetractorCase
from storage.repos.events import Identity
from storage.repos.response_rows import ResponseRow
from storage.repos.surveys import SurveyView

# A path segment shown as is: a word, no digits (a token or an id is hidden).
_WORD = re.compile(r"[A-Za-z][A-Za-z._-]{0,39}")


class EventType(StrEnum):
    """The events sent to EVENTS_URLS."""

    RESPONSE_SCORED = "response.scored"  # a score was given (the follow-ups may come)
    RESPONSE_COMPLETED = "response.completed"  # the last follow-up answered or skipped
    CASE_OPENED = "case.opened"  # a detractor score opened a case for the team
    CASE_RESOLVED = "case.resolved"  # someone pressed ✅ Resolved
    INVITATION_FAILED = "invitation.failed"  # an invitation could not be sent


def moment(value: datetime | None) -> str | None:
    """A UTC moment as receivers read it: ISO 8601 with `Z`, to the millisecond."""
    if value is None:
        return None
    utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def is_anonymous(survey: SurveyView) -> bool:
    """eNPS: nothing in its events may point at the employee."""
    return survey.kind in ANONYMOUS_KINDS


def attributes_of(
    agent: str | None,
    source: str | None,
    campaign: str | None,
    stored: Mapping[str, str] | None,
) -> dict[str, Any]:
    """`{"agent", "source", "campaign", "order_id", "custom": {…}}` (absent ones null)."""
    stored = stored or {}
    return {
        "agent": agent,
        "source": source,
        "campaign": campaign,
        "order_id": stored.get(ORDER_ID),
        "custom": {key: value for key, value in sorted(stored.items()) if key != ORDER_ID},
    }


def person_fields(who: Identity) -> dict[str, Any]:
    """The keys a CRM finds the person by (the trigger API's own names)."""
    return {"telegram_user_id": who.telegram_user_id, "phone": who.phone}


def response_data(
    survey: SurveyView, response: ResponseRow, who: Identity, *, completed: bool = False
) -> dict[str, Any]:
    """`response.scored` / `response.completed`: the answer as it stands."""
    score = response.score
    data: dict[str, Any] = {
        "survey": survey.slug,
        "kind": survey.kind,
        "score": score,
        # The kind's own groups: CSAT 4–5, CES 5–7 are "promoter" (high), as NPS's 9–10.
        "group": scale_of(survey.kind).group(score).value if score is not None else None,
        "why": response.why,
        "improve": response.improve,
        "language": response.language,
    }
    if is_anonymous(survey):
        data["response_id"] = response.public_id
        return data
    data["response_id"] = response.id
    data["channel"] = response.channel  # the door: start, broadcast, invitation
    data["messenger"] = response.messenger  # telegram, whatsapp, web
    data["scored_at"] = moment(response.scored_at)
    if completed:
        data["completed_at"] = moment(response.completed_at)
    # A newer answer through the same door within SURVEY_COOLDOWN_DAYS replaces this one.
    data["replaces_response_id"] = response.replaces_id
    data["attributes"] = attributes_of(
        response.agent, response.source, response.campaign, response.attributes
    )
    data.update(person_fields(who))
    return data


def case_data(
    case: DetractorCase, survey: SurveyView, response: ResponseRow, who: Identity
) -> dict[str, Any]:
    """`case.opened` / `case.resolved`: the case and the answer behind it."""
    data = response_data(survey, response, who)
    data["status"] = case.status
    if not is_anonymous(survey):
        data["case_id"] = case.id
        data["opened_at"] = moment(case.opened_at)
        data["resolved_at"] = moment(case.resolved_at)
    return data


def invitation_failed_data(
    *,
    survey: SurveyView,
    invitation_id: str,
    status: str,
    reason: str | None,
    attributes: Mapping[str, Any] | None,
    who: Identity,
    error: str | None = None,
) -> dict[str, Any]:
    """`invitation.failed`: which invitation (the id the trigger API answered), why (and
    Telegram's error, if one), and whom it was for — the person and attributes only for
    NPS surveys."""
    data: dict[str, Any] = {
        "survey": survey.slug,
        "kind": survey.kind,
        "invitation_id": invitation_id,
        "status": status,
        "reason": reason,
        "error": error,
    }
    if not is_anonymous(survey):
        data["attributes"] = dict(attributes or {})
        data.update(person_fields(who))
    return data


def shown_url(url: str) -> str:
    """A receiver URL as chats and logs show it: scheme, host and a last path segment that
    reads as a word (`crm.timeline.comment.add.json`, `npsbot`), the rest as `…`.

    Receiver URLs often carry a secret (a Bitrix24 webhook's token is a path segment, other
    tools put one in the query): a segment with digits, the query and any user:password
    part are never shown.
    """
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    segments = [segment for segment in parts.path.split("/") if segment]
    if not segments:
        return f"{parts.scheme}://{host}/"
    last = segments[-1] if _WORD.fullmatch(segments[-1]) else "…"
    middle = "…/" if len(segments) > 1 and last != "…" else ""
    return f"{parts.scheme}://{host}/{middle}{last}"

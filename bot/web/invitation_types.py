"""What the invitation endpoints take and give (the OpenAPI document is built from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SkipValidation
from pydantic.json_schema import JsonDict

MAX_DELAY_SECONDS = 30 * 24 * 3600  # 30 days, as for send_at
MAX_BATCH = 1000
MAX_IDEMPOTENCY_KEY = 200

# Why an invitation is not (or was not) sent: the fatigue rule, what makes the person
# unreachable, or what went wrong when sending.
Reason = Literal[
    "survey_cooldown",  # surveyed with this survey within SURVEY_COOLDOWN_DAYS
    "any_survey_cooldown",  # surveyed at all within ANY_SURVEY_COOLDOWN_DAYS
    "not_started",  # that Telegram user never pressed Start (a bot cannot write first)
    "no_channel",  # nobody with that phone number can be reached on an enabled channel
    "stopped",  # the person sent /stop
    "blocked",  # the person blocked the bot
    "send_failed",  # Telegram refused the message, or retries ran out (see `error`)
    "anonymous_survey",  # the survey became an eNPS survey before it was sent
    "uncertain",  # sent, but the bot stopped during the call: it may not have arrived
]
AcceptedStatus = Literal["scheduled", "suppressed", "unreachable"]
_SURVEY_URL = (
    "The person's survey link ({PUBLIC_URL}/s/<token>) to send by SMS or e-mail yourself, "
    "valid SURVEY_LINK_DAYS after send_at and answered once (by link or in Telegram, "
    "whichever comes first); it works for an unreachable person too (no_channel, blocked). "
    "Left out without PUBLIC_URL, once expired, and when the invitation cannot be answered: "
    "suppressed, cancelled, stopped, not_started"
)


def _absent(value: object) -> bool:
    """Left out of the JSON rather than null: without PUBLIC_URL the answers stay as they
    were before survey links existed."""
    return value is None


Status = Literal[
    "scheduled", "sent", "answered", "suppressed", "unreachable", "failed", "cancelled"
]

_EXAMPLE: JsonDict = {
    "survey": "delivery",
    "phone": "+37369123456",
    "attributes": {"agent": "olga", "source": "call", "campaign": "dec", "order_id": "A-17"},
    "delay_seconds": 60,
}


class InvitationIn(BaseModel):
    """Invite one person, named by their Telegram user id or their phone number."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})

    survey: str = Field(min_length=1, max_length=40, description="The survey's slug.")
    telegram_user_id: int | None = Field(
        default=None, ge=1, le=10**15, description="Exactly one of telegram_user_id, phone."
    )
    phone: str | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        description="In international format (+37369123456); normalised to E.164.",
    )
    attributes: dict[str, str] = Field(
        default_factory=dict,
        max_length=24,
        description="agent, source, campaign (at most 64 characters each), order_id, and up "
        "to 20 custom ones (keys: letters, digits, _ or -; values at most 200 characters). "
        "Stored on the survey's answer: exports, /comments, alerts, /nps by agent|source|"
        "campaign.",
    )
    delay_seconds: int | None = Field(
        default=None,
        ge=0,
        le=MAX_DELAY_SECONDS,
        description="Send this many seconds from now (default 0); or give send_at.",
    )
    send_at: AwareDatetime | None = Field(
        default=None,
        description="When to send (ISO 8601 with a zone), at most 30 days ahead; a moment "
        "already past means now. Quiet hours defer either to the window's end.",
    )
    language: str | None = Field(
        default=None,
        min_length=2,
        max_length=16,
        description="The question's language (en, ru, ro, pl or any language the bot has a "
        "catalog for), on every channel: Telegram, WhatsApp and the survey link's page. "
        "Without it: the person's stored language, else the phone number's country, else "
        "DEFAULT_LANGUAGE. An unknown one is refused (422).",
    )


class InvitationBatchItem(InvitationIn):
    """One invitation of a batch; its own idempotency key, if any."""

    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_IDEMPOTENCY_KEY,
        description="As the Idempotency-Key header of a single call. Without it, a batch "
        "sent with an Idempotency-Key header keys each item `<header>:<index>`.",
    )


class InvitationBatchIn(BaseModel):
    """Up to 1,000 invitations at once."""

    model_config = ConfigDict(extra="forbid")

    # Items are checked one by one (a bad one is answered in place, the others go on),
    # so the list is not validated as a whole: the schema still documents each item.
    invitations: Annotated[
        list[SkipValidation[InvitationBatchItem]],
        Field(min_length=1, max_length=MAX_BATCH),
    ]


class InvitationAccepted(BaseModel):
    """What became of the request: scheduled (with the moment it will go), or why not."""

    id: str
    status: AcceptedStatus
    reason: Reason | None = Field(
        description="The fatigue rule (suppressed) or why nobody can be reached (unreachable)."
    )
    send_at: datetime = Field(description="When it goes out, quiet hours included (UTC).")
    survey_url: str | None = Field(
        default=None,
        exclude_if=_absent,
        description=_SURVEY_URL + " (also in GET /invitations/{id}).",
    )


class Delivery(BaseModel):
    """What WhatsApp reported about the invitation's message (Telegram reports nothing)."""

    status: Literal["sent", "delivered", "read", "failed"] = Field(
        description="The latest status Meta reported: sent < delivered < read, or failed."
    )
    at: datetime = Field(description="When it happened (UTC).")
    error_code: int | None = Field(
        description="Meta's error code of a failed message: 131026 the number is not on "
        "WhatsApp (the invitation reads unreachable, no_channel); 131047 outside the "
        "24-hour window (the template was sent instead: its own statuses follow)."
    )


class InvitationOut(BaseModel):
    """An invitation and what became of it; `score` once answered."""

    id: str
    status: Status
    reason: Reason | None
    error: str | None = Field(description="Telegram's description of a failed send.")
    survey: str
    telegram_user_id: int | None
    phone: str | None
    attributes: dict[str, str]
    send_at: datetime
    sent_at: datetime | None
    response_id: int | None
    score: int | None
    created_at: datetime
    survey_url: str | None = Field(default=None, exclude_if=_absent, description=_SURVEY_URL + ".")
    delivery: Delivery | None = Field(
        default=None,
        exclude_if=_absent,
        description="WhatsApp's delivery status of the message, once Meta reported one "
        "(left out for Telegram and before the first status).",
    )


class BatchItemError(BaseModel):
    """An item of a batch that the single call would have refused, in its place."""

    error: str
    message: str
    field: str | None = None
    status_code: int = Field(description="What the single call would have answered.")


class InvitationBatchOut(BaseModel):
    """One result per item, in order: as the single call would answer, or its error."""

    results: list[InvitationAccepted | BatchItemError]

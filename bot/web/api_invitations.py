"""The trigger API's invitations: a CRM asks the bot to survey one person, or a thousand.

POST /api/v1/invitations schedules one (202: scheduled with its send_at, or suppressed /
unreachable with the reason); GET and DELETE /api/v1/invitations/{id} read and cancel it;
POST /api/v1/invitations/batch takes up to 1,000, each answered as the single call would,
a refused item's error in its place. The sender is bot/invitations.py.
"""

from __future__ import annotations

from typing import Any, cast

from pydantic import ValidationError

from bot.web.api import ApiCall, ApiError, Endpoint, Reply
from bot.web.invitation_requests import Entry, Requests, view_fields
from bot.web.invitation_types import (
    MAX_IDEMPOTENCY_KEY,
    BatchItemError,
    InvitationAccepted,
    InvitationBatchIn,
    InvitationBatchItem,
    InvitationBatchOut,
    InvitationIn,
    InvitationOut,
)
from bot.web.link_tokens import survey_url
from storage.repos.invitations import InvitationView

# Batch items are stored this many per transaction: a SQLite writer holds the only write
# lock while it works, and the bot's answers wait for it.
BATCH_CHUNK = 100
# A thousand invitations with their attributes: about 1 KB each at most.
BATCH_MAX_BODY = 1024 * 1024
IDEMPOTENCY_KEY = "Idempotency-Key"


def _key(call: ApiCall) -> str | None:
    """The Idempotency-Key header, if any."""
    key = call.headers.get(IDEMPOTENCY_KEY)
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
        raise ApiError(
            422,
            "invalid",
            f"Idempotency-Key must have 1-{MAX_IDEMPOTENCY_KEY} characters.",
            "Idempotency-Key",
        )
    return key


def _requests(call: ApiCall, store: Any) -> Requests:
    return Requests(store, call.app.settings, call.app.clock(), call.app.catalogs.languages)


def _linked(call: ApiCall, accepted: InvitationAccepted) -> InvitationAccepted:
    """The answer with the invitation's survey link (PUBLIC_URL)."""
    url = survey_url(
        call.app.settings,
        accepted.id,
        accepted.status,
        accepted.reason,
        accepted.send_at,
        call.app.clock(),
    )
    return accepted.model_copy(update={"survey_url": url})


def _out(call: ApiCall, view: InvitationView) -> InvitationOut:
    """An invitation as the API shows it, with its survey link (PUBLIC_URL)."""
    fields = view_fields(view)
    now = call.app.clock()
    url = survey_url(
        call.app.settings, view.public_id, fields["status"], view.reason, view.send_at, now
    )
    return InvitationOut.model_validate({**fields, "survey_url": url})


async def create_invitation(call: ApiCall) -> Reply:
    """Schedules one invitation, or says why it will not be sent."""
    item = cast(InvitationIn, call.body)
    key = _key(call)
    async with call.app.db.transaction() as store:
        accepted = await _requests(call, store).invite(item, key)
    return Reply(202, _linked(call, accepted))


async def create_invitations(call: ApiCall) -> Reply:
    """Schedules up to 1,000 invitations; each result as the single call would answer."""
    batch = cast(InvitationBatchIn, call.body)
    header = _key(call)
    results: list[InvitationAccepted | BatchItemError] = []
    raw: list[Any] = list(batch.invitations)
    for start in range(0, len(raw), BATCH_CHUNK):
        parsed = [
            _parsed(item, header, start + n) for n, item in enumerate(raw[start:][:BATCH_CHUNK])
        ]
        entries = [entry for entry in parsed if not isinstance(entry, BatchItemError)]
        async with call.app.db.transaction() as store:
            answers = iter(await _requests(call, store).invite_many(entries))
        for entry in parsed:
            answer = entry if isinstance(entry, BatchItemError) else next(answers)
            if isinstance(answer, ApiError):
                results.append(_item_error(answer))
            elif isinstance(answer, InvitationAccepted):
                results.append(_linked(call, answer))
            else:
                results.append(answer)
    return Reply(202, InvitationBatchOut(results=results))


def _parsed(raw: Any, header: str | None, index: int) -> Entry | BatchItemError:
    """A batch item validated, with its idempotency key; or its 422 in its place."""
    try:
        item = InvitationBatchItem.model_validate(raw)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or None
        message = f"{where}: {first['msg']}" if where else first["msg"]
        return BatchItemError(error="invalid", message=message, field=where, status_code=422)
    key = item.idempotency_key or (f"{header}:{index}" if header is not None else None)
    return item, key


def _item_error(refused: ApiError) -> BatchItemError:
    body = refused.body
    return BatchItemError(
        error=body.error, message=body.message, field=body.field, status_code=refused.status
    )


def _invitation_id(call: ApiCall) -> str:
    return call.path["id"]


async def get_invitation(call: ApiCall) -> Reply:
    """What became of an invitation: its status, and the score once answered."""
    async with call.app.db.snapshot() as store:
        view = await store.invitations.get(_invitation_id(call))
    if view is None:
        raise ApiError(404, "not_found", "No invitation has this id.")
    return Reply(200, _out(call, view))


async def cancel_invitation(call: ApiCall) -> Reply:
    """Cancels an invitation that was not sent yet."""
    async with call.app.db.transaction() as store:
        cancelled, view = await store.invitations.cancel(_invitation_id(call))
    if view is None:
        raise ApiError(404, "not_found", "No invitation has this id.")
    out = _out(call, view)
    if not cancelled:
        raise ApiError(
            409,
            "conflict",
            f"The invitation cannot be cancelled: it is {out.status}"
            + (" (being sent right now)" if view.status == "sending" else "")
            + ".",
        )
    return Reply(200, out)


ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "POST",
        "/api/v1/invitations",
        "Invite one person (Telegram user id or phone) to a survey; an optional "
        "Idempotency-Key header makes retries safe",
        create_invitation,
        responses={202: InvitationAccepted},
        body=InvitationIn,
        errors={
            404: "No active survey has this slug.",
            409: "The Idempotency-Key was used with another body.",
        },
        operation_id="createInvitation",
        headers={
            IDEMPOTENCY_KEY: f"1-{MAX_IDEMPOTENCY_KEY} characters: a retry with the same key "
            "and body answers what the first call did, without a second invitation."
        },
    ),
    Endpoint(
        "POST",
        "/api/v1/invitations/batch",
        "Invite up to 1,000 people; a refused item's error is given in its place (an "
        "Idempotency-Key header keys item i as <key>:<i>)",
        create_invitations,
        responses={202: InvitationBatchOut},
        body=InvitationBatchIn,
        max_body=BATCH_MAX_BODY,
        operation_id="createInvitations",
        headers={
            IDEMPOTENCY_KEY: f"1-{MAX_IDEMPOTENCY_KEY} characters: item i of the batch is "
            "keyed <key>:<i> unless it has its own idempotency_key; a retry with the same key "
            "and items answers what the first call did."
        },
    ),
    Endpoint(
        "GET",
        "/api/v1/invitations/{id}",
        "An invitation's status, and the score once answered",
        get_invitation,
        responses={200: InvitationOut},
        errors={404: "No invitation has this id."},
        operation_id="getInvitation",
    ),
    Endpoint(
        "DELETE",
        "/api/v1/invitations/{id}",
        "Cancel an invitation that was not sent yet",
        cancel_invitation,
        responses={200: InvitationOut},
        errors={
            404: "No invitation has this id.",
            409: "It was sent already (or is being sent, or ended otherwise).",
        },
        operation_id="cancelInvitation",
    ),
]

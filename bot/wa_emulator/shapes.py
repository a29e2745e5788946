"""Meta's shapes: error answers, message ids, user ids, webhook bodies and their signature.

Sources these shapes were checked against (2026):

* pywa 4.x (github.com/david-lev/pywa, MIT): JSON webhook fixtures
  ``tests/data/updates/{message,callback_button,callback_selection,message_status}.json``
  (text, image, sticker with ``mime_type``/``sha256``/``id``; ``interactive``
  ``button_reply``/``list_reply`` with ``context{from,id}``; template quick reply as
  ``type: "button"`` with ``button{payload,text}``; statuses sent/delivered/read/failed
  with ``errors[{code,title,message,error_data{details},href}]``; ``contacts[]`` with
  ``profile.name``, ``wa_id``, ``user_id`` like ``US.13491208655302741918``);
  ``pywa/utils.py`` ``webhook_updates_validator`` (HMAC-SHA256 of the raw body with the
  app secret, hex, ``sha256=`` prefix); ``pywa/types/sent_update.py`` (send answer:
  ``contacts[0].input``/``wa_id``, ``messages[0].id``, template ``message_status``);
  ``pywa/api.py`` (mark as read answers ``{"success": true}``; media URL lookup
  ``GET /{media_id}`` → ``url, mime_type, sha256, file_size, id, messaging_product``);
  ``pywa/errors.py`` (the code families).
* Meta, "WhatsApp error codes" (developers.facebook.com/documentation/business-messaging/
  whatsapp/support/error-codes) and copies of its table with the HTTP status column:
  190 → 401; 4/80007/130429/131056/131048 → 400 (rate limits are 400, not 429, on the
  Cloud API); 131026, 131047, 131051, 131008, 131009, 132000, 100 → 400; 132001 → 404;
  131000 → 500. Error body: ``{"error": {"message": "(#<code>) <title>", "type":
  "OAuthException", "code", "error_data": {"messaging_product": "whatsapp", "details"},
  "fbtrace_id"}}``; errors come back at once, by webhook (a ``failed`` status), or both.
* Answers seen from the live API in public code: ``(#131009) Parameter value is not
  valid`` with details ``Invalid buttons count. Min allowed buttons: 1, Max allowed
  buttons: 3`` / ``Button title length invalid. Min length: 1, Max length: 20`` /
  ``Total row count exceed max allowed count: 10``; ``(#100) Param text['body'] must be
  at most 4096 characters long.``; ``Invalid OAuth access token - Cannot parse access
  token`` (190, 401); ``An access token is required to request this resource.`` (104).
* Graph webhooks: the GET handshake (``hub.mode=subscribe``, ``hub.verify_token``,
  ``hub.challenge`` echoed with 200) and ``X-Hub-Signature-256``; Facebook's JSON escapes
  non-ASCII as ``\\uXXXX`` and ``/`` as ``\\/``, so only the raw bytes verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

from bot.wa_emulator.models import CloudApiError

ERROR_DOCS = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"

# code → (HTTP status, title, default details), from Meta's error code table.
ERRORS: dict[int, tuple[int, str, str]] = {
    100: (400, "Invalid parameter", "Invalid parameter"),
    190: (401, "Access token has expired", "Access token has expired"),
    4: (400, "Application request limit reached", "The app has reached its API call limit."),
    80007: (400, "Rate limit issues", "The WhatsApp Business Account has reached its rate limit."),
    130429: (400, "Rate limit hit", "Cloud API message throughput has been reached."),
    131000: (500, "Something went wrong", "Message failed to send due to an unknown error."),
    131008: (400, "Required parameter is missing", "Required parameter is missing"),
    131009: (400, "Parameter value is not valid", "Parameter value is not valid"),
    131016: (500, "Service unavailable", "A service is temporarily unavailable."),
    131026: (
        400,
        "Message undeliverable",
        "Unable to deliver message. Reasons can include: the recipient phone number is not a "
        "WhatsApp phone number; the recipient has not accepted the new Terms of Service.",
    ),
    131047: (
        400,
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer "
        "last replied to this number.",
    ),
    131051: (400, "Unsupported message type", "Message type is currently not supported."),
    131056: (
        400,
        "(Business Account, Consumer Account) pair rate limit hit",
        "Message failed to send because there were too many messages sent from this phone "
        "number to the same phone number in a short period of time.",
    ),
    132000: (
        400,
        "Number of parameters does not match the expected number of params",
        "The number of parameters does not match the template.",
    ),
    132001: (
        404,
        "Template name does not exist in the translation",
        "The template does not exist in the specified language or is not approved.",
    ),
    132005: (400, "Translated text too long", "Translated text is too long."),
    132012: (
        400,
        "Parameter format mismatch",
        "Parameter format does not match format in the created template.",
    ),
}

# WhatsApp-specific errors carry error_data; Graph's own (100 "Param …", 190, 104) do not.
GRAPH_CODES = {100, 104, 190, 2500}


def cloud_error(
    code: int, details: str | None = None, *, status: int | None = None
) -> CloudApiError:
    """An error of the table above: ``(#code) title`` with ``details``."""
    http, title, default = ERRORS.get(code, (400, "Error", "Error"))
    return CloudApiError(status or http, code, f"(#{code}) {title}", details or default)


def param_error(text: str) -> CloudApiError:
    """Graph's classic invalid parameter answer: ``(#100) <text>`` without error_data."""
    return CloudApiError(400, 100, f"(#100) {text}")


def invalid_value(details: str) -> CloudApiError:
    """``(#131009) Parameter value is not valid`` with ``details``."""
    return cloud_error(131009, details)


def error_body(error: CloudApiError) -> dict[str, Any]:
    """The JSON body Graph answers for an error."""
    body: dict[str, Any] = {"message": error.message, "type": error.type, "code": error.code}
    if error.details is not None and error.code not in GRAPH_CODES:
        body["error_data"] = {"messaging_product": "whatsapp", "details": error.details}
    if error.subcode is not None:
        body["error_subcode"] = error.subcode
    body["fbtrace_id"] = fbtrace_id()
    return {"error": body}


def webhook_error(code: int, details: str | None = None) -> dict[str, Any]:
    """One entry of a webhook's ``errors[]`` (a failed status, an unsupported message)."""
    _, title, default = ERRORS.get(code, (400, "Error", "Error"))
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": details or default},
        "href": ERROR_DOCS,
    }


def fbtrace_id() -> str:
    """A trace id like Graph's (``Az8or2yhqkZfEZ-_4Qn_Bam``)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(17)).decode().rstrip("=")[:23]


def wamid(wa_id: str, *, inbound: bool) -> str:
    """A message id shaped like Meta's: ``wamid.`` + base64 of the chat number, a direction
    byte and 18 hex digits (``wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI…``)."""
    number = wa_id.encode()
    raw = (
        b"\x1c\x18"
        + bytes([len(number)])
        + number
        + (b"\x15\x02\x00\x12\x18\x14" if inbound else b"\x15\x02\x00\x11\x18\x12")
        + secrets.token_hex(9 if not inbound else 10).upper().encode()
        + b"\x00"
    )
    return "wamid." + base64.b64encode(raw).decode()


# Calling code → ISO country, for business-scoped user ids ("US.1349…"); longest first.
_COUNTRIES = {
    "373": "MD", "380": "UA", "40": "RO", "48": "PL", "44": "GB", "49": "DE", "7": "RU",
    "1": "US", "972": "IL", "33": "FR", "39": "IT", "34": "ES", "55": "BR", "91": "IN",
}  # fmt: skip


def user_id_for(wa_id: str, phone_number_id: str) -> str:
    """A stable business-scoped user id (BSUID) for a customer of this business."""
    country = next(
        (
            c
            for p, c in sorted(_COUNTRIES.items(), key=lambda i: -len(i[0]))
            if wa_id.startswith(p)
        ),
        "US",
    )
    digest = hashlib.sha256(f"{phone_number_id}:{wa_id}".encode()).digest()
    return f"{country}.{int.from_bytes(digest[:8], 'big')}"


def contact(wa_id: str, name: str, user_id: str) -> dict[str, Any]:
    """A ``contacts[]`` entry of a webhook."""
    return {"profile": {"name": name}, "wa_id": wa_id, "user_id": user_id}


def envelope(
    waba_id: str,
    display_phone_number: str,
    phone_number_id: str,
    contacts: list[dict[str, Any]],
    *,
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A ``messages`` field webhook body: ``object``, ``entry[].changes[].value``."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": display_phone_number,
            "phone_number_id": phone_number_id,
        },
    }
    if contacts:  # none for a number WhatsApp does not know
        value["contacts"] = contacts
    if messages is not None:
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": [{"value": value, "field": "messages"}]}],
    }


def encode_webhook(body: dict[str, Any]) -> bytes:
    """The bytes Meta posts: compact JSON, non-ASCII as ``\\uXXXX``, ``/`` as ``\\/``."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()


def signature(app_secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` header for ``body``."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()

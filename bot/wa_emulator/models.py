"""Plain dataclasses holding the emulator's state (tests read them synchronously) and the
error value its parts raise."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class CloudApiError(Exception):
    """An error answer of the Graph API: HTTP ``status`` and the ``{"error": …}`` body.

    ``details`` goes to ``error_data.details`` (omitted when None, as in Graph's classic
    ``(#100) Param …`` answers); ``type`` is ``OAuthException`` for nearly everything."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        details: str | None = None,
        *,
        type_: str = "OAuthException",
        subcode: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.type = type_
        self.subcode = subcode


@dataclass
class ApiCall:
    """One HTTP request to the API (control routes excluded)."""

    method: str  # "POST", "GET"
    path: str
    body: Any  # the parsed JSON body (None when absent or not JSON)
    at: float  # time.monotonic()
    status: int = 0  # 0 while in flight
    response: Any = None  # the JSON answered (None for bytes or a non-JSON fault)


@dataclass(frozen=True)
class ReplyButton:
    """A reply button of an interactive message, or a quick reply of a template."""

    id: str  # the reply id; a template quick reply's payload
    title: str


@dataclass(frozen=True)
class ListRow:
    """One row of an interactive list message."""

    id: str
    title: str
    description: str = ""
    section: str = ""


@dataclass
class BusinessMessage:
    """A message the business (the bot) sent through ``/messages`` and the API accepted.

    ``payload`` is the request body as sent; the other fields are its parsed shape.
    ``status`` follows Meta's lifecycle: accepted → sent → delivered → read, or failed
    (``errors`` then holds the webhook's ``errors[]``)."""

    id: str  # wamid
    to: str  # the recipient's wa_id
    input: str  # ``to`` as the bot wrote it
    type: str  # text, interactive, template, image, document, …
    payload: dict[str, Any]
    at: float  # the emulated clock (seconds since the epoch)
    text: str = ""  # the body / rendered template / caption
    header: str = ""
    footer: str = ""
    interactive_type: str = ""  # "button", "list", … for type "interactive"
    buttons: list[ReplyButton] = field(default_factory=list)
    list_button: str = ""  # the label that opens a list
    rows: list[ListRow] = field(default_factory=list)
    template: str = ""  # name
    language: str = ""
    parameters: list[str] = field(default_factory=list)
    media: dict[str, Any] = field(default_factory=dict)  # {"id"|"link", "caption", …}
    status: str = "accepted"
    errors: list[dict[str, Any]] = field(default_factory=list)

    def button(self, title_or_id: str) -> ReplyButton | None:
        """A reply button (or template quick reply) by title, else by id."""
        return next((b for b in self.buttons if b.title == title_or_id), None) or next(
            (b for b in self.buttons if b.id == title_or_id), None
        )

    def row(self, title_or_id: str) -> ListRow | None:
        """A list row by title, else by id."""
        return next((r for r in self.rows if r.title == title_or_id), None) or next(
            (r for r in self.rows if r.id == title_or_id), None
        )


@dataclass
class CustomerMessage:
    """A message a customer sent to the business (what its webhook carried)."""

    id: str  # wamid
    wa_id: str
    type: str
    body: dict[str, Any]  # the ``messages[0]`` object of the webhook
    at: float


@dataclass(frozen=True)
class MediaFile:
    """Stored media: what a customer sent, or what the bot uploaded."""

    id: str
    data: bytes
    mime_type: str
    sha256_hex: str
    sha256_b64: str


@dataclass(frozen=True)
class WebhookAttempt:
    """One POST of an event to the bot's webhook."""

    event: str  # the event key: "message:<wamid>" or "status:<wamid>:<status>"
    status: int  # the HTTP status; 0 when there was no answer (refused, timed out)
    signature: str  # the X-Hub-Signature-256 header sent
    body: bytes  # the exact bytes posted
    at: float  # time.monotonic()

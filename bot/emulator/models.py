"""Plain dataclasses holding the emulator's state, so tests can inspect it synchronously,
and the error values its parts raise."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

# A Bot API method's implementation: validated parameters in, the `result` out.
Handler = Callable[[dict[str, Any]], Awaitable[Any]]


class ApiError(Exception):
    """A Bot API error answer: ``{"ok": false, "error_code", "description", "parameters"}``."""

    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        """The JSON body the real API would send for this error."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class ProxyError(ApiError):
    """A failure answered as a reverse proxy would: an HTML page, not the Bot API's JSON."""

    def page(self) -> str:
        """The HTML body (nginx's style)."""
        title = f"{self.status} {self.description}"
        return (
            f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n"
        )


def bad_request(detail: str) -> ApiError:
    """``400 Bad Request: <detail>``."""
    return ApiError(400, f"Bad Request: {detail}")


def forbidden(detail: str) -> ApiError:
    """``403 Forbidden: <detail>``."""
    return ApiError(403, f"Forbidden: {detail}")


@dataclass
class Button:
    """One inline keyboard button as the user sees it."""

    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass
class ReplyButton:
    """One reply keyboard button (under the input field): tapping it sends its text, or
    with ``request_contact`` the user's own phone number as a contact."""

    text: str
    request_contact: bool = False


@dataclass
class FileInfo:
    """A stored file: uploaded by the bot or sent by an emulated user."""

    name: str | None
    mime_type: str | None
    data: bytes = field(repr=False)
    file_id: str = ""
    file_unique_id: str = ""
    file_path: str = ""
    width: int | None = None
    height: int | None = None

    @property
    def size(self) -> int:
        """Size of the file in bytes."""
        return len(self.data)


@dataclass
class CallbackAnswer:
    """What the bot passed to ``answerCallbackQuery``."""

    text: str | None = None
    show_alert: bool = False
    url: str | None = None
    cache_time: int | None = None


@dataclass
class ApiCall:
    """One HTTP request to the emulator. ``at`` is ``time.monotonic()`` at arrival."""

    method: str
    params: dict[str, Any]
    status: int
    at: float
    description: str | None = None
    result: Any = field(default=None, repr=False)


@dataclass
class ChatMessage:
    """A message in a chat, in either direction, in its current (possibly edited) state."""

    chat_id: int
    message_id: int
    from_bot: bool
    text: str = ""
    html: str | None = None
    keyboard: list[list[Button]] = field(default_factory=list)
    edited: bool = False
    edit_count: int = 0
    document: FileInfo | None = None
    photo: FileInfo | None = None
    deleted: bool = False
    # Extras beyond the agreed API: handy for assertions and for rebuilding payloads.
    kind: str = "text"
    date: int = 0
    sender_id: int | None = None
    parse_mode: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    reply_keyboard: list[list[ReplyButton]] | None = None
    # The message's ReplyKeyboardRemove: the chat's reply keyboard went with it.
    removes_keyboard: bool = False
    # A shared contact (``phone_number``, ``first_name``, ``user_id``), as in the payload.
    contact: dict[str, Any] | None = None
    history: list[str] = field(default_factory=list)
    payload: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def buttons(self) -> list[Button]:
        """All inline buttons, row by row."""
        return [button for row in self.keyboard for button in row]

    @property
    def button_texts(self) -> list[str]:
        """Texts of all inline buttons, row by row."""
        return [button.text for button in self.buttons]

    def button(self, text: str) -> Button | None:
        """The first inline button whose text is ``text``."""
        return next((b for b in self.buttons if b.text == text), None)

"""The plain events runtime adapters turn Telegram updates into."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sender:
    """The user behind an update: a Telegram user, or on WhatsApp (`channel`) the
    address's synthetic chat id (storage/repos/whatsapp.py) as `id`."""

    id: int
    first_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    channel: str = "telegram"


@dataclass(frozen=True, kw_only=True)
class ChatEvent:
    """What every event carries: which update, which chat, who."""

    update_id: int
    chat_id: int
    sender: Sender
    chat_type: str = "private"

    @property
    def private(self) -> bool:
        """True in a one-to-one chat with the bot."""
        return self.chat_type == "private"


@dataclass(frozen=True)
class Attachment:
    """A file a user sent (a document); download it through the ChatPort by `file_id`."""

    file_id: str
    file_name: str | None = None
    mime_type: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class SharedContact:
    """A contact a user sent: their own (the reply keyboard's request_contact button) when
    `user_id` is the sender's, else someone else's (forwarded, from the address book).

    `phone_number` is as Telegram gives it: digits, usually without "+".
    """

    phone_number: str
    user_id: int | None = None
    first_name: str | None = None


@dataclass(frozen=True, kw_only=True)
class IncomingMessage(ChatEvent):
    """A message a user sent; `kind` is "text" or the media type (sticker, photo…).

    `text` is None for media; their caption is in `caption`, a document in `document`,
    a shared contact in `contact`.
    """

    text: str | None
    kind: str = "text"
    message_id: int | None = None
    caption: str | None = None
    document: Attachment | None = None
    contact: SharedContact | None = None

    @property
    def own_contact(self) -> bool:
        """True when the message shares the sender's own phone number."""
        return self.contact is not None and self.contact.user_id == self.sender.id


@dataclass(frozen=True, kw_only=True)
class ButtonPress(ChatEvent):
    """A press of an inline button; `data` is the raw callback data."""

    callback_id: str
    data: str | None
    message_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class BlockChange(ChatEvent):
    """The user blocked (`blocked=True`) or unblocked the bot."""

    blocked: bool


Event = IncomingMessage | ButtonPress | BlockChange


@dataclass(frozen=True)
class Command:
    """A parsed `/name args` command."""

    name: str
    args: str


def parse_command(text: str | None, bot_username: str | None) -> Command | None:
    """Parses `/name@bot args`; None when it is not a command for this bot."""
    if not text or not text.startswith("/") or len(text) < 2:
        return None
    head, _, args = text.partition(" ")
    name, _, addressee = head[1:].partition("@")
    if addressee and bot_username and addressee.lower() != bot_username.lower():
        return None
    if not name or not all(c.isalnum() or c == "_" for c in name):
        return None
    return Command(name.lower(), args.strip())

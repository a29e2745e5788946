"""Telegram objects → plain events, for both frameworks.

aiogram and python-telegram-bot model the same Bot API objects with the same attribute
names, so one duck-typed conversion serves both; only how a message names its content
kind differs, and the runtime passes that in.
"""

from __future__ import annotations

from typing import Any

from handlers.events import (
    Attachment,
    BlockChange,
    ButtonPress,
    IncomingMessage,
    Sender,
    SharedContact,
)


def sender(user: Any) -> Sender:
    """The Telegram user behind an update."""
    return Sender(user.id, user.first_name, user.username, user.language_code)


def attachment(message: Any) -> Attachment | None:
    """The message's document (a .csv for /import), if it has one."""
    doc = message.document
    if doc is None:
        return None
    return Attachment(doc.file_id, doc.file_name, doc.mime_type, doc.file_size)


def shared_contact(message: Any) -> SharedContact | None:
    """The contact the message shares (the user's own, from a request_contact button, or
    someone else's), if it shares one."""
    contact = message.contact
    if contact is None:
        return None
    return SharedContact(contact.phone_number, contact.user_id, contact.first_name)


def message_event(update_id: int, message: Any, kind: str) -> IncomingMessage | None:
    """A user's message as a plain event (None for messages without a sender)."""
    if message.from_user is None:
        return None
    return IncomingMessage(
        update_id=update_id,
        chat_id=message.chat.id,
        sender=sender(message.from_user),
        text=message.text,
        kind=kind,
        message_id=message.message_id,
        chat_type=str(message.chat.type),
        caption=message.caption,
        document=attachment(message),
        contact=shared_contact(message),
    )


def button_event(update_id: int, query: Any) -> ButtonPress:
    """A button press as a plain event."""
    message = query.message
    return ButtonPress(
        update_id=update_id,
        chat_id=message.chat.id if message is not None else query.from_user.id,
        sender=sender(query.from_user),
        callback_id=query.id,
        data=query.data,
        message_id=message.message_id if message is not None else None,
        chat_type=str(message.chat.type) if message is not None else "private",
    )


def block_event(update_id: int, change: Any) -> BlockChange:
    """The user blocking (kicked) or unblocking (member) the bot."""
    return BlockChange(
        update_id=update_id,
        chat_id=change.chat.id,
        sender=sender(change.from_user),
        blocked=change.new_chat_member.status in ("kicked", "left"),
        chat_type=str(change.chat.type),
    )

"""The emulator's state: the users and groups, the messages in their chats, and the
callback queries waiting for the bot's answer."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from bot.emulator.actors import ChatView, EmulatedGroup, EmulatedUser
from bot.emulator.models import CallbackAnswer, ChatMessage, bad_request, forbidden


def now() -> int:
    """Telegram's ``date``: Unix time in seconds."""
    return int(time.time())


def payload_of(msg: ChatMessage) -> dict[str, Any]:
    """The ``Message`` object of a message (a copy: callers may change it)."""
    return copy.deepcopy(msg.payload)


class Chats:
    """Users (private chats) and groups by id, and the rules for writing to them."""

    def __init__(
        self,
        bot_user: Callable[[], dict[str, Any]],
        on_message: Callable[[ChatView, ChatMessage], None],
    ) -> None:
        self.users: dict[int, EmulatedUser] = {}
        self.groups: dict[int, EmulatedGroup] = {}
        self._bot_user = bot_user
        self._on_message = on_message

    def find(self, chat_id: int | str) -> ChatView | None:
        """A chat by id, or a group by ``@username``; None when there is none."""
        if isinstance(chat_id, str):
            name = chat_id.removeprefix("@").lower()
            return next(
                (g for g in self.groups.values() if g.username and g.username.lower() == name),
                None,
            )
        if chat_id in self.users:
            return self.users[chat_id]
        return self.groups.get(chat_id)

    def get(self, chat_id: int) -> ChatView:
        """A chat that must exist (KeyError otherwise)."""
        chat = self.find(chat_id)
        if chat is None:
            raise KeyError(f"no chat {chat_id}")
        return chat

    def target(self, chat_id: int | str) -> ChatView:
        """The chat a bot wants to write to, or the error Telegram would answer."""
        chat = self.find(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        if isinstance(chat, EmulatedUser):
            if chat.deactivated:
                raise forbidden("user is deactivated")
            if chat.blocked:
                raise forbidden("bot was blocked by the user")
            if not chat.started:
                raise forbidden("bot can't initiate conversation with a user")
        elif isinstance(chat, EmulatedGroup) and not chat.bot_is_member:
            raise forbidden("bot was kicked from the group chat")
        return chat

    def new_message(
        self, chat: ChatView, *, from_bot: bool, kind: str, sender: EmulatedUser | None = None
    ) -> ChatMessage:
        """A new message at the end of the chat; the caller fills in its content."""
        message_id = chat.next_message_id
        chat.next_message_id += 1
        date = now()
        bot_user = self._bot_user()
        sender_payload = bot_user if from_bot else sender.user_payload()  # type: ignore[union-attr]
        msg = ChatMessage(
            chat_id=chat.id,
            message_id=message_id,
            from_bot=from_bot,
            kind=kind,
            date=date,
            sender_id=bot_user["id"] if from_bot else sender.id,  # type: ignore[union-attr]
        )
        msg.payload = {
            "message_id": message_id,
            "from": sender_payload,
            "chat": chat.chat_payload(),
            "date": date,
        }
        chat.messages.append(msg)
        self._on_message(chat, msg)
        return msg

    def live(self, msg: ChatMessage) -> ChatMessage:
        """The message as it is now; AssertionError when it was deleted (a test's slip)."""
        chat = self.get(msg.chat_id)
        live = chat.message(msg.message_id)
        if live is None or live.deleted:
            raise AssertionError(
                f"message #{msg.message_id} in chat {msg.chat_id} is gone\n{chat.transcript()}"
            )
        return live


class CallbackQueries:
    """Button presses the bot has not answered yet, and the answers it gave."""

    def __init__(self) -> None:
        self.answers: dict[str, CallbackAnswer] = {}
        self._open: dict[str, int] = {}  # query id → user id, until answered

    def open(self, query_id: str, user_id: int) -> None:
        """A user pressed a button: the query waits for answerCallbackQuery."""
        self._open[query_id] = user_id

    def is_open(self, query_id: str) -> bool:
        """Whether the query was sent and not answered yet."""
        return query_id in self._open

    def answer(self, query_id: str, answer: CallbackAnswer) -> None:
        """Record the bot's answer; the query is closed."""
        del self._open[query_id]
        self.answers[query_id] = answer

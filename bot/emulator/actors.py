"""The people side of the emulator: users and group chats that talk to the bot.

They reach the rest of the emulator only through ``World`` (implemented by
``users.People``), so this module imports nothing else of the emulator but its models.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from bot.emulator.models import CallbackAnswer, ChatMessage, ReplyButton
from bot.emulator_kit.changes import WaitUntil, wait_for_latest

MessagePredicate = Callable[[ChatMessage], bool]


class World(Protocol):
    """What emulated people do through the emulator: each act becomes an update."""

    @property
    def callback_answers(self) -> dict[str, CallbackAnswer]:
        """The bot's answers to button presses, by query id."""
        ...

    @property
    def wait_until(self) -> WaitUntil:
        """Wait for a condition (re-checked on each change), else AssertionError."""
        ...

    def chat(self, chat_id: int) -> ChatView:
        """A chat that exists."""
        ...

    def live_message(self, msg: ChatMessage) -> ChatMessage:
        """The message as it is now (AssertionError when it is gone)."""
        ...

    def send_text(
        self, user: EmulatedUser, chat: ChatView, text: str, *, reply_to: ChatMessage | None
    ) -> int:
        """The user writes ``text`` in ``chat``; return the update_id."""
        ...

    def send_media(
        self,
        user: EmulatedUser,
        chat: ChatView,
        kind: str,
        *,
        data: bytes | None = None,
        caption: str | None = None,
        emoji: str = "👍",
        duration: int = 3,
        file_name: str = "file.txt",
        mime_type: str = "text/plain",
    ) -> int:
        """The user sends a sticker, photo, voice note or document; return the update_id."""
        ...

    def press(self, user: EmulatedUser, msg: ChatMessage, data: str) -> str:
        """The user sends a callback query with ``data`` for ``msg``; return its id."""
        ...

    def send_contact(
        self, user: EmulatedUser, phone_number: str, *, user_id: int | None, first_name: str
    ) -> int:
        """The user sends a contact in their chat with the bot; return the update_id."""
        ...

    def change_membership(self, user: EmulatedUser, *, old: str, new: str) -> int:
        """The bot's membership in the user's chat changed; return the update_id."""
        ...


class ChatView:
    """A chat's message log plus helpers to wait for and render bot messages."""

    def __init__(self, world: World, chat_id: int, chat_type: str) -> None:
        self._world = world
        self.id = chat_id
        self.type = chat_type
        self.messages: list[ChatMessage] = []
        self.next_message_id = 1
        # Stable per chat, as Telegram's chat_instance is.
        self.chat_instance = str(abs(hash(("chat-instance", chat_id))) % 10**18)
        # The reply keyboard under the input field (the latest a bot message brought, until
        # a ReplyKeyboardRemove, or a tap when it was one-time).
        self.reply_keyboard: list[list[ReplyButton]] | None = None
        self.reply_keyboard_one_time = False

    def show_reply_keyboard(
        self, rows: list[list[ReplyButton]] | None, *, one_time: bool = False
    ) -> None:
        """The reply keyboard the chat shows from now on (None: the user's own keyboard)."""
        self.reply_keyboard, self.reply_keyboard_one_time = rows, one_time

    def chat_payload(self) -> dict[str, Any]:
        """The ``Chat`` object of this chat."""
        raise NotImplementedError

    @property
    def bot_messages(self) -> list[ChatMessage]:
        """Messages the bot sent to this chat (deleted ones included, flagged)."""
        return [m for m in self.messages if m.from_bot]

    def message(self, message_id: int) -> ChatMessage | None:
        """A message of this chat by id."""
        return next((m for m in self.messages if m.message_id == message_id), None)

    async def wait_for_message(
        self,
        predicate: MessagePredicate | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - the agreed test API; a deadline, not a cancel
    ) -> ChatMessage:
        """Wait for a visible bot message matching ``predicate``; return the latest match."""
        return await wait_for_latest(
            self._world.wait_until,
            lambda: [m for m in self.bot_messages if not m.deleted],
            predicate,
            timeout,
            lambda: (
                f"no matching bot message in chat {self.id} within {timeout}s; transcript:\n"
                + self.transcript()
            ),
        )

    def transcript(self) -> str:
        """A readable rendering of the chat for assertion messages."""
        lines: list[str] = []
        for m in self.messages:
            who = "bot" if m.from_bot else f"user {m.sender_id}"
            flags = [f"#{m.message_id}"]
            if m.edited:
                flags.append(f"edited x{m.edit_count}")
            if m.deleted:
                flags.append("deleted")
            body = m.text
            if m.document is not None:
                body = f"[document {m.document.name!r}, {m.document.size} bytes] {body}"
            elif m.photo is not None:
                body = f"[photo {m.photo.size} bytes] {body}"
            elif m.contact is not None:
                owner = m.contact.get("user_id")
                body = f"[contact {m.contact['phone_number']}, user {owner}] {body}"
            elif m.kind != "text":
                body = f"[{m.kind}] {body}"
            lines.append(f"{who} ({', '.join(flags)}): {body.strip()}")
            for row in m.keyboard:
                lines.append("   " + " ".join(f"[{b.text}]" for b in row))
            if m.reply_keyboard:
                for reply_row in m.reply_keyboard:
                    shown = (
                        f"<{b.text}{' (contact)' if b.request_contact else ''}>" for b in reply_row
                    )
                    lines.append("   " + " ".join(shown))
            if m.removes_keyboard:
                lines.append("   <keyboard removed>")
        return "\n".join(lines) if lines else "(no messages)"


class EmulatedUser(ChatView):
    """A Telegram user and their private chat with the bot."""

    def __init__(
        self,
        world: World,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> None:
        super().__init__(world, user_id, "private")
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code
        # A bot may only write to users who wrote to it first.
        self.started = False
        self.blocked = False
        self.deactivated = False

    def user_payload(self) -> dict[str, Any]:
        """The ``User`` object of this person."""
        payload: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            payload["last_name"] = self.last_name
        if self.username:
            payload["username"] = self.username
        if self.language_code:
            payload["language_code"] = self.language_code
        return payload

    def chat_payload(self) -> dict[str, Any]:
        """The private ``Chat`` object with this user."""
        payload: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            payload["last_name"] = self.last_name
        if self.username:
            payload["username"] = self.username
        return payload

    # --- sending to the bot ------------------------------------------------------------

    def send(self, text: str, *, reply_to: ChatMessage | None = None) -> int:
        """Send a text message to the bot; return its update_id."""
        return self._world.send_text(self, self, text, reply_to=reply_to)

    def send_in(
        self, group: EmulatedGroup, text: str, *, reply_to: ChatMessage | None = None
    ) -> int:
        """Send a text message in a group chat; return its update_id."""
        group.add_member(self)
        return self._world.send_text(self, group, text, reply_to=reply_to)

    def send_sticker(self, emoji: str = "👍") -> int:
        """Send a sticker; return its update_id."""
        return self._world.send_media(self, self, "sticker", emoji=emoji)

    def send_photo(self, data: bytes | None = None, caption: str | None = None) -> int:
        """Send a photo; return its update_id."""
        return self._world.send_media(self, self, "photo", data=data, caption=caption)

    def send_voice(self, data: bytes | None = None, duration: int = 3) -> int:
        """Send a voice note; return its update_id."""
        return self._world.send_media(self, self, "voice", data=data, duration=duration)

    def send_document(
        self,
        data: bytes | None = None,
        file_name: str = "file.txt",
        mime_type: str = "text/plain",
        caption: str | None = None,
    ) -> int:
        """Send a document; return its update_id."""
        return self._world.send_media(
            self,
            self,
            "document",
            data=data,
            file_name=file_name,
            mime_type=mime_type,
            caption=caption,
        )

    def send_contact(
        self, phone_number: str, *, user_id: int | None = None, first_name: str = "Contact"
    ) -> int:
        """Send a contact card (someone else's: a forwarded contact, or from the address
        book); ``user_id`` is the contact's Telegram id, if they have one."""
        return self._world.send_contact(self, phone_number, user_id=user_id, first_name=first_name)

    # --- buttons -----------------------------------------------------------------------

    def share_contact(self, phone_number: str) -> int:
        """Tap the reply keyboard's request_contact button: Telegram sends the user's own
        number (digits, without "+") with their user id; return the update_id."""
        self._tap_reply(lambda b: b.request_contact, "a request_contact button")
        return self._world.send_contact(
            self, phone_number, user_id=self.id, first_name=self.first_name
        )

    def tap_reply(self, text: str) -> int:
        """Tap the reply keyboard's button labelled ``text``: it sends its text."""
        self._tap_reply(lambda b: b.text == text and not b.request_contact, f"a button {text!r}")
        return self.send(text)

    def _tap_reply(self, wanted: Callable[[ReplyButton], bool], what: str) -> None:
        """Finds the button on the chat's reply keyboard (one-time: it hides after)."""
        rows = self.reply_keyboard or []
        if not any(wanted(b) for row in rows for b in row):
            shown = [[b.text for b in row] for row in rows]
            raise AssertionError(
                f"no {what} on the reply keyboard of chat {self.id} (it shows {shown})\n"
                + self.transcript()
            )
        if self.reply_keyboard_one_time:
            self.show_reply_keyboard(None)

    def press(self, msg: ChatMessage, text: str) -> str:
        """Press the inline button labelled ``text`` on the message's current keyboard."""
        live = self._world.live_message(msg)
        button = live.button(text)
        if button is None:
            raise AssertionError(
                f"no button {text!r} on message #{live.message_id} in chat {live.chat_id}; "
                f"buttons: {live.button_texts}\n{self._world.chat(live.chat_id).transcript()}"
            )
        if button.callback_data is None:
            raise AssertionError(f"button {text!r} has no callback_data (url={button.url!r})")
        return self.press_data(live, button.callback_data)

    def press_data(self, msg: ChatMessage, data: str) -> str:
        """Send a callback query with arbitrary (possibly forged) data for that message."""
        return self._world.press(self, msg, data)

    async def wait_callback_answer(
        self,
        query_id: str,
        timeout: float = 5.0,  # noqa: ASYNC109 - the agreed test API
    ) -> CallbackAnswer:
        """Wait until the bot answered the callback query ``query_id``."""
        answers = self._world.callback_answers
        await self._world.wait_until(
            lambda: query_id in answers,
            timeout=timeout,
            message=lambda: (
                f"callback query {query_id} not answered within {timeout}s\n" + self.transcript()
            ),
        )
        return answers[query_id]

    # --- membership --------------------------------------------------------------------

    def block_bot(self) -> int:
        """Block the bot: sends a my_chat_member "kicked" update; sends then answer 403."""
        self.blocked = True
        return self._world.change_membership(self, old="member", new="kicked")

    def unblock_bot(self) -> int:
        """Unblock the bot: sends a my_chat_member "member" update."""
        self.blocked = False
        self.started = True
        return self._world.change_membership(self, old="kicked", new="member")

    def deactivate(self) -> None:
        """Delete the account: sends then answer ``403 Forbidden: user is deactivated``."""
        self.deactivated = True

    def __repr__(self) -> str:
        return f"EmulatedUser(id={self.id}, first_name={self.first_name!r})"


class EmulatedGroup(ChatView):
    """A group or supergroup chat the bot is a member of."""

    def __init__(
        self,
        world: World,
        chat_id: int,
        title: str,
        chat_type: str,
        username: str | None = None,
    ) -> None:
        super().__init__(world, chat_id, chat_type)
        self.title = title
        self.username = username
        self.members: dict[int, EmulatedUser] = {}
        self.bot_is_member = True

    def chat_payload(self) -> dict[str, Any]:
        """The ``Chat`` object of this group."""
        payload: dict[str, Any] = {"id": self.id, "type": self.type, "title": self.title}
        if self.username:
            payload["username"] = self.username
        return payload

    def add_member(self, user: EmulatedUser) -> None:
        """Add a user to the group (silently, no service message)."""
        self.members[user.id] = user

    def kick_bot(self) -> None:
        """Remove the bot: sends then answer 403 ``bot was kicked from the group chat``."""
        self.bot_is_member = False

    def __repr__(self) -> str:
        return f"EmulatedGroup(id={self.id}, title={self.title!r})"

"""What emulated people do: their texts, media, button presses and blocking of the bot, each
turned into the message in their chat and the update Telegram would send the bot.

``People`` is the ``actors.World`` that ``EmulatedUser`` and ``EmulatedGroup`` talk to.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

from bot.emulator.actors import ChatView, EmulatedUser
from bot.emulator.chats import CallbackQueries, Chats, now, payload_of
from bot.emulator.files import TINY_PNG, FileStore, document_payload, image_size, photo_size
from bot.emulator.models import CallbackAnswer, ChatMessage, FileInfo
from bot.emulator.updates import UpdateQueue
from bot.emulator_kit.changes import Changes, WaitUntil

_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?")


class People:
    """The emulator as its people reach it."""

    def __init__(
        self,
        chats: Chats,
        files: FileStore,
        updates: UpdateQueue,
        queries: CallbackQueries,
        bot_user: Callable[[], dict[str, Any]],
        changes: Changes,
    ) -> None:
        # Wait for a condition (re-checked on each change), else AssertionError.
        self.wait_until: WaitUntil = changes.wait_until
        self._chats = chats
        self._files = files
        self._updates = updates
        self._queries = queries
        self._bot_user = bot_user

    # --- looking around ------------------------------------------------------------------

    @property
    def callback_answers(self) -> dict[str, CallbackAnswer]:
        """The bot's answers to button presses, by query id."""
        return self._queries.answers

    def chat(self, chat_id: int) -> ChatView:
        """A chat that exists (KeyError otherwise)."""
        return self._chats.get(chat_id)

    def live_message(self, msg: ChatMessage) -> ChatMessage:
        """The message as it is now (AssertionError when it is gone)."""
        return self._chats.live(msg)

    # --- acting --------------------------------------------------------------------------

    def send_text(
        self, user: EmulatedUser, chat: ChatView, text: str, *, reply_to: ChatMessage | None
    ) -> int:
        """The user writes ``text`` in ``chat``; return the update_id."""
        if not text:
            raise ValueError("Telegram clients do not send empty messages")
        msg = self._message(user, chat, "text")
        msg.text = text
        msg.payload["text"] = text
        command = _COMMAND_RE.match(text)
        if command:
            msg.entities = [{"type": "bot_command", "offset": 0, "length": len(command.group())}]
            msg.payload["entities"] = msg.entities
        if reply_to is not None:
            msg.payload["reply_to_message"] = payload_of(self._chats.live(reply_to))
        return self._updates.enqueue({"message": msg.payload})

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
        msg = self._message(user, chat, kind)
        store = self._files.store
        if kind == "sticker":
            info = store(FileInfo("sticker.webp", "image/webp", data or b"RIFF"), kind)
            msg.payload["sticker"] = {
                "file_id": info.file_id,
                "file_unique_id": info.file_unique_id,
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": emoji,
                "file_size": info.size,
            }
        elif kind == "photo":
            info = FileInfo("photo.jpg", "image/jpeg", data or TINY_PNG)
            info.width, info.height = image_size(info.data)
            store(info, kind)
            msg.photo = info
            msg.payload["photo"] = [photo_size(info)]
        elif kind == "voice":
            info = store(FileInfo("voice.ogg", "audio/ogg", data or b"OggS"), kind)
            msg.payload["voice"] = {
                "file_id": info.file_id,
                "file_unique_id": info.file_unique_id,
                "duration": duration,
                "mime_type": "audio/ogg",
                "file_size": info.size,
            }
        else:
            info = store(FileInfo(file_name, mime_type, data or b"hello"), kind)
            msg.document = info
            msg.payload["document"] = document_payload(info)
        if caption:
            msg.text = caption
            msg.payload["caption"] = caption
        return self._updates.enqueue({"message": msg.payload})

    def press(self, user: EmulatedUser, msg: ChatMessage, data: str) -> str:
        """The user sends a callback query with ``data`` for ``msg``; return its id."""
        live = self._chats.live(msg)
        query_id = str(secrets.randbits(62))
        chat = self._chats.get(live.chat_id)
        query = {
            "id": query_id,
            "from": user.user_payload(),
            "message": payload_of(live),
            "chat_instance": chat.chat_instance,
            "data": data,
        }
        self._queries.open(query_id, user.id)
        self._updates.enqueue({"callback_query": query})
        return query_id

    def send_contact(
        self, user: EmulatedUser, phone_number: str, *, user_id: int | None, first_name: str
    ) -> int:
        """The user sends a contact in their chat with the bot (their own when ``user_id``
        is theirs, as the request_contact button sends it); return the update_id."""
        msg = self._message(user, user, "contact")
        contact: dict[str, Any] = {"phone_number": phone_number, "first_name": first_name}
        if user_id is not None:
            contact["user_id"] = user_id
        msg.contact = contact
        msg.payload["contact"] = contact
        return self._updates.enqueue({"message": msg.payload})

    def change_membership(self, user: EmulatedUser, *, old: str, new: str) -> int:
        """The bot's membership in the user's chat changed (``my_chat_member``)."""

        def member(status: str) -> dict[str, Any]:
            payload: dict[str, Any] = {"status": status, "user": self._bot_user()}
            if status == "kicked":
                payload["until_date"] = 0
            return payload

        return self._updates.enqueue(
            {
                "my_chat_member": {
                    "chat": user.chat_payload(),
                    "from": user.user_payload(),
                    "date": now(),
                    "old_chat_member": member(old),
                    "new_chat_member": member(new),
                }
            }
        )

    def _message(self, user: EmulatedUser, chat: ChatView, kind: str) -> ChatMessage:
        if chat is user:
            if user.blocked:
                # Real clients unblock the bot ("Restart") before the message goes out.
                user.unblock_bot()
            # Writing to the bot starts the conversation.
            user.started = True
        return self._chats.new_message(chat, from_bot=False, kind=kind, sender=user)

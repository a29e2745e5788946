"""The standalone emulator's control API: act as Telegram users over plain HTTP.

Every route answers JSON (or the chat's transcript as text); a caller's mistake — a body
that is not a JSON object, a missing or mistyped field, an empty text, an unknown chat,
message or file — is a 4xx with a one-line reason as the body, never a 500. The routes are
listed in bot/emulator/README.md.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.emulator.actors import ChatView, EmulatedUser
from bot.emulator_kit.control import PREFIX, act, bad, control_table, json_body, not_found

if TYPE_CHECKING:
    from bot.emulator.server import BotApiEmulator

# What a Telegram client lets a person send.
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_PHONE = 64
# IETF language tags as Telegram passes them in `language_code` ("en", "pt-br", "zh-hans").
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")
MAX_LANGUAGE = 35


def _int(value: Any, name: str) -> int:
    """An integer field (numbers and digit strings; bools are not numbers here)."""
    if isinstance(value, bool) or value is None:
        raise bad(f"{name} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,19}", value.strip()):
        return int(value)
    raise bad(f"{name} must be an integer")


def _required(body: dict[str, Any], name: str) -> Any:
    if name not in body:
        raise bad(f"{name} is required")
    return body[name]


def _optional_text(body: dict[str, Any], name: str, limit: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad(f"{name} must be a string")
    if len(value) > limit:
        raise bad(f"{name} is longer than {limit} characters")
    return value or None


def _language(value: Any) -> str | None:
    """A `language_code` (None clears it: some clients send none)."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_LANGUAGE or not _LANGUAGE.match(value):
        raise bad("language_code must be a language tag such as en, ru or pt-br, or null")
    return value


def _data(body: dict[str, Any]) -> bytes | None:
    """File content: `data_base64`, or `content` (text, UTF-8); None when neither is given."""
    if body.get("data_base64") is not None:
        encoded = body["data_base64"]
        if not isinstance(encoded, str):
            raise bad("data_base64 must be a string")
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise bad("data_base64 is not valid base64") from None
    elif body.get("content") is not None:
        if not isinstance(body["content"], str):
            raise bad("content must be a string")
        data = body["content"].encode()
    else:
        return None
    if not data:
        raise bad("the file is empty (Telegram sends no empty files)")
    return data


class Control:
    """The control routes of one emulator."""

    def __init__(self, api: BotApiEmulator) -> None:
        self.api = api

    # --- looking things up ---------------------------------------------------------------

    def _user(self, body: dict[str, Any]) -> EmulatedUser:
        """The user a body names (created on first use, like a person opening Telegram)."""
        user_id = _int(_required(body, "user_id"), "user_id")
        if user_id <= 0:
            raise bad("user_id must be positive")
        first_name = body.get("first_name", "User")
        username = body.get("username")
        if not isinstance(first_name, str) or not first_name.strip():
            raise bad("first_name must be a non-empty string")
        if username is not None and not isinstance(username, str):
            raise bad("username must be a string")
        user = self.api.user(user_id, first_name=first_name, username=username)
        if "language_code" in body:
            user.language_code = _language(body["language_code"])
        return user

    def _chat(self, raw: Any) -> ChatView:
        chat_id = _int(raw, "chat_id")
        chat = self.api.find_chat(chat_id)
        if chat is None:
            raise not_found(f"no chat {chat_id}")
        return chat

    def _where(self, body: dict[str, Any], user: EmulatedUser) -> ChatView:
        """The chat a user writes in: their private chat, or a group they are in."""
        if body.get("chat_id") is None or _int(body["chat_id"], "chat_id") == user.id:
            return user
        chat = self._chat(body["chat_id"])
        if isinstance(chat, EmulatedUser):
            raise bad("a user writes to the bot in their own chat or in a group")
        return chat

    # --- routes ----------------------------------------------------------------------------

    async def send(self, request: web.Request) -> web.Response:
        """POST {user_id, text, [chat_id], [first_name], [username], [language_code]}."""
        body = await json_body(request)
        text = _required(body, "text")
        if not isinstance(text, str):
            raise bad("text must be a string")
        if not text.strip():
            raise bad("text is empty (Telegram clients send no empty messages)")
        if len(text) > MAX_TEXT:
            raise bad(f"text is longer than {MAX_TEXT} characters")
        user = self._user(body)
        chat = self._where(body, user)
        if chat is user:
            update_id = user.send(text)
        else:
            update_id = user.send_in(chat, text)  # type: ignore[arg-type]
        return web.json_response({"update_id": update_id})

    async def language(self, request: web.Request) -> web.Response:
        """POST {user_id, language_code}: the language the user's next updates carry."""
        body = await json_body(request)
        code = _language(_required(body, "language_code"))
        user = self._user({k: v for k, v in body.items() if k != "language_code"})
        user.language_code = code
        return web.json_response({"user_id": user.id, "language_code": code})

    async def sticker(self, request: web.Request) -> web.Response:
        """POST {user_id, [emoji]}: the user sends a sticker."""
        body = await json_body(request)
        emoji = _optional_text(body, "emoji", 16) or "👍"
        user = self._user(body)
        return web.json_response({"update_id": user.send_sticker(emoji)})

    async def photo(self, request: web.Request) -> web.Response:
        """POST {user_id, [caption], [data_base64]}: the user sends a photo (a tiny PNG
        when no data is given)."""
        body = await json_body(request)
        caption = _optional_text(body, "caption", MAX_CAPTION)
        data = _data(body)
        user = self._user(body)
        return web.json_response({"update_id": user.send_photo(data, caption)})

    async def document(self, request: web.Request) -> web.Response:
        """POST {user_id, content | data_base64, [file_name], [mime_type], [caption]}."""
        body = await json_body(request)
        data = _data(body)
        if data is None:
            raise bad("a document needs content (text) or data_base64")
        file_name = _optional_text(body, "file_name", 255) or "file.txt"
        mime_type = _optional_text(body, "mime_type", 255) or "text/plain"
        caption = _optional_text(body, "caption", MAX_CAPTION)
        user = self._user(body)
        update_id = user.send_document(data, file_name, mime_type, caption)
        return web.json_response({"update_id": update_id})

    async def press(self, request: web.Request) -> web.Response:
        """POST {user_id, message_id, button | data, [chat_id]}: the user taps a button."""
        body = await json_body(request)
        message_id = _int(_required(body, "message_id"), "message_id")
        if "data" not in body and "button" not in body:
            raise bad("button (its label) or data (callback data) is required")
        user = self._user(body)
        chat = self._chat(body["chat_id"]) if body.get("chat_id") is not None else user
        msg = chat.message(message_id)
        if msg is None or msg.deleted:
            raise not_found(f"no message #{message_id} in chat {chat.id}")
        if "data" in body:
            if not isinstance(body["data"], str) or not body["data"]:
                raise bad("data must be a non-empty string")
            query_id = user.press_data(msg, body["data"])
        else:
            # No such button (any more) is the person's slip.
            query_id = act(lambda: user.press(msg, str(body["button"])))
        return web.json_response({"callback_query_id": query_id})

    async def contact(self, request: web.Request) -> web.Response:
        """POST {user_id, phone_number, [contact_user_id], [first_name]}: the user sends a
        contact. Without contact_user_id it is their own (the request_contact button:
        Telegram sends the number as given, usually digits without "+", and the user's id;
        a one-time reply keyboard hides); null: a contact not on Telegram."""
        body = await json_body(request)
        phone = _required(body, "phone_number")
        if not isinstance(phone, str) or not phone.strip():
            raise bad("phone_number must be a non-empty string")
        if len(phone) > MAX_PHONE:
            raise bad(f"phone_number is longer than {MAX_PHONE} characters")
        user = self._user(body)
        owner: int | None = user.id
        if "contact_user_id" in body:
            raw = body["contact_user_id"]
            owner = None if raw is None else _int(raw, "contact_user_id")
            if owner is not None and owner <= 0:
                raise bad("contact_user_id must be positive")
        if owner == user.id:
            if user.reply_keyboard_one_time:
                user.show_reply_keyboard(None)
            update_id = user.send_contact(phone, user_id=owner, first_name=user.first_name)
        else:
            name = _optional_text(body, "contact_first_name", 64) or "Contact"
            update_id = user.send_contact(phone, user_id=owner, first_name=name)
        return web.json_response({"update_id": update_id})

    async def keyboard(self, request: web.Request) -> web.Response:
        """GET ?chat_id=: the reply keyboard the chat shows under its input field."""
        if "chat_id" not in request.query:
            raise bad("chat_id is required")
        chat = self._chat(request.query["chat_id"])
        rows = chat.reply_keyboard
        shown = None
        if rows is not None:
            shown = [
                [{"text": b.text, "request_contact": b.request_contact} for b in r] for r in rows
            ]
        return web.json_response({"chat_id": chat.id, "reply_keyboard": shown})

    async def transcript(self, request: web.Request) -> web.Response:
        """GET ?chat_id=: the chat as text."""
        if "chat_id" not in request.query:
            raise bad("chat_id is required")
        chat = self._chat(request.query["chat_id"])
        return web.Response(text=chat.transcript() + "\n")

    async def files(self, request: web.Request) -> web.Response:
        """GET [?chat_id=]: the files (documents, photos) the bot sent, oldest first."""
        if "chat_id" in request.query:
            chats = [self._chat(request.query["chat_id"])]
        else:
            chats = [*self.api.users.values(), *self.api.groups.values()]
        found = []
        for chat in chats:
            for msg in chat.bot_messages:
                info = msg.document or msg.photo
                if info is None:
                    continue
                found.append(
                    {
                        "chat_id": chat.id,
                        "message_id": msg.message_id,
                        "kind": "document" if msg.document is not None else "photo",
                        "file_id": info.file_id,
                        "file_name": info.name,
                        "mime_type": info.mime_type,
                        "size": info.size,
                        "caption": msg.text or None,
                        "deleted": msg.deleted,
                        "date": msg.date,
                        "url": f"{PREFIX}/files/{info.file_id}",
                    }
                )
        found.sort(key=lambda f: (f["date"], f["chat_id"], f["message_id"]))
        return web.json_response({"files": found})

    async def file(self, request: web.Request) -> web.Response:
        """GET /files/{file_id}: a file's bytes (any file the emulator stored)."""
        info = self.api.files.get(request.match_info["file_id"])
        if info is None:
            raise not_found("no such file")
        return web.Response(
            body=info.data,
            content_type=info.mime_type or "application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{info.name or "file"}"'},
        )

    async def state(self, request: web.Request) -> web.Response:
        """GET /: users, groups, pending updates and calls."""
        return web.json_response(
            {
                "users": sorted(self.api.users),
                "groups": sorted(self.api.groups),
                "pending_updates": len(self.api.pending_updates),
                "calls": len(self.api.calls),
            }
        )


def control_routes(api: BotApiEmulator) -> list[web.RouteDef]:
    """HTTP endpoints that let a person (a demo, a test) act as Telegram users."""
    control = Control(api)
    routes = [
        ("POST", "/send", control.send),
        ("POST", "/press", control.press),
        ("POST", "/language", control.language),
        ("POST", "/sticker", control.sticker),
        ("POST", "/photo", control.photo),
        ("POST", "/document", control.document),
        ("POST", "/contact", control.contact),
        ("GET", "/keyboard", control.keyboard),
        ("GET", "/transcript", control.transcript),
        ("GET", "/files", control.files),
        ("GET", "/files/{file_id}", control.file),
        ("GET", "/", control.state),
    ]
    return control_table(routes)

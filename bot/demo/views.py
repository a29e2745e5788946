"""What the page shows, as JSON: people, chats and their messages, as the emulator holds
them (text with entities, never HTML), plus the files and pictures a chat carries."""

from __future__ import annotations

import struct
import zlib
from typing import Any, Protocol

from aiohttp import web

from bot.emulator import ChatMessage, ChatView, EmulatedUser, FileInfo

FILES = "/api/files"
LANGUAGES = {"en": "English", "ru": "Русский", "ro": "Română", "pl": "Polski"}
# Only pictures are shown inline; anything else is a download, so a file the bot sent can
# never become a page of this site.
IMAGE_TYPES = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}
PREVIEW_LENGTH = 70


class DemoPerson(Protocol):
    """A simulated person (bot/demo/people.py)."""

    @property
    def id(self) -> int:
        """The Telegram user id."""
        ...

    @property
    def first_name(self) -> str:
        """The name Telegram shows."""
        ...

    @property
    def language_code(self) -> str:
        """The Telegram client's language."""
        ...


def _file(info: FileInfo) -> dict[str, Any]:
    return {
        "url": f"{FILES}/{info.file_id}",
        "name": info.name,
        "size": info.size,
        "mime_type": info.mime_type,
        "width": info.width,
        "height": info.height,
    }


def message_view(msg: ChatMessage) -> dict[str, Any]:
    """One message: its text and entities (the page renders them), buttons and media."""
    text, entities = msg.text, msg.entities
    if not msg.from_bot and text.startswith("/start "):
        # A deep link's tap: Telegram shows the person "/start", the payload goes unseen.
        text, entities = "/start", [e for e in entities if e.get("offset") == 0]
    view: dict[str, Any] = {
        "id": msg.message_id,
        "from_bot": msg.from_bot,
        "kind": msg.kind,
        "date": msg.date,
        "text": text,
        "entities": entities,
        "edited": msg.edited,
        "keyboard": [
            [{"text": b.text, "url": b.url if b.callback_data is None else None} for b in row]
            for row in msg.keyboard
        ],
    }
    if msg.photo is not None:
        view["photo"] = _file(msg.photo)
    if msg.document is not None:
        view["document"] = _file(msg.document)
    sticker = msg.payload.get("sticker")
    if isinstance(sticker, dict):
        view["sticker"] = sticker.get("emoji") or "🖼"
    if msg.contact is not None:
        view["contact"] = {
            "phone_number": msg.contact.get("phone_number"),
            "first_name": msg.contact.get("first_name"),
        }
    return view


def preview(chat: ChatView) -> str:
    """The last visible message in a line, for the list of people."""
    for msg in reversed(chat.messages):
        if msg.deleted:
            continue
        if msg.photo is not None:
            head = "🖼 Photo"
        elif msg.document is not None:
            head = f"📄 {msg.document.name or 'File'}"
        elif msg.kind == "sticker":
            head = "Sticker"
        elif msg.contact is not None:
            head = "📞 Contact"
        else:
            head = ""
        text = " ".join(msg.text.split())
        line = f"{head} {text}".strip() if head else text
        who = "" if msg.from_bot else "You: "
        line = who + line
        return line if len(line) <= PREVIEW_LENGTH else line[: PREVIEW_LENGTH - 1] + "…"
    return ""


def person_view(person: DemoPerson, chat: EmulatedUser, *, owner: bool) -> dict[str, Any]:
    """A row of the list of people."""
    visible = [m for m in chat.messages if not m.deleted]
    return {
        "id": person.id,
        "name": person.first_name,
        "language": person.language_code,
        "language_name": LANGUAGES.get(person.language_code, person.language_code),
        "role": "owner" if owner else "customer",
        "preview": preview(chat),
        "bot_messages": sum(1 for m in visible if m.from_bot),
        "last_date": visible[-1].date if visible else 0,
    }


def chat_view(chat: EmulatedUser) -> dict[str, Any]:
    """A chat: its visible messages (deleted ones are gone) and its reply keyboard."""
    keyboard = None
    if chat.reply_keyboard is not None:
        keyboard = [
            [{"text": b.text, "request_contact": b.request_contact} for b in row]
            for row in chat.reply_keyboard
        ]
    return {
        "id": chat.id,
        "messages": [message_view(m) for m in chat.messages if not m.deleted],
        "reply_keyboard": keyboard,
    }


def file_response(info: FileInfo, *, download: bool) -> web.Response:
    """A stored file: a picture inline (unless `download`), anything else as an attachment."""
    image = next(
        (kind for magic, kind in IMAGE_TYPES.items() if info.data.startswith(magic)), None
    )
    name = (info.name or "file").replace('"', "").replace("\\", "")
    inline = image is not None and not download
    return web.Response(
        body=info.data,
        content_type=image if inline else (info.mime_type or "application/octet-stream"),
        headers={
            "Content-Disposition": "inline" if inline else f'attachment; filename="{name}"',
            "Cache-Control": "private, max-age=3600",
        },
    )


def demo_photo(seed: int, width: int = 240, height: int = 160) -> bytes:
    """A small PNG (a landscape: sky, sun and a hill, tinted by `seed`), the photo a person
    sends from the page."""
    sky_top, sky_bottom = (70, 130 + seed % 60, 200), (200, 225, 245)
    hill = ((60 + seed * 7) % 90 + 40, 150 + seed % 50, 70)
    sun_x, sun_y, radius = width * (0.25 + (seed % 5) / 10), height * 0.32, height * 0.14
    rows = []
    for y in range(height):
        t = y / height
        sky = bytes(round(a + (b - a) * t) for a, b in zip(sky_top, sky_bottom, strict=True))
        row = bytearray(b"\x00")  # each scanline starts with its filter type (none)
        for x in range(width):
            ridge = height * (0.68 + 0.12 * ((x - width / 2) / width) ** 2 * 4)
            if y > ridge:
                row += bytes(hill)
            elif (x - sun_x) ** 2 + (y - sun_y) ** 2 < radius**2:
                row += b"\xff\xd8\x5a"
            else:
                row += sky
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )

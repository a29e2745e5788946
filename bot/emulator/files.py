"""Stored files: what the bot uploads and users send, with Telegram-like ids, paths and
limits, and the ``Document`` / ``PhotoSize`` objects that describe them."""

from __future__ import annotations

import mimetypes
import secrets
from typing import Any

from bot.emulator.models import ApiError, FileInfo, bad_request

UPLOAD_LIMIT = 50 * 1024 * 1024
PHOTO_LIMIT = 10 * 1024 * 1024
DOWNLOAD_LIMIT = 20 * 1024 * 1024
# A 1×1 PNG, for photos the test does not care about.
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
_ID_PREFIXES = {"photo": "AgAC", "document": "BQAC", "voice": "AwAC", "sticker": "CAAC"}
_FOLDERS = {"photo": "photos", "voice": "voice", "sticker": "stickers"}


class FileStore:
    """Every file the emulator holds, by ``file_id``."""

    def __init__(self) -> None:
        self.files: dict[str, FileInfo] = {}
        self._counter = 0

    def store(self, info: FileInfo, kind: str) -> FileInfo:
        """Give a new file its id, unique id and path, and keep it."""
        self._counter += 1
        n = self._counter
        info.file_id = f"{_ID_PREFIXES.get(kind, 'BQAC')}{n:06d}{secrets.token_urlsafe(24)}"
        info.file_unique_id = f"AQAD{n:06d}{secrets.token_hex(3)}"
        suffix = ""
        if kind == "photo":
            # Telegram re-encodes photos, so their file paths always end in .jpg.
            suffix = ".jpg"
        elif info.name and "." in info.name:
            suffix = "." + info.name.rsplit(".", 1)[1]
        elif info.mime_type:
            suffix = mimetypes.guess_extension(info.mime_type) or ""
        folder = _FOLDERS.get(kind, "documents")
        info.file_path = f"{folder}/file_{n}{suffix}"
        self.files[info.file_id] = info
        return info

    def resolve(self, value: FileInfo | str, kind: str) -> FileInfo:
        """The file a send method names: a new upload (stored now) or a known ``file_id``."""
        if isinstance(value, str):
            if value.startswith(("http://", "https://")):
                # The emulator never fetches URLs; a test must upload or reuse a file_id.
                raise bad_request("failed to get HTTP URL content")
            existing = self.files.get(value)
            if existing is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
            return existing
        if not value.data:
            raise bad_request("file must be non-empty")
        limit = PHOTO_LIMIT if kind == "photo" else UPLOAD_LIMIT
        if value.size > limit:
            raise ApiError(413, "Request Entity Too Large")
        if kind == "photo":
            value.width, value.height = image_size(value.data)
            value.mime_type = "image/png" if value.data.startswith(b"\x89PNG") else "image/jpeg"
        return self.store(value, kind)

    def by_path(self, file_path: str) -> FileInfo | None:
        """The file served at ``/file/bot<token>/<file_path>``."""
        return next((f for f in self.files.values() if f.file_path == file_path), None)


def document_payload(info: FileInfo) -> dict[str, Any]:
    """The ``Document`` object of a file."""
    payload: dict[str, Any] = {
        "file_id": info.file_id,
        "file_unique_id": info.file_unique_id,
        "file_size": info.size,
    }
    if info.name:
        payload["file_name"] = info.name
    if info.mime_type:
        payload["mime_type"] = info.mime_type
    return payload


def photo_size(info: FileInfo) -> dict[str, Any]:
    """The ``PhotoSize`` object of a photo (the emulator keeps one size)."""
    return {
        "file_id": info.file_id,
        "file_unique_id": info.file_unique_id,
        "file_size": info.size,
        "width": info.width or 0,
        "height": info.height or 0,
    }


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG or JPEG; (0, 0) when unknown (the emulator stays lenient)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            length = int.from_bytes(data[i + 2 : i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(
                    data[i + 5 : i + 7], "big"
                )
            i += 2 + length
    return 0, 0

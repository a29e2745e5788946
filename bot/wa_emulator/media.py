"""Stored media: what customers send (the webhook carries its id, ``mime_type`` and
``sha256``) and what the bot uploads. Downloading is Meta's two steps: ``GET
/{version}/{media_id}`` gives a URL, and a GET of that URL (with the same bearer token)
gives the bytes."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field

from bot.wa_emulator.models import MediaFile

DOWNLOAD_PATH = "/whatsapp_business/attachments/"
# A 1×1 PNG, the default picture a customer sends.
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
# A tiny WebP, the default sticker.
TINY_WEBP = base64.b64decode("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")


@dataclass
class MediaStore:
    """Media by id."""

    files: dict[str, MediaFile] = field(default_factory=dict)

    def add(self, data: bytes, mime_type: str) -> MediaFile:
        """Store bytes; return the file with a new numeric id, as Meta's media ids are."""
        media_id = str(10**15 + secrets.randbelow(9 * 10**15))
        digest = hashlib.sha256(data).digest()
        media = MediaFile(
            id=media_id,
            data=data,
            mime_type=mime_type,
            sha256_hex=digest.hex(),
            sha256_b64=base64.b64encode(digest).decode(),
        )
        self.files[media_id] = media
        return media

    def get(self, media_id: str) -> MediaFile | None:
        """A stored file."""
        return self.files.get(media_id)

    def info(self, media: MediaFile, base: str) -> dict[str, object]:
        """The answer of ``GET /{version}/{media_id}``; ``base`` is ``http://host:port``."""
        return {
            "url": f"{base}{DOWNLOAD_PATH}?mid={media.id}&ext={secrets.randbelow(10**10)}"
            f"&hash={secrets.token_urlsafe(12)}",
            "mime_type": media.mime_type,
            "sha256": media.sha256_hex,
            "file_size": len(media.data),
            "id": media.id,
            "messaging_product": "whatsapp",
        }

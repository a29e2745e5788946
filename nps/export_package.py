"""Fitting an export file under Telegram's upload limit: zip it, then split the zip."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

__all__ = ["TELEGRAM_UPLOAD_LIMIT", "package_for_upload"]

#: Largest file a bot may send through the Telegram Bot API.
TELEGRAM_UPLOAD_LIMIT = 50 * 1024 * 1024
_COPY_CHUNK = 1024 * 1024


def package_for_upload(path: Path, limit_bytes: int = TELEGRAM_UPLOAD_LIMIT) -> list[Path]:
    """Return files to send for ``path``, each at most ``limit_bytes`` (Telegram's 50 MB cap).

    * Within the limit: ``[path]`` unchanged.
    * Otherwise the file is compressed to ``<name>.zip`` (deflate); if that fits: ``[zip]``.
    * Otherwise the zip is cut into byte-exact parts ``<name>.zip.001``, ``.002``, ... and the
      zip itself is removed. 7-Zip opens ``.zip.001`` directly and joins the parts; elsewhere
      ``cat name.zip.0* > name.zip`` (or ``copy /b`` on Windows) restores the zip.

    Nothing is ever truncated. Blocking file work: call it via ``asyncio.to_thread``.
    """
    if limit_bytes < 1:
        raise ValueError("limit_bytes must be positive")
    if path.stat().st_size <= limit_bytes:
        return [path]

    archive = path.with_name(path.name + ".zip")
    # ZipFile.write streams the file in chunks, so memory stays flat for any size.
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        zf.write(path, arcname=path.name)
    size = archive.stat().st_size
    if size <= limit_bytes:
        return [archive]

    count = -(-size // limit_bytes)
    digits = max(3, len(str(count)))
    parts: list[Path] = []
    try:
        with archive.open("rb") as src:
            for index in range(1, count + 1):
                part = archive.with_name(f"{archive.name}.{index:0{digits}d}")
                parts.append(part)
                with part.open("wb") as dst:
                    _copy_exactly(src, dst, min(limit_bytes, size - (index - 1) * limit_bytes))
    except BaseException:
        for part in parts:
            part.unlink(missing_ok=True)
        raise
    finally:
        archive.unlink(missing_ok=True)
    return parts


def _copy_exactly(src: Any, dst: Any, length: int) -> None:
    """Copy exactly ``length`` bytes from one binary file to another in bounded chunks."""
    remaining = length
    while remaining:
        chunk = src.read(min(_COPY_CHUNK, remaining))
        if not chunk:
            raise OSError("archive shrank while it was being split")
        dst.write(chunk)
        remaining -= len(chunk)

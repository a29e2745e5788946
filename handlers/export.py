"""`/export`: every answer of a survey and period as an XLSX workbook (default) or CSV file.

The handler only parses the arguments and says "Preparing…"; the file is written by a
deferred job after the handler's transaction has committed, so a large export never holds
a write lock. The job reads the figures through a snapshot and streams the answers through
its own read session (storage/streams.py) into a temporary file, in constant memory. For
CSV the database formats every cell (`csv_query`) and the driver's rows go straight to the
csv module; XLSX needs typed values and reads dicts. The file's contents:
handlers/export_file.py (answers) and handlers/export_summary.py (the Summary sheet).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from handlers.context import UpdateContext
from handlers.events import Command, IncomingMessage
from handlers.export_file import write_export
from handlers.export_summary import ExportSource, withheld
from handlers.port import Deferred, Outbox, Reader
from handlers.report_kinds import scope_kind
from handlers.stats import report_args
from handlers.texts import TextsLike
from nps.anonymity import DEFAULT_MIN_GROUP
from nps.exports import TELEGRAM_UPLOAD_LIMIT, package_for_upload
from nps.nps_report import number, scope_title
from nps.scope import Scope
from nps.theme_index import refresh
from storage.store import Store

log = logging.getLogger(__name__)

# XLSX by default: it carries the Summary sheet and opens correctly in every Excel locale
# (a comma-separated file splits into columns only where "," is the list separator).
DEFAULT_FORMAT = "xlsx"
_FORMAT_WORDS = {"xlsx": "xlsx", "excel": "xlsx", "csv": "csv"}
# Formats people ask for that we do not produce: answered with the choice we offer,
# rather than "there is no survey 'pdf'".
_OTHER_FORMATS = frozenset(
    {"xls", "xlsm", "ods", "pdf", "json", "tsv", "txt", "html", "doc", "docx", "zip"}
)
# Telegram captions hold 1024 characters; a long survey name must not push the rest out.
_TITLE_LIMIT = 300
# Answers /export reads the themes of itself (~0.3 s); the background job reads the rest.
REFRESH_BEFORE_EXPORT = 3000


def export_filename(scope: Scope, fmt: str) -> str:
    """`nps-delivery-2026-10-23..2026-11-22.xlsx`, or `nps-all-…` for every survey."""
    if scope.all_surveys and len(scope.surveys) != 1:
        name = "all"
    else:
        name = "-".join(s.slug for s in scope.surveys)
    # Slugs are deep-link safe already; this only guards against hand-made ones.
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", name)[:60] or "survey"
    return f"nps-{name}-{scope.period.key}.{fmt}"


def _export_folder() -> Path:
    """A private (0700) folder for export files, reused by every export of this user.

    The pipeline deletes the files we register with `remove_after`, but not folders, so
    exports share one folder instead of leaving an empty one each. Exports hold personal
    data: if the folder is not a private directory of ours, a fresh one is made instead.
    """
    uid = os.getuid() if hasattr(os, "getuid") else 0
    folder = Path(tempfile.gettempdir()) / f"npsbot-exports-{uid}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.lstat()
    private = stat.S_ISDIR(info.st_mode) and not info.st_mode & 0o077
    if not private or (hasattr(os, "getuid") and info.st_uid != uid):
        return Path(tempfile.mkdtemp(prefix="npsbot-exports-"))
    return folder


@dataclass
class PreparingNote:
    """The id of the "⏳ Preparing…" message, learnt when it was sent (live path only)."""

    message_id: int | None = None

    async def remember(self, store: Store, message_id: int) -> None:
        """The note's after-send job (it runs before the deferred export)."""
        self.message_id = message_id


def export_job(
    chat_id: int,
    scope: Scope,
    fmt: str,
    texts: TextsLike,
    now: datetime,
    *,
    upload_limit: int = TELEGRAM_UPLOAD_LIMIT,
    min_group: int = DEFAULT_MIN_GROUP,
    preparing: PreparingNote | None = None,
) -> Deferred:
    """The deferred work of one /export: write, package for Telegram, queue the file(s),
    then delete the "Preparing…" note (`preparing`): the file replaces it."""
    # Worked out now, while the handler's session is open: the job runs after it closed.
    filename = export_filename(scope, fmt)
    kind = scope_kind(scope)  # "CSAT · …" for a CSAT survey's file
    title = texts.plain(f"{kind}_title", title=scope_title(scope, texts))[:_TITLE_LIMIT]

    async def run(reader: Reader, out: Outbox) -> None:
        """Writes the file and sends it (zipped or in parts above 50 MB); the note goes."""
        await write_and_send(reader, out)
        if preparing is not None and preparing.message_id is not None:
            out.delete(chat_id, preparing.message_id)

    async def write_and_send(reader: Reader, out: Outbox) -> None:
        if not isinstance(reader, ExportSource):
            raise TypeError(f"exports need a database with streaming sessions, got {reader!r}")
        try:
            folder = _export_folder()
            handle, name = tempfile.mkstemp(prefix="export-", suffix=f".{fmt}", dir=folder)
            os.close(handle)
            path = Path(name)
            # Removed after the upload, or at once when anything fails (the zip may not exist).
            out.remove_after(path)
            out.remove_after(path.with_name(path.name + ".zip"))
            count = await write_export(
                reader, scope, fmt, texts, path, exported_at=now, min_group=min_group
            )
            hidden = not count and await withheld(reader, scope, min_group)
            # Zipping a large file is blocking work: keep the event loop free for others.
            parts = await asyncio.to_thread(package_for_upload, path, upload_limit)
        except Exception:
            log.exception("export for chat %s failed", chat_id)
            out.send(chat_id, texts("export_failed"))
            return
        if count:
            caption = texts("export_caption", title=title, answers=number(count))
        else:
            caption = texts("export_caption_empty", title=title)
        if hidden:
            caption += "\n" + texts("enps_hidden", min=min_group)
        for index, part in enumerate(parts, 1):
            out.remove_after(part)
            note = ""
            if len(parts) > 1:
                note = "\n" + texts("export_caption_part", part=index, parts=len(parts))
            elif part != path:
                note = "\n" + texts("export_caption_zip")
            # The part's name on disk is unique; the user sees ours plus ".zip" / ".zip.001".
            shown = filename + part.name[len(path.name) :]
            out.document(chat_id, shown, part, caption + note)

    return run


async def on_export(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Sends every answer of a survey and period as an XLSX (default) or CSV file."""
    for token in command.args.lower().split():
        if token.lstrip(".") in _OTHER_FORMATS:
            ctx.out.send(event.chat_id, ctx.texts("export_bad_format", text=token))
            return
    args = await report_args(event, command, ctx, options={"format": tuple(_FORMAT_WORDS)})
    if args is None:
        return
    fmt = _FORMAT_WORDS[args.options.get("format", DEFAULT_FORMAT)]
    # The answers' themes (the Themes column and table) current before the file is read;
    # after a dictionary edit over many answers the background job reads the rest.
    await refresh(ctx.store, ctx.now, limit=REFRESH_BEFORE_EXPORT)
    title = scope_title(args.scope, ctx.texts)[:_TITLE_LIMIT]
    # Said at once: a big export takes a while, and silence looks like a broken bot. The
    # note is deleted once the file (or the failure) is there.
    preparing = PreparingNote()
    ctx.out.send(
        event.chat_id,
        ctx.texts("export_preparing", format=fmt.upper(), title=title),
        after=preparing.remember,
    )
    minimum = ctx.config.enps_min_group
    ctx.out.defer(
        export_job(
            event.chat_id,
            args.scope,
            fmt,
            ctx.texts,
            ctx.now,
            min_group=minimum,
            preparing=preparing,
        )
    )

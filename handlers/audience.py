"""Audience segments as admins type them, and `/import` of a contact list.

Segments (`/broadcast nps lang:ru detractors`): `lang:XX`, `source:X`, `agent:X`,
`promoters` / `passives` / `detractors` (the group of the person's last score), `never`
(never answered); several terms narrow the audience together, nothing means everyone.

`/import`: the admin sends `/import`, then pastes the list as the next message (or writes
the rows after the command, on the same line or the next ones); its format (Telegram ids,
phone numbers, attributes) is handlers/contact_lists.py's. The list may also come as a
.csv file: captioned /import, or as the message after /import. The file is downloaded
after the handler's transaction (a `Download` action, handlers/port.py) and imported in a
transaction of its own, with the same report.
"""

from __future__ import annotations

import csv
import re
from dataclasses import replace
from datetime import timedelta

from handlers.access import refusal_key, role_of
from handlers.contact_lists import (  # noqa: F401 - parse_contacts: its tests import it here
    TAG,
    parse_contacts,
    parse_contacts_yielding,
)
from handlers.context import UpdateContext
from handlers.events import Attachment, Command, IncomingMessage
from handlers.port import Outbox, SendText
from handlers.roles import Role
from storage.repos.audience import GROUPS, Segment
from storage.store import Store

# How long after /import the next message is taken as the list.
IMPORT_WINDOW = timedelta(minutes=15)
# The most a bot may download from Telegram; far more than MAX_ROWS lines need.
MAX_FILE_BYTES = 20 * 1024 * 1024
# A file is taken by its extension; without one, by its MIME type.
FILE_SUFFIXES = (".csv", ".tsv", ".txt")
FILE_TYPES = ("text/csv", "text/plain", "text/tab-separated-values", "application/csv")
# Invalid lines listed by number in the report; the rest are counted.
SHOWN_PROBLEMS = 10
_TAG = TAG
GROUP_WORDS = {
    "promoters": "promoter",
    "promoter": "promoter",
    "passives": "passive",
    "passive": "passive",
    "detractors": "detractor",
    "detractor": "detractor",
}
NEVER_WORDS = ("never", "never-answered", "never_answered")
EVERYONE_WORDS = ("everyone", "all")


class SegmentError(ValueError):
    """A segment term the bot does not understand; `term` is what the admin typed."""

    def __init__(self, term: str) -> None:
        super().__init__(term)
        self.term = term


def parse_segment(text: str) -> Segment:
    """Reads `lang:ru source:shop detractors`-style terms; raises SegmentError."""
    values: dict[str, object] = {}

    def put(key: str, value: object, term: str) -> None:
        if key in values and values[key] != value:
            raise SegmentError(term)  # two different values for one attribute
        values[key] = value

    for term in text.split():
        lowered = term.lower()
        name, sep, value = term.partition(":")
        if lowered in EVERYONE_WORDS:
            continue
        if lowered in GROUP_WORDS:
            put("group", GROUP_WORDS[lowered], term)
        elif lowered in NEVER_WORDS:
            put("never_answered", True, term)
        elif sep and name.lower() in ("lang", "language") and re.match(r"^[A-Za-z]{2}$", value):
            put("language", value.lower(), term)
        elif sep and name.lower() in ("source", "src") and _TAG.match(value):
            put("source", value, term)
        elif sep and name.lower() == "agent" and _TAG.match(value):
            put("agent", value, term)
        else:
            raise SegmentError(term)
    if "group" in values and values.get("never_answered"):
        raise SegmentError("never")  # nobody both has a last score and never answered
    return Segment(**values)  # type: ignore[arg-type]


def describe_segment(segment: Segment) -> str:
    """The canonical text of a segment ("" for everyone); parse_segment reads it back."""
    terms = []
    if segment.language:
        terms.append(f"lang:{segment.language}")
    if segment.source:
        terms.append(f"source:{segment.source}")
    if segment.agent:
        terms.append(f"agent:{segment.agent}")
    if segment.group:
        terms.append(f"{segment.group}s")
    if segment.never_answered:
        terms.append("never")
    return " ".join(terms)


assert set(GROUPS) == set(GROUP_WORDS.values())


# --- /import ------------------------------------------------------------------------------


async def on_import(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Imports a contact list pasted after /import (or a file captioned /import), or asks
    for it as the next message."""
    if event.document is not None:
        await _import_file(event, event.document, ctx)
        return
    if command.args.strip():
        await _import(event, command.args, ctx)
        return
    await ctx.store.contacts.request_import(event.sender.id, ctx.now)
    ctx.out.send(event.chat_id, ctx.texts("imp_prompt"))


def _inline_list(text: str | None) -> str | None:
    """The rows of "/import" followed by a line break (not parsed as a command), else None."""
    head, newline, rest = (text or "").partition("\n")
    name = head.strip().split("@")[0].lower()
    return rest if newline and name == "/import" else None


async def intercept_import(event: IncomingMessage, ctx: UpdateContext) -> bool:
    """Takes the admin's message after /import (or "/import" + rows) as the contact list."""
    if not event.private:
        return False
    rows = _inline_list(event.text) if event.kind == "text" else None
    if rows is not None:
        if (have := await role_of(ctx, event.sender.id)) < Role.ADMIN:
            ctx.out.send(event.chat_id, ctx.texts(refusal_key(have, Role.ADMIN), command="import"))
        else:
            await _import(event, rows, ctx)
        return True
    if not ctx.pending.import_request:
        return False
    # No request (another replica took it meanwhile) counts as not fresh.
    fresh = await ctx.store.contacts.take_import_request(event.sender.id, ctx.now - IMPORT_WINDOW)
    if not fresh or await role_of(ctx, event.sender.id) < Role.ADMIN:
        return False  # an old or revoked request: the message is an ordinary one
    if event.document is not None:
        if not await _import_file(event, event.document, ctx):
            await ctx.store.contacts.request_import(event.sender.id, ctx.now)  # try again
        return True
    if event.kind != "text" or not (event.text or "").strip():
        await ctx.store.contacts.request_import(event.sender.id, ctx.now)
        ctx.out.send(event.chat_id, ctx.texts("imp_text_only"))
        return True
    await _import(event, event.text or "", ctx)
    return True


async def cancel_import(event: IncomingMessage, ctx: UpdateContext) -> bool:
    """/cancel while the bot waits for a contact list."""
    if not await ctx.store.contacts.has_import_request(event.sender.id):
        return False
    await ctx.store.contacts.take_import_request(event.sender.id, ctx.now)
    ctx.out.send(event.chat_id, ctx.texts("imp_cancelled"))
    return True


def _is_list_file(document: Attachment) -> bool:
    """True for a .csv (or .tsv, .txt) file; Excel workbooks and others are refused."""
    name = (document.file_name or "").lower()
    if "." in name:
        return name.endswith(FILE_SUFFIXES)
    return (document.mime_type or "").split(";")[0].strip().lower() in FILE_TYPES


def _decode(data: bytes) -> str:
    """The file's text: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1251."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1251", errors="replace")  # Excel's CSV on Cyrillic Windows


async def _import_file(event: IncomingMessage, document: Attachment, ctx: UpdateContext) -> bool:
    """Queues the download and import of a CSV file; False when it was refused at once."""
    texts = ctx.texts
    if not _is_list_file(document):
        ctx.out.send(event.chat_id, texts("imp_not_csv"))
        return False
    limit_mb = MAX_FILE_BYTES // (1024 * 1024)
    if document.size is not None and document.size > MAX_FILE_BYTES:
        ctx.out.send(event.chat_id, texts("imp_too_big", mb=limit_mb))
        return False

    async def then(data: bytes, store: Store, out: Outbox) -> None:
        # Runs after the download, in a transaction of its own (bot/pipeline.py).
        later = replace(ctx, store=store, out=out)
        text = _decode(data)
        if "\x00" in text:
            out.send(event.chat_id, texts("imp_not_csv"))  # a binary file named .csv
            return
        try:
            await _import(event, text, later)
        except csv.Error:
            out.actions.clear()
            out.send(event.chat_id, texts("imp_not_csv"))

    failed = SendText(event.chat_id, texts("imp_download_failed", mb=limit_mb))
    ctx.out.download(document.file_id, MAX_FILE_BYTES, then, if_failed=failed)
    return True


async def _import(event: IncomingMessage, text: str, ctx: UpdateContext) -> None:
    """Parses, stores and reports (in steps that leave the event loop to other chats)."""
    parsed = await parse_contacts_yielding(text)
    texts = ctx.texts
    if not parsed.rows and not parsed.problems:
        ctx.out.send(event.chat_id, texts("imp_empty"))
        return
    outcome = await ctx.store.contacts.import_contacts(parsed.rows, event.sender.id, ctx.now)
    # After the contact rows: a number for a Telegram id that never pressed Start waits there.
    phones = await ctx.store.phones.import_rows(parsed.rows, ctx.now)
    lines = [
        texts("imp_done", rows=parsed.lines),
        texts(
            "imp_counts",
            added=outcome.added,
            updated=outcome.updated,
            unchanged=outcome.unchanged,
        ),
    ]
    if parsed.with_phone:
        lines.append(
            texts(
                "ph_imp_counts",
                linked=phones.linked,
                waiting=phones.waiting,
                phone_only=phones.phone_only,
                conflicts=phones.conflicts,
            )
        )
    if parsed.duplicates:
        lines.append(texts("imp_duplicates", count=parsed.duplicates))
    if parsed.problems:
        lines.append(texts("imp_invalid", count=len(parsed.problems)))
        for problem in parsed.problems[:SHOWN_PROBLEMS]:
            reason = texts.plain(problem.key, **problem.values)
            lines.append(texts("imp_problem_line", line=problem.line, reason=reason))
        if len(parsed.problems) > SHOWN_PROBLEMS:
            lines.append(texts("imp_more_problems", count=len(parsed.problems) - SHOWN_PROBLEMS))
    if parsed.with_telegram_id:
        total = parsed.with_telegram_id
        lines.append(texts("imp_started", started=outcome.started, total=total))
    ctx.out.send(event.chat_id, "\n".join(lines))

"""Audience segments as admins type them, and `/import` of a contact list.

Segments (`/broadcast nps lang:ru detractors`): `lang:XX`, `source:X`, `agent:X`,
`promoters` / `passives` / `detractors` (the group of the person's last score), `never`
(never answered); several terms narrow the audience together, nothing means everyone.

`/import`: the admin sends `/import`, then pastes the list as the next message (or writes
the rows after the command, on the same line or the next ones). One person per line —
Telegram user id, then optional language, source, agent and name — separated by commas,
semicolons or tabs; a header line naming these columns may reorder them. The list may
also come as a .csv file: captioned /import, or as the message after /import. The file is
downloaded after the handler's transaction (a `Download` action, handlers/port.py) and
imported in a transaction of its own, with the same report.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta

from handlers.access import refusal_key, role_of
from handlers.context import UpdateContext
from handlers.events import Attachment, Command, IncomingMessage
from handlers.port import Outbox, SendText
from handlers.roles import Role
from storage.repos.audience import GROUPS, Segment
from storage.repos.contacts import ContactRow
from storage.store import Store

# How long after /import the next message is taken as the list.
IMPORT_WINDOW = timedelta(minutes=15)
MAX_ROWS = 100_000
# The most a bot may download from Telegram; far more than MAX_ROWS lines need.
MAX_FILE_BYTES = 20 * 1024 * 1024
# A file is taken by its extension; without one, by its MIME type.
FILE_SUFFIXES = (".csv", ".tsv", ".txt")
FILE_TYPES = ("text/csv", "text/plain", "text/tab-separated-values", "application/csv")
# Invalid lines listed by number in the report; the rest are counted.
SHOWN_PROBLEMS = 10
# Lines parsed between two pauses that let other updates run (~10 ms of work), and how much
# of the text the delimiter is guessed from.
PARSE_STEP = 2_000
SAMPLE_CHARS = 64 * 1024
COLUMNS = ("user_id", "language", "source", "agent", "name")
HEADER_NAMES = {
    "id": "user_id",
    "user_id": "user_id",
    "userid": "user_id",
    "telegram_id": "user_id",
    "telegram id": "user_id",
    "language": "language",
    "lang": "language",
    "source": "source",
    "agent": "agent",
    "name": "name",
    "first_name": "name",
}
_TAG = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_LANGUAGE = re.compile(r"^([a-z]{2})(?:[-_][a-z0-9]{2,8})?$")
_USER_ID = re.compile(r"^\d{1,15}$")
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


# --- contact lists ------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """An invalid line: its number and the catalog key (with values) saying why."""

    line: int
    key: str
    values: dict[str, str] = field(default_factory=dict)


@dataclass
class ParsedList:
    """A contact list read from text: valid rows, duplicates dropped, problems by line."""

    rows: list[ContactRow] = field(default_factory=list)
    duplicates: int = 0
    problems: list[Problem] = field(default_factory=list)
    lines: int = 0  # data lines read (blank lines and the header not counted)


def _delimiter(text: str) -> str:
    """Comma, semicolon or tab, whichever the first lines use most."""
    sample = "\n".join(text[:SAMPLE_CHARS].splitlines()[:20])
    counts = {d: sample.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _header(cells: list[str]) -> list[str] | None:
    """The column order a header line names, or None when the line is data."""
    names = [HEADER_NAMES.get(c.strip().lower()) for c in cells]
    if cells and all(names) and "user_id" in names and len(set(names)) == len(names):
        return [n for n in names if n]
    return None


def parse_contacts(text: str) -> ParsedList:
    """Reads a contact list (CSV-like text); never raises on bad input, reports it."""
    parsed = ParsedList()
    for _ in _parse_steps(text, parsed):
        pass
    return parsed


async def parse_contacts_yielding(text: str) -> ParsedList:
    """parse_contacts for long lists: lets other chats' updates run every PARSE_STEP lines
    (100,000 lines parsed in one go held the event loop for over a second)."""
    parsed = ParsedList()
    for _ in _parse_steps(text, parsed):
        await asyncio.sleep(0)
    return parsed


def _parse_steps(text: str, parsed: ParsedList) -> Iterator[None]:
    """Parses into `parsed`, pausing (a yield) after every PARSE_STEP lines."""
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
    columns: list[str] = list(COLUMNS)
    seen: set[int] = set()
    first = True
    for cells in reader:
        line = reader.line_num
        if line % PARSE_STEP == 0:
            yield
        cells = [c.strip() for c in cells]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if first:
            first = False
            header = _header(cells)
            if header is not None:
                columns = header
                continue
        parsed.lines += 1
        if parsed.lines > MAX_ROWS:
            parsed.problems.append(Problem(line, "imp_too_many", {"limit": str(MAX_ROWS)}))
            break
        row, problem = _row(cells, columns, line)
        if problem is not None:
            parsed.problems.append(problem)
        elif row is not None:
            if row.user_id in seen:
                parsed.duplicates += 1
                continue
            seen.add(row.user_id)
            parsed.rows.append(row)


def _row(
    cells: list[str], columns: list[str], line: int
) -> tuple[ContactRow | None, Problem | None]:
    """One data line as a contact, or the problem with it."""
    if len(cells) > len(columns) and any(cells[len(columns) :]):
        return None, Problem(line, "imp_bad_columns", {"count": str(len(columns))})
    values = dict(zip(columns, cells, strict=False))
    raw_id = values.get("user_id", "")
    if not _USER_ID.match(raw_id) or int(raw_id) <= 0:
        return None, Problem(line, "imp_bad_id", {"value": raw_id[:40]})
    language = values.get("language", "").lower() or None
    if language is not None:
        match = _LANGUAGE.match(language)
        if match is None:
            return None, Problem(line, "imp_bad_language", {"value": language[:20]})
        language = match.group(1)
    tags: dict[str, str | None] = {}
    for tag in ("source", "agent"):
        value = values.get(tag, "") or None
        if value is not None and not _TAG.match(value):
            return None, Problem(line, f"imp_bad_{tag}", {"value": value[:40]})
        tags[tag] = value
    name = values.get("name", "") or None
    if name is not None and len(name) > 200:
        return None, Problem(line, "imp_bad_name", {})
    return ContactRow(int(raw_id), language, tags["source"], tags["agent"], name), None


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
    lines = [
        texts("imp_done", rows=parsed.lines),
        texts(
            "imp_counts",
            added=outcome.added,
            updated=outcome.updated,
            unchanged=outcome.unchanged,
        ),
    ]
    if parsed.duplicates:
        lines.append(texts("imp_duplicates", count=parsed.duplicates))
    if parsed.problems:
        lines.append(texts("imp_invalid", count=len(parsed.problems)))
        for problem in parsed.problems[:SHOWN_PROBLEMS]:
            reason = texts.plain(problem.key, **problem.values)
            lines.append(texts("imp_problem_line", line=problem.line, reason=reason))
        if len(parsed.problems) > SHOWN_PROBLEMS:
            lines.append(texts("imp_more_problems", count=len(parsed.problems) - SHOWN_PROBLEMS))
    if parsed.rows:
        lines.append(texts("imp_started", started=outcome.started, total=len(parsed.rows)))
    ctx.out.send(event.chat_id, "\n".join(lines))

"""Contact lists as admins paste or upload them for `/import` (handlers/audience.py): read
into valid rows, duplicates and problems by line.

One person per line — Telegram user id, then optional language, source, agent and name —
separated by commas, semicolons or tabs; a header line naming these columns may reorder
them, and may add a `phone` column. A number in the first column that starts with "+"
is a phone number instead of a Telegram id. Phone numbers are kept in E.164 and must carry
their country code (nps/phones.py); a number may appear on one line only.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from nps.phones import PhoneError, normalize_phone
from storage.repos.contacts import ContactRow

MAX_ROWS = 100_000
# Lines parsed between two pauses that let other updates run (~5 ms of work on this
# machine; a slower or busier one still stays far under the 100 ms budget), and how much
# of the text the delimiter is guessed from.
PARSE_STEP = 500
SAMPLE_CHARS = 64 * 1024
# The columns of a list without a header (a phone column needs one, or a "+" number first).
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
    "phone": "phone",
    "phone_number": "phone",
    "phone number": "phone",
    "telephone": "phone",
    "tel": "phone",
    "mobile": "phone",
}
# A header must name at least one of these: how the line's person is found.
KEY_COLUMNS = ("user_id", "phone")
TAG = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_LANGUAGE = re.compile(r"^([a-z]{2})(?:[-_][a-z0-9]{2,8})?$")
_USER_ID = re.compile(r"^\d{1,15}$")


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
    # Counted while parsing: a second pass over 100,000 rows would hold the event loop.
    with_telegram_id: int = 0
    with_phone: int = 0


def _delimiter(text: str) -> str:
    """Comma, semicolon or tab, whichever the first lines use most."""
    sample = "\n".join(text[:SAMPLE_CHARS].splitlines()[:20])
    counts = {d: sample.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _header(cells: list[str]) -> list[str] | None:
    """The column order a header line names, or None when the line is data."""
    names = [HEADER_NAMES.get(c.strip().lower()) for c in cells]
    keyed = any(key in names for key in KEY_COLUMNS)
    if cells and all(names) and keyed and len(set(names)) == len(names):
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
    seen: set[int | str] = set()
    phones: dict[str, int] = {}  # number → the line that has it
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
            key = row.user_id if row.user_id is not None else row.phone
            assert key is not None  # _row refuses a line with neither
            if key in seen:
                parsed.duplicates += 1
                continue
            if row.phone is not None and row.phone in phones:
                # One number, one person: two people with it would make the import guess.
                values = {"value": row.phone, "line": str(phones[row.phone])}
                parsed.problems.append(Problem(line, "ph_imp_repeated", values))
                continue
            seen.add(key)
            if row.phone is not None:
                phones[row.phone] = line
                parsed.with_phone += 1
            if row.user_id is not None:
                parsed.with_telegram_id += 1
            parsed.rows.append(row)


def _row(
    cells: list[str], columns: list[str], line: int
) -> tuple[ContactRow | None, Problem | None]:
    """One data line as a contact, or the problem with it."""
    if len(cells) > len(columns) and any(cells[len(columns) :]):
        return None, Problem(line, "imp_bad_columns", {"count": str(len(columns))})
    values = dict(zip(columns, cells, strict=False))
    raw_id, raw_phone = values.get("user_id", ""), values.get("phone", "")
    if raw_id.startswith("+") and not raw_phone:  # a phone number in the first column
        raw_id, raw_phone = "", raw_id
    user_id = None
    if raw_id or not raw_phone:
        if not _USER_ID.match(raw_id) or int(raw_id) <= 0:
            key = "imp_bad_id" if raw_id or "phone" not in columns else "ph_imp_no_key"
            return None, Problem(line, key, {"value": raw_id[:40]})
        user_id = int(raw_id)
    phone = None
    if raw_phone:
        try:
            phone = normalize_phone(raw_phone)
        except PhoneError as error:
            return None, Problem(line, f"ph_imp_{error.reason}", {"value": raw_phone[:40]})
    language = values.get("language", "").lower() or None
    if language is not None:
        match = _LANGUAGE.match(language)
        if match is None:
            return None, Problem(line, "imp_bad_language", {"value": language[:20]})
        language = match.group(1)
    tags: dict[str, str | None] = {}
    for tag in ("source", "agent"):
        value = values.get(tag, "") or None
        if value is not None and not TAG.match(value):
            return None, Problem(line, f"imp_bad_{tag}", {"value": value[:40]})
        tags[tag] = value
    name = values.get("name", "") or None
    if name is not None and len(name) > 200:
        return None, Problem(line, "imp_bad_name", {})
    row = ContactRow(user_id, language, tags["source"], tags["agent"], name, phone)
    return row, None

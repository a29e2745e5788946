"""Export cell values: the columns' shape and text made safe for spreadsheets.

Every text cell is cleaned of characters XML forbids. CSV text is neutralised against formula
injection (OWASP "CSV injection"): a survey answer such as ``=HYPERLINK(...)`` must never run
in the owner's Excel. XLSX text goes into typed string cells, which are never evaluated, so it
is kept exactly as typed ("-", "+1 faster", "@everything"), with no apostrophe.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from numbers import Real
from typing import Any, Literal

__all__ = ["FORMULA_PREFIXES", "Column", "ColumnKind", "Row", "SummaryTable", "neutralize"]

ColumnKind = Literal["text", "int", "float", "datetime", "date"]
Row = Mapping[str, Any]

# Excel's cell limit is 32,767 UTF-16 code units; longer text would be cut by xlsxwriter
# without a trace, so we cut it ourselves and leave a visible marker.
_XLSX_MAX_CELL_UNITS = 32_767
_TRUNCATION_MARK = "…"

# OWASP CSV-injection list: cells starting with these are taken as formulas (or DDE) by Excel
# and LibreOffice; tab and CR are included because some importers strip them first.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Characters XML 1.0 forbids (C0 controls except tab/LF/CR, U+FFFE/U+FFFF) and lone surrogates,
# which cannot be encoded as UTF-8 at all.
_ILLEGAL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_REPLACEMENT = "\ufffd"


@dataclass(frozen=True, slots=True)
class Column:
    """One exported column: the row-dict key, the header title and the value kind."""

    key: str
    title: str
    kind: ColumnKind = "text"


@dataclass(frozen=True, slots=True)
class SummaryTable:
    """A small titled table for the Summary sheet (e.g. NPS by agent)."""

    title: str
    header: list[str]
    rows: list[list[str | int | float | None]] = field(default_factory=list)


# --------------------------------------------------------------------------- cell values


def neutralize(value: str) -> str:
    """Prefix an apostrophe to text that a spreadsheet would evaluate as a formula."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def _clean_text(value: object) -> str:
    """Return a value as safe text: XML-illegal characters replaced, then neutralised."""
    if value.__class__ is str and value.isprintable():
        # Fast path (most cells): printable text has no control characters, no lone
        # surrogates and no U+FFFE/U+FFFF, so only the formula prefix needs checking.
        return "'" + value if value.startswith(FORMULA_PREFIXES) else value
    text = value if isinstance(value, str) else str(value)
    # Replace rather than strip: stripping could expose a formula prefix ("\x00=1" -> "=1")
    # and would hide that something was there. Cleaning first means neutralize sees the
    # final first character.
    return neutralize(_ILLEGAL_CHARS.sub(_REPLACEMENT, text))


def _xlsx_text(value: object) -> str:
    """Return a value as xlsx cell text: XML-illegal characters replaced, nothing prefixed.

    An xlsx string cell is never evaluated (we write it with write_string, and
    strings_to_formulas is off), so "=1+1", "-", "+1 faster" and "@everything" are kept
    exactly as typed; an apostrophe would only corrupt them. CSV has no cell types, so
    `_clean_text` keeps neutralising there.
    """
    if value.__class__ is str and value.isprintable():
        return value
    text = value if isinstance(value, str) else str(value)
    return _ILLEGAL_CHARS.sub(_REPLACEMENT, text)


def _fit_xlsx_cell(text: str) -> str:
    """Cut text to Excel's per-cell limit, marking the cut, so nothing is lost silently."""
    # A str can only exceed the UTF-16 limit if it is longer than half of it.
    if len(text) <= _XLSX_MAX_CELL_UNITS // 2:
        return text
    encoded = text.encode("utf-16-le")
    if len(encoded) // 2 <= _XLSX_MAX_CELL_UNITS:
        return text
    keep = (_XLSX_MAX_CELL_UNITS - len(_TRUNCATION_MARK)) * 2
    return encoded[:keep].decode("utf-16-le", errors="ignore") + _TRUNCATION_MARK


def _as_number(value: object) -> int | float | None:
    """Return a finite real number, or None when the value is not one."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    # Decimal (SQL NUMERIC) is not registered as a numbers.Real, so name it explicitly.
    if isinstance(value, Real | Decimal):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def _as_utc_naive(value: datetime) -> datetime:
    """Convert to naive UTC; naive input is taken to be UTC already (storage keeps UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value

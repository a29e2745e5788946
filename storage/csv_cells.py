"""CSV cells computed by the database: timestamps as UTC text, formula-like text prefixed,
each score's NPS group. SQLAlchemy's per-row processing cost more than everything else in
the CSV export, so that export has the database format its cells and reads them as the
driver returns them (storage/raw_rows.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, Text, case, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from storage.models import Survey
from storage.streams import EXPORTED_ID, RESPONSE_SOURCES, answers_query, column_source


class _UtcSeconds(FunctionElement[str]):
    """A stored naive-UTC timestamp as `YYYY-MM-DD HH:MM:SS` text, fractions cut off."""

    type = Text()
    name = "utc_seconds"
    inherit_cache = True


@compiles(_UtcSeconds, "sqlite")
def _utc_seconds_sqlite(element: _UtcSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' text.
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 19)"


@compiles(_UtcSeconds, "postgresql")
def _utc_seconds_postgresql(element: _UtcSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    # `timestamp without time zone`; to_char truncates (a cast to timestamp(0) would round).
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM-DD HH24:MI:SS')"


class _FirstCode(FunctionElement[int]):
    """The code point of a text's first character (NULL for NULL)."""

    type = Integer()
    name = "first_code"
    inherit_cache = True


@compiles(_FirstCode, "sqlite")
def _first_code_sqlite(element: _FirstCode, compiler: SQLCompiler, **kw: Any) -> str:
    return f"unicode({compiler.process(element.clauses, **kw)})"


@compiles(_FirstCode, "postgresql")
def _first_code_postgresql(element: _FirstCode, compiler: SQLCompiler, **kw: Any) -> str:
    # ascii() is the code point in UTF-8 databases; the characters asked about are ASCII.
    return f"ascii({compiler.process(element.clauses, **kw)})"


def utc_seconds(column: ColumnElement[Any] | QueryableAttribute[Any]) -> ColumnElement[str]:
    """A timestamp column as `YYYY-MM-DD HH:MM:SS` UTC text, computed by the database."""
    return _UtcSeconds(column)


def prefixed(
    text: ColumnElement[Any] | QueryableAttribute[Any], starts: Iterable[str], mark: str
) -> ColumnElement[str]:
    """`text` with `mark` in front when its first character is one of `starts`."""
    # A code-point comparison: measured twice as fast as substr(...) IN (...) on SQLite,
    # which allocates a string per cell.
    codes = sorted({ord(char) for char in starts})
    return case((_FirstCode(text).in_(codes), literal(mark, Text()) + text), else_=text)


# A SELECT of answers for open_rows, built here so that no caller needs SQLAlchemy's types.
AnswersQuery = Select[Any]


def csv_answers_query(
    columns: Iterable[tuple[str, str]],
    survey_ids: Sequence[int],
    start: datetime,
    end: datetime,
    *,
    group_of_score: Mapping[int, str],
    formula_prefixes: Iterable[str],
    group_by_kind: Mapping[str, Mapping[int, str]] | None = None,
) -> AnswersQuery:
    """The answers scored in [start, end) as CSV cells, computed by the database.

    `columns` are (streams.column_source key or "group", kind) pairs in the file's order: a
    "datetime" becomes `YYYY-MM-DD HH:MM:SS` UTC text, a "text" gets a leading `'` when it
    starts with one of `formula_prefixes` (the SQL twin of the domain's neutralize), "group"
    is the score's NPS group by `group_of_score` (or, for a survey kind in `group_by_kind`,
    by that kind's own mapping: CSAT and CES have other scales), "id" an anonymous
    answer's public id.
    """
    starts = tuple(formula_prefixes)

    def cell(key: str, kind: str) -> ColumnElement[Any]:
        if key == "group":
            score = RESPONSE_SOURCES["score"]
            default = case(dict(group_of_score), value=score)
            if not group_by_kind:
                return default
            # One CASE per kind, chosen by the survey's kind (joined in answers_query).
            by_kind = {
                name: case(dict(groups), value=score) for name, groups in group_by_kind.items()
            }
            return case(by_kind, value=Survey.kind, else_=default)
        if key == "id":
            return EXPORTED_ID  # an anonymous answer's random public id, never its row id
        column = column_source(key)
        if kind == "datetime":
            return utc_seconds(column)  # stored as naive UTC: the file's zone
        if kind == "text":
            return prefixed(column, starts, "'")
        return column.expression

    cells = [cell(key, kind).label(key) for key, kind in columns]
    return answers_query(cells, survey_ids, start, end)

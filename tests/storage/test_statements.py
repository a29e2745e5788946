"""Driver statements are compiled once per dialect from Core (storage/statements.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, select

from storage.models import Response
from storage.statements import Statement, same

_BY_PERSON = select(Response.id).where(
    Response.respondent_id == bindparam("person"),
    (Response.chat_id == bindparam("person")) | (Response.score == bindparam("score")),
)


def test_each_dialect_takes_the_arguments_in_its_own_order() -> None:
    statement = same(_BY_PERSON, "score", "person")
    # PostgreSQL numbers each parameter once; SQLite's `?` repeats a value used twice.
    assert "$1" in statement.postgresql.text and "?" not in statement.postgresql.text
    assert statement.postgresql.args((5, 77)) == (77, 5)
    assert statement.sqlite.text.count("?") == 3
    assert statement.sqlite.args((5, 77)) == (77, 77, 5)


def test_constants_of_the_construct_are_filled_in() -> None:
    statement = same(select(Response.id).where(Response.id == bindparam("id")).limit(1), "id")
    assert statement.postgresql.args((9,)) == (9, 1)
    assert statement.sqlite.args((9,))[:2] == (9, 1)


def test_parameters_must_be_declared_and_used() -> None:
    with pytest.raises(ValueError, match="not among the declared"):
        same(_BY_PERSON, "person")
    with pytest.raises(ValueError, match="never takes"):
        same(_BY_PERSON, "person", "score", "extra")


def test_a_postgresql_only_statement_refuses_to_run_on_sqlite() -> None:
    statement = Statement(lambda _dialect: _BY_PERSON, "person", "score", sqlite=False)
    assert statement.postgresql.args((77, 5)) == (77, 5)
    with pytest.raises(NotImplementedError, match="PostgreSQL-only"):
        statement.sqlite.args((77, 5))

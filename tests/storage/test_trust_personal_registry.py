"""Issue 9, item 14: every table is declared in storage/personal.py, and declared right.

The registry says which tables hold a person's data (and how /mydata shows and forgetting
erases them) or why a table is not personal. These tests walk the SQLAlchemy metadata of
every model module, so a table someone adds without declaring it fails here.
"""

from __future__ import annotations

from sqlalchemy import Table

from storage.models import Base
from storage.personal import MODEL_MODULES, PERSONAL_DATA, Erase, NotPersonal, Personal
from tests.storage.personal_walk import model_modules

# Column names that hold (or may hold) a person's id or name.
PERSON_NAMES = {
    "user_id",
    "respondent_id",
    "staff_id",
    "chat_id",
    "first_name",
    "last_name",
    "username",
    "name",
    "phone",
    "email",
}
PERSON_SUFFIXES = ("_by", "_user_id", "_chat_id", "_username", "_phone", "_email")


def _person_like(table: Table) -> list[str]:
    return [
        c.name for c in table.columns if c.name in PERSON_NAMES or c.name.endswith(PERSON_SUFFIXES)
    ]


def _tables() -> dict[str, Table]:
    model_modules()
    return dict(Base.metadata.tables)


def test_every_table_is_declared_personal_or_not_personal_with_a_reason() -> None:
    undeclared = {
        name: _person_like(table) for name, table in _tables().items() if name not in PERSONAL_DATA
    }
    assert not undeclared, (
        "tables missing from storage/personal.py PERSONAL_DATA (with the columns that look "
        f"like a person's id or name): {undeclared}"
    )
    unknown = set(PERSONAL_DATA) - set(_tables())
    assert not unknown, f"PERSONAL_DATA names tables that do not exist: {unknown}"


def test_the_registry_imports_every_module_that_defines_tables() -> None:
    # Otherwise PrivacyRepo, which reads Base.metadata, would miss the module's tables.
    assert {m.__name__ for m in model_modules()} <= {m.__name__ for m in MODEL_MODULES}


def test_personal_entries_name_real_columns_and_account_for_every_person_like_one() -> None:
    tables = _tables()
    for name, entry in PERSONAL_DATA.items():
        if isinstance(entry, NotPersonal):
            assert entry.reason.strip(), f"{name}: say why it is not personal"
            continue
        assert isinstance(entry, Personal)
        table = tables[name]
        named = [*entry.person, *entry.clear, *entry.others]
        assert entry.person, f"{name}: which columns hold the person's id?"
        missing = [c for c in named if c not in table.c]
        assert not missing, f"{name}: no such columns {missing}"
        # Even when the row goes, a column holding someone else's id must say whose it is.
        unaccounted = [c for c in _person_like(table) if c not in named]
        assert not unaccounted, f"{name}: say what {unaccounted} hold (person, clear, others)"
        assert all(reason.strip() for reason in entry.others.values())
        if entry.erase == Erase.KEEP:
            assert entry.kept_because.strip(), f"{name}: say why it is kept"
        if entry.erase == Erase.DETACH:
            cleared = [c for c in (*entry.person, *entry.clear) if not table.c[c].nullable]
            assert not cleared, f"{name}: DETACH clears NOT NULL columns {cleared}"

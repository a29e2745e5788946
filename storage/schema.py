"""The schema's version: the code's Alembic heads, the database's, and the upgrade between.

A rolling upgrade never runs new code on an old schema (each process migrates before it
serves, `storage.db.Database.migrate`), and a process whose code does not match the
database's revision says so: it refuses to start on a revision it does not know, and its
readiness probe fails while the two differ (bot/web/probes.py).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

MIGRATIONS = Path(__file__).with_name("migrations")
# Serialises concurrent `migrate` calls from several replicas on PostgreSQL.
MIGRATION_LOCK_KEY = 0x6E7073  # "nps"
VERSION_TABLE = "alembic_version"  # Alembic's default, which env.py keeps


class UnknownRevision(Exception):
    """The database is at a revision this code does not have (a newer release migrated
    it); the message is one line."""


def alembic_config(connection: Connection | None = None, *, tz: tzinfo = UTC) -> Config:
    """Alembic configuration pointing at the migrations shipped inside the package; `tz`
    is the reporting time zone, for revisions that count answers per local day."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    cfg.attributes["tz"] = tz
    return cfg


@functools.cache
def _script() -> ScriptDirectory:
    # Parsed once per process: the revision files do not change while it runs.
    return ScriptDirectory.from_config(alembic_config())


@functools.cache
def code_heads() -> frozenset[str]:
    """The revisions alembic_version holds once the schema is current: those no other
    revision builds on (Alembic's own `get_heads()` also lists a revision that another
    one only depends on, which the version table never holds)."""
    revisions = list(_script().walk_revisions())
    built_on: set[str] = set()
    for script in revisions:
        built_on.update(_tuple(script.down_revision), _tuple(script.dependencies))
    return frozenset(script.revision for script in revisions if script.revision not in built_on)


def _tuple(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


@functools.cache
def known_revisions() -> frozenset[str]:
    """Every revision this code ships."""
    return frozenset(script.revision for script in _script().walk_revisions())


def _names(revisions: frozenset[str]) -> str:
    return ", ".join(sorted(revisions)) or "none"


@dataclass(frozen=True)
class SchemaState:
    """The database's revisions against the code's heads."""

    database: frozenset[str]
    code: frozenset[str]

    @property
    def current(self) -> bool:
        """The database is exactly at the code's heads."""
        return self.database == self.code

    @property
    def unknown(self) -> frozenset[str]:
        """Database revisions this code does not have (a newer release migrated it)."""
        return self.database - known_revisions()

    def problem(self) -> str | None:
        """One line saying how the two differ; None when the schema is current."""
        if self.current:
            return None
        if self.unknown:
            return (
                f"the database schema has revision {_names(self.unknown)}, which this "
                "version does not know (a newer release migrated it)"
            )
        missing = self.code - self.database
        return (
            f"the database schema lacks revision {_names(missing)} of this version "
            "(its migrations have not run)"
        )


def schema_state(connection: Connection) -> SchemaState:
    """Where the database's schema stands (no alembic_version table: no revision).

    Read with plain statements: Alembic's MigrationContext logs two INFO lines each time,
    and readiness probes ask every few seconds.
    """
    database: frozenset[str] = frozenset()
    if inspect(connection).has_table(VERSION_TABLE):
        rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
        database = frozenset(str(row[0]) for row in rows)
    return SchemaState(database, code_heads())


def upgrade(connection: Connection, tz: tzinfo) -> None:
    """Brings the schema to the code's heads; UnknownRevision when the database is at a
    revision this code does not have (an older release must not touch a newer schema)."""
    state = schema_state(connection)
    if state.unknown:
        raise UnknownRevision(
            f"{state.problem()}; run that release (or a newer one), not this one"
        )
    if state.current:
        return
    # "heads": features may add migrations on parallel branches from the same parent.
    command.upgrade(alembic_config(connection, tz=tz), "heads")

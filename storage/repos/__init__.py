"""Repositories: one per feature's tables; they never commit (storage/db.py does)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite


def upsert_insert(dialect: str) -> Any:
    """The dialect's `insert` construct, which has `on_conflict_do_*` (the generic one has not)."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert

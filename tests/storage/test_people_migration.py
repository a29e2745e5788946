"""Issue 10: migration 0015 carries a database of the Telegram-id schema across, row for row.

The database is filled by the code of the commit before people had addresses (its own bot
against its own emulator, tests/storage/people_filler.py, in a subprocess with that tree
first on the path), every row is dumped, then this tree upgrades it and every row must be
there with the same values: respondents become people keeping their ids, each with a
Telegram address holding the chat they had; answers, cases, threads, broadcasts, contacts,
eNPS marks and the rest are untouched. The current code then works on the result.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic import command
from sqlalchemy import text, update
from sqlalchemy.engine import make_url

from storage.db import Database, alembic_config
from storage.models import Address, utcnow
from storage.repos.respondents import Profile
from storage.repos.response_start import AnswerContext
from tests.conftest import PG_URL, REQUIRE_PG, _pg_admin
from tests.storage import people_filler

ROOT = Path(__file__).resolve().parents[2]
# The schema and code before people had addresses (respondents.id was the Telegram id).
OLD_COMMIT = "77c5ed9a8b18f7e6ae7aecff4c2df702d4166b0e"
FILLER = Path(people_filler.__file__)
# Column values the migration may not carry as they were.
MOVED = {"respondents": {"chat_id"}}  # to addresses.chat
# Columns later revisions added, with the value every carried row gets.
GAINED: dict[str, dict[str, Any]] = {
    "responses": {"attributes": None, "messenger": "telegram"},  # 0017, 0021
    "surveys": {"ask_phone": False, "whatsapp_template": None},  # 0019, 0026
    "contacts": {"phone": None},  # 0019
}
# Tables of later revisions (0016 invitations, 0018 events, 0020 autopilot): new, so empty.
LATER_TABLES = {
    "invitations",
    "events",
    "event_deliveries",
    "event_endpoints",
    "autopilots",
    "autopilot_runs",
    "whatsapp_statuses",  # 0026
    "themes",  # 0028: seeded with the starter themes on first use, not by the migration
    "response_themes",
    "theme_marks",
    "theme_suggestions",
    "broadcast_arms",  # 0029
    "broadcast_assignments",
}
# Histogram dimensions later revisions count from the stored answers, and the value the
# old code's answers all get (0017: no campaign; 0021: given in Telegram).
COUNTED_LATER = {"campaign": "", "channel": "telegram"}
CI = REQUIRE_PG


def _old_tree(tmp_path: Path) -> Path:
    """The old commit's files, from this repository's history (skips without it)."""
    probe = subprocess.run(
        ["git", "-C", str(ROOT), "cat-file", "-e", f"{OLD_COMMIT}^{{commit}}"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        reason = f"git history with commit {OLD_COMMIT[:12]} is not available (shallow clone?)"
        if CI:
            pytest.fail(reason + ": CI must fetch it (NPSBOT_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    tree = tmp_path / "old"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", OLD_COMMIT], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def _fill_with_old_code(tree: Path, url: str, tmp_path: Path) -> dict[str, list[dict[str, Any]]]:
    """Runs the filler on the old tree; its dump of every row."""
    out = tmp_path / "old_rows.json"
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, str(FILLER), url, str(out), str(tree)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, f"the old code failed to fill:\n{done.stdout}\n{done.stderr}"
    rows: dict[str, list[dict[str, Any]]] = json.loads(out.read_text())
    return rows


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database (no schema: the old code migrates it to its own head)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        return
    if not PG_URL:
        if CI:
            pytest.fail("NPSBOT_REQUIRE_POSTGRES=1 but NPSBOT_TEST_POSTGRES_URL is not set")
        pytest.skip("PostgreSQL not configured: set NPSBOT_TEST_POSTGRES_URL")
    name = f"npsbot_people_{uuid.uuid4().hex[:12]}"
    try:
        await _pg_admin(f'CREATE DATABASE "{name}"')
    except (OSError, asyncpg.PostgresError) as exc:
        if CI:
            pytest.fail(f"PostgreSQL at {PG_URL} is unreachable: {exc}")
        pytest.skip(f"PostgreSQL at {PG_URL} is unreachable: {exc}")
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _by_key(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    return {row[key]: row for row in rows}


async def test_an_old_database_is_carried_across_with_every_row(
    empty_url: str, tmp_path: Path
) -> None:
    tree = _old_tree(tmp_path)
    old = _fill_with_old_code(tree, empty_url, tmp_path)
    # The old code wrote every kind of row the migration must carry.
    for table in (
        "respondents",
        "responses",
        "detractor_cases",
        "case_alerts",
        "case_threads",
        "broadcasts",
        "broadcast_recipients",
        "contacts",
        "staff",
        "anonymous_answers",
        "score_counts",
        "app_secrets",
    ):
        assert old[table], f"the filler wrote no {table}"
    assert any(row["superseded_by"] for row in old["responses"])
    assert any(row["public_id"] for row in old["responses"])  # an eNPS answer

    db = Database(empty_url)
    try:
        await db.migrate()  # this tree's `alembic upgrade heads`
        new = await people_filler.dump(empty_url)

        # Every old table, every row, every value (only the chat moved).
        assert set(old) <= set(new) and set(new) - set(old) == {"addresses", *LATER_TABLES}
        assert not any(new[table] for table in LATER_TABLES)
        for table, rows in old.items():
            moved = MOVED.get(table, set())
            carried = [{k: v for k, v in row.items() if k not in moved} for row in rows]
            gained = GAINED.get(table, {})
            now = [{k: v for k, v in row.items() if k not in gained} for row in new[table]]
            assert all({k: row[k] for k in gained} == gained for row in new[table])
            if table == "score_counts":
                later = [row for row in now if row["dimension"] in COUNTED_LATER]
                now = [row for row in now if row["dimension"] not in COUNTED_LATER]
                _counted_like_the_totals(later, rows)
            assert now == carried, f"{table} changed"
            extra = set(now[0]) - set(rows[0]) if rows else set()
            assert not extra, f"{table} gained columns {extra}"
        # People keep their ids; each has one Telegram address with the chat they had.
        addresses = new["addresses"]
        assert len(addresses) == len(old["respondents"])
        assert {
            (a["respondent_id"], a["channel"], a["address"], a["chat"], a["created_at"])
            for a in addresses
        } == {
            (r["id"], "telegram", str(r["id"]), str(r["chat_id"]), r["started_at"])
            for r in old["respondents"]
        }

        await _the_current_code_works_on_it(db, old)
    finally:
        await db.dispose()


def _counted_like_the_totals(later: list[dict[str, Any]], counts: list[dict[str, Any]]) -> None:
    """The old code's answers have no campaign and were all given in Telegram: each day's
    campaign row (value "") and channel row ("telegram") hold that day's totals, so
    `/nps by campaign` and `/nps by channel` add up to `/nps`."""
    counters = [key for key in counts[0] if key == "invited" or key[1:].isdigit()]
    totals = {
        (row["survey_id"], row["day"]): [row[key] for key in counters]
        for row in counts
        if row["dimension"] == "all" and any(row[key] for key in counters)
    }
    for dimension, value in COUNTED_LATER.items():
        rows = [row for row in later if row["dimension"] == dimension]
        assert {row["value"] for row in rows} == {value}
        assert {
            (row["survey_id"], row["day"]): [row[key] for key in counters] for row in rows
        } == totals


async def _the_current_code_works_on_it(
    db: Database, old: dict[str, list[dict[str, Any]]]
) -> None:
    people = _by_key(old["respondents"], "id")
    anna = people[101]
    [pulse] = [s for s in old["surveys"] if s["kind"] == "enps"]
    async with db.transaction() as store:
        # A returning person is found by their Telegram address and keeps their id.
        again = await store.respondents.touch(Profile(101, 101, "Anna", "anna", "en"))
        assert (again.id, again.telegram_id, again.chat_id) == (101, 101, 101)
        assert (again.source, again.agent) == (anna["source"], anna["agent"])
        # Someone new gets an internal id above every old one, never their Telegram id.
        newcomer = await store.respondents.touch(Profile(55, 55, "New", None, "en"))
        assert newcomer.id > max(people) and newcomer.telegram_id == 55
        # eNPS: the salted hash of the person's id still says the employee answered.
        assert await store.anonymity.has_answered(pulse["id"], 105)
        assert not await store.anonymity.has_answered(pulse["id"], newcomer.id)
        mine = await store.privacy.collect(101)
        answered = [r for r in old["responses"] if r["respondent_id"] == 101]
        assert [a.response.id for a in mine.answers] == [r["id"] for r in answered]
        assert mine.addresses == [("telegram", "101", "101")]
        # Forgetting erases the person with their address; their answers stay, detached.
        erased = await store.privacy.forget(104)
        assert erased.profile and erased.answers == len(
            [r for r in old["responses"] if r["respondent_id"] == 104]
        )
        assert await store.respondents.by_telegram(104) is None
        assert await store.respondents.addresses(104) == []


async def test_a_downgrade_gives_people_their_telegram_ids_back(db_url: str) -> None:
    """Down from 0015: a person who came after it takes their Telegram id again, with
    every row that points at them; someone with no Telegram address cannot be kept."""
    db = Database(db_url)
    try:
        async with db.transaction() as store:
            person = await store.respondents.touch(Profile(5501, 5502, "Ann", None, "en"))
            survey = await store.surveys.ensure_default()
            await store.responses.start(
                survey_id=survey.id,
                respondent_id=person.id,
                chat_id=5502,
                language="en",
                context=AnswerContext(),
            )
            [phone_only] = await store.respondents.add_people(
                [{"telegram_id": 1, "started_at": utcnow(), "last_seen_at": utcnow()}]
            )
            session = store.responses._session
            await session.execute(
                update(Address)
                .where(Address.respondent_id == phone_only)
                .values(channel="phone", address="+37360000000", chat=None)
            )
        assert person.id != 5501
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0014"))
            people = (await conn.execute(text("SELECT id, chat_id FROM respondents"))).all()
            answers = (await conn.execute(text("SELECT respondent_id FROM responses"))).all()
        assert [tuple(row) for row in people] == [(5501, 5502)]
        assert [row[0] for row in answers] == [5501]
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "heads"))
        async with db.snapshot() as store:
            back = await store.respondents.by_telegram(5501)
            assert back is not None and (back.id, back.chat_id) == (5501, 5502)
    finally:
        await db.dispose()

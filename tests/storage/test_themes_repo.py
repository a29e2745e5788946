"""Themes storage on SQLite and PostgreSQL: the dictionary seeded once, each answer's themes
kept current (new comments, follow-ups, edits, removals), forgetting, report counts and
suggestions decided once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from bot import theme_job
from nps import theme_index
from nps.theme_index import dictionary, refresh, with_words
from nps.themes import starter_themes
from storage.db import Database
from storage.models import Response, utcnow
from storage.repos.respondents import Profile
from storage.repos.response_start import AnswerContext
from storage.repos.themes import ScopeFilter
from storage.theme_models import (
    ACCEPTED,
    DISMISSED,
    OWNER,
    STARTER,
    ResponseTheme,
    ThemeMark,
)
from tests.admin_helpers import seed_answers


def starter_word(key: str, language: str = "en") -> str:
    """A word of a starter theme as the engine ships it (so the tests follow its changes)."""
    spec = next(s for s in starter_themes() if s.key == key)
    return spec.words[language][0]


async def test_starters_are_seeded_once_and_follow_the_engine(db: Database) -> None:
    now = utcnow()
    async with db.transaction() as store:
        first = await dictionary(store, now)
    async with db.transaction() as store:
        second = await dictionary(store, now)
        rows = await store.themes.rows()
    expected = [spec.key for spec in starter_themes()]
    assert [row.key for row in rows] == expected
    assert all(row.origin == STARTER and row.words == {} for row in rows)
    assert first.version == second.version
    assert {spec.key: dict(spec.words) for spec in first.specs} == {
        spec.key: {lang: words for lang, words in spec.words.items() if words}
        for spec in starter_themes()
    }


async def test_two_first_uses_at_once_seed_each_theme_once(db: Database) -> None:
    now = utcnow()

    async def use() -> None:
        async with db.transaction() as store:
            await dictionary(store, now)

    await asyncio.gather(use(), use())
    async with db.transaction() as store:
        rows = await store.themes.rows()
    assert sorted(row.key for row in rows) == sorted(s.key for s in starter_themes())


async def test_refresh_assigns_then_nothing_is_due(db: Database) -> None:
    delivery, price = starter_word("delivery"), starter_word("price")
    late = await seed_answers(db, [2], why=f"The {delivery} was a disaster", first_user=1)
    cheap = await seed_answers(db, [10], why=f"Fair {price}", improve="nothing", first_user=2)
    plain = await seed_answers(db, [8], why="Nice people around", first_user=3)
    silent = await seed_answers(db, [7], first_user=4)
    now = utcnow()
    async with db.transaction() as store:
        assert await refresh(store, now) == 3  # the answer without a comment is not read
        current = await dictionary(store, now)
        assert await store.themes.pending_count(current.version) == 0
        found = await store.themes.themes_of(late + cheap + plain + silent)
    assert found == {late[0]: ["delivery"], cheap[0]: ["price"]}
    async with db.transaction() as store:
        assert await refresh(store, now) == 0


async def test_a_follow_up_answered_later_is_read_again(db: Database) -> None:
    price = starter_word("price")
    now = utcnow()
    async with db.transaction() as store:
        survey = await store.surveys.ensure_default()
        person = await store.respondents.touch(Profile(1, 1, "Ann", None, "en"))
        response = await store.responses.start(
            survey_id=survey.id,
            respondent_id=person.id,
            chat_id=1,
            language="en",
            context=AnswerContext(),
        )
        await store.responses.record_score(response.id, 4)
        await store.responses.record_why(response.id, "Meh")
    answer = response.id
    async with db.transaction() as store:
        assert await refresh(store, now) == 1
        assert await store.themes.themes_of([answer]) == {}
    async with db.transaction() as store:
        assert await store.responses.record_improve(answer, f"Lower the {price}")
    async with db.transaction() as store:
        assert await refresh(store, now) == 1
        assert await store.themes.themes_of([answer]) == {answer: ["price"]}


async def test_an_edit_reassigns_every_answer_and_a_removal_drops_the_theme(db: Database) -> None:
    [parking] = await seed_answers(db, [3], why="No parking spot near the shop", first_user=1)
    delivery = starter_word("delivery")
    [late] = await seed_answers(db, [1], why=f"{delivery} late", first_user=2)
    now = utcnow()
    async with db.transaction() as store:
        assert await refresh(store, now) == 2
        before = await dictionary(store, now)
        await store.themes.save("parking", with_words(None, "en", ("parking",)), OWNER, now)
        after = await dictionary(store, now)
        assert after.version != before.version
        assert await store.themes.pending_count(after.version) == 2  # all of them, again
        assert await refresh(store, now) == 2
        assert await store.themes.themes_of([parking, late]) == {
            parking: ["parking"],
            late: ["delivery"],
        }
        assert await store.themes.deactivate("delivery", now)
        assert not await store.themes.deactivate("delivery", now)  # removed already
        await refresh(store, now)
        assert await store.themes.themes_of([parking, late]) == {parking: ["parking"]}
        rows = {row.key: row for row in await store.themes.rows()}
    assert not rows["delivery"].active
    # Removing every starter does not seed them again.
    async with db.transaction() as store:
        for key in [s.key for s in starter_themes()]:
            await store.themes.deactivate(key, now)
        current = await dictionary(store, now)
    assert current.keys == ("parking",)


async def test_editing_a_starter_theme_keeps_its_other_languages(db: Database) -> None:
    now = utcnow()
    async with db.transaction() as store:
        current = await dictionary(store, now)
        row = current.find("DELIVERY")  # any case
        assert row is not None
        await store.themes.save(row.key, with_words(row, "en", ("parcel",)), OWNER, now)
        edited = await dictionary(store, now)
    spec = next(s for s in edited.specs if s.key == "delivery")
    assert spec.words["en"] == ("parcel",)
    starter = next(s for s in starter_themes() if s.key == "delivery")
    assert spec.words["ru"] == starter.words["ru"]
    assert next(r for r in edited.rows if r.key == "delivery").origin == STARTER


async def test_forgetting_a_person_drops_their_themes(db: Database) -> None:
    delivery = starter_word("delivery")
    [theirs] = await seed_answers(db, [2], why=f"{delivery} lost", first_user=701)
    [other] = await seed_answers(db, [2], why=f"{delivery} late", first_user=702)
    now = utcnow()
    async with db.transaction() as store:
        await refresh(store, now)
        await store.privacy.forget(701)
    async with db.engine.begin() as conn:
        marks = await conn.scalar(
            select(func.count()).select_from(ThemeMark).where(ThemeMark.response_id == theirs)
        )
        links = await conn.scalar(
            select(func.count())
            .select_from(ResponseTheme)
            .where(ResponseTheme.response_id == theirs)
        )
    assert marks == 0 and links == 0
    async with db.transaction() as store:
        assert await store.themes.themes_of([theirs, other]) == {other: ["delivery"]}
        current = await dictionary(store, now)
        assert await store.themes.pending_count(current.version) == 0


async def test_a_comment_erased_otherwise_loses_its_themes_at_the_next_refresh(
    db: Database,
) -> None:
    delivery = starter_word("delivery")
    [answer] = await seed_answers(db, [2], why=f"{delivery} lost", first_user=1)
    now = utcnow()
    async with db.transaction() as store:
        await refresh(store, now)
    async with db.engine.begin() as conn:
        await conn.execute(update(Response).where(Response.id == answer).values(why=None))
    async with db.transaction() as store:
        assert await refresh(store, now) == 1
        assert await store.themes.themes_of([answer]) == {}


async def test_report_counts_group_by_theme_survey_and_score(db: Database) -> None:
    delivery, price = starter_word("delivery"), starter_word("price")
    now = utcnow()
    await seed_answers(db, [1, 2, 9], why=f"{delivery} again", first_user=1)
    await seed_answers(db, [10], why=f"{delivery} and {price}", first_user=10)
    await seed_answers(db, [8, 7], first_user=20)
    old = await seed_answers(
        db, [3], why=f"{delivery} old", first_user=30, at=now - timedelta(days=40)
    )
    async with db.transaction() as store:
        await refresh(store, now)
        survey = await store.surveys.ensure_default()
        scope = ScopeFilter([survey.id], now - timedelta(days=30), now + timedelta(seconds=1))
        mentions = sorted(await store.themes.mentions(scope))
        answers = sorted(await store.themes.answers(scope))
        earlier = await store.themes.mentions(
            ScopeFilter([survey.id], now - timedelta(days=60), now - timedelta(days=30))
        )
    sid = survey.id
    assert mentions == [
        ("delivery", sid, 1, 1),
        ("delivery", sid, 2, 1),
        ("delivery", sid, 9, 1),
        ("delivery", sid, 10, 1),
        ("price", sid, 10, 1),
    ]
    assert answers == [
        (sid, 1, True, True, 1),
        (sid, 2, True, True, 1),
        (sid, 7, False, False, 1),
        (sid, 8, False, False, 1),
        (sid, 9, True, True, 1),
        (sid, 10, True, True, 1),
    ]
    assert earlier == [("delivery", sid, 3, 1)] and old


async def test_a_suggestion_is_decided_once(db: Database) -> None:
    now = utcnow()
    async with db.transaction() as store:
        offered = await store.themes.offer("parking", ["parking", "spot"], "en", now)
        again = await store.themes.offer("parking", ["parking", "lot"], "en", now)
        assert again.id == offered.id and again.terms == ["parking", "lot"]
        assert await store.themes.decide(offered.id, DISMISSED, now)
        assert not await store.themes.decide(offered.id, ACCEPTED, now)
        # A dismissed key keeps its state when the engine proposes it again.
        kept = await store.themes.offer("parking", ["parking"], "en", now)
        assert kept.state == DISMISSED and kept.terms == ["parking", "lot"]
        assert await store.themes.dismissed_terms() == [["parking", "lot"]]
        assert await store.themes.suggestion(offered.id + 1000) is None


async def test_a_capped_refresh_leaves_the_rest_to_the_job(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery = starter_word("delivery")
    ids = await seed_answers(db, [1, 2, 3, 4, 5], why=f"{delivery} late", first_user=1)
    now = utcnow()
    async with db.transaction() as store:
        assert await refresh(store, now, limit=2) == 2
        current = await dictionary(store, now)
        assert await store.themes.pending_count(current.version) == 3

    class Host:
        """The parts of the application the job reads."""

        def __init__(self) -> None:
            self.db = db

        def clock(self) -> datetime:
            return now

    monkeypatch.setattr(theme_index, "BATCH", 2)
    monkeypatch.setattr(theme_job, "BATCH", 2)
    assert await theme_job.refresh_due(Host()) == 3  # type: ignore[arg-type]
    assert await theme_job.refresh_due(Host()) == 0  # type: ignore[arg-type]
    async with db.transaction() as store:
        found = await store.themes.themes_of(ids)
    assert found == {i: ["delivery"] for i in ids}

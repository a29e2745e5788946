"""Scheduled work runs once across three replicas started together: the digest of two
owners, 20 reminders due at start, 20 invitations asked for through nginx, and the events
of their answers, each event id received once by the CRM's receiver.

Every job's claim lives in PostgreSQL: the digest inserts (day, user) before sending,
reminders insert their row (RETURNING tells a replica which rows it won), invitations and
events are claimed with conditional updates. Autopilot's day is claimed by a conditional
UPDATE of `last_run_on` (storage/repos/autopilot.py); its window (weekday mornings) cannot
be reached from a process's real clock at any hour, so three applications with a moved
clock claim it at once in tests/handlers/test_autopilot_replicas.py.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from pathlib import Path

import aiohttp

from bot.emulator import BotApiEmulator
from storage.db import Database
from storage.models import utcnow
from storage.repos.respondents import Profile
from storage.repos.response_start import AnswerContext
from tests.broadcast_helpers import seed_audience
from tests.e2e.events_receiver import Receiver
from tests.replicas.harness import API_TOKEN, Cluster
from tests.scenario import OWNER_ID, QUESTION, wait_for

SECOND_OWNER = OWNER_ID + 1
EVENTS_SECRET = "replicas-events-secret-42"
INVITED = list(range(810_000, 810_020))
REMINDED = list(range(820_000, 820_020))
DIGEST = "Daily NPS digest"


async def _unanswered_questions(db: Database, ids: list[int]) -> None:
    """Questions asked 90 minutes ago and not answered (REMINDER_AFTER_HOURS=1: due now)."""
    asked = utcnow() - timedelta(minutes=90)
    async with db.transaction() as store:
        survey = await store.surveys.ensure_default()
        for uid in ids:
            person = await store.respondents.touch(Profile(uid, uid, f"User{uid}", None, "en"))
            await store.responses.start(
                survey_id=survey.id,
                respondent_id=person.id,
                chat_id=uid,
                language="en",
                context=AnswerContext(),
                asked_at=asked,
            )


async def test_digest_reminders_invitations_and_events_run_once(
    api: BotApiEmulator, pg_url: str, check_db: Database, tmp_path: Path
) -> None:
    await seed_audience(check_db, api, INVITED)
    await _unanswered_questions(check_db, REMINDED)
    for uid in REMINDED:
        api.user(uid, first_name=f"User{uid}", language_code="en").started = True
    owners = [
        api.user(u, first_name=f"Owner{u}", language_code="en") for u in (OWNER_ID, SECOND_OWNER)
    ]
    for owner in owners:
        owner.started = True
    receiver = Receiver(secret=EVENTS_SECRET)
    await receiver.start()
    cluster = Cluster(
        api,
        pg_url,
        tmp_path,
        env={
            "ADMIN_IDS": f"{OWNER_ID},{SECOND_OWNER}",
            "DIGEST_TIME": "00:00",  # passed already: each replica sends it at start
            "REMINDER_AFTER_HOURS": "1",
            "EVENTS_URLS": receiver.url,
            "EVENTS_SECRET": EVENTS_SECRET,
            "SURVEY_COOLDOWN_DAYS": "0",
            "ANY_SURVEY_COOLDOWN_DAYS": "0",
        },
    )
    try:
        await cluster.start()
        auth = {"Authorization": f"Bearer {API_TOKEN}"}
        async with aiohttp.ClientSession() as client:
            url = f"{cluster.base_url}/api/v1/invitations"

            async def invite(uid: int) -> tuple[int, str]:
                body = {"survey": "nps", "telegram_user_id": uid}
                headers = {**auth, "Idempotency-Key": f"inv-{uid}"}
                async with client.post(url, json=body, headers=headers) as response:
                    return response.status, (await response.json())["id"]

            # Through nginx, spread over the replicas; each asked twice (a CRM's retry).
            answers = await asyncio.gather(*(invite(uid) for uid in INVITED * 2))
            assert {status for status, _ in answers} == {202}, answers

            async def all_sent() -> bool:
                # A tap works once the send is recorded (milliseconds after the call; a
                # person is never that quick), as in the integrations' acceptance.
                for invitation in {i for _, i in answers}:
                    async with client.get(f"{url}/{invitation}", headers=auth) as response:
                        if (await response.json())["status"] not in ("sent", "answered"):
                            return False
                return True

            await wait_for(all_sent, "every invitation recorded as sent", within=60)
        people = [api.users[uid] for uid in INVITED]
        questions = await asyncio.gather(
            *(p.wait_for_message(lambda m: QUESTION in m.text, timeout=60) for p in people)
        )
        for person, question in zip(people, questions, strict=True):
            person.press(question, "3")
        await asyncio.gather(
            *(p.wait_for_message(lambda m: "disappointed" in m.text, timeout=60) for p in people)
        )
        for owner in owners:
            await owner.wait_for_message(lambda m: DIGEST in m.text, timeout=60)
        for uid in REMINDED:
            await api.users[uid].wait_for_message(lambda m: QUESTION in m.text, timeout=60)

        def scored() -> bool:
            return Counter(e["type"] for e in receiver.accepted)["response.scored"] >= len(INVITED)

        await wait_for(scored, "every score's event", within=60)
    finally:
        codes = await cluster.stop()
        await receiver.stop()
    assert set(codes.values()) == {0}, codes
    for owner in owners:  # one digest each, though three replicas started after its time
        assert sum(DIGEST in m.text for m in owner.bot_messages) == 1
    for uid in INVITED:  # asked once, though invited twice through different replicas
        assert sum(QUESTION in m.text for m in api.users[uid].bot_messages) == 1
    for uid in REMINDED:  # one reminder each, though every replica found them due
        assert sum(QUESTION in m.text for m in api.users[uid].bot_messages) == 1
    ids = receiver.ids()
    assert len(ids) == len(set(ids)), "an event arrived twice"
    assert Counter(e["type"] for e in receiver.accepted)["response.scored"] == len(INVITED)
    # Each answer's event of a kind once, whichever replica delivered it.
    per_answer = Counter((e["type"], e["data"].get("response_id")) for e in receiver.accepted)
    assert max(per_answer.values()) == 1, per_answer.most_common(3)

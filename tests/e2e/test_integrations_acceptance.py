"""Issue 11's acceptance: `npsbot run` as a real process, a real HTTP client as the CRM and
a real HTTP receiver of the signed events.

The CRM invites one person by phone and one by Telegram id, each with a delay and
attributes; both answer in Telegram; the receiver is down while they answer and then gets
every event once, each signature verified. In polling and in webhook mode, on both runtimes
and both databases (each runtime meets each database and each mode once).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.emulator import BotApiEmulator
from tests.conftest import fresh_database
from tests.e2e.conftest import OWNER_ID, QUESTION, TOKEN
from tests.e2e.events_receiver import Receiver
from tests.scenario import wait_for

ROOT = Path(__file__).resolve().parents[2]
API_TOKEN = "acceptance-api-token-0123456789abcdef"
EVENTS_SECRET = "acceptance-events-secret-42"
WEBHOOK_SECRET = "acceptance-webhook-secret"
SECRETS = (TOKEN.split(":")[1], API_TOKEN, EVENTS_SECRET, WEBHOOK_SECRET)
ANNA, BOB = 501, 502
ANNA_PHONE = "+37369123456"

COMBINATIONS = [
    pytest.param("aiogram", "sqlite", "polling", id="aiogram-sqlite-polling"),
    pytest.param("ptb", "postgres", "polling", id="ptb-postgres-polling"),
    pytest.param("aiogram", "postgres", "webhook", id="aiogram-postgres-webhook"),
    pytest.param("ptb", "sqlite", "webhook", id="ptb-sqlite-webhook"),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _moment(value: str) -> datetime:
    """An API timestamp (ISO 8601, "Z" for UTC) as an aware datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class Crm:
    """The CRM's side of the API: a real aiohttp client with the bearer token."""

    def __init__(self, client: aiohttp.ClientSession, base: str) -> None:
        self.client, self.base = client, base
        self.auth = {"Authorization": f"Bearer {API_TOKEN}"}

    async def invite(self, body: dict[str, Any], key: str) -> tuple[int, dict[str, Any]]:
        headers = {**self.auth, "Idempotency-Key": key}
        async with self.client.post(
            f"{self.base}/api/v1/invitations", json=body, headers=headers
        ) as response:
            return response.status, await response.json()

    async def invitation(self, invitation_id: str) -> dict[str, Any]:
        async with self.client.get(
            f"{self.base}/api/v1/invitations/{invitation_id}", headers=self.auth
        ) as response:
            assert response.status == 200
            read: dict[str, Any] = await response.json()
            return read

    async def healthy(self) -> bool:
        try:
            async with self.client.get(f"{self.base}/healthz") as response:
                return response.status == 200
        except aiohttp.ClientConnectionError:
            return False


@pytest.mark.parametrize(("runtime", "backend", "mode"), COMBINATIONS)
async def test_a_crm_invites_people_and_gets_their_answers_back_signed(
    api: BotApiEmulator,
    tmp_path: Path,
    sqlite_template: Path,
    pg_template: str | None,
    runtime: str,
    backend: str,
    mode: str,
) -> None:
    receiver = Receiver(secret=EVENTS_SECRET)
    await receiver.start()
    port = _free_port()
    async with fresh_database(backend, tmp_path, sqlite_template, pg_template) as db_url:
        env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
        env.update(
            BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=api.base_url,
            DATABASE_URL=db_url,
            ADMIN_IDS=str(OWNER_ID),
            BRAND_NAME="Acme",
            BOT_FRAMEWORK=runtime,
            DIGEST_TIME="off",
            QUIET_HOURS="off",
            HTTP_PORT=str(port),
            API_TOKEN=API_TOKEN,
            EVENTS_URLS=receiver.url,
            EVENTS_SECRET=EVENTS_SECRET,
        )
        if mode == "webhook":
            env.update(
                WEBHOOK_URL=f"http://127.0.0.1:{port}/telegram/hook",
                WEBHOOK_SECRET=WEBHOOK_SECRET,
            )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=str(tmp_path),
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with aiohttp.ClientSession() as client:
                crm = Crm(client, f"http://127.0.0.1:{port}")
                await wait_for(crm.healthy, "the bot's /healthz", within=60)
                await _failure_modes(crm, port, mode)
                await _scenario(api, crm, receiver, mode)
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            assert process.stderr is not None
            log = (await asyncio.wait_for(process.stderr.read(), timeout=30)).decode()
            await asyncio.wait_for(process.wait(), timeout=30)
            await receiver.stop()
        assert process.returncode == 0, log
        assert "Traceback" not in log, log
        assert not [s for s in SECRETS if s in log]  # no secret in any log line
        if mode == "webhook":
            [webhook] = api.calls_for("setWebhook")
            assert webhook.params["secret_token"] == WEBHOOK_SECRET
            assert not api.calls_for("getUpdates")
        else:
            assert api.calls_for("getUpdates")


async def _failure_modes(crm: Crm, port: int, mode: str) -> None:
    """Each way a request can be wrong gets its JSON error from the running process, and
    none of them stores or sends anything (the scenario after it starts from nothing)."""
    client, url = crm.client, f"{crm.base}/api/v1/invitations"
    body = {"survey": "nps", "telegram_user_id": BOB}
    cases: list[tuple[dict[str, Any], int, str | None]] = [
        ({"json": body}, 401, None),  # no token
        ({"json": body, "headers": {"Authorization": "Bearer " + "x" * 40}}, 401, None),
        ({"json": body, "headers": {"Authorization": f"Basic {API_TOKEN}"}}, 401, None),
        ({"data": "survey=nps", "headers": crm.auth}, 415, None),  # not JSON
        ({"data": b"{", "headers": {**crm.auth, "Content-Type": "application/json"}}, 422, None),
        ({"json": {**body, "delay_seconds": "soon"}, "headers": crm.auth}, 422, "delay_seconds"),
        ({"json": {**body, "survey": "nosuch"}, "headers": crm.auth}, 404, "survey"),
        ({"json": {**body, "attributes": {"x": "y" * 70_000}}, "headers": crm.auth}, 413, None),
    ]
    for kwargs, status, field in cases:
        async with client.post(url, **kwargs) as response:
            answer = await response.json()
            assert response.status == status, (kwargs.get("headers"), answer)
            assert answer["error"] and answer["message"]
            if field is not None:
                assert answer["field"] == field, answer
            assert API_TOKEN not in json.dumps(answer)  # never echoed
    async with client.get(f"{url}/inv_nosuch", headers=crm.auth) as response:
        assert response.status == 404 and (await response.json())["error"]
    # The same Idempotency-Key with another body is a conflict, not a second invitation.
    status, first = await crm.invite({**body, "delay_seconds": 600}, key="conflict")
    assert status == 202 and first["status"] in ("scheduled", "unreachable"), first
    status, conflict = await crm.invite({**body, "delay_seconds": 601}, key="conflict")
    assert status == 409, conflict
    if first["status"] == "scheduled":
        async with client.delete(f"{url}/{first['id']}", headers=crm.auth) as response:
            assert response.status == 200
    if mode == "webhook":  # a forged update: no secret, or a wrong one
        hook = f"http://127.0.0.1:{port}/telegram/hook"
        update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "text": "/start"}}
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
            async with client.post(hook, json=update, headers=headers) as response:
                assert response.status == 401


async def _scenario(api: BotApiEmulator, crm: Crm, receiver: Receiver, mode: str) -> None:
    # Anna shares her own phone number with /phone; Bob has only written to the bot.
    anna = api.user(ANNA, first_name="Anna", language_code="en")
    bob = api.user(BOB, first_name="Bob", language_code="en")
    anna.send("/phone")
    await anna.wait_for_message(lambda m: "not shared a phone number" in m.text)
    anna.share_contact(ANNA_PHONE.lstrip("+"))  # Telegram sends it without "+"
    await anna.wait_for_message(lambda m: "is saved" in m.text)
    bob.send("/help")
    await bob.wait_for_message(lambda m: "/start" in m.text)

    # The CRM invites both after their interactions, with a delay and attributes.
    by_phone = {
        "survey": "nps",
        "phone": "+373 69 123 456",
        "delay_seconds": 2,
        "attributes": {
            "agent": "olga",
            "source": "call",
            "campaign": "dec",
            "order_id": "A-17",
            "ticket": "T-9",
        },
    }
    by_id = {
        "survey": "nps",
        "telegram_user_id": BOB,
        "delay_seconds": 1,
        "attributes": {"agent": "ivan", "source": "delivery", "order_id": "B-3"},
    }
    asked = time.time()
    status, first = await crm.invite(by_phone, key="call-1")
    assert status == 202 and first["status"] == "scheduled", first
    send_at = _moment(first["send_at"]).timestamp()
    assert 1.0 <= send_at - asked <= 4.0, first  # the delay, not at once
    if time.time() < send_at - 0.5:  # still before its time, even on a slow machine
        assert not [m for m in anna.bot_messages if QUESTION in m.text]
    status, again = await crm.invite(by_phone, key="call-1")  # the CRM retries the call
    assert status == 202 and again == first
    status, second = await crm.invite(by_id, key="delivery-1")
    assert status == 202 and second["status"] == "scheduled", second

    # The receiver goes down while they answer: nothing is lost.
    await receiver.stop()
    question = await anna.wait_for_message(lambda m: QUESTION in m.text, timeout=30)
    assert time.time() >= send_at - 0.5

    def recorded_sent(invitation_id: str) -> Any:
        # The question's buttons work once the send is recorded: within milliseconds of the
        # call, before any person could tap (a tap before that gets "this button is old").
        async def probe() -> bool:
            return (await crm.invitation(invitation_id))["status"] in ("sent", "answered")

        return probe

    await wait_for(recorded_sent(first["id"]), "Anna's invitation recorded as sent", within=30)
    anna.press(question, "3")
    await anna.wait_for_message(lambda m: "What disappointed you the most?" in m.text)
    anna.send("The courier was late")
    await anna.wait_for_message(lambda m: "to give us a 10?" in m.text)
    anna.send("Send tracking")
    await anna.wait_for_message(lambda m: m.text.startswith("Thank you, Anna."))
    question = await bob.wait_for_message(lambda m: QUESTION in m.text, timeout=30)
    await wait_for(recorded_sent(second["id"]), "Bob's invitation recorded as sent", within=30)
    bob.press(question, "10")
    prompt = await bob.wait_for_message(lambda m: m.button("Skip") is not None)
    bob.press(prompt, "Skip")
    prompt = await bob.wait_for_message(
        lambda m: m.button("Skip") is not None and m.message_id > prompt.message_id
    )
    bob.press(prompt, "Skip")
    await bob.wait_for_message(lambda m: m.text.startswith("Thank you"))

    async def answered() -> list[dict[str, Any]] | None:
        reads = [await crm.invitation(first["id"]), await crm.invitation(second["id"])]
        return reads if all(r["status"] == "answered" for r in reads) else None

    read_anna, read_bob = await wait_for(answered, "both invitations answered", within=30)
    assert (read_anna["score"], read_bob["score"]) == (3, 10)
    for read in (read_anna, read_bob):  # sent when due, not at once
        assert _moment(read["sent_at"]) >= _moment(read["send_at"]), read
    assert not receiver.accepted  # it was down all along

    await receiver.start()  # back on the same URL
    wanted = Counter({"response.scored": 2, "response.completed": 2, "case.opened": 1})

    async def delivered() -> bool:
        got = Counter(e["type"] for e in receiver.accepted)
        return all(got[kind] >= n for kind, n in wanted.items())

    await wait_for(delivered, "every event after the receiver came back", within=60)
    ids = receiver.ids()
    assert len(ids) == len(set(ids)), "an event arrived twice"
    assert receiver.bad_signatures == 0
    got = Counter(e["type"] for e in receiver.accepted)
    assert {k: got[k] for k in wanted} == dict(wanted)

    def of(kind: str, person_key: str, value: Any) -> dict[str, Any]:
        [event] = [
            e["data"]
            for e in receiver.accepted
            if e["type"] == kind and e["data"].get(person_key) == value
        ]
        return event

    completed = of("response.completed", "phone", ANNA_PHONE)
    assert (completed["score"], completed["group"]) == (3, "detractor")
    assert (completed["why"], completed["improve"]) == ("The courier was late", "Send tracking")
    assert completed["attributes"]["agent"] == "olga"
    assert completed["attributes"]["order_id"] == "A-17"
    assert "T-9" in str(completed["attributes"])  # the custom attribute travels too
    assert of("case.opened", "phone", ANNA_PHONE)["score"] == 3
    bob_done = of("response.completed", "telegram_user_id", BOB)
    assert bob_done["score"] == 10 and bob_done["attributes"]["order_id"] == "B-3"
    # Per URL in order: each answer's score event comes before its completion.
    order = [(e["type"], e["data"].get("response_id")) for e in receiver.accepted]
    for response_id in {rid for _, rid in order}:
        kinds = [kind for kind, rid in order if rid == response_id]
        assert kinds.index("response.scored") < kinds.index("response.completed"), kinds

"""Webhook load: updates per second handled by 1, 2 and 3 `npsbot run` replicas behind nginx.

The topology of README "Running at scale", built by tests/replicas/harness.py: N replicas
in webhook mode (aiogram, PostgreSQL) behind nginx from deploy/nginx.conf, and the Bot API
emulator in this process. A load generator here plays Telegram: it POSTs `--updates`
"/start" messages from as many new people to nginx with the secret header, at most
`--concurrency` at once (Telegram's default max_connections is 40). Each update's latency
runs from the start of its POST to the bot's answer (the survey question) arriving at the
emulator. Printed per N: updates/s, p50/p99 latency, and the CPU seconds each part used
(replicas, nginx, PostgreSQL's backends, this process: emulator + load generator).

    NPSBOT_BENCH_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
      .venv/bin/python bench/webhook_load.py --replicas 1,2,3 --updates 3000

Only 127.0.0.1 is contacted; each run gets a fresh database, dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.emulator import BotApiEmulator, ChatView  # noqa: E402
from bot.emulator.models import ChatMessage  # noqa: E402
from storage.db import Database  # noqa: E402
from tests.replicas.harness import WEBHOOK_PATH, WEBHOOK_SECRET, Cluster  # noqa: E402
from tests.scenario import TOKEN  # noqa: E402

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
FIRST_USER = 5_000_000
TICK = os.sysconf("SC_CLK_TCK")


class AnswerClock(BotApiEmulator):
    """The emulator, noting when the bot's first message reached each chat."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.answered: dict[int, float] = {}
        self.waiting: dict[int, asyncio.Future[None]] = {}

    def message_added(self, chat: ChatView, msg: ChatMessage) -> None:
        if msg.from_bot and chat.id not in self.answered:
            self.answered[chat.id] = time.monotonic()
            waiter = self.waiting.pop(chat.id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def postgres_pids() -> list[int]:
    """PostgreSQL's processes (its backends do the replicas' queries)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def start_update(update_id: int, user_id: int) -> dict[str, Any]:
    """A "/start" message as Telegram posts it."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": f"U{user_id}"},
            "from": {
                "id": user_id,
                "is_bot": False,
                "first_name": f"U{user_id}",
                "language_code": "en",
            },
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


async def fire(
    api: AnswerClock, url: str, users: range, concurrency: int, first_update: int
) -> list[float]:
    """POSTs one /start per user, `concurrency` at a time; each latency to the answer."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
    queue = iter(enumerate(users))
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for n, user_id in queue:
                user = api.user(user_id, first_name=f"U{user_id}", language_code="en")
                user.started = True  # the /start below bypasses the emulator's users
                answered = asyncio.get_running_loop().create_future()
                api.waiting[user_id] = answered
                posted = time.monotonic()
                body = start_update(first_update + n, user_id)
                status = 0
                while status != 200:  # posted again on 5xx, as Telegram does
                    async with session.post(url, json=body, headers=headers) as response:
                        status = response.status
                        assert status < 400 or status >= 500, status
                await asyncio.wait_for(answered, 60)
                latencies.append(api.answered[user_id] - posted)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def run_one(replicas: int, updates: int, concurrency: int, pg_url: str) -> dict[str, Any]:
    name = f"npsbot_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(
        make_url(pg_url).set(drivername="postgresql").render_as_string(False)
    )
    await admin.execute(f'CREATE DATABASE "{name}"')
    db_url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    db = Database(db_url)
    await db.migrate()
    await db.dispose()
    try:
        async with AnswerClock(token=TOKEN, bot_username="acme_nps_bot") as api:
            cluster = Cluster(api, db_url, Path(tempfile.mkdtemp(prefix="npsbot-load-")), replicas)
            await cluster.start()
            try:
                url = f"{cluster.base_url}{WEBHOOK_PATH}"
                await fire(api, url, range(FIRST_USER, FIRST_USER + 200), concurrency, 1)  # warm
                pids = {f"replica {n.index}": n.process.pid for n in cluster.nodes if n.process}
                assert cluster.nginx is not None
                pids["nginx"] = cluster.nginx.pid
                pids.update({f"pg {pid}": pid for pid in postgres_pids()})
                before = {label: cpu_seconds(pid) for label, pid in pids.items()}
                own_before, started = own_cpu(), time.monotonic()
                first = FIRST_USER + 1000
                latencies = await fire(api, url, range(first, first + updates), concurrency, 1000)
                wall = time.monotonic() - started
                cpu = {label: cpu_seconds(pid) - before[label] for label, pid in pids.items()}
                own = own_cpu() - own_before
            finally:
                await cluster.stop()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    latencies.sort()
    bots = sum(v for k, v in cpu.items() if k.startswith("replica"))
    return {
        "replicas": replicas,
        "rate": updates / wall,
        "p50": latencies[len(latencies) // 2] * 1000,
        "p99": latencies[int(len(latencies) * 0.99)] * 1000,
        "cpu_bots": bots / wall,
        "cpu_nginx": cpu["nginx"] / wall,
        "cpu_pg": sum(v for k, v in cpu.items() if k.startswith("pg")) / wall,
        "cpu_here": own / wall,
        "bot_ms": bots / updates * 1000,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicas", default="1,2,3")
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=40)
    args = parser.parse_args()
    pg_url = os.environ.get("NPSBOT_BENCH_POSTGRES_URL", DEFAULT_PG)
    print(f"{os.cpu_count()} CPUs; {args.updates} /start updates, {args.concurrency} at once")
    print(
        "| replicas | updates/s | p50 ms | p99 ms | CPU: replicas | nginx | PostgreSQL"
        " | emulator + load | replica CPU ms per update |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for count in [int(n) for n in args.replicas.split(",")]:
        r = await run_one(count, args.updates, args.concurrency, pg_url)
        print(
            f"| {r['replicas']} | {r['rate']:.0f} | {r['p50']:.0f} | {r['p99']:.0f}"
            f" | {r['cpu_bots']:.2f} | {r['cpu_nginx']:.2f} | {r['cpu_pg']:.2f}"
            f" | {r['cpu_here']:.2f} | {r['bot_ms']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main())

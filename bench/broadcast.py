"""Broadcast rate: how close to the configured limit a real broadcast gets, with no 429s.

The bot runs as its own process (`python -m bot run`) and talks HTTP to the project's Bot
API emulator, which runs here and — like Telegram — answers 429 above the limits
(`set_rate_limits(global_per_second=30, per_chat_per_second=1)`, a sliding one-second
window). N people who pressed Start are stored in the database first; the owner sends
`/broadcast nps` and presses Confirm, as in the chat. Printed per run: the achieved rate
of question deliveries (first to last) as a fraction of BROADCAST_RATE, the 429s the
emulator had to send, and how many people got the question exactly once. Only 127.0.0.1
is contacted.

    python bench/broadcast.py                       # 10 000 people, 30/s, SQLite
    python bench/broadcast.py --people 2000 --backend postgres

PostgreSQL runs use NPSBOT_BENCH_POSTGRES_URL (default
postgresql+asyncpg://postgres@127.0.0.1:5432/test): a database is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

import asyncpg  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.emulator import BotApiEmulator  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import utcnow  # noqa: E402

TOKEN = "123456:BENCH-token"
OWNER = 900
FIRST_ID = 1_000_000
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@dataclass
class Result:
    """One run's figures."""

    backend: str
    people: int
    rate: float
    seconds: float
    achieved: float
    throttled: int
    once: int
    twice: int

    @property
    def fraction(self) -> float:
        """Achieved rate as a share of the configured one."""
        return self.achieved / self.rate


@asynccontextmanager
async def database(backend: str) -> AsyncIterator[str]:
    """A fresh, migrated database URL: a temporary SQLite file or a PostgreSQL database."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{folder}/bench.db"
            await _migrate(url)
            yield url
        return
    base = os.environ.get("NPSBOT_BENCH_POSTGRES_URL", DEFAULT_PG)
    name = f"npsbot_bench_{uuid.uuid4().hex[:10]}"
    admin_dsn = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        await _migrate(url)
        yield url
    finally:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await db.migrate()
    finally:
        await db.dispose()


async def seed(url: str, api: BotApiEmulator, people: int) -> list[int]:
    """People who pressed Start: respondent rows, and started chats in the emulator."""
    ids = list(range(FIRST_ID, FIRST_ID + people))
    now = utcnow()
    rows = [
        {
            "telegram_id": uid,
            "first_name": f"P{uid}",
            "telegram_language": "en",
            "subscribed": True,
            "unreachable": False,
            "started_at": now,
            "last_seen_at": now,
        }
        for uid in ids
    ]
    db = Database(url)
    try:
        async with db.transaction() as store:
            await store.respondents.add_people(rows)
    finally:
        await db.dispose()
    for uid in ids:
        api.user(uid, first_name=f"P{uid}").started = True
    return ids


async def run(backend: str, people: int, rate: float, within: float) -> Result:
    """One broadcast to `people` at `rate`, the emulator answering 429 above 30/s and 1/s."""
    async with database(backend) as url, BotApiEmulator(token=TOKEN) as api:
        ids = await seed(url, api, people)
        api.set_rate_limits(global_per_second=30, per_chat_per_second=1)
        env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
        env.update(
            BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=api.base_url,
            DATABASE_URL=url,
            ADMIN_IDS=str(OWNER),
            DIGEST_TIME="off",
            REMINDER_AFTER_HOURS="0",
            BROADCAST_RATE=str(rate),
            LOG_LEVEL="WARNING",
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=str(ROOT), env=env
        )
        try:
            await api.wait_until(lambda: api.calls_for("getUpdates"), timeout=60)
            owner = api.user(OWNER, first_name="Owner")
            owner.send("/broadcast nps")
            preview = await owner.wait_for_message(lambda m: "Broadcast preview" in m.text, 60)
            owner.press(preview, f"✅ Send to {people + 1:,}")
            await api.wait_until(
                lambda: any("finished:" in m.text for m in owner.bot_messages), timeout=within
            )
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), timeout=60)
        wanted = set(ids)
        times = sorted(
            c.at
            for c in api.calls
            if c.method == "sendMessage" and c.status == 200 and c.params["chat_id"] in wanted
        )
        sent = Counter(
            c.params["chat_id"]
            for c in api.calls
            if c.method == "sendMessage" and c.status == 200 and c.params["chat_id"] in wanted
        )
        seconds = times[-1] - times[0]
        return Result(
            backend=backend,
            people=people,
            rate=rate,
            seconds=seconds,
            achieved=(len(times) - 1) / seconds,
            throttled=api.too_many_requests_sent,
            once=sum(1 for uid in ids if sent[uid] == 1),
            twice=sum(1 for uid in ids if sent[uid] > 1),
        )


def table(results: list[Result]) -> str:
    """The figures as a Markdown table."""
    lines = [
        "| backend | people | BROADCAST_RATE | duration | achieved | of the limit "
        "| 429s received | got it once | twice |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.backend} | {r.people:,} | {r.rate:g}/s | {r.seconds:.1f} s "
            f"| {r.achieved:.2f}/s | {r.fraction:.3f} | {r.throttled} | {r.once:,} | {r.twice} |"
        )
    return "\n".join(lines)


async def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=30.0, help="BROADCAST_RATE")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "all"), default="sqlite")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "all" else [args.backend]
    results = []
    for backend in backends:
        started = time.monotonic()
        within = args.people / args.rate * 2 + 120
        results.append(await run(backend, args.people, args.rate, within))
        print(f"{backend}: done in {time.monotonic() - started:.0f} s", file=sys.stderr)
    print(table(results))


if __name__ == "__main__":
    asyncio.run(main())

"""Broadcast rate: how close to the configured limit a real broadcast gets, with no 429s.

The bot runs as its own process (`python -m bot run`; with `--replicas N`, N of them in
webhook mode on one database) and talks HTTP to the project's Bot API emulator, which runs
here and — like Telegram — answers 429 above the limits (30/s, 1/s per chat, 1000/s for
`allow_paid_broadcast` sends, a sliding one-second window); above 30/s the bot runs with
BROADCAST_PAID=true. N people who pressed Start are stored in the database first; the owner sends
`/broadcast nps` and presses Confirm, as in the chat. Printed per run: the achieved rate
of question deliveries (first to last) as a fraction of BROADCAST_RATE, the 429s the
emulator had to send, and how many people got the question exactly once. Only 127.0.0.1
is contacted.

    python bench/broadcast.py                       # 10 000 people, 30/s, SQLite
    python bench/broadcast.py --people 2000 --backend postgres
    python bench/broadcast.py --people 20000 --rate 1000 --backend postgres
    python bench/broadcast.py --rate 30 --backend postgres --replicas 1,2,3 [--kill-after 30]

PostgreSQL runs use NPSBOT_BENCH_POSTGRES_URL (default
postgresql+asyncpg://postgres@127.0.0.1:5432/test): a database is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

import asyncpg  # noqa: E402
from sqlalchemy import select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.emulator import BotApiEmulator  # noqa: E402
from storage.broadcast_models import BroadcastRecipient  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import utcnow  # noqa: E402

TOKEN = "123456:BENCH-token"
OWNER = 900
FIRST_ID = 1_000_000
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
FREE_LIMIT = 30.0  # above it the bot runs with BROADCAST_PAID=true


@dataclass
class Result:
    """One run's figures."""

    backend: str
    people: int
    rate: float
    replicas: int
    seconds: float
    achieved: float
    throttled: int
    once: int
    twice: int
    db_agrees: bool  # the database's "sent" rows are exactly the emulator's deliveries
    uncertain: int  # rows a killed replica left in doubt (never re-sent)
    busiest: int  # most question sends in any one-second window
    before: float | None = field(default=None)  # kill runs: rate before the kill, …
    gap: float | None = field(default=None)  # … in the 8 s after it, …
    after: float | None = field(default=None)  # … and from then to the end

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


def bot_env(url: str, api: BotApiEmulator, rate: float, **extra: str) -> dict[str, str]:
    """The environment of one `npsbot run` process."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update(
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=api.base_url,
        DATABASE_URL=url,
        ADMIN_IDS=str(OWNER),
        DIGEST_TIME="off",
        REMINDER_AFTER_HOURS="0",
        BROADCAST_RATE=f"{rate:g}",
        BROADCAST_PAID="true" if rate > FREE_LIMIT else "false",
        LOG_LEVEL="WARNING",
        **extra,
    )
    return env


async def start_bots(
    url: str, api: BotApiEmulator, rate: float, replicas: int
) -> list[asyncio.subprocess.Process]:
    """One polling `npsbot run` (replicas=0), or N in webhook mode, started one after the
    other: the last one's webhook gets the owner's updates, the others only send."""
    if not replicas:
        process = await _spawn(bot_env(url, api, rate))
        await api.wait_until(lambda: api.calls_for("getUpdates"), timeout=60)
        return [process]
    processes = []
    for _ in range(replicas):
        port = _free_port()
        env = bot_env(
            url,
            api,
            rate,
            HTTP_PORT=str(port),
            WEBHOOK_URL=f"http://127.0.0.1:{port}/telegram/hook",
            WEBHOOK_SECRET="bench-webhook-secret",
        )
        before = len(api.calls_for("setWebhook"))
        processes.append(await _spawn(env))
        await api.wait_until(
            lambda b=before: sum(c.status == 200 for c in api.calls_for("setWebhook")) > b,  # type: ignore[misc]
            timeout=60,
        )
    return processes


async def _spawn(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=str(ROOT), env=env
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def run(
    backend: str,
    people: int,
    rate: float,
    *,
    replicas: int = 0,
    kill_after: float | None = None,
) -> Result:
    """One broadcast to `people` at `rate` against Telegram's limits in the emulator: 429
    above 30/s (1000/s for paid sends) and above 1/s per chat."""
    within = people / rate * 2 + 120
    async with database(backend) as url, BotApiEmulator(token=TOKEN) as api:
        ids = await seed(url, api, people)
        api.set_rate_limits(global_per_second=30, per_chat_per_second=1, paid_per_second=1000)
        processes = await start_bots(url, api, rate, replicas)
        killed_at: float | None = None
        try:
            owner = api.user(OWNER, first_name="Owner")
            owner.send("/broadcast nps")
            preview = await owner.wait_for_message(lambda m: "Broadcast preview" in m.text, 60)
            owner.press(preview, f"✅ Send to {people:,}")
            if kill_after is not None:
                await api.wait_until(lambda: _first_question(api, OWNER) is not None, 60)
                first = _first_question(api, OWNER)
                assert first is not None
                await asyncio.sleep(max(0.0, first + kill_after - time.monotonic()))
                processes[0].kill()  # SIGKILL: no clean-up, its heartbeat just stops
                killed_at = time.monotonic()
            await api.wait_until(
                lambda: any("finished:" in m.text for m in owner.bot_messages), timeout=within
            )
        finally:
            for process in processes:
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes:
                await asyncio.wait_for(process.wait(), timeout=60)
        rows = await recipient_rows(url)
        return measure(api, ids, rate, backend, replicas, rows, killed_at)


def _first_question(api: BotApiEmulator, owner: int) -> float | None:
    """When the first question of the broadcast reached the emulator."""
    for call in api.calls:
        if call.method == "sendMessage" and call.status == 200 and call.params["chat_id"] != owner:
            return call.at
    return None


async def recipient_rows(url: str) -> list[tuple[int, str, int | None]]:
    """(chat, status, message id) of every recipient row (the bench's one broadcast)."""
    db = Database(url)
    table = BroadcastRecipient.__table__
    try:
        async with db.engine.connect() as conn:
            found = await conn.execute(select(table.c.chat_id, table.c.status, table.c.message_id))
            return [(chat, status, mid) for chat, status, mid in found]
    finally:
        await db.dispose()


def measure(
    api: BotApiEmulator,
    ids: list[int],
    rate: float,
    backend: str,
    replicas: int,
    rows: list[tuple[int, str, int | None]],
    killed_at: float | None,
) -> Result:
    """The figures, from the emulator's successful sends and the database's rows."""
    wanted = set(ids)
    sends = [
        c
        for c in api.calls
        if c.method == "sendMessage" and c.status == 200 and c.params["chat_id"] in wanted
    ]
    times = sorted(c.at for c in sends)
    sent = Counter(c.params["chat_id"] for c in sends)
    delivered = {(c.params["chat_id"], c.result["message_id"]) for c in sends}
    rows = [row for row in rows if row[0] in wanted]  # not the owner's own question
    recorded = {(chat, mid) for chat, status, mid in rows if status == "sent"}
    statuses = Counter(status for _, status, _ in rows)
    uncertain = {chat for chat, status, _ in rows if status == "uncertain"}
    seconds = times[-1] - times[0]
    result = Result(
        backend=backend,
        people=len(ids),
        rate=rate,
        replicas=max(1, replicas),
        seconds=seconds,
        achieved=(len(times) - 1) / seconds,
        throttled=api.too_many_requests_sent,
        once=sum(1 for uid in ids if sent[uid] == 1),
        twice=sum(1 for uid in ids if sent[uid] > 1),
        # A killed replica's calls in flight are "uncertain": delivered or not, never re-sent.
        db_agrees=recorded <= delivered
        and {chat for chat, _ in delivered - recorded} <= uncertain
        and statuses["sent"] == len(recorded),
        uncertain=len(uncertain),
        busiest=_busiest_second(times),
    )
    if killed_at is not None:
        # Before: the 10 s up to the kill; after: from LIVE_WINDOW + 2 s past it to the end.
        result.before = _rate_between(times, killed_at - 10, killed_at)
        result.gap = _rate_between(times, killed_at, killed_at + 8)
        result.after = _rate_between(times, killed_at + 8, times[-1])
    return result


def _busiest_second(times: list[float]) -> int:
    """The most sends in any one-second window (what Telegram's limit counts)."""
    most, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def _rate_between(times: list[float], start: float, end: float) -> float:
    inside = [t for t in times if start <= t < end]
    return len(inside) / (end - start) if end > start else 0.0


def table(results: list[Result]) -> str:
    """The figures as a Markdown table."""
    lines = [
        "| backend | replicas | people | BROADCAST_RATE | duration | achieved | of the limit "
        "| busiest second | 429s received | got it once | twice | DB agrees | uncertain |",
        "| --- " + "| ---: " * 10 + "| --- | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.backend} | {r.replicas} | {r.people:,} | {r.rate:g}/s | {r.seconds:.1f} s "
            f"| {r.achieved:.2f}/s | {r.fraction:.3f} | {r.busiest} | {r.throttled} "
            f"| {r.once:,} | {r.twice} | {'yes' if r.db_agrees else 'NO'} | {r.uncertain} |"
        )
    for r in results:
        if r.before is not None:
            lines.append(
                f"\nkill -9 of one of {r.replicas} replicas: {r.before:.2f}/s in the 10 s before, "
                f"{r.gap:.2f}/s in the 8 s after, {r.after:.2f}/s from then to the end."
            )
    return "\n".join(lines)


async def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=30.0, help="BROADCAST_RATE")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "all"), default="sqlite")
    parser.add_argument(
        "--replicas",
        type=str,
        default="0",
        help="comma-separated replica counts, e.g. 1,2,3: that many npsbot processes in "
        "webhook mode (0: one polling process, as in production without replicas)",
    )
    parser.add_argument(
        "--kill-after",
        type=float,
        default=None,
        help="kill -9 the first replica this many seconds after the first question",
    )
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "all" else [args.backend]
    results = []
    for backend in backends:
        for replicas in (int(n) for n in args.replicas.split(",")):
            started, load = time.monotonic(), os.getloadavg()[0]
            results.append(
                await run(
                    backend,
                    args.people,
                    args.rate,
                    replicas=replicas,
                    kill_after=args.kill_after,
                )
            )
            print(
                f"{backend}, {replicas} replicas: done in {time.monotonic() - started:.0f} s, "
                f"load average {load:.1f} before, {os.getloadavg()[0]:.1f} after",
                file=sys.stderr,
            )
            print(table(results[-1:]), file=sys.stderr)
    print(table(results))


if __name__ == "__main__":
    asyncio.run(main())

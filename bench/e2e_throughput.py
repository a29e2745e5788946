"""End-to-end throughput: simulated respondents complete the survey against the emulator.

The bot under test runs as its own process (`npsbot run`, or the framework's do-nothing
bot from bench/floor_bots.py as the floor) and talks HTTP to the project's Bot API
emulator, which runs here together with K simulated respondents. Each respondent sends
/start, taps a score, answers "why" and "what to improve"; at most `--concurrency` are
mid-survey at once, `--total` complete it. Printed per run: completed surveys per second
and the latency from a button press to the bot's answer (answerCallbackQuery) and to its
next question. Only 127.0.0.1 is contacted.

    python bench/e2e_throughput.py --backend sqlite --runtime all --concurrency 200 --total 5000

PostgreSQL runs use NPSBOT_BENCH_POSTGRES_URL (default
postgresql+asyncpg://postgres@127.0.0.1:5432/test): a database is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import resource
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

import asyncpg  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.emulator import BotApiEmulator, ChatView  # noqa: E402
from bot.emulator.models import ChatMessage  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import Response, Step  # noqa: E402

TOKEN = "123456:BENCH-token"
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
STEP_TIMEOUT = 60.0  # seconds one respondent waits for one answer before the run fails


class BenchEmulator(BotApiEmulator):
    """The emulator, plus cheap per-chat wake-ups and timestamps of button answers."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.arrivals: dict[int, asyncio.Event] = {}
        self.answered_at: dict[str, float] = {}

    def message_added(self, chat: ChatView, msg: ChatMessage) -> None:
        if msg.from_bot:
            # The text is filled in right after, before any other task runs.
            self.arrivals.setdefault(chat.id, asyncio.Event()).set()

    async def handle(self, method: str, params: dict[str, Any]) -> Any:
        if method == "answerCallbackQuery":
            self.answered_at.setdefault(str(params.get("callback_query_id")), time.perf_counter())
        return await super().handle(method, params)


@dataclass
class Result:
    """One run's figures."""

    bot: str
    backend: str
    concurrency: int
    total: int
    think: float = 0.0  # mean seconds a respondent takes before each step
    seconds: float = 0.0
    answer_ms: list[float] = field(default_factory=list)  # press → answerCallbackQuery
    next_ms: list[float] = field(default_factory=list)  # press → the next question
    stored: int | None = None
    error: str | None = None
    bot_cpu: float = 0.0  # CPU seconds of the bot process (user + system)
    harness_cpu: float = 0.0  # CPU seconds of this process: emulator and respondents

    @property
    def rate(self) -> float:
        """Completed surveys per second."""
        return self.total / self.seconds if self.seconds else 0.0


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _wait_bot_messages(api: BenchEmulator, chat_id: int, count: int) -> ChatMessage:
    """Waits until the chat holds `count` bot messages; returns the newest."""
    chat = api.users[chat_id]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STEP_TIMEOUT
    while True:
        bot_messages = [m for m in chat.messages if m.from_bot]
        if len(bot_messages) >= count:
            return bot_messages[-1]
        event = api.arrivals.setdefault(chat_id, asyncio.Event())
        event.clear()
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise TimeoutError(f"chat {chat_id}: no answer within {STEP_TIMEOUT}s")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), remaining)


async def _respondent(
    api: BenchEmulator, user_id: int, rng: random.Random, result: Result
) -> None:
    """One respondent: /start, a score, why, improve (thinking `result.think` s before each)."""

    async def think() -> None:
        if result.think:
            await asyncio.sleep(result.think * rng.uniform(0.5, 1.5))

    user = api.user(user_id, first_name=f"R{user_id}", language_code="en")
    await think()
    user.send("/start")
    question = await _wait_bot_messages(api, user_id, 2)
    await think()
    pressed = time.perf_counter()
    query_id = user.press(question, str(rng.randint(0, 10)))
    await _wait_bot_messages(api, user_id, 3)
    result.next_ms.append((time.perf_counter() - pressed) * 1000)
    answered = api.answered_at.get(query_id)
    if answered is not None:
        result.answer_ms.append((answered - pressed) * 1000)
    await think()
    user.send("Delivery was late")
    await _wait_bot_messages(api, user_id, 4)
    await think()
    user.send("Send tracking links")
    await _wait_bot_messages(api, user_id, 5)


async def _drive(api: BenchEmulator, result: Result, seed: int) -> None:
    rng = random.Random(seed)
    gate = asyncio.Semaphore(result.concurrency)

    async def one(index: int) -> None:
        async with gate:
            await _respondent(api, 1_000_000 + index, rng, result)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(result.total)))
    result.seconds = time.perf_counter() - started


@contextlib.asynccontextmanager
async def _database(backend: str, workdir: Path) -> AsyncIterator[str | None]:
    """A fresh database URL for npsbot (None for the floor bots, which store nothing)."""
    if backend == "none":
        yield None
        return
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / f'bench-{uuid.uuid4().hex[:8]}.db'}"
        return
    base = os.environ.get("NPSBOT_BENCH_POSTGRES_URL", DEFAULT_PG)
    name = f"npsbot_bench_{uuid.uuid4().hex[:10]}"
    admin = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def _command(bot: str, api_url: str) -> list[str]:
    if bot.startswith("floor-"):
        framework = bot.removeprefix("floor-")
        script = str(ROOT / "bench" / "floor_bots.py")
        return [sys.executable, script, framework, "--api", api_url, "--token", TOKEN]
    return [sys.executable, "-m", "bot", "run"]


async def _count_completed(url: str) -> int:
    db = Database(url)
    try:
        async with db.snapshot() as store:
            session = store.responses._session
            return int(
                await session.scalar(
                    select(func.count()).select_from(Response).where(Response.step == Step.DONE)
                )
                or 0
            )
    finally:
        await db.dispose()


async def run_once(
    bot: str,
    backend: str,
    concurrency: int,
    total: int,
    workdir: Path,
    *,
    think: float = 0.0,
    profile: bool = False,
) -> Result:
    """Starts the emulator and the bot process, drives the respondents, stops the bot."""
    database = backend if not bot.startswith("floor-") else "-"
    result = Result(bot, database, concurrency, total, think)
    async with (
        _database("none" if bot.startswith("floor-") else backend, workdir) as url,
        BenchEmulator(token=TOKEN, bot_first_name="Acme", bot_username="acme_bench_bot") as api,
    ):
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
        env.update(
            BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=api.base_url,
            BOT_FRAMEWORK=bot,
            BRAND_NAME="Acme",
            LOG_LEVEL="WARNING",
            DIGEST_TIME="off",
            PYTHONPATH=str(ROOT),
        )
        if url is not None:
            env["DATABASE_URL"] = url
        command = _command(bot, api.base_url)
        profile_out = workdir / f"profile-{bot}-{backend}.txt"
        if profile:
            command = ["py-spy", "record", "-f", "raw", "-o", str(profile_out), "--", *command]
        log_path = workdir / f"{bot}-{backend}.log"
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        harness = time.process_time()
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                *command, cwd=workdir, env=env, stdout=log, stderr=log
            )
            try:
                await api.wait_until(lambda: api.calls_for("getUpdates"), timeout=60)
                await _drive(api, result, seed=concurrency * 7919 + total)
            except Exception as exc:
                result.error = f"{type(exc).__name__}: {exc}"
            finally:
                process.send_signal(signal.SIGTERM if not profile else signal.SIGINT)
                try:
                    await asyncio.wait_for(process.wait(), timeout=60)
                except TimeoutError:
                    process.kill()
                    await process.wait()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        result.bot_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
        result.harness_cpu = time.process_time() - harness
        if url is not None and result.error is None:
            result.stored = await _count_completed(url)
            if result.stored != total:
                result.error = f"{result.stored} of {total} surveys stored as done"
        if result.error:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
            result.error += " | " + " / ".join(tail)
        if profile:
            print(f"  profile of {bot}/{backend}: {profile_out}", file=sys.stderr)
    return result


def _cpu_ratio(run: Result, floor: Result | None) -> str:
    """Floor CPU per survey over this run's: the share of the floor's throughput this bot
    reaches with the same CPU, whatever else the machine was doing at the time."""
    if floor is None or run is floor or not run.bot_cpu or not floor.bot_cpu:
        return "—"
    return f"{(floor.bot_cpu / floor.total) / (run.bot_cpu / run.total):.0%}"


def _table(results: list[Result]) -> str:
    head = (
        "| bot | database | concurrent | think s | surveys | seconds | surveys/s | vs floor "
        "| answer p50 ms | answer p99 ms | next question p50 ms | next question p99 ms "
        "| bot CPU ms/survey | vs floor, CPU | harness CPU s |"
    )
    lines = [head, "|" + "---|" * 15]
    floor_runs = {r.bot.removeprefix("floor-"): r for r in results if r.bot.startswith("floor-")}
    floors = {name: r.rate for name, r in floor_runs.items()}
    for r in results:
        if r.error:
            lines.append(f"| {r.bot} | {r.backend} | {r.concurrency} | FAILED: {r.error} |")
            continue
        floor = floors.get(r.bot)
        versus = f"{r.rate / floor:.0%}" if floor and not r.bot.startswith("floor-") else "—"
        lines.append(
            f"| {r.bot} | {r.backend} | {r.concurrency} | {r.think:g} | {r.total} "
            f"| {r.seconds:.1f} "
            f"| {r.rate:.1f} | {versus} | {_pct(r.answer_ms, 0.5):.1f} "
            f"| {_pct(r.answer_ms, 0.99):.1f} | {_pct(r.next_ms, 0.5):.1f} "
            f"| {_pct(r.next_ms, 0.99):.1f} | {r.bot_cpu * 1000 / r.total:.1f} "
            f"| {_cpu_ratio(r, floor_runs.get(r.bot))} | {r.harness_cpu:.1f} |"
        )
    return "\n".join(lines)


def _keep_profiles(workdir: Path) -> None:
    """Moves py-spy's recordings out of the temporary directory, into bench/profiles/."""
    keep = ROOT / "bench" / "profiles"
    keep.mkdir(exist_ok=True)
    for path in workdir.glob("profile-*.txt"):
        path.replace(keep / path.name)
        print(f"profile: {keep / path.name}", file=sys.stderr)


async def main() -> int:
    """Parses the arguments, runs floor and npsbot for each runtime, prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--runtime", choices=["aiogram", "ptb", "all"], default="all")
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--total", type=int, default=1000, help="surveys to complete per run")
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="mean seconds a respondent takes before each step (0: as fast as answers come)",
    )
    parser.add_argument("--no-floor", action="store_true", help="skip the do-nothing bots")
    parser.add_argument("--profile", action="store_true", help="record each npsbot run (py-spy)")
    parser.add_argument(
        "--time-limit", type=float, default=900, help="seconds for the whole benchmark"
    )
    args = parser.parse_args()
    runtimes = ["aiogram", "ptb"] if args.runtime == "all" else [args.runtime]
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    plan: list[tuple[str, str]] = []
    for runtime in runtimes:
        if not args.no_floor:
            plan.append((f"floor-{runtime}", "-"))
        plan += [(runtime, backend) for backend in backends]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="npsbot-bench-") as tmp:
        workdir = Path(tmp)
        try:
            async with asyncio.timeout(args.time_limit):
                for bot, backend in plan:
                    print(f"running {bot} on {backend} ...", file=sys.stderr, flush=True)
                    profile = args.profile and not bot.startswith("floor-")
                    results.append(
                        await run_once(
                            bot,
                            backend,
                            args.concurrency,
                            args.total,
                            workdir,
                            think=args.think,
                            profile=profile,
                        )
                    )
                    print(_table(results[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
        except TimeoutError:
            print(f"stopped after the {args.time_limit:.0f}s time limit", file=sys.stderr)
        if args.profile:
            _keep_profiles(workdir)
    print(_table(results))
    return 1 if not results or any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

"""Start-up footprint: what `npsbot run` costs over its framework's bare import.

For each runtime (aiogram, python-telegram-bot) and several runs (median reported):

* **framework** — a fresh interpreter running the framework's bare import
  (``import aiogram, aiogram.types`` / ``import telegram.ext``) and exiting: wall time from
  spawn to exit, and the child's peak RSS (``ru_maxrss`` from ``os.wait4``).
* **npsbot run** — the real command (``npsbot run``, BOT_FRAMEWORK set) against the project's
  Bot API emulator, running in this process on 127.0.0.1, on a temporary SQLite file that
  ``npsbot migrate`` prepared once before the runs (``--fresh-db``: a new file per run, so
  each start also migrates it). Wall time from spawn to the bot's first ``getUpdates`` (the
  emulator records every call; polled with a deadline); then SIGTERM, and the child's peak
  RSS from ``os.wait4``. That is everything the bot imports and builds before it polls.

The runs alternate between the two, round after round, so load from elsewhere on the
machine slows both alike. Prints a Markdown table with the difference and the target
(at most +1.0 s and +60 MB).

    .venv/bin/python bench/footprint.py --runs 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from bot.emulator import BotApiEmulator  # noqa: E402

TOKEN = "123456:FOOTPRINT-token"
TARGET_SECONDS = 1.0
TARGET_MB = 60.0
POLL_DEADLINE = 60.0  # seconds a bot may take to reach its first getUpdates

FRAMEWORK_IMPORT = {
    "aiogram": "import aiogram, aiogram.types",
    "ptb": "import telegram.ext",
}
FRAMEWORK_NAME = {"aiogram": "aiogram", "ptb": "python-telegram-bot"}


@dataclass
class Samples:
    """Wall seconds and peak RSS (MB) of one kind of run."""

    seconds: list[float] = field(default_factory=list)
    mb: list[float] = field(default_factory=list)

    def add(self, seconds: float, max_rss_kb: int) -> None:
        self.seconds.append(seconds)
        self.mb.append(max_rss_kb / 1024)  # ru_maxrss is in kilobytes on Linux

    @property
    def time(self) -> float:
        return statistics.median(self.seconds)

    @property
    def rss(self) -> float:
        return statistics.median(self.mb)


def _wait4(pid: int) -> int:
    """Reap a child and return its own peak RSS in kilobytes."""
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, -signal.SIGTERM):
        raise RuntimeError(f"child {pid} ended with status {os.waitstatus_to_exitcode(status)}")
    return usage.ru_maxrss


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _npsbot() -> list[str]:
    """The installed console script beside this interpreter, else the module."""
    script = Path(sys.executable).with_name("npsbot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def measure_framework(runtime: str, workdir: Path) -> tuple[float, int]:
    """Spawn an interpreter that imports the framework and exits."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", FRAMEWORK_IMPORT[runtime]], cwd=workdir, env=_base_env()
    )
    kb = _wait4(process.pid)
    process.returncode = 0  # reaped above; keep Popen from waiting again
    return time.perf_counter() - started, kb


async def measure_npsbot(
    runtime: str, api: BotApiEmulator, database: Path, workdir: Path
) -> tuple[float, int]:
    """Start `npsbot run`, wait for its first getUpdates, stop it with SIGTERM."""
    env = _base_env()
    env.update(
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=api.base_url,
        BOT_FRAMEWORK=runtime,
        DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        LOG_LEVEL="WARNING",
        DIGEST_TIME="off",
    )
    api.calls.clear()
    log = (workdir / f"npsbot-{runtime}.log").open("ab")
    started = time.perf_counter()
    # Popen, not asyncio's: its child watcher would reap the bot before os.wait4 reads
    # the bot's own rusage.
    process = subprocess.Popen(  # noqa: ASYNC220
        [*_npsbot(), "run"], cwd=workdir, env=env, stdout=log, stderr=log
    )
    try:
        deadline = started + POLL_DEADLINE
        while not api.calls_for("getUpdates"):
            if process.poll() is not None:
                raise RuntimeError(f"npsbot run ended early; see {log.name}")
            if time.perf_counter() > deadline:
                raise RuntimeError(f"no getUpdates within {POLL_DEADLINE:.0f} s; see {log.name}")
            await asyncio.sleep(0.005)  # the emulator serves the bot on this loop meanwhile
        polled = time.perf_counter() - started
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        log.close()
    # Reaping blocks; the bot still needs the emulator to shut down cleanly.
    kb = await asyncio.to_thread(_wait4, process.pid)
    process.returncode = 0
    return polled, kb


def _migrate(database: Path, workdir: Path) -> None:
    env = _base_env()
    env.update(BOT_TOKEN=TOKEN, DATABASE_URL=f"sqlite+aiosqlite:///{database}")
    subprocess.run([*_npsbot(), "migrate"], cwd=workdir, env=env, check=True, capture_output=True)


async def run(
    runtimes: list[str], runs: int, fresh_db: bool
) -> dict[str, tuple[Samples, Samples]]:
    results = {runtime: (Samples(), Samples()) for runtime in runtimes}
    with tempfile.TemporaryDirectory(prefix="npsbot-footprint-") as tmp:
        workdir = Path(tmp)
        database = workdir / "npsbot.db"
        if not fresh_db:
            _migrate(database, workdir)
        async with BotApiEmulator(token=TOKEN) as api:
            for round_ in range(runs):
                for runtime in runtimes:
                    bare, full = results[runtime]
                    bare.add(*await asyncio.to_thread(measure_framework, runtime, workdir))
                    if fresh_db:
                        database = workdir / f"npsbot-{runtime}-{round_}.db"
                    full.add(*await measure_npsbot(runtime, api, database, workdir))
                    print(
                        f"  round {round_ + 1}/{runs} {runtime}: framework "
                        f"{bare.seconds[-1]:.2f} s {bare.mb[-1]:.0f} MB, npsbot run "
                        f"{full.seconds[-1]:.2f} s {full.mb[-1]:.0f} MB",
                        file=sys.stderr,
                    )
    return results


def table(results: dict[str, tuple[Samples, Samples]], runs: int, fresh_db: bool) -> str:
    lines = [
        f"python {platform.python_version()} · {os.cpu_count()} CPUs · median of {runs} runs · "
        + ("a fresh SQLite file per run (migrated at start)" if fresh_db else "migrated SQLite"),
        "",
        "| runtime | framework import (s) | npsbot run to polling (s) | difference (s) "
        "| framework peak RSS (MB) | npsbot run peak RSS (MB) | difference (MB) | target |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for runtime, (bare, full) in results.items():
        dt, dm = full.time - bare.time, full.rss - bare.rss
        met = dt <= TARGET_SECONDS and dm <= TARGET_MB
        verdict = "meets" if met else "misses"
        lines.append(
            f"| {FRAMEWORK_NAME[runtime]} | {bare.time:.2f} | {full.time:.2f} | +{dt:.2f} "
            f"| {bare.rss:.0f} | {full.rss:.0f} | +{dm:.0f} "
            f"| ≤ +{TARGET_SECONDS:.1f} s, ≤ +{TARGET_MB:.0f} MB: {verdict} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runtime", choices=["aiogram", "ptb", "all"], default="all")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--fresh-db", action="store_true", help="a new SQLite file per run")
    args = parser.parse_args()
    runtimes = ["aiogram", "ptb"] if args.runtime == "all" else [args.runtime]
    results = asyncio.run(run(runtimes, max(args.runs, 1), args.fresh_db))
    print(table(results, max(args.runs, 1), args.fresh_db))


if __name__ == "__main__":
    main()

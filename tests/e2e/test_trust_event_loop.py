"""The event loop never freezes (issue 9, item 11): another process holding SQLite's write
lock delays writers, not polling; a long /import leaves the loop to other chats.

A lag monitor (a task asking to wake every few milliseconds and recording how late it
woke) measures the longest single step of the loop; it must stay under 100 ms. Time the
loop's thread spent waiting for a CPU (the test machine is shared; Linux counts it in
/proc/thread-self/schedstat) is not the loop's doing and is taken off.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot.emulator import BotApiEmulator
from storage.db import Database
from tests.broadcast_helpers import admin
from tests.e2e.conftest import RunningBot, make_settings
from tests.handlers.test_import_file import contacts_in

MAX_LAG = 0.1  # seconds: the longest any single step may hold the loop
TICK = 0.005
HELP = "I ask one short question"


class LagMonitor:
    """The largest delay, in seconds, between when a tick was due and when it ran."""

    def __init__(self) -> None:
        self.max_lag = 0.0
        self.ticks = 0


def _runqueue_waits() -> dict[str, float]:
    """Seconds each thread of this process has waited for a CPU while runnable (empty
    where Linux does not say).

    All threads, not only the loop's: on a loaded machine a worker thread holding the GIL
    (a file parsed in asyncio.to_thread) can be preempted, and the loop then waits on the
    GIL for as long as that thread waits for a CPU: the machine's delay, not the bot's.
    """
    waits: dict[str, float] = {}
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return waits
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/schedstat") as stat:
                waits[task] = int(stat.read().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            continue  # the thread ended meanwhile
    return waits


def _waited_since(before: dict[str, float]) -> float:
    """How long the process's threads waited for a CPU since `before` (threads that
    ended meanwhile count for nothing, threads started since count from zero)."""
    now = _runqueue_waits()
    return sum(max(0.0, wait - before.get(task, 0.0)) for task, wait in now.items())


@asynccontextmanager
async def lag_monitor() -> AsyncIterator[LagMonitor]:
    """Measures the loop's lag while the block runs."""
    monitor = LagMonitor()
    loop = asyncio.get_running_loop()

    # A timer callback re-armed every TICK: how late each one fires is the loop's lag.
    handle: asyncio.TimerHandle | None = None

    def tick(due: float, waits: dict[str, float]) -> None:
        lag = loop.time() - due - _waited_since(waits)
        monitor.max_lag = max(monitor.max_lag, lag)
        monitor.ticks += 1
        arm()

    def arm() -> None:
        nonlocal handle
        handle = loop.call_later(TICK, tick, loop.time() + TICK, _runqueue_waits())

    arm()
    try:
        yield monitor
    finally:
        if handle is not None:
            handle.cancel()


class LockHolder(threading.Thread):
    """Another "process": a connection of its own holding BEGIN IMMEDIATE until released
    (at most `longest` seconds)."""

    def __init__(self, path: Path, longest: float = 4.0) -> None:
        super().__init__(daemon=True)
        self.path, self.longest = path, longest
        self.holding = threading.Event()
        self.release = threading.Event()

    def run(self) -> None:
        connection = sqlite3.connect(self.path, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("UPDATE surveys SET name = name")  # a real write, uncommitted
            self.holding.set()
            self.release.wait(self.longest)
            connection.execute("COMMIT")
        finally:
            connection.close()


@pytest.mark.parametrize("runtime", ["aiogram", "ptb"])
async def test_a_write_lock_held_by_another_process_does_not_stop_polling(
    api: BotApiEmulator, tmp_path: Path, runtime: str
) -> None:
    path = tmp_path / "npsbot.db"
    settings = make_settings(api, f"sqlite+aiosqlite:///{path}", bot_framework=runtime)
    running = RunningBot(settings, api)
    await running.start()
    try:
        early = api.user(271, first_name="Ada", language_code="en")
        early.send("/help")
        await early.wait_for_message(lambda m: HELP in m.text)
        holder = LockHolder(path)
        async with lag_monitor() as monitor:
            holder.start()
            await asyncio.to_thread(holder.holding.wait, 5)
            loop = asyncio.get_running_loop()
            locked_at = loop.time()
            first, second = (
                api.user(272, first_name="Bea", language_code="en"),
                api.user(273, first_name="Cy", language_code="en"),
            )
            first.send("/help")  # its writer waits for the lock...
            await api.wait_until(lambda: not api.pending_updates, timeout=10)
            second.send("/help")  # ...while polling still fetches the next chat's update
            await api.wait_until(lambda: not api.pending_updates, timeout=10)
            # The lock stays held a while longer: the loop keeps turning all along.
            await api.wait_until(lambda: loop.time() - locked_at > 1.5, timeout=10)
            assert monitor.max_lag < MAX_LAG, f"the loop stalled for {monitor.max_lag:.3f}s"
            assert not any(HELP in m.text for m in first.bot_messages + second.bot_messages)
            holder.release.set()
            await first.wait_for_message(lambda m: HELP in m.text, timeout=10)
            await second.wait_for_message(lambda m: HELP in m.text, timeout=10)
        await asyncio.to_thread(holder.join, 5)
        assert monitor.ticks > 100
        assert monitor.max_lag < MAX_LAG, f"the loop stalled for {monitor.max_lag:.3f}s"
    finally:
        await running.stop()


# Coverage tracing would double the CPU of 200 000 lines and skew the loop timings.
@pytest.mark.no_cover
@pytest.mark.parametrize("runtime", ["aiogram", "ptb"])
async def test_a_200000_line_import_never_holds_the_loop_for_100_ms(
    api: BotApiEmulator, tmp_path: Path, runtime: str
) -> None:
    # SQLite: its statements run on the event loop (on PostgreSQL every statement awaits).
    url = f"sqlite+aiosqlite:///{tmp_path / 'npsbot.db'}"
    running = RunningBot(make_settings(api, url, bot_framework=runtime), api)
    await running.start()
    owner = admin(api)
    data = "\n".join(f"{1_000_000 + i};en;shop;agent{i % 50}" for i in range(200_000)).encode()
    try:
        async with lag_monitor() as monitor:
            owner.send_document(
                data, file_name="contacts.csv", mime_type="text/csv", caption="/import"
            )
            # Parsing and storing 100,000 contacts takes seconds on a busy machine.
            await owner.wait_for_message(lambda m: "Contact list imported" in m.text, timeout=120)
    finally:
        await running.stop()
    assert monitor.max_lag < MAX_LAG, f"the loop stalled for {monitor.max_lag:.3f}s"
    check_db = Database(url)
    try:
        assert len(await contacts_in(check_db)) == 100_000  # MAX_ROWS: the rest is refused
    finally:
        await check_db.dispose()

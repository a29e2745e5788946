"""A moved clock for the autopilot job: its window (weekday mornings) at any real hour."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from bot import autopilot
from bot.app import BotApp
from storage.repos.autopilot import Run
from tests.scenario import wait_for

ZONE = "Europe/Chisinau"  # UTC+2 in December
WEDNESDAY = datetime(2026, 12, 9, 8, 0, tzinfo=UTC)  # 10:00 local
WEDNESDAY_EVENING = datetime(2026, 12, 9, 16, 0, tzinfo=UTC)  # 18:00 local
SATURDAY = datetime(2026, 12, 12, 8, 0, tzinfo=UTC)  # 10:00 local


@dataclass
class Clock:
    """The bot's "now", moved by the test; and every pass the job made, with its runs."""

    now: datetime
    passes: list[tuple[datetime, list[Run]]] = field(default_factory=list)

    async def next_pass(self, within: float = 10.0) -> list[Run]:
        """Waits for the job's next pass (at the current clock) and returns its runs."""
        seen = len(self.passes)
        await until(lambda: len(self.passes) > seen and self.passes[-1][0] == self.now, within)
        return self.passes[-1][1]


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Polls a condition until it holds, failing after `within` s."""
    await wait_for(condition, "the condition", within)


def moved_clock(monkeypatch: pytest.MonkeyPatch, start: datetime) -> Clock:
    """BotApp.clock moved to `start` (every app in the process); the job looks every 50 ms
    and each pass is recorded with its runs."""
    moved = Clock(start)
    monkeypatch.setattr(BotApp, "clock", lambda self: moved.now)
    monkeypatch.setattr(autopilot, "POLL_SECONDS", 0.05)
    run_due = autopilot.run_due

    async def watched(app: BotApp) -> list[Run]:
        moment = app.clock()
        runs = await run_due(app)
        moved.passes.append((moment, runs))
        return runs

    monkeypatch.setattr(autopilot, "run_due", watched)
    return moved

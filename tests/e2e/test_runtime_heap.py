"""The standalone runtimes freeze the start-up heap while running and give it back after."""

from __future__ import annotations

import gc

from tests.e2e.conftest import RunningBot


async def test_start_up_heap_is_frozen_while_running_and_thawed_after(bot: RunningBot) -> None:
    # Frozen: full collections skip the start-up objects (the p99 of the benchmark).
    assert gc.get_freeze_count() > 0
    await bot.stop()
    # Thawed: a process that goes on after the bot can collect those objects again.
    assert gc.get_freeze_count() == 0

"""The process-wide rate limiter: sliding-window bound, pacing, per-chat gap, 429 pause."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from bot.broadcast.limiter import Aborted, RateLimiter
from tests.conftest import next_loop_turn

CALL_SECONDS = 0.002  # a Bot API call's duration in these tests (work, not a wait)


async def _calls(limiter: RateLimiter, chats: list[int | None]) -> list[tuple[float, float]]:
    """Runs one instant call per chat concurrently; returns (start, end) of each."""
    spans: list[tuple[float, float]] = []

    async def call(chat: int | None) -> None:
        async with limiter.slot(chat):
            start = time.monotonic()
            await asyncio.sleep(CALL_SECONDS)  # stands for the HTTP call's duration
            spans.append((start, time.monotonic()))

    await asyncio.gather(*(call(chat) for chat in chats))
    return sorted(spans)


async def test_no_one_second_window_ever_sees_more_than_the_rate() -> None:
    limiter = RateLimiter(40, per_chat_interval=0)
    spans = await _calls(limiter, list(range(100)))
    ends = [end for _, end in spans]
    for start, _ in spans:
        # What Telegram counts: calls it handled in the second before this one arrived.
        assert sum(1 for end in ends if start - 1.0 < end <= start) < 40
    # How close to the limit it gets is measured in bench/broadcast.py, not asserted here:
    # a slow machine must not fail a test.


async def test_tokens_are_paced_not_burst() -> None:
    limiter = RateLimiter(50, per_chat_interval=0)
    spans = await _calls(limiter, list(range(30)))
    starts = [start for start, _ in spans]
    # At most a tenth of the rate back to back; the rest about 1/50 s apart.
    assert starts[10] - starts[0] >= 5 * (1 / 50)


async def test_one_call_at_a_time_per_chat_with_the_interval_between() -> None:
    limiter = RateLimiter(100, per_chat_interval=0.2)
    spans = await _calls(limiter, [7, 7, 7])
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start - end >= 0.2 - 0.005


async def test_a_pause_holds_every_call() -> None:
    limiter = RateLimiter(100, per_chat_interval=0)
    limiter.pause(0.3)
    started = time.monotonic()
    spans = await _calls(limiter, [1, 2])
    assert spans[0][0] - started >= 0.3 - 0.005


async def test_an_abort_wakes_a_waiter_without_taking_a_token() -> None:
    limiter = RateLimiter(100, per_chat_interval=0)
    limiter.pause(30)
    abort = asyncio.Event()
    waiter = asyncio.create_task(limiter.acquire(1, abort))
    await next_loop_turn()  # the waiter runs up to its wait
    assert not waiter.done()
    abort.set()
    limiter.interrupt()
    with pytest.raises(Aborted):
        await asyncio.wait_for(waiter, 1)
    assert limiter.calls == 0


def test_rates_below_one_per_second_and_shares() -> None:
    limiter = RateLimiter(0.5)
    assert limiter.rate == pytest.approx(0.5)
    limiter.set_rate(30 / 4)  # four replicas share 30/s
    assert limiter.rate == 7  # rounded down: never more than asked for
    with pytest.raises(ValueError):
        limiter.set_rate(-1)
    limiter.set_rate(0)  # a replica without a lease sends nothing
    assert limiter.rate == 0

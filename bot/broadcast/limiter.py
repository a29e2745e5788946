"""The send-rate limiter shared by every broadcast and reminder message of the process.

A token bucket holding `rate` tokens, in which a spent token comes back one window (one
second) after its call *completes*. Telegram (and the emulator) counts sends in a sliding
one-second window at the moment it handles each request, which lies between our start
and the answer we receive, so returning the token one window after the answer means no
window can ever see more than `rate` of our sends: bursts included, 429s never come from
us, and the achieved rate is `rate / (1 s + latency)` — within a percent of the limit.

Tokens are also paced (a GCRA: one every 1/rate seconds, short bursts of a tenth of the
rate tolerated), so a broadcast goes out evenly instead of in one-second bursts: fewer
calls in flight at any moment, which is also what a hard kill can leave in doubt.

Per chat, a second message waits until `per_chat_interval` after the previous one
completed (Telegram allows about one message a second in a private chat), and a 429's
`retry_after` pauses every send of the process, since Telegram means the whole bot.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


class Aborted(Exception):
    """The wait for a token was given up (the sender is stopping)."""


class RateLimiter:
    """At most `rate` calls in any one-second window, one at a time per chat."""

    def __init__(
        self,
        rate: float,
        per_chat_interval: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self.per_chat_interval = per_chat_interval
        self._held = 0  # tokens of calls in flight
        self._returns: list[float] = []  # when spent tokens come back, ascending
        self._chat_ready: dict[int, float] = {}  # chat → earliest start of its next call
        self._chat_busy: set[int] = set()
        self._paused_until = 0.0
        # No token at or after this moment until the next set_rate (a replica's lease of
        # the rate runs out unless its heartbeat renews it).
        self.valid_until = math.inf
        self._tat = 0.0  # when the next token is due if sends were perfectly even (GCRA)
        self._changed = asyncio.Event()
        self.calls = 0  # tokens handed out, for the benchmark and tests
        self.configured_rate = rate
        self._capacity = 1
        self._window = 1.0
        self.set_rate(rate)

    @property
    def rate(self) -> float:
        """The effective rate (tokens per window)."""
        return self._capacity / self._window

    def set_rate(self, rate: float, *, valid_until: float = math.inf) -> None:
        """Changes the rate (e.g. when replicas come and go and share the limit); 0 stops
        every send. Tokens already out still count until they come back."""
        if rate < 0:
            raise ValueError("rate must not be negative")
        self.valid_until = valid_until
        if rate == 0:
            self._capacity, self._window = 0, 1.0
        elif rate >= 1:
            # Rounded down: never more than asked for.
            self._capacity, self._window = max(1, math.floor(rate + 1e-9)), 1.0
        else:
            self._capacity, self._window = 1, 1.0 / rate
        self._interval = self._window / max(1, self._capacity)
        self._tolerance = self._interval * max(1, self._capacity // 10)
        self._wake()

    def outstanding(self) -> int:
        """Tokens not back yet: calls in flight and those answered within the last window
        — at least as many as Telegram counted from us in its last second."""
        now = self._clock()
        return self._held + len(self._returns) - bisect.bisect_right(self._returns, now)

    async def drained(self) -> None:
        """Waits until every token is back (the last call answered one window ago)."""
        while self.outstanding():
            event = self._changed
            wake_at = self._returns[0] if not self._held and self._returns else None
            timeout = None if wake_at is None else max(0.0, wake_at - self._clock()) + 1e-3
            try:
                await asyncio.wait_for(event.wait(), timeout)
            except TimeoutError:
                pass

    def pause(self, seconds: float) -> None:
        """Holds every call for `seconds` (Telegram answered 429 with this retry_after)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        self._wake()

    def interrupt(self) -> None:
        """Wakes every waiter so it can notice its abort event."""
        self._wake()

    @asynccontextmanager
    async def slot(
        self, chat_id: int | None = None, abort: asyncio.Event | None = None
    ) -> AsyncIterator[None]:
        """Waits for a token (and the chat's turn), holds it for the call, then returns it.

        Raises Aborted instead, without taking a token, once `abort` is set (the waiter is
        woken by `interrupt()`).
        """
        await self.acquire(chat_id, abort)
        try:
            yield
        finally:
            self.release(chat_id)

    async def acquire(
        self, chat_id: int | None = None, abort: asyncio.Event | None = None
    ) -> None:
        """Takes a token for one call to `chat_id`; pair it with `release` once answered."""
        while True:
            if abort is not None and abort.is_set():
                raise Aborted
            now = self._clock()
            expired = bisect.bisect_right(self._returns, now)
            if expired:
                del self._returns[:expired]
            wake_at: float | None = None
            if self._paused_until > now:
                wake_at = self._paused_until
            elif now >= self.valid_until:
                wake_at = None  # until the lease is renewed (set_rate)
            elif self._held + len(self._returns) >= self._capacity:
                wake_at = self._returns[0] if self._returns else None  # else: on a release
            elif now < self._tat - self._tolerance:
                wake_at = self._tat - self._tolerance
            elif chat_id is not None and chat_id in self._chat_busy:
                wake_at = None  # on its release
            elif chat_id is not None and self._chat_ready.get(chat_id, 0.0) > now:
                wake_at = self._chat_ready[chat_id]
            else:
                self._held += 1
                self.calls += 1
                self._tat = max(self._tat, now) + self._interval
                if chat_id is not None:
                    self._chat_busy.add(chat_id)
                return
            event = self._changed
            timeout = None if wake_at is None else max(0.0, wake_at - now)
            try:
                await asyncio.wait_for(event.wait(), timeout)
            except TimeoutError:
                pass

    def release(self, chat_id: int | None = None) -> None:
        """Ends the call: its token comes back one window from now."""
        now = self._clock()
        self._held -= 1
        bisect.insort(self._returns, now + self._window)
        if chat_id is not None:
            self._chat_busy.discard(chat_id)
            self._chat_ready[chat_id] = now + self.per_chat_interval
            if len(self._chat_ready) > 10_000:
                self._forget_idle_chats(now)
        self._wake()

    def _forget_idle_chats(self, now: float) -> None:
        """Drops chats whose interval has passed, so memory stays flat in a long broadcast."""
        for chat, ready in list(self._chat_ready.items()):
            if ready <= now:
                del self._chat_ready[chat]

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

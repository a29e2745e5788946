"""The change signal: every part announces a change with ``notify()``; ``wait_until``
re-checks its condition on each, and ``sleep`` (injected delays) ends when the emulator
closes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol, TypeVar

T = TypeVar("T")
Message = str | Callable[[], str] | None  # what a failed wait says (None: a default)


class WaitUntil(Protocol):
    """``wait_until(condition, timeout, message)``: what emulated people wait with."""

    async def __call__(
        self,
        condition: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - the agreed test API; a deadline, not a cancel
        message: Message = None,
    ) -> None:
        """Wait for ``condition`` (re-checked on each change), else AssertionError."""


class Changes:
    """A broadcast 'something changed' event and the emulator's closing flag."""

    def __init__(self) -> None:
        self.closing = False
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake everyone waiting for a change."""
        self._event.set()
        self._event = asyncio.Event()

    async def next_change(self, timeout: float) -> None:  # noqa: ASYNC109 - a poll cap
        """Wait for the next change, at most ``timeout`` seconds."""
        event = self._event
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            pass

    def open(self) -> None:
        """The emulator (re)starts: sleeps last their full time again."""
        self.closing = False

    def close(self) -> None:
        """The emulator stops: sleeps end now."""
        self.closing = True
        self.notify()

    async def sleep(self, seconds: float) -> None:
        """Sleep, but end early when the emulator closes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self.closing:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            await self.next_change(remaining)

    async def wait_until(
        self,
        condition: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - the agreed test API; a deadline, not a cancel
        message: Message = None,
    ) -> None:
        """Poll ``condition`` until true (re-checked on each change), else AssertionError."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            remaining = deadline - loop.time()
            if remaining <= 0:
                text = message() if callable(message) else message
                raise AssertionError(text or f"condition not met within {timeout}s")
            # The short cap covers state outside the emulator (the bot's own).
            await self.next_change(min(remaining, 0.02))


async def wait_for_latest(
    wait_until: WaitUntil,
    candidates: Callable[[], list[T]],
    predicate: Callable[[T], bool] | None,
    timeout: float,  # noqa: ASYNC109 - a deadline, not a cancel
    message: Callable[[], str],
) -> T:
    """The latest of ``candidates()`` matching ``predicate`` (None: any), once there is one."""
    found: list[T] = []

    def check() -> bool:
        found[:] = [c for c in candidates() if predicate is None or predicate(c)]
        return bool(found)

    await wait_until(check, timeout, message)
    return found[-1]

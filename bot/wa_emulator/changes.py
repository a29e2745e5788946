"""The change signal: every part announces a change with ``notify()``; ``wait_until``
re-checks its condition on each, and ``sleep`` (injected delays) ends when the emulator
closes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


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
        message: str | Callable[[], str] | None = None,
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

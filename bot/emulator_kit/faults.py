"""Injected faults and delays: each holds for its next ``times`` matching calls (None:
every one). ``Injections.around`` wraps a call: a delay (before, or after the call takes
effect), then a matching fault; what the call does in between is the emulator's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar


class Counted(Protocol):
    """A fault or delay: it holds for ``times`` more calls (None: every one)."""

    times: int | None


class Fault(Counted, Protocol):
    """An injected failure."""

    def error(self) -> Exception:
        """What the call is answered with."""
        ...


class Delay(Counted, Protocol):
    """An injected slowdown."""

    seconds: float
    after_processing: bool


F = TypeVar("F", bound=Fault)
D = TypeVar("D", bound=Delay)
R = TypeVar("R")
C = TypeVar("C", bound=Counted)


class Injections(Generic[F, D]):
    """The pending faults and delays of one emulator."""

    def __init__(self, sleep: Callable[[float], Awaitable[None]]) -> None:
        # `sleep` ends early when the emulator closes, so a delay never holds up close().
        self._sleep = sleep
        self._faults: list[F] = []
        self._delays: list[D] = []

    def inject_fault(self, fault: F) -> None:
        """Fail the next matching calls."""
        self._faults.append(fault)

    def inject_delay(self, delay: D) -> None:
        """Slow down the next matching calls."""
        self._delays.append(delay)

    def clear(self) -> None:
        """Drop all pending faults and delays."""
        self._faults.clear()
        self._delays.clear()

    async def around(
        self,
        fault_matches: Callable[[F], bool],
        delay_matches: Callable[[D], bool],
        call: Callable[[], Awaitable[R]],
    ) -> R:
        """``call()`` after a matching delay and fault (raised as its error), or a delay after."""
        delay = _take(self._delays, delay_matches)
        if delay is not None and not delay.after_processing:
            await self._sleep(delay.seconds)
        fault = _take(self._faults, fault_matches)
        if fault is not None:
            raise fault.error()
        result = await call()
        if delay is not None and delay.after_processing:
            await self._sleep(delay.seconds)
        return result


def _take(items: list[C], matches: Callable[[C], bool]) -> C | None:
    """Pop the first fault/delay matching this call, honouring its remaining count."""
    for item in items:
        if not matches(item):
            continue
        if item.times is not None:
            item.times -= 1
            if item.times <= 0:
                items.remove(item)
        return item
    return None

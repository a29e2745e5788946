"""Weather between the bot and Meta: injected faults and delays, and the rate limits above
which the Cloud API refuses sends — the business number's throughput (130429) and the
business–customer pair rate (131056), both HTTP 400 with Meta's error body.

``Faults.run`` wraps every ``/messages`` call: a delay (before, or after the call takes
effect), then a matching fault, then the rate limits.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.emulator_kit.faults import Injections
from bot.wa_emulator.shapes import cloud_error

_NOT_DIGITS = re.compile(r"[^\d]")
PROXY_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
)


class RawFault(Exception):
    """An answer that is not Graph's JSON (a proxy's HTML page, a cut-off body)."""

    def __init__(self, status: int, text: str, content_type: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.content_type = content_type


@dataclass
class Fault:
    """An injected failure for the next ``times`` matching calls (None: every one).

    ``code`` picks an error of Meta's table (its HTTP status unless ``status`` is given);
    ``body="html"`` answers a proxy's HTML page, ``body="text"`` a body that is not JSON."""

    status: int | None
    code: int | None
    times: int | None
    to: str | None  # only sends to this wa_id
    details: str | None
    body: str  # "json", "html" or "text"

    def error(self) -> Exception:
        """What the call is answered with."""
        if self.body == "html":
            status = self.status or 502
            return RawFault(
                status, PROXY_PAGE.format(status=status, reason="Bad Gateway"), "text/html"
            )
        if self.body == "text":
            return RawFault(self.status or 500, "upstream connect error", "text/plain")
        return cloud_error(self.code or 131000, self.details, status=self.status)


@dataclass
class Delay:
    """An injected slowdown for the next ``times`` calls (None: every one)."""

    seconds: float
    times: int | None
    after_processing: bool


class Faults(Injections[Fault, Delay]):
    """Pending faults and delays, and the sliding one-second (and pair) send windows."""

    def __init__(self, sleep: Callable[[float], Awaitable[None]]) -> None:
        super().__init__(sleep)  # ends early when the emulator closes
        self.rate_limited = 0  # calls refused by the rate limits
        self._recent: deque[tuple[float, str]] = deque()  # (monotonic, wa_id) of sends
        self._per_second: int | None = None
        self._pair_limit: int | None = None
        self._pair_window = 6.0

    def set_rate_limits(
        self, per_second: int | None, pair_limit: int | None, pair_window: float
    ) -> None:
        """Refuse sends above ``per_second`` for the number (130429), or above
        ``pair_limit`` to one customer within ``pair_window`` seconds (131056)."""
        self._per_second = per_second
        self._pair_limit = pair_limit
        self._pair_window = pair_window

    async def run(
        self, body: Any, handle: Callable[[], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any]:
        """Apply delays, faults and rate limits around ``handle()``."""
        to = _recipient(body)
        sending = to is not None and isinstance(body, dict) and "status" not in body

        async def call() -> dict[str, Any]:
            if sending:
                self._check_rate(to or "")
            result = await handle()
            if sending:
                self._recent.append((time.monotonic(), to or ""))
            return result

        return await self.around(lambda fault: fault.to is None or fault.to == to, _any, call)

    def _check_rate(self, to: str) -> None:
        now = time.monotonic()
        horizon = now - max(1.0, self._pair_window)
        while self._recent and self._recent[0][0] <= horizon:
            self._recent.popleft()
        if self._per_second is not None:
            last_second = sum(1 for at, _ in self._recent if at > now - 1.0)
            if last_second >= self._per_second:
                self.rate_limited += 1
                raise cloud_error(130429)
        if self._pair_limit is not None:
            pair = sum(1 for at, w in self._recent if w == to and at > now - self._pair_window)
            if pair >= self._pair_limit:
                self.rate_limited += 1
                raise cloud_error(131056)


def _recipient(body: Any) -> str | None:
    to = body.get("to") if isinstance(body, dict) else None
    return _NOT_DIGITS.sub("", str(to)) if isinstance(to, str | int) else None


def _any(delay: Delay) -> bool:
    """Delays hold for any ``/messages`` call."""
    return True

"""Weather between the bot and Telegram: injected faults and delays, and the sending rate
limits above which the real API answers 429.

``Faults.run`` wraps every validated call: a delay (before or after the call takes
effect), then a matching fault, then the rate limits for the sending methods.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from bot.emulator.models import ApiError, ProxyError

# Methods whose successful calls count as deliveries and against the sending rate limits.
DELIVERY_METHODS = {"sendMessage", "sendPhoto", "sendDocument"}
# The description of an injected fault when the test gives none.
DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: injected error",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


@dataclass
class Fault:
    """An injected failure for the next ``times`` matching calls (None: every one)."""

    method: str | None
    status: int
    retry_after: int
    times: int | None
    chat_id: int | str | None
    description: str | None
    html: bool = False

    def error(self) -> ApiError:
        """The error the call is answered with."""
        if self.html:
            return ProxyError(self.status, self.description or HTTPStatus(self.status).phrase)
        if self.status == 429:
            return ApiError(
                429,
                self.description or f"Too Many Requests: retry after {self.retry_after}",
                {"retry_after": self.retry_after},
            )
        description = self.description or DEFAULT_DESCRIPTIONS.get(self.status, "Error")
        return ApiError(self.status, description)


@dataclass
class Delay:
    """An injected slowdown for the next ``times`` matching calls (None: every one)."""

    method: str | None
    seconds: float
    times: int | None
    after_processing: bool


class Faults:
    """The pending faults and delays, the rate limits, and the log of successful sends."""

    def __init__(self, sleep: Callable[[float], Awaitable[None]]) -> None:
        # `sleep` ends early when the emulator closes, so a delay never holds up close().
        self._sleep = sleep
        self.too_many_requests_sent = 0
        self._faults: list[Fault] = []
        self._delays: list[Delay] = []
        self._sends: list[tuple[float, int | str | None, str]] = []  # (monotonic, chat, method)
        self._global_limit: int | None = None
        self._chat_limit: int | None = None

    def inject_fault(self, fault: Fault) -> None:
        """Fail the next matching calls."""
        self._faults.append(fault)

    def inject_delay(self, delay: Delay) -> None:
        """Slow down the next matching calls."""
        self._delays.append(delay)

    def clear(self) -> None:
        """Drop all pending faults and delays."""
        self._faults.clear()
        self._delays.clear()

    def set_rate_limits(
        self, global_per_second: int | None, per_chat_per_second: int | None
    ) -> None:
        """Answer 429 above these send rates (sliding one-second window); None disables."""
        self._global_limit = global_per_second
        self._chat_limit = per_chat_per_second

    def deliveries(self, chat_id: int | str) -> int:
        """How many sendMessage/sendPhoto/sendDocument calls to that chat succeeded."""
        return sum(1 for _, chat, _ in self._sends if chat == chat_id)

    async def run(
        self,
        method: str,
        params: dict[str, Any],
        handle: Callable[[str, dict[str, Any]], Awaitable[Any]],
    ) -> Any:
        """Apply injected delays/faults and rate limits around ``handle(method, params)``."""
        chat_key = params.get("chat_id")
        delay = _take(self._delays, method, chat_key=None)
        if delay is not None and not delay.after_processing:
            await self._sleep(delay.seconds)
        fault = _take(self._faults, method, chat_key=chat_key)
        if fault is not None:
            raise fault.error()
        if method in DELIVERY_METHODS:
            self._check_rate(chat_key)
        result = await handle(method, params)
        if method in DELIVERY_METHODS:
            self._sends.append((time.monotonic(), chat_key, method))
        if delay is not None and delay.after_processing:
            await self._sleep(delay.seconds)
        return result

    def _check_rate(self, chat_key: Any) -> None:
        if self._global_limit is None and self._chat_limit is None:
            return
        horizon = time.monotonic() - 1.0
        recent = [(chat, m) for at, chat, m in self._sends if at > horizon]
        over_global = self._global_limit is not None and len(recent) >= self._global_limit
        over_chat = self._chat_limit is not None and (
            sum(1 for chat, _ in recent if chat == chat_key) >= self._chat_limit
        )
        if over_global or over_chat:
            self.too_many_requests_sent += 1
            raise ApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})


def _take(items: list[Any], method: str, chat_key: Any) -> Any:
    """Pop the first fault/delay matching this call, honouring its remaining count."""
    for item in items:
        if item.method is None:
            if method == "getUpdates":
                continue
        elif item.method.lower() != method.lower():
            continue
        wanted_chat = getattr(item, "chat_id", None)
        if wanted_chat is not None and wanted_chat != chat_key:
            continue
        if item.times is not None:
            item.times -= 1
            if item.times <= 0:
                items.remove(item)
        return item
    return None

"""Weather between the bot and Telegram: injected faults and delays, and the sending rate
limits above which the real API answers 429.

``Faults.run`` wraps every validated call: a delay (before or after the call takes
effect), then a matching fault, then the rate limits for the sending methods.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from bot.emulator.models import ApiError, ProxyError
from bot.emulator_kit.faults import Injections

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


class Faults(Injections[Fault, Delay]):
    """The pending faults and delays, the rate limits, and the log of successful sends."""

    def __init__(self, sleep: Callable[[float], Awaitable[None]]) -> None:
        super().__init__(sleep)
        self.too_many_requests_sent = 0
        self._delivered: Counter[int | str | None] = Counter()  # chat → successful sends
        # The last second's sends (monotonic, chat, paid), and their counts, so checking a
        # send costs the same at 1000/s as at 1/s.
        self._recent: deque[tuple[float, int | str | None, bool]] = deque()
        self._recent_paid = 0
        self._recent_chats: Counter[int | str | None] = Counter()
        self._global_limit: int | None = None
        self._chat_limit: int | None = None
        self._paid_limit: int | None = None

    def set_rate_limits(
        self,
        global_per_second: int | None,
        per_chat_per_second: int | None,
        paid_per_second: int | None = None,
    ) -> None:
        """Answer 429 above these send rates (sliding one-second window); None disables.

        As on Telegram, sends with ``allow_paid_broadcast`` count against
        ``paid_per_second`` instead of ``global_per_second`` (the per-chat limit holds
        for both).
        """
        self._global_limit = global_per_second
        self._chat_limit = per_chat_per_second
        self._paid_limit = paid_per_second

    def deliveries(self, chat_id: int | str) -> int:
        """How many sendMessage/sendPhoto/sendDocument calls to that chat succeeded."""
        return self._delivered[chat_id]

    async def run(
        self,
        method: str,
        params: dict[str, Any],
        handle: Callable[[str, dict[str, Any]], Awaitable[Any]],
    ) -> Any:
        """Apply injected delays/faults and rate limits around ``handle(method, params)``."""
        chat_key = params.get("chat_id")
        paid = params.get("allow_paid_broadcast") is True

        async def call() -> Any:
            if method in DELIVERY_METHODS:
                self._check_rate(chat_key, paid)
            result = await handle(method, params)
            if method in DELIVERY_METHODS:
                self._delivered[chat_key] += 1
                self._recent.append((time.monotonic(), chat_key, paid))
                self._recent_paid += paid
                self._recent_chats[chat_key] += 1
            return result

        return await self.around(
            lambda fault: _matches(fault, method, chat_key),
            lambda delay: _matches(delay, method, None),
            call,
        )

    def _check_rate(self, chat_key: Any, paid: bool) -> None:
        horizon = time.monotonic() - 1.0
        recent = self._recent
        while recent and recent[0][0] <= horizon:
            _, chat, was_paid = recent.popleft()
            self._recent_paid -= was_paid
            self._recent_chats[chat] -= 1
            if not self._recent_chats[chat]:
                del self._recent_chats[chat]
        limit = self._paid_limit if paid else self._global_limit
        same_kind = self._recent_paid if paid else len(recent) - self._recent_paid
        over_global = limit is not None and same_kind >= limit
        over_chat = self._chat_limit is not None and (
            self._recent_chats[chat_key] >= self._chat_limit
        )
        if over_global or over_chat:
            self.too_many_requests_sent += 1
            raise ApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})


def _matches(item: Fault | Delay, method: str, chat_key: Any) -> bool:
    """Whether a fault/delay holds for this call (``method=None``: any but getUpdates)."""
    if item.method is None:
        if method == "getUpdates":
            return False
    elif item.method.lower() != method.lower():
        return False
    wanted_chat = getattr(item, "chat_id", None)
    return wanted_chat is None or wanted_chat == chat_key

"""One message through the rate limiter, with Telegram's error rules.

The same rules as `Pipeline.perform`, but the outcome is reported instead of swallowed,
and a 429 pauses every send of the process (the limiter), not just this one:

* 429 → wait `retry_after` (capped), retry; never counted as a failure.
* 5xx, timeouts, dropped connections → retry with doubling backoff, then "failed".
* 403 → "unreachable" at once (blocked, deactivated, never started); never retried.
* 400 and other rejections → "failed" with Telegram's description; never retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot import extra_sends
from bot.broadcast.limiter import Aborted, RateLimiter
from bot.pipeline import HARMLESS_REJECTIONS
from handlers.port import Action, ChatPort, Rejected, RetryLater, Transient, Unreachable
from storage.broadcast_models import RecipientStatus

log = logging.getLogger(__name__)
# The longest wait for a further message's token (_extra_token), in seconds.
EXTRA_TOKEN_WAIT = 2.0


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one message."""

    max_attempts: int = 5  # 5xx / timeouts
    backoff: float = 0.5  # first pause after a 5xx or timeout; doubles each time
    max_retry_after: float = 60.0  # a longer 429 wait is capped (and retried again)
    max_throttled: int = 20  # 429s in a row before the message counts as failed


@dataclass(frozen=True)
class Delivery:
    """What happened to one message."""

    status: RecipientStatus
    message_id: int | None = None
    detail: str | None = None


# Returned when `abort` was set before the next attempt: nothing is in flight with
# Telegram for this message, so the caller may give it back (or drop it, when cancelled).
NOT_ATTEMPTED = Delivery(RecipientStatus.PENDING, detail="stopped before sending")


async def deliver(
    port: ChatPort,
    limiter: RateLimiter,
    action: Action,
    chat_id: int,
    *,
    policy: RetryPolicy = RetryPolicy(),
    abort: asyncio.Event | None = None,
    before_first_call: Callable[[], Awaitable[bool]] | None = None,
) -> Delivery:
    """Performs the action under the limiter until it succeeds or definitely fails.

    `abort` is only looked at between attempts — never during a Telegram call, whose
    answer is always awaited and reported, so "sent" is never mistaken for "not sent".
    Only after a 429 or a 5xx may an aborted message come back as not attempted: Telegram
    did not take it. (A timeout is ambiguous; like the conversation replies, it is retried.)

    `before_first_call` runs once, holding the token, right before the first call; when it
    returns False the message is not sent (it is no longer this sender's to send).
    """
    delay = policy.backoff
    failures = throttled = 0
    while True:
        wait = 0.0
        try:
            await limiter.acquire(chat_id, abort)
        except Aborted:
            return NOT_ATTEMPTED
        try:
            if before_first_call is not None:
                go, before_first_call = await before_first_call(), None
                if not go:
                    return NOT_ATTEMPTED
            try:
                with extra_sends.paced(lambda: _extra_token(limiter, abort)):
                    message_id = await port.perform(action)
                return Delivery(RecipientStatus.SENT, message_id)
            except RetryLater as exc:
                throttled += 1
                limiter.pause(min(exc.seconds, policy.max_retry_after))
                log.info("429 for chat %s: everyone waits %ss", chat_id, exc.seconds)
                if throttled >= policy.max_throttled:
                    return Delivery(RecipientStatus.FAILED, detail="429 Too Many Requests")
            except Transient as exc:
                failures += 1
                if failures >= policy.max_attempts:
                    return Delivery(RecipientStatus.FAILED, detail=str(exc) or "server error")
                wait, delay = delay, delay * 2
            except Unreachable as exc:
                return Delivery(RecipientStatus.UNREACHABLE, detail=str(exc))
            except Rejected as exc:
                harmless = any(h in exc.description.lower() for h in HARMLESS_REJECTIONS)
                log.log(
                    logging.DEBUG if harmless else logging.WARNING,
                    "Telegram rejected a message to %s: %s",
                    chat_id,
                    exc.description,
                )
                return Delivery(RecipientStatus.FAILED, detail=exc.description)
        finally:
            limiter.release(chat_id)
        if wait:
            if abort is None:
                await asyncio.sleep(wait)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(abort.wait(), wait)


async def _extra_token(limiter: RateLimiter, abort: asyncio.Event | None) -> None:
    """A token for a further message of the action being sent (a WhatsApp 0–10 question's
    second list, bot/extra_sends.py), spent at once. The call's own token is held
    meanwhile: when every token is so held (a rate below 2, as many senders as tokens),
    none would come back, so the message goes after EXTRA_TOKEN_WAIT without one."""
    if abort is not None and abort.is_set():
        return
    gave_up = asyncio.Event()

    def give_up() -> None:
        gave_up.set()
        limiter.interrupt()  # wakes the wait below to see it

    timer = asyncio.get_running_loop().call_later(EXTRA_TOKEN_WAIT, give_up)
    try:
        await limiter.acquire(None, gave_up)
    except Aborted:
        return
    finally:
        timer.cancel()
    limiter.release(None)

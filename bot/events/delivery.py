"""The delivery worker: sends each URL's events in order, signed, retrying with backoff.

Per URL (EVENTS_URLS), one event at a time: claim the URL's head (storage/repos/events.py),
POST it, record the outcome. A 2xx answer is a delivery; any other answer, a timeout
(REQUEST_TIMEOUT) or a network error is a failed attempt, tried again after an
exponential backoff with full jitter (a random delay up to `base · 2^(failures-1)`,
capped at `cap`), until DEAD_AFTER has passed since the event was written: then it is
dead (kept, counted in /integrations) and the URL's next event goes. A failing URL holds
back its own events only.

At least once: a crash (kill -9) between a receiver's 2xx and the record of it leaves a
claim that expires after LEASE, and the event is sent again — receivers deduplicate by
`id`. A stopping bot gives its claim back (the event goes first at the next start).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp

from bot.events.signing import HEADER, sign
from nps.event_data import moment, shown_url
from storage.db import Database
from storage.models import utcnow
from storage.repos.events import Claimed

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 10.0  # seconds for one POST, connecting included
# A claim outlives any attempt (REQUEST_TIMEOUT) by far: only a dead worker's expires.
LEASE = timedelta(seconds=30)
DEAD_AFTER = timedelta(hours=24)  # retried at least this long after the event was written
POLL = 1.0  # seconds between looks for new events, per URL
KEEP = timedelta(days=7)  # delivered (or dead) events are deleted this long after
PRUNE_EVERY = 3600.0  # seconds


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: `jitter · min(cap, base · 2^(failures-1))`."""

    base: float = 1.0  # seconds before the second attempt, at most
    cap: float = 3600.0  # the longest wait between two attempts
    give_up_after: timedelta = DEAD_AFTER

    def delay(self, failures: int, jitter: float) -> float:
        """Seconds to wait after the `failures`-th failed attempt (jitter in [0, 1])."""
        exponent = min(max(failures - 1, 0), 62)  # no overflow however long it fails
        return jitter * min(self.cap, self.base * 2.0**exponent)


def body_of(claimed: Claimed) -> bytes:
    """What receivers get: `{"id", "type", "created_at", "data"}` as compact UTF-8 JSON."""
    envelope = {
        "id": claimed.event_id,
        "type": claimed.type,
        "created_at": moment(claimed.created_at),
        "data": claimed.data,
    }
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()


class EventSender:
    """Delivers the events waiting for each configured URL."""

    def __init__(
        self,
        db: Database,
        secret: str,
        http: aiohttp.ClientSession,
        *,
        urls: Sequence[str] | None = None,
        clock: Callable[[], datetime] = utcnow,
        jitter: Callable[[], float] = random.random,
        backoff: Backoff = Backoff(),
        lease: timedelta = LEASE,
        poll: float = POLL,
        timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        self._db = db
        self._secret = secret  # signs; never logged
        self._http = http
        self.urls = tuple(urls if urls is not None else db.event_urls)
        self._clock = clock
        self._jitter = jitter
        self._backoff = backoff
        self._lease = lease
        self._poll = poll
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._timeout_seconds = timeout

    async def run(self) -> None:
        """Serves every URL until cancelled (one task per URL), pruning old events."""
        async with asyncio.TaskGroup() as group:
            for url in self.urls:
                group.create_task(self._serve(url))
            group.create_task(self._prune_now_and_then())

    async def _serve(self, url: str) -> None:
        while True:
            try:
                await self.send_due(url)
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup: the next look tries again
                log.exception("events for %s: delivery pass failed", shown_url(url))
            await asyncio.sleep(self._poll)

    async def _prune_now_and_then(self) -> None:
        while True:
            try:
                async with self._db.transaction() as store:
                    await store.events.prune(self._clock() - KEEP)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("events: pruning old events failed")
            await asyncio.sleep(PRUNE_EVERY)

    async def deliver_due(self) -> int:
        """One pass over every URL: sends what is due; how many were delivered."""
        sent = await asyncio.gather(*(self.send_due(url) for url in self.urls))
        return sum(sent)

    async def send_due(self, url: str) -> int:
        """Sends the URL's due events in order until one fails or none is due; how many
        were delivered."""
        delivered = 0
        while True:
            now = self._clock()
            async with self._db.snapshot() as store:
                if not await store.events.due(url, now):
                    return delivered
            async with self._db.transaction() as store:
                claimed = await store.events.claim_head(url, now, now + self._lease)
            if claimed is None:
                return delivered
            if not await self._attempt(claimed):
                return delivered  # the head failed: this URL waits for its next attempt
            delivered += 1

    async def _attempt(self, claimed: Claimed) -> bool:
        """Sends one claimed event and records the outcome; True when it was delivered."""
        try:
            error = await self._post(claimed)
        except asyncio.CancelledError:
            # Stopping: the claim goes back, so the next start sends it without waiting
            # for the lease (it may have arrived: receivers deduplicate by id).
            with contextlib.suppress(Exception):
                async with self._db.transaction() as store:
                    await store.events.release(claimed)
            raise
        now = self._clock()
        async with self._db.transaction() as store:
            if error is None:
                await store.events.delivered(claimed, now)
                return True
            failures = claimed.attempts + 1
            retry_at: datetime | None = None
            if now - claimed.created_at < self._backoff.give_up_after:
                delay = self._backoff.delay(failures, self._jitter())
                retry_at = now + timedelta(seconds=delay)
            await store.events.failed(claimed, now, error, retry_at)
        where = shown_url(claimed.url)
        if retry_at is None:
            log.warning(
                "event %s (%s) to %s given up after %d attempts: %s",
                claimed.event_id,
                claimed.type,
                where,
                failures,
                error,
            )
        else:
            log.info(
                "event %s to %s failed (attempt %d: %s); next attempt in %.1f s",
                claimed.event_id,
                where,
                failures,
                error,
                (retry_at - now).total_seconds(),
            )
        return False

    async def _post(self, claimed: Claimed) -> str | None:
        """POSTs the signed event; None when the receiver accepted it (2xx), else why not."""
        body = body_of(claimed)
        stamp = int(self._clock().timestamp())  # fresh on every attempt
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "npsbot",
            HEADER: sign(self._secret, body, stamp),
        }
        try:
            async with self._http.post(
                claimed.url,
                data=body,
                headers=headers,
                timeout=self._timeout,
                # A redirect would be followed as a GET, losing the body: a failure.
                allow_redirects=False,
            ) as answer:
                if 200 <= answer.status < 300:
                    return None
                return f"HTTP {answer.status} {answer.reason or ''}".strip()
        except TimeoutError:
            return f"no answer within {self._timeout_seconds:g} s"
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            detail = str(exc).splitlines()[0] if str(exc) else ""
            # Some errors quote the URL, whose path or query may hold the receiver's token.
            detail = detail.replace(claimed.url, shown_url(claimed.url))
            return f"{type(exc).__name__}: {detail}".rstrip(": ")

"""The update queue: what getUpdates hands out, and long polls.

Updates wait here, ordered by ``update_id``, until the bot confirms them with a higher
``offset``. One long poll runs at a time (a newer one ends the older with 409, as Telegram
does for two running bots). Every change anywhere in the emulator is announced through
``notify()``, on the change signal (bot/emulator_kit/changes.py) ``wait_until`` wakes on.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Coroutine, Set
from typing import Any

from bot.emulator.models import ApiError
from bot.emulator_kit.changes import Changes

# Telegram only sends these update types when the bot asks for them explicitly.
OPT_IN_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}


class UpdateQueue:
    """Unconfirmed updates, every update ever queued (for ``redeliver``), and long polls."""

    def __init__(self, changes: Changes) -> None:
        self.allowed_updates: list[str] = []  # as the bot last asked; [] = the default set
        self._changes = changes
        self._updates: list[dict[str, Any]] = []  # unconfirmed, ordered by update_id
        self._history: dict[int, dict[str, Any]] = {}  # every update ever, for redeliver()
        self._forced: set[int] = set()  # redelivered, returned once regardless of offset
        self._next_update_id = 100_001
        self._poll_generation = 0
        self._updates_event = asyncio.Event()

    # --- what goes in --------------------------------------------------------------------

    def enqueue(self, update: dict[str, Any]) -> int:
        """Queue a raw update; assign ``update_id`` if missing; return it."""
        update = copy.deepcopy(update)
        if "update_id" not in update:
            update = {"update_id": self._next_update_id, **update}
        update_id = int(update["update_id"])
        self._next_update_id = max(self._next_update_id, update_id + 1)
        self._history[update_id] = update
        self._updates = [u for u in self._updates if u["update_id"] != update_id]
        self._updates.append(update)
        self._updates.sort(key=lambda u: u["update_id"])
        self.wake_pollers()
        return update_id

    def redeliver(self, update_id: int) -> None:
        """Make the next poll return an already delivered update again, as after a crash."""
        if update_id not in self._history:
            raise KeyError(f"no update {update_id} was ever enqueued")
        if all(u["update_id"] != update_id for u in self._updates):
            self._updates.append(copy.deepcopy(self._history[update_id]))
            self._updates.sort(key=lambda u: u["update_id"])
        self._forced.add(update_id)
        self.wake_pollers()

    def drop_pending(self) -> None:
        """Forget unconfirmed updates (``drop_pending_updates``)."""
        self._updates.clear()

    @property
    def pending(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by the bot (a copy)."""
        return copy.deepcopy(self._updates)

    @property
    def pending_count(self) -> int:
        """How many updates are not yet confirmed."""
        return len(self._updates)

    # --- what goes out -------------------------------------------------------------------

    async def poll(self, offset: int | None, limit: int, wait: float) -> list[dict[str, Any]]:
        """One getUpdates long poll: confirm below ``offset``, then wait up to ``wait`` s."""
        self._confirm(offset)
        # A newer poll ends an older one with 409, as Telegram does for two running bots.
        self._poll_generation += 1
        generation = self._poll_generation
        self.wake_pollers()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            batch = self._deliverable(offset, limit)
            remaining = deadline - loop.time()
            if batch or self.closing or remaining <= 0:
                for update in batch:
                    self._forced.discard(update["update_id"])
                return batch
            event = self._updates_event
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            keep = self._updates[offset:]
            self._updates = keep
            return
        self._updates = [
            u for u in self._updates if u["update_id"] >= offset or u["update_id"] in self._forced
        ]

    def _permitted(self, update: dict[str, Any]) -> bool:
        allowed = set(self.allowed_updates)
        kind = next((k for k in update if k != "update_id"), "")
        return kind in allowed if allowed else kind not in OPT_IN_UPDATES

    def _deliverable(self, offset: int | None, limit: int) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        for update in list(self._updates):
            if not self._permitted(update):
                # Telegram never creates updates the bot did not subscribe to.
                self._updates.remove(update)
                continue
            forced = update["update_id"] in self._forced
            if offset is None or offset < 0 or update["update_id"] >= offset or forced:
                batch.append(copy.deepcopy(update))
            if len(batch) >= limit:
                break
        return batch

    # --- what a webhook takes (bot/emulator/webhooks.py) -----------------------------------

    def heads(
        self, limit: int, queue_of: Callable[[dict[str, Any]], object], busy: Set[object]
    ) -> list[dict[str, Any]]:
        """Up to `limit` updates to post now (copies): the lowest unconfirmed update of
        each queue (`queue_of`, e.g. its chat) that is not `busy`, in update_id order."""
        seen: set[object] = set()
        batch: list[dict[str, Any]] = []
        for update in list(self._updates):
            if len(batch) >= limit:
                break
            if not self._permitted(update):
                self._updates.remove(update)
                continue
            queue = queue_of(update)
            if queue in seen:
                continue  # a later update of a queue waits for the one before it
            seen.add(queue)
            if queue not in busy:
                batch.append(copy.deepcopy(update))
        return batch

    def confirm_one(self, update_id: int) -> None:
        """The bot accepted this update (its webhook answered 2xx): it leaves the queue."""
        self._updates = [u for u in self._updates if u["update_id"] != update_id]
        self._forced.discard(update_id)
        self.notify()

    def next_change(self) -> Coroutine[Any, Any, bool]:
        """Waits until an update arrives or anything wakes the long polls: bound to the
        signal of this moment, so a change before the wait starts is not missed."""
        return self._updates_event.wait()

    # --- waking and waiting --------------------------------------------------------------

    def wake_pollers(self) -> None:
        """Wake long polls (and injected delays) to look again; counts as a change."""
        self._updates_event.set()
        self._updates_event = asyncio.Event()
        self.notify()

    def notify(self) -> None:
        """Announce a change anywhere in the emulator to ``wait_until``."""
        self._changes.notify()

    @property
    def closing(self) -> bool:
        """Whether the emulator is closing (long polls answer at once)."""
        return self._changes.closing

    def close(self) -> None:
        """End pending long polls (with what they have) and injected delays."""
        self._changes.close()
        self.wake_pollers()

"""The themes job: answers with new or changed comments get their themes in the background.

Every POLL_SECONDS it looks for an answer due (a read: nps/theme_index.py says which) and,
when there are some, assigns their themes a batch per transaction, so the write lock is
held briefly and /themes finds the work done. A dictionary edit makes every answer due;
the job then works through them while /themes still refreshes whatever is left first.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from handlers.port import ChatPort
from nps.theme_index import BATCH, dictionary, refresh

if TYPE_CHECKING:
    from bot.jobs import JobHost

log = logging.getLogger(__name__)

# How often the job looks for answers due; tests shorten it.
POLL_SECONDS = 20.0


async def theme_job(app: JobHost, port: ChatPort) -> None:
    """Keeps each answer's themes current, until cancelled (`port` goes unused)."""
    while True:
        try:
            await refresh_due(app)
        except Exception:
            log.exception("themes pass failed; retrying")
        await asyncio.sleep(POLL_SECONDS)


async def refresh_due(app: JobHost) -> int:
    """Assigns the themes of every answer due, a batch per transaction; how many."""
    now = app.clock()
    async with app.db.snapshot() as store:
        current = await dictionary(store, now, seed=False)
        # Whether any is due (LIMIT 1), not how many: a count reads every answer each poll.
        due = bool(await store.themes.pending(current.version, 1))
    done = 0
    while due:
        async with app.db.transaction() as store:
            count = await refresh(store, now, limit=BATCH)
        done += count
        if count < BATCH:
            break
    if done:
        log.info("themes assigned to %d answers", done)
    return done

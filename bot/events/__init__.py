"""Signed events for the CRM (EVENTS_URLS, EVENTS_SECRET): the background job that
delivers them (delivery.py) and their signature (signing.py).

Handlers emit events in their own transactions (handlers/crm_events.py,
storage/repos/events.py); this job sends them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp

from bot.events.delivery import EventSender
from handlers.port import ChatPort

if TYPE_CHECKING:
    from bot.jobs import JobHost


async def events_job(app: JobHost, port: ChatPort) -> None:
    """Delivers the events to every URL of EVENTS_URLS until cancelled."""
    async with aiohttp.ClientSession() as http:
        sender = EventSender(app.db, app.settings.events_secret, http, clock=app.clock)
        await sender.run()

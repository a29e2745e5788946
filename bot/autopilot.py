"""The autopilot job: relationship surveys (`/autopilot`) go out on weekday mornings.

Every POLL_SECONDS it looks at the clock; between WINDOW_START and WINDOW_END on a weekday
(nps/schedule.py, in TIMEZONE) it runs each active schedule not yet run today. A run
enrols the day's share of the people due as a running broadcast (storage/repos/autopilot.py
says who is due and how the share is spread over the interval), in one transaction with
the day's claim, so a restart or a second replica never runs a day twice. The broadcast
workers send it at BROADCAST_RATE through the shared limiter, re-checking /stop, blocking
and the fatigue rules at each person's turn; a restart resumes it and sends nobody twice
(bot/broadcast/worker.py).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from handlers.audience import SegmentError, parse_segment
from handlers.kinds import is_anonymous
from handlers.port import ChatPort
from nps.schedule import Interval, day_cap, in_window, workdays_in
from storage.repos.audience import Fatigue
from storage.repos.autopilot import Run

if TYPE_CHECKING:
    from bot.jobs import JobHost

log = logging.getLogger(__name__)

# How often the job looks at the clock (a read of a few rows in the window); tests shorten it.
POLL_SECONDS = 60.0


async def autopilot_job(app: JobHost, port: ChatPort) -> None:
    """Runs each autopilot schedule once per weekday morning, until cancelled.

    `port` goes unused: the broadcast workers send each run's messages.
    """
    while True:
        try:
            await run_due(app)
        except Exception:
            log.exception("autopilot pass failed; retrying")
        await asyncio.sleep(POLL_SECONDS)


async def run_due(app: JobHost) -> list[Run]:
    """Runs the schedules not yet run today, when the morning window is open."""
    now = app.clock()
    settings = app.settings
    tz = settings.tz
    if not in_window(now, tz):
        return []
    day = now.astimezone(tz).date()
    async with app.db.snapshot() as store:
        schedules = [
            schedule
            for schedule in await store.autopilot.active()
            if schedule.last_run_on is None or schedule.last_run_on < day
        ]
        surveys = {s.survey_id: await store.surveys.get(s.survey_id) for s in schedules}
    fatigue = Fatigue(
        settings.survey_cooldown_days,
        settings.any_survey_cooldown_days,
        whatsapp=settings.whatsapp_enabled,
    )
    runs = []
    for schedule in schedules:
        survey = surveys[schedule.survey_id]
        if survey is None or not survey.active or is_anonymous(survey.kind):
            continue  # deactivated since: /autopilot shows it; nothing is sent
        try:
            segment = parse_segment(schedule.segment)
        except SegmentError:
            log.error(
                "autopilot of %s has an unreadable segment %r", survey.slug, schedule.segment
            )
            continue
        interval = Interval(schedule.every, schedule.unit)
        async with app.db.transaction() as store:
            run = await store.autopilot.run(
                schedule,
                segment,
                day=day,
                now=now,
                cutoff=interval.before(now, tz),
                fatigue=fatigue,
                workdays=workdays_in(interval, now, tz),
                cap=day_cap(now, tz, settings.broadcast_rate),
                language=app.catalogs.default,
                owners=settings.admin_ids,
            )
        if run is not None:
            log.info(
                "autopilot of %s on %s: %d due, %d enrolled",
                survey.slug,
                day,
                run.due,
                run.enrolled,
            )
            runs.append(run)
    return runs

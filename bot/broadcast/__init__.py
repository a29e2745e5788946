"""Broadcasting surveys: the rate limiter, the sending worker and the reminders.

`broadcast_jobs(settings)` gives the background jobs every runtime starts; they share one
process-wide rate limiter (and one heartbeat), so broadcasts and reminders together stay
under BROADCAST_RATE.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.broadcast.reminders import ReminderWorker
from bot.broadcast.sending_process import SendingProcess
from bot.broadcast.worker import BroadcastWorker
from bot.settings import Settings
from handlers.port import ChatPort

if TYPE_CHECKING:
    from bot.jobs import BackgroundJob, JobHost


def broadcast_jobs(
    settings: Settings, process: SendingProcess | None = None
) -> list[BackgroundJob]:
    """The broadcast worker and (unless REMINDER_AFTER_HOURS=0) the reminder job, sharing
    `process` (one is made if none is given) with any other sender of the process."""
    process = process or SendingProcess(settings)

    async def broadcast_job(app: JobHost, port: ChatPort) -> None:
        """Sends confirmed broadcasts until cancelled."""
        await BroadcastWorker(app, port, process).run()

    async def reminder_job(app: JobHost, port: ChatPort) -> None:
        """Sends one reminder per unanswered question until cancelled."""
        await ReminderWorker(app, port, process).run()

    jobs: list[BackgroundJob] = [broadcast_job]
    if settings.reminder_after_hours > 0:
        jobs.append(reminder_job)
    return jobs

"""One reminder, REMINDER_AFTER_HOURS after a question nobody answered.

Due: a response still waiting for its score, asked between 2H and H hours ago (older
ones are left alone, so turning reminders on does not nag about last year's questions),
to someone still subscribed and reachable. Answering, /stop, blocking the bot or a newer
survey (which closes the old question) all prevent it. The reminder repeats the question
with the same buttons, so the answer lands on the same response.

Sent once: the claim inserts the `survey_reminders` row (its primary key is the response)
before the call, so neither a second replica nor a restart reminds twice; a hard kill
during the call leaves the row "sending", which a live worker later marks uncertain —
never retried, at most one reminder. The rate limiter is the broadcasts' one.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.broadcast.delivery import RetryPolicy, deliver
from bot.broadcast.sending_process import SendingPasses, SendingProcess
from handlers.kinds import for_kind
from handlers.port import ChatPort, SendText
from handlers.respondent_messages import score_keyboard, score_question
from storage.repos.broadcast_recipients import Outcome
from storage.repos.reminders import DueReminder
from storage.repos.surveys import SurveyView

if TYPE_CHECKING:
    from bot.jobs import JobHost

log = logging.getLogger(__name__)

# How often the job looks for due reminders (one indexed query); tests shorten it.
POLL_SECONDS = 30.0
BATCH = 50


class ReminderWorker(SendingPasses):
    """Sends due reminders until cancelled."""

    def __init__(self, app: JobHost, port: ChatPort, process: SendingProcess) -> None:
        super().__init__(app, port, process)
        self.after = timedelta(hours=app.settings.reminder_after_hours)

    def pass_size(self) -> int:
        return BATCH

    def idle_seconds(self) -> float:
        return POLL_SECONDS

    async def run_once(self) -> int:
        """Claims and sends one batch of due reminders; returns how many were claimed."""
        db = self.app.db
        now = self.app.clock()
        async with db.snapshot() as store:
            due = await store.reminders.any_due(
                asked_before=now - self.after, asked_after=now - 2 * self.after
            )
        if not due:
            return 0
        async with self.process.sending(db, "reminders"):
            if await self.process.beat(db, force=True):
                async with db.transaction() as store:
                    await store.reminders.recover_stale(self.process.live)
            async with db.transaction() as store:
                claimed = await store.reminders.claim(
                    asked_before=now - self.after,
                    asked_after=now - 2 * self.after,
                    worker=self.process.name,
                    now=now,
                    limit=BATCH,
                    resolve=self.app.catalogs.resolve,
                )
            # A batch usually asks about one or two surveys: read each once.
            async with db.snapshot() as store:
                surveys = {
                    sid: await store.surveys.get(sid) for sid in {i.survey_id for i in claimed}
                }
            outcomes = await asyncio.gather(
                *(self._send(item, surveys[item.survey_id]) for item in claimed)
            )
            async with db.transaction() as store:
                await store.reminders.record(list(outcomes))
        return len(claimed)

    async def _send(self, item: DueReminder, survey: SurveyView | None) -> Outcome:
        assert survey is not None  # foreign key
        # The kind's wording (a CSAT survey asks "How satisfied…?") unless the survey's own.
        texts = for_kind(
            self.app.catalogs.texts(item.language, survey.texts),
            survey.kind,
            survey.texts,
            item.language,
        )
        brand = survey.subject or self.app.pipeline.config.brand
        html = f"{texts('rem_intro')}\n\n{score_question(texts, brand)}"
        action = SendText(
            item.chat_id,
            html,
            score_keyboard(item.response_id, survey.kind),
            paid_broadcast=self.process.paid,
        )
        delivery = await deliver(
            self.port,
            self.process.limiter_for(item.chat_id),
            action,
            item.chat_id,
            policy=RetryPolicy(),
            abort=self.abort,
        )
        # PENDING (stopped before the call) drops the claim: the reminder is due again.
        return Outcome(item.response_id, delivery.status, self.app.clock(), delivery.message_id)

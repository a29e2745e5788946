"""The invitation sender: a background job that sends the trigger API's invitations when due.

Each pass (every POLL_SECONDS, at once again while there is a backlog):

1. **quiet hours**: at night (QUIET_HOURS in TIMEZONE) nothing is sent; invitations that
   fall due then (e.g. the bot was down when they were due) wait for the window's end.
2. **recover**: rows a dead process left claimed or sending are taken over once its
   heartbeat stopped (LIVE_WINDOW): claimed ones are sent again, sending ones count as
   sent "uncertain" and are never sent twice (storage/repos/invitation_queue.py).
3. **claim** (one transaction): due rows become claimed by this process, each with its
   survey response; the fatigue rules, /stop and blocking are checked again, so some end
   suppressed or unreachable instead. PostgreSQL: `FOR UPDATE SKIP LOCKED`, so replicas
   never claim one row twice.
4. **send**: the broadcast's question (the same first message, buttons on the response)
   through the process-wide rate limiter (BROADCAST_RATE, shared with broadcasts and
   reminders) and Telegram's rules (bot/broadcast/delivery.py); each row is committed
   "sending" right before its call.
5. **record**, as soon as each call is answered (one commit for whichever outcomes wait):
   sent rows open their response at the score step and count as invitations;
   403 makes the person (and the invitation) unreachable; others fail with Telegram's
   description. Each invitation that did not reach its person emits `invitation.failed`
   (EVENTS_URLS) in the same transaction.

The person's answer then flows through the normal conversation; the API reads the
invitation as answered, with the score, once the response has one. A person with no
Telegram chat but a WhatsApp address is asked on WhatsApp (storage/repos/
whatsapp_outbound.py): free-form inside the 24-hour window, else the survey's template
(bot/whatsapp/questions.py), through WhatsApp's own limiter (WHATSAPP_RATE); Meta's
delivery statuses are kept per message and shown on the invitation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.broadcast.delivery import RetryPolicy, deliver
from bot.broadcast.group_commit import GroupCommit
from bot.broadcast.sending_process import (
    HEARTBEAT_EVERY,
    SendingPasses,
    SendingProcess,
)
from handlers.broadcast_messages import question_html
from handlers.kinds import for_kind
from handlers.port import ChatPort, SendText
from handlers.respondent_messages import score_keyboard
from nps.event_data import EventType, invitation_failed_data
from nps.quiet_hours import quiet_until
from storage.broadcast_models import RecipientStatus
from storage.models import Channel, utcnow
from storage.repos.audience import Fatigue
from storage.repos.broadcast_recipients import Outcome
from storage.repos.events import Identity
from storage.repos.invitation_queue import ClaimedInvitation, Ended
from storage.repos.surveys import SurveyView

if TYPE_CHECKING:
    from bot.jobs import BackgroundJob, JobHost
    from storage.store import Store

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0  # how often an idle sender looks for due invitations; tests shorten it
BATCH = 50  # invitations claimed at once: what a hard kill could leave in doubt is less
DB_RETRY = 1.0  # pause before retrying a failed recording


def invitation_job(process: SendingProcess) -> BackgroundJob:
    """The sender as a background job sharing `process` (limiter, heartbeat) with the
    broadcast and reminder jobs."""

    async def invitation_job(app: JobHost, port: ChatPort) -> None:
        """Sends the trigger API's invitations when due, until cancelled."""
        await InvitationSender(app, port, process).run()

    return invitation_job


class InvitationSender(SendingPasses):
    """Claims due invitations, sends them, records what happened."""

    def __init__(self, app: JobHost, port: ChatPort, process: SendingProcess) -> None:
        super().__init__(app, port, process)
        settings = app.settings
        self.fatigue = Fatigue(
            settings.survey_cooldown_days,
            settings.any_survey_cooldown_days,
            whatsapp=settings.whatsapp_enabled,
        )
        self.policy = RetryPolicy()
        # Group commits: rows marked "sending" right before their calls, outcomes recorded
        # right after; each commit takes whatever waits, so N senders need no N commits.
        self._marker: GroupCommit[int, set[int]] = GroupCommit(self._mark_all)
        self._recorder: GroupCommit[Outcome, None] = GroupCommit(self._record_all)

    def pass_size(self) -> int:
        return BATCH

    def idle_seconds(self) -> float:
        return POLL_SECONDS

    async def run_once(self) -> int:
        """One pass; returns how many invitations it handled (sent or ended)."""
        db = self.app.db
        now = self.app.clock()
        async with db.snapshot() as store:
            due = await store.invitation_queue.any_due(now)
            held = await store.invitation_queue.any_held()
        if held:
            await self._recover()
        if not due:
            return 0
        settings = self.app.settings
        until = quiet_until(now, settings.quiet_window, settings.tz)
        if until is not None:
            async with db.transaction() as store:
                deferred = await store.invitation_queue.defer_due(now, until)
            log.info("quiet hours: %d invitations wait until %s", deferred, until.isoformat())
            return 0
        async with db.transaction() as store:
            claimed, ended = await store.invitation_queue.claim(
                now=now,
                worker=self.process.name,
                limit=BATCH,
                fatigue=self.fatigue,
                resolve=self.app.catalogs.resolve,
            )
            await emit_failed(store, ended)
        if not claimed:
            return len(ended)
        async with db.snapshot() as store:
            surveys = {sid: await store.surveys.get(sid) for sid in {c.survey_id for c in claimed}}
        self.process.want("invitations")  # the heartbeat asks for a share of the rate
        beating = asyncio.Event()
        heart = asyncio.create_task(self._heartbeat(beating))
        try:
            await asyncio.gather(
                *(self._deliver(item, surveys[item.survey_id]) for item in claimed)
            )
        finally:
            beating.set()
            await asyncio.wait({heart})
            await self.process.done(db, "invitations")
        return len(claimed) + len(ended)

    async def _deliver(self, item: ClaimedInvitation, survey: SurveyView | None) -> None:
        """Sends one invitation and records the outcome at once (with whichever others are
        waiting): its response must be open before the person can tap a score."""
        outcome = await self._send(item, survey)
        await self._recorder.submit(outcome)

    async def _recover(self) -> None:
        """Takes over the rows of processes whose heartbeat stopped."""
        db = self.app.db
        # Forced: `live` must be read now, or a live sender's rows could look abandoned.
        await self.process.beat(db, force=True)
        async with db.transaction() as store:
            uncertain = await store.invitation_queue.recover_stale(self.process.live, utcnow())
        if uncertain:
            log.warning("%d invitations of a stopped sender recorded as uncertain", uncertain)

    async def _heartbeat(self, done: asyncio.Event) -> None:
        """Beats while this sender holds rows, so no replica takes them for abandoned."""
        while not done.is_set():
            try:
                await self.process.beat(self.app.db)
            except Exception:
                log.exception("invitation sender heartbeat failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), HEARTBEAT_EVERY / 2)

    async def _send(self, item: ClaimedInvitation, survey: SurveyView | None) -> Outcome:
        """One person's question, as a broadcast asks it."""
        assert survey is not None  # foreign key
        # The kind's wording (a CSAT survey asks "How satisfied…?") unless the survey's own.
        texts = for_kind(
            self.app.catalogs.texts(item.language, survey.texts),
            survey.kind,
            survey.texts,
            item.language,
        )
        brand = survey.subject or self.app.pipeline.config.brand
        action = SendText(
            item.chat_id,
            question_html(texts, brand, item.first_name),
            score_keyboard(item.response_id, survey.kind),
            paid_broadcast=self.process.paid,
        )
        try:
            delivery = await deliver(
                self.port,
                self.process.limiter_for(item.chat_id),
                action,
                item.chat_id,
                policy=self.policy,
                abort=self.abort,
                before_first_call=lambda: self._mark_sending(item.row_id),
            )
        except Exception as error:
            # Not a Telegram answer (a bug, a closed session): it may have gone out, so it
            # is recorded as failed, never sent again.
            log.error("sending invitation %s failed: %r", item.public_id, error)
            return Outcome(
                item.row_id, RecipientStatus.FAILED, self.app.clock(), detail=repr(error)
            )
        return Outcome(
            item.row_id,
            delivery.status,
            self.app.clock(),
            message_id=delivery.message_id,
            detail=delivery.detail,
        )

    async def _mark_sending(self, row_id: int) -> bool:
        """Waits until the row is committed "sending"; False: it must not be sent."""
        return row_id in await self._marker.submit(row_id)

    async def _mark_all(self, row_ids: list[int]) -> set[int]:
        try:
            async with self.app.db.transaction() as store:
                return await store.invitation_queue.mark_sending(
                    row_ids, self.process.name, utcnow()
                )
        except Exception:
            # Not marked means not sent: the rows stay claimed and are given back.
            log.exception("marking %d invitations as sending failed", len(row_ids))
            return set()

    async def _record_all(self, outcomes: list[Outcome]) -> None:
        """Records outcomes, retried until the database takes them (they are facts)."""
        while True:
            try:
                async with self.app.db.transaction() as store:
                    failed = await store.invitation_queue.record(outcomes, self.process.name)
                    failed += await store.whatsapp_outbound.settle_unreachable(
                        [o.message_id for o in outcomes if o.message_id is not None]
                    )
                    await emit_failed(store, failed)
                return
            except Exception:
                log.exception("recording %d invitations failed; retrying", len(outcomes))
                await asyncio.sleep(DB_RETRY)


async def emit_failed(store: Store, ended: Sequence[Ended]) -> None:
    """`invitation.failed` for each invitation that was due and did not reach its person."""
    surveys: dict[str, SurveyView | None] = {}
    for item in ended:
        if item.survey not in surveys:  # one read per survey, not per invitation
            surveys[item.survey] = await store.surveys.by_slug(item.survey)
        survey = surveys[item.survey]
        if survey is None:  # deleted meanwhile: there is nothing left to name
            continue
        telegram = item.key_channel == Channel.TELEGRAM.value
        who = Identity(
            telegram_user_id=int(item.key_address) if telegram else None,
            phone=None if telegram else item.key_address,
        )
        data = invitation_failed_data(
            survey=survey,
            invitation_id=item.public_id,
            status=item.status.value,
            reason=item.reason,
            attributes=item.attributes,
            who=who,
            error=item.error,
        )
        await store.events.emit(EventType.INVITATION_FAILED, data, person_id=item.respondent_id)

"""Events for the CRM, emitted where the conversation changes: a score, the last follow-up,
a detractor case opened or resolved. Each is written in the handler's own transaction
(storage/repos/events.py), so it exists exactly when the change was committed; the
delivery worker (bot/events) sends it. With EVENTS_URLS unset nothing is read or written.
"""

from __future__ import annotations

from handlers.context import UpdateContext
from nps.event_data import EventType, case_data, is_anonymous, response_data
from storage.case_models import DetractorCase
from storage.models import Step
from storage.repos.events import Identity
from storage.repos.response_rows import ResponseRow
from storage.repos.surveys import SurveyView


async def _identity(ctx: UpdateContext, survey: SurveyView, response: ResponseRow) -> Identity:
    """Whom the answer is from, as a CRM knows them; nobody for eNPS (anonymous)."""
    if is_anonymous(survey) or response.respondent_id is None:
        return Identity()
    return await ctx.store.events.identity_of(response.respondent_id)


def _person(survey: SurveyView, response: ResponseRow) -> int | None:
    """The person an event names (forgetting them deletes it); None for eNPS."""
    return None if is_anonymous(survey) else response.respondent_id


async def on_score(ctx: UpdateContext, survey: SurveyView, response: ResponseRow) -> None:
    """Tells the CRM a score was given (`response.scored`)."""
    events = ctx.store.events
    if not events.enabled:
        return
    data = response_data(survey, response, await _identity(ctx, survey, response))
    await events.emit(EventType.RESPONSE_SCORED, data, person_id=_person(survey, response))


async def on_text(ctx: UpdateContext, survey: SurveyView, response: ResponseRow) -> None:
    """Tells the CRM the answer is complete (`response.completed`) once the last follow-up
    was answered or skipped."""
    events = ctx.store.events
    if not events.enabled or response.step != Step.DONE:
        return
    who = await _identity(ctx, survey, response)
    data = response_data(survey, response, who, completed=True)
    await events.emit(EventType.RESPONSE_COMPLETED, data, person_id=_person(survey, response))


async def case_opened(
    ctx: UpdateContext, case: DetractorCase, survey: SurveyView, response: ResponseRow
) -> None:
    """Tells the CRM a detractor case was opened (`case.opened`)."""
    await _case_event(ctx, EventType.CASE_OPENED, case, survey, response)


async def case_resolved(ctx: UpdateContext, case: DetractorCase) -> None:
    """Tells the CRM a detractor case was resolved (`case.resolved`)."""
    if not ctx.store.events.enabled:
        return
    response = await ctx.store.responses.get(case.response_id)
    if response is None or response.survey is None:
        return  # responses are never deleted; kept for safety
    await _case_event(ctx, EventType.CASE_RESOLVED, case, response.survey, response)


async def _case_event(
    ctx: UpdateContext,
    event_type: EventType,
    case: DetractorCase,
    survey: SurveyView,
    response: ResponseRow,
) -> None:
    events = ctx.store.events
    if not events.enabled:
        return
    data = case_data(case, survey, response, await _identity(ctx, survey, response))
    await events.emit(event_type, data, person_id=_person(survey, response))
